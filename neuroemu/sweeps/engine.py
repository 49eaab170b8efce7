"""The sweep engine: tasks on Dask distributed, results journaled per task, resumable.

``run_sweep(spec, store)`` starts a ``LocalCluster`` with one single-threaded worker process
per core (or connects to ``scheduler``), submits every unfinished (point, chip) task, writes
each record as it arrives and shows a progress bar. Tasks are deterministic functions of
(point, chip, settings, seed), so the table is identical for any worker count or order.
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from neuroemu.errors import NeuroemuError
from neuroemu.sweeps.spec import SweepSpec, task_key
from neuroemu.sweeps.store import consolidate, start_store, write_record

_CONSOLIDATE_EVERY_S = 5.0


def execute_task(task: str, point: dict[str, Any], chip: int, settings: dict[str, Any], seed: int) -> dict[str, Any]:
    """Run one task in a worker (single-threaded numba: the parallelism is across tasks)."""
    import numba

    numba.set_num_threads(1)
    spec = SweepSpec(kind="", task=task, grid=[point], chips=[chip], settings=settings, seed=seed)
    return spec.function()(point, chip, settings, seed)


def _client(scheduler: str | None, workers: int | None):
    from dask.distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout="10s"), None
        except (OSError, TimeoutError) as exc:
            raise NeuroemuError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    n = workers or os.cpu_count() or 1
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=logging.ERROR,  # no nanny chatter on shutdown
                           env={"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
    return Client(cluster), cluster


def run_sweep(spec: SweepSpec, store: str | Path, *, scheduler: str | None = None, workers: int | None = None,
              resume: bool = False, progress: bool = True) -> dict[tuple[int, int], dict[str, Any]]:
    """Run every (point, chip) task of ``spec`` not yet in ``store``; return all records."""
    from dask.distributed import as_completed

    store = Path(store)
    records = start_store(store, spec, resume)
    todo = [(p, c) for p, c in spec.keys() if (p, c) not in records]
    if workers is not None and workers < 1:
        raise NeuroemuError(f"workers must be >= 1, got {workers}")
    bar = tqdm(total=len(spec.keys()), initial=len(records), desc=f"{spec.kind} sweep", unit="task",
               disable=not progress, leave=False)
    if todo:
        client, cluster = _client(scheduler, workers)
        try:
            futures = {
                client.submit(execute_task, spec.task, spec.grid[p], c, spec.settings, spec.seed,
                              key=f"{spec.digest}-{task_key(p, c)}", pure=False): (p, c)
                for p, c in todo
            }
            last = time.monotonic()
            for fut in as_completed(futures):
                p, c = futures[fut]
                try:
                    record = fut.result()
                except NeuroemuError:
                    raise
                except Exception as exc:  # a task's own failure: report which, keep what finished
                    raise NeuroemuError(f"sweep task point {p} {spec.grid[p]} chip {c} failed: {exc!r}") from exc
                write_record(store, p, c, record)
                records[(p, c)] = record
                bar.update(1)
                if time.monotonic() - last > _CONSOLIDATE_EVERY_S:
                    consolidate(store, spec, records, final=False)
                    last = time.monotonic()
        finally:
            bar.close()
            client.close()
            if cluster is not None:
                cluster.close()
            consolidate(store, spec, records, final=len(records) == len(spec.keys()))
    else:
        bar.close()
        consolidate(store, spec, records, final=True)
    return records
