"""On-disk cache of calibrations, keyed by their id (a hash of config content, chip seed,
targets, run-level imperfections, noise seed and method version).

Directory: ``$NEUROEMU_CACHE_DIR/calibration`` when the environment variable
``NEUROEMU_CACHE_DIR`` is set (tests point it at a temporary directory; the older name
``NEUROEMU_CACHE`` is honoured too), else ``~/.cache/neuroemu/calibration``. Files are
``<id>.h5`` calibration files, written atomically (a reader never sees half a file;
concurrent writers of the same id write the same content).
An unreadable entry is ignored and recomputed.
"""
from __future__ import annotations

import os
from pathlib import Path

from neuroemu.calibration.result import Calibration, load_calibration
from neuroemu.errors import NeuroemuError

#: environment variable overriding the cache root
CACHE_ENV = "NEUROEMU_CACHE_DIR"
#: the earlier name, still honoured when ``NEUROEMU_CACHE_DIR`` is not set
LEGACY_CACHE_ENV = "NEUROEMU_CACHE"


def cache_dir() -> Path:
    """The calibration cache directory (not created here)."""
    root = os.environ.get(CACHE_ENV) or os.environ.get(LEGACY_CACHE_ENV)
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "neuroemu"
    return base / "calibration"


def cache_path(cal_id: str) -> Path:
    return cache_dir() / f"{cal_id}.h5"


def lookup(cal_id: str) -> Calibration | None:
    """The cached calibration ``cal_id``, or None (missing or unreadable)."""
    path = cache_path(cal_id)
    if not path.is_file():
        return None
    try:
        cal = load_calibration(path)
    except NeuroemuError:
        return None
    return cal if cal.id == cal_id else None


def store(cal: Calibration) -> Path | None:
    """Write ``cal`` into the cache; returns the path (None if the directory is not writable)."""
    path = cache_path(cal.id)
    try:
        cal.save(path)
    except OSError:
        return None
    return path
