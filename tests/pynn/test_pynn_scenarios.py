"""PyNN's own system scenarios (``test/system/scenarios`` of PyNN's source distribution)
against neuroemu.pynn.

The scenarios are PyNN's (CeCILL licence): they are fetched with pip at test time, never copied
into this repository. Every scenario written for PyNN's simulator backends
(``@run_with_simulators(...)``) is called with ``sim`` = neuroemu.pynn, whose ``setup()``
defaults to the ``ideal`` config (the scenarios compare with exact expectations; ``bss2`` adds
mismatch and noise by design), once on the emulator and once on the brian2 backend (mode
ideal). A scenario either passes, or is refused by neuroemu (a cell type, synapse type,
current source or delay the chip does not have, a parameter outside the chip's range: a
:class:`~neuroemu.pynn.exceptions.Refusal` whose message names the limit or the alternative), or
fails. The table of outcomes is printed; no scenario may fail.
"""
from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import subprocess
import sys
import tarfile
import types

import pyNN
import pytest

import neuroemu.pynn
from neuroemu.pynn.exceptions import Refusal

#: scenarios that must pass (a regression guard; the run may pass more)
MUST_PASS = {
    "test__simulation_control::test_reset", "test__simulation_control::test_reset_with_clear",
    "test__simulation_control::test_setup", "test_cell_types::test_SpikeSourcePoisson",
    "test_cell_types::test_issue511", "test_cell_types::test_update_SpikeSourceArray",
    "test_connection_handling::test_issue672", "test_electrodes::test_changing_electrode",
    "test_electrodes::test_issue451", "test_electrodes::test_issue483", "test_electrodes::test_issue487",
    "test_electrodes::test_issue512", "test_electrodes::test_issue759", "test_parameter_handling::test_issue241",
    "test_recording::test_issue259", "test_recording::test_issue499",
}


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory):
    """The ``scenarios`` package of the installed PyNN version's source distribution."""
    where = tmp_path_factory.mktemp("pynn-sdist")
    cmd = [sys.executable, "-m", "pip", "download", f"PyNN=={pyNN.__version__}", "--no-binary", ":all:", "--no-deps",
           "-q", "-d", str(where)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    archives = list(where.glob("*.tar.gz"))
    if done.returncode != 0 or not archives:
        pytest.fail(f"could not fetch PyNN {pyNN.__version__}'s source distribution with pip: {done.stderr[-2000:]}")
    with tarfile.open(archives[0]) as tar:
        members = [m for m in tar.getmembers() if "/test/system/" in m.name]
        tar.extractall(where, members=members, filter="data")
    system = next(where.glob("*/test/system"))
    sys.path.insert(0, str(system))
    try:
        yield [importlib.import_module(f"scenarios.{p.stem}") for p in sorted((system / "scenarios").glob("test_*.py"))]
    finally:
        sys.path.remove(str(system))
        for name in [m for m in sys.modules if m == "scenarios" or m.startswith("scenarios.")]:
            del sys.modules[name]


def _sim(backend: str) -> types.ModuleType:
    """neuroemu.pynn with setup() defaulting to hardware "ideal" and the given backend."""
    proxy = types.ModuleType("neuroemu.pynn")
    proxy.__dict__.update(neuroemu.pynn.__dict__)

    def setup(*args, **kwargs):
        kwargs.setdefault("hardware", "ideal")
        kwargs.setdefault("backend", backend)
        return neuroemu.pynn.setup(*args, **kwargs)

    proxy.setup = setup
    return proxy


def _for_simulators(fn) -> bool:
    return any(m.name == "parametrize" and m.args and m.args[0] == "sim" for m in getattr(fn, "pytestmark", []))


@pytest.mark.parametrize("backend", ["emulator", "brian2"])
def test_pynn_system_scenarios(scenarios, backend, capsys):
    sim = _sim(backend)
    outcomes: dict[str, str] = {}
    for module in scenarios:
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if not (name.startswith("test") and _for_simulators(fn)):
                continue
            key = f"{module.__name__.split('.')[-1]}::{name}"
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    fn(sim=sim)
                outcomes[key] = "passed"
            except Refusal as exc:
                outcomes[key] = f"refused: {str(exc).splitlines()[0][:110]}"
            except pytest.skip.Exception as exc:
                outcomes[key] = f"skipped by PyNN: {exc}"
            except (Exception, pytest.fail.Exception) as exc:  # reported below
                outcomes[key] = f"FAILED: {type(exc).__name__}: {str(exc)[:300]}"
    counts = {k: sum(v.startswith(k) for v in outcomes.values()) for k in ("passed", "refused", "skipped", "FAILED")}
    lines = [f"PyNN {pyNN.__version__} system scenarios on neuroemu.pynn ({backend}, ideal): "
             + ", ".join(f"{n} {k.lower()}" for k, n in counts.items())]
    lines += [f"  {key:<62} {outcome}" for key, outcome in sorted(outcomes.items())]
    with capsys.disabled():  # the table is part of the suite's output, pass or fail
        print("\n" + "\n".join(lines))
    failed = {k: v for k, v in outcomes.items() if v.startswith("FAILED")}
    assert not failed, "\n".join(lines)
    assert MUST_PASS <= {k for k, v in outcomes.items() if v == "passed"}, "\n".join(lines)
