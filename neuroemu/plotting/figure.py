"""Shared figure handling: headless backend, atomic save."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from neuroemu.errors import NeuroemuError  # noqa: E402
from neuroemu.hdf5.atomic import atomic_path  # noqa: E402

_SUFFIXES = {".png", ".pdf", ".svg"}


def check_path(path: str | Path) -> None:
    """Refuse a plot file name whose suffix names no supported format (before long work starts)."""
    if Path(path).suffix.lower() not in _SUFFIXES:
        raise NeuroemuError(f"plot file {path}: use a .png, .pdf or .svg suffix")


def save(fig, path: str | Path) -> None:
    """Save ``fig`` to ``path`` (format from the suffix) atomically and close it."""
    path = Path(path)
    if path.suffix.lower() not in _SUFFIXES:
        plt.close(fig)
        check_path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix[1:].lower(), dpi=150, bbox_inches="tight")
    plt.close(fig)


def figure(*args, **kwargs):
    return plt.subplots(*args, **kwargs)
