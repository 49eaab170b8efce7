"""Brian2 code generation: where compiled Cython modules live and which target runs.

Cache directory. Brian2's runtime mode compiles every generated code block to a Cython
extension module named by the hash of its code and keeps it in a cache directory. We use one
directory per user (not Brian2's default ``~/.cython/brian_extensions``, which may be shared or
unwritable), ``$NEUROEMU_BRIAN2_CACHE`` if set, else ``$XDG_CACHE_HOME/neuroemu/brian2-cython``
(``~/.cache/...``), else ``<tmp>/neuroemu-brian2-cython-<uid>``; a directory the user already
set in ``prefs.codegen.runtime.cython.cache_dir`` is respected. Parallel processes share it
safely because Brian2 2.9 (``prefs.codegen.runtime.cython.multiprocess_safe``, forced on here)
takes a file lock per module while it writes, compiles and loads it. We deliberately do *not*
use a directory per process by default: every new process (pytest-xdist worker, Dask worker,
CLI call) would then recompile all ~15 modules (~5-15 s each: 1-4 min per process), and the
cache would never warm. Whoever wants full isolation sets ``NEUROEMU_BRIAN2_CACHE`` to a path
containing ``{pid}`` (replaced by the process id).

Cache keys. Brian2 names a compiled module by the hash of its code *and* ``sys.executable``, so
``python`` and ``python3`` of one virtual environment (e.g. ``python -m pytest`` vs the
``neuroemu`` console script) would compile everything twice. :func:`canonical_executable`
makes the key ``<sys.prefix>/bin/python`` (one per environment) while Brian2 generates and
loads code (``Brian2Network`` wraps its builds and runs in it).

Target. ``"auto"`` uses Cython when a test compilation succeeds and falls back to numpy with
a :class:`RuntimeWarning` otherwise (same results, much slower); ``"cython"`` / ``"numpy"``
force one.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Iterator

from neuroemu.errors import BackendError

TARGETS = ("auto", "cython", "numpy")
_ENV = "NEUROEMU_BRIAN2_CACHE"
_cython_ok: bool | None = None  # test compilation result, once per process
_filtered = False


def brian2_cache_dir() -> Path:
    """The per-user directory for Brian2's compiled Cython modules (created if missing)."""
    candidates = []
    if os.environ.get(_ENV):
        candidates.append(Path(os.environ[_ENV].replace("{pid}", str(os.getpid()))).expanduser())
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        candidates.append(base / "neuroemu" / "brian2-cython")
        uid = os.getuid() if hasattr(os, "getuid") else os.getlogin()
        candidates.append(Path(tempfile.gettempdir()) / f"neuroemu-brian2-cython-{uid}")
    for path in candidates:
        try:
            path.mkdir(parents=True, exist_ok=True)
            if os.access(path, os.W_OK):
                return path
        except OSError:
            continue
    raise BackendError("no writable cache directory for Brian2's compiled code (tried "
                       f"{', '.join(map(str, candidates))}); "
                       f"set {_ENV} to a writable directory")


class _OwnCodeFilter(logging.Filter):
    """Drops Brian2's order-dependence warning for our synapses where the order does not matter:
    input synapses that take the min / max of event times into ``t_first_post`` / ``t_last_post``,
    and the saturating synaptic update ``I += w (1 -+ I/I_max)`` of chip-replay (events at one
    instant compose to the same product in any order, :func:`.network.on_pre`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        return not ("may not be well-defined" in msg and ("t_first_post" in msg or "I_max_post" in msg))


def configure_brian2(target: str = "auto") -> str:
    """Set Brian2's cache directory and code-generation target; returns the target in force."""
    global _cython_ok, _filtered
    if target not in TARGETS:
        raise BackendError(f"codegen target must be one of {', '.join(TARGETS)}, got '{target}'")
    from brian2 import prefs

    if not _filtered:
        from brian2.utils.logger import BrianLogger

        BrianLogger.console_handler.addFilter(_OwnCodeFilter())
        _filtered = True

    if prefs.codegen.runtime.cython.cache_dir is None:
        prefs.codegen.runtime.cython.cache_dir = str(brian2_cache_dir())
    prefs.codegen.runtime.cython.multiprocess_safe = True
    if target == "numpy":
        prefs.codegen.target = "numpy"
        return "numpy"
    if _cython_ok is None:
        from brian2.codegen.runtime.cython_rt import CythonCodeObject

        with canonical_executable():
            _cython_ok = bool(CythonCodeObject.is_available())
    if not _cython_ok:
        if target == "cython":
            raise BackendError("Brian2 cannot compile Cython code here (test compilation failed): install a C++ "
                               "compiler and Cython, or use codegen_target='numpy'")
        warnings.warn("Brian2: Cython compilation is unavailable (test compilation failed); falling back to the numpy "
                      "target, which gives the same results but runs much slower", RuntimeWarning, stacklevel=3)
        prefs.codegen.target = "numpy"
        return "numpy"
    prefs.codegen.target = "cython"
    return "cython"


@contextlib.contextmanager
def canonical_executable() -> Iterator[None]:
    """While active, ``sys.executable`` is ``<sys.prefix>/bin/python`` (if that exists): Brian2's
    compiled-module names then do not depend on which alias started the interpreter."""
    candidate = Path(sys.prefix) / "bin" / "python"
    original = sys.executable
    if not candidate.exists():
        yield
        return
    sys.executable = str(candidate)
    try:
        yield
    finally:
        sys.executable = original
