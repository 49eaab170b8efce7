"""Figure of a robustness study: accuracy against each varied knob, mean ± std over chips."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from neuroemu.plotting.figure import figure, save


def plot_study(rows: Sequence[dict[str, Any]], axes: Sequence[str], path: str | Path, *,
               software_accuracy: float | None = None, title: str = "", reference_label: str = "software") -> None:
    """One panel per varied knob (x: knob value, y: accuracy in %, error bars: std over chips);
    one line per combination of the other varied knobs; the reference accuracy (``software``: the
    model's closed form; for networks the ideal chip) as a dashed line labelled ``reference_label``.

    rows: the study table (``accuracy_mean``, ``accuracy_std`` and the knob values per row).
    """
    knobs = [a for a in axes if a != "recalibrate"] or list(axes)
    fig, panels = figure(1, len(knobs), figsize=(4.2 * len(knobs), 3.4), squeeze=False, sharey=True)
    for ax, knob in zip(panels[0], knobs):
        others = [a for a in axes if a != knob]
        groups: dict[tuple, list[dict[str, Any]]] = {}
        for row in rows:
            groups.setdefault(tuple(row[o] for o in others), []).append(row)
        for key, members in groups.items():
            members = sorted(members, key=lambda r: r[knob])
            x = np.array([r[knob] for r in members])
            y = 100 * np.array([r["accuracy_mean"] for r in members])
            e = 100 * np.array([r["accuracy_std"] for r in members])
            label = ", ".join(_label(o, v) for o, v in zip(others, key)) or None
            ax.errorbar(x, y, yerr=e, marker="o", ms=4, capsize=3, label=label)
        if software_accuracy is not None:
            ax.axhline(100 * software_accuracy, ls="--", color="0.4", lw=1, label=reference_label)
        ax.set_xlabel(knob)
        ax.grid(alpha=0.3)
        if ax is panels[0][0]:
            ax.set_ylabel("test accuracy (%)")
        if len(groups) > 1 or software_accuracy is not None:
            ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    save(fig, path)


def _label(knob: str, value: float) -> str:
    if knob == "recalibrate":
        return "calibrated" if value else "uncalibrated"
    return f"{knob}={value:g}"
