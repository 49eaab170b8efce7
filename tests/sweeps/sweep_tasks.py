"""Test-side sweep tasks: the shipped example task wrapped with the hooks the engine tests need
(a delay, so a sweep can be killed mid-way; an execution log, so a resumed sweep can be checked
not to redo a finished task). Kept here, out of the shipped module; importable by the Dask
workers because the tests' directory is on ``sys.path`` (pytest's rootdir-relative import, and
the workers inherit the parent's path)."""
from __future__ import annotations

import time
from typing import Any

from neuroemu.sweeps.examples import rate_response

#: the task path of :func:`slow_logged_rate_response` for a ``SweepSpec``
TASK = "sweep_tasks:slow_logged_rate_response"


def slow_logged_rate_response(point: dict[str, Any], chip: int, settings: dict[str, Any], seed: int) -> dict[str, Any]:
    """``rate_response``, then sleep ``settings["delay_s"]`` and append "rate,chip" to ``settings["log_path"]``."""
    record = rate_response(point, chip, settings, seed)
    time.sleep(float(settings.get("delay_s", 0.0)))
    if settings.get("log_path"):
        with open(settings["log_path"], "a") as fh:
            fh.write(f"{point['rate_hz']},{chip}\n")
    return record
