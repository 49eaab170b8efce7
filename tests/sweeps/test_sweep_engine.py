"""The sweep engine on a real Dask LocalCluster: results, determinism across worker counts,
kill and resume, refusal to mix sweeps."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from neuroemu.errors import NeuroemuError
from neuroemu.sweeps import SweepSpec, aggregate, read_store, run_sweep
from neuroemu.sweeps.store import journal_dir

from sweep_tasks import TASK


def _spec(delay=0.0, log=""):
    """The shipped example task; with a delay or an execution log, its test-side wrapper (sweep_tasks.py)."""
    settings = {"duration_ms": 100.0}
    task = "neuroemu.sweeps.examples:rate_response"
    if delay or log:
        settings.update(delay_s=delay, log_path=log)
        task = TASK
    return SweepSpec(kind="rate", task=task, grid=[{"rate_hz": r} for r in (20.0, 60.0, 120.0)], chips=[0, 1, 2],
                     settings=settings, seed=5)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    store = tmp_path_factory.mktemp("sweep") / "ref.h5"
    return run_sweep(_spec(), store, workers=1, progress=False)


def test_all_tasks_recorded_and_aggregated(reference, tmp_path):
    assert len(reference) == 9
    rows = aggregate(_spec(), reference)
    assert [r["rate_hz"] for r in rows] == [20.0, 60.0, 120.0]
    assert rows[0]["spikes_mean"] < rows[2]["spikes_mean"]  # more input, more output
    assert all(r["chips_done"] == 3 for r in rows)


def test_two_workers_same_table(reference, tmp_path):
    store = tmp_path / "two.h5"
    two = run_sweep(_spec(), store, workers=2, progress=False)
    assert two == reference
    spec, stored = read_store(store)
    assert stored == reference and spec.to_json() == _spec().to_json()
    assert not journal_dir(store).exists()  # consolidated


def test_existing_store_needs_resume_and_same_spec(reference, tmp_path):
    store = tmp_path / "s.h5"
    run_sweep(_spec(), store, workers=1, progress=False)
    with pytest.raises(NeuroemuError, match="pass --resume"):
        run_sweep(_spec(), store, workers=1, progress=False)
    other = _spec()
    other.seed = 6
    with pytest.raises(NeuroemuError, match="different sweep"):
        run_sweep(other, store, workers=1, resume=True, progress=False)
    assert run_sweep(_spec(), store, workers=1, resume=True, progress=False) == reference  # nothing left to do


def test_killed_sweep_resumes_to_the_same_result(reference, tmp_path):
    """Kill a running sweep (SIGKILL to its process group), then resume: same records, none redone."""
    store = tmp_path / "killed.h5"
    log = tmp_path / "executions.log"
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_sweep_engine import _spec
        from neuroemu.sweeps import run_sweep
        run_sweep(_spec(delay=0.4, log={str(log)!r}), {str(store)!r}, workers=1, progress=False)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    jd = journal_dir(store)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if jd.is_dir() and len(list(jd.glob("p*.h5"))) >= 3:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    _, partial = read_store(store)
    assert 3 <= len(partial) < 9
    done_before = dict(partial)
    resumed = run_sweep(_spec(delay=0.4, log=str(log)), store, workers=1, resume=True, progress=False)
    assert resumed == reference
    executed = log.read_text().split()
    rates = {0: 20.0, 1: 60.0, 2: 120.0}
    for (p, c), v in done_before.items():
        assert resumed[(p, c)] == v
        assert executed.count(f"{rates[p]},{c}") == 1, "a finished task was run again"


def test_unreachable_scheduler_is_a_clear_error(tmp_path):
    with pytest.raises(NeuroemuError, match="cannot reach the Dask scheduler"):
        run_sweep(_spec(), tmp_path / "x.h5", scheduler="tcp://127.0.0.1:9", progress=False)
