"""Comparison figure of two or more results of one network on the same inputs (``neuroemu compare --plot``).

Top: the rasters of one trial overlaid (one colour and marker per result). Middle (if membrane
traces were recorded): the traces overlaid. Bottom: each result's traces minus the first's,
on a common time grid (linear interpolation). The title carries the agreement summary.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from neuroemu.backends.result import Result
from neuroemu.errors import NeuroemuError
from neuroemu.plotting.figure import figure, save
from neuroemu.plotting.raster import COLORS, draw_rasters, draw_traces


def plot_comparison(results: Sequence[Result], path: str | Path, labels: Sequence[str] | None = None, trial: int = 0,
                    report: dict[str, Any] | None = None) -> None:
    """Overlay rasters and membrane traces (biological ms, mV) of ``results`` for ``trial``; write ``path``
    (.png/.pdf/.svg). ``report``: a :func:`neuroemu.comparison.compare_results` dict for the title."""
    results = list(results)
    if len(results) < 2:
        raise NeuroemuError("a comparison plot needs at least two results")
    if not 0 <= trial < results[0].n_trials:
        raise NeuroemuError(f"trial {trial} is out of range: the results have {results[0].n_trials} trials")
    labels = list(labels) if labels else [r.backend for r in results]
    traced = [r for r in results if r.traces is not None]
    rows = 3 if len(traced) >= 2 else (2 if traced else 1)
    fig, axes = figure(rows, 1, figsize=(9, 3 + 2.5 * rows), squeeze=False, sharex=True)

    ax = axes[0, 0]
    offsets = draw_rasters(ax, results, labels, trial)
    for name, y in offsets.items():
        ax.text(0.0, y, f" {name}", fontsize=7, va="bottom", color="0.4")
    ax.set_ylabel("neuron")
    ax.legend(loc="upper right", fontsize=8)
    title = f"trial {trial}: " + " vs ".join(labels)
    if report is not None:
        o = report["overall"]
        dt = "n/a" if o.get("max_abs_dt_ms") is None else f"{o['max_abs_dt_ms']:.3g} ms"
        title += (f"\nall trials: spikes {o['spikes']}, count diff {o['count_rel_diff'] * 100:.2f} %, max |dt| {dt}, "
                  f"van Rossum {o['van_rossum_mean']:.3g}")
    ax.set_title(title, fontsize=9)

    if traced:
        axv = axes[1, 0]
        draw_traces(axv, results, labels, trial, alpha=0.85, dashed_after_first=True)
        axv.set_ylabel("membrane (mV)")
        axv.legend(fontsize=6, loc="upper right")
    if len(traced) >= 2:
        axd = axes[2, 0]
        ref = traced[0].traces
        ref_label = labels[results.index(traced[0])]
        for r in traced[1:]:
            i = results.index(r)
            tr = r.traces
            common = [k for k in range(len(tr.nodes)) if tr.nodes[k] in set(ref.nodes.tolist())]
            for k in common:
                j = int(np.flatnonzero(ref.nodes == tr.nodes[k])[0])
                t_ref = ref.sample_times_ms(j)
                diff = np.interp(t_ref, tr.sample_times_ms(k), tr.v_mV[trial, k]) - ref.v_mV[trial, j]
                axd.plot(t_ref, diff, color=COLORS[i % 4], lw=0.8,
                         label=f"{labels[i]} - {ref_label}: {tr.population[k]}[{tr.index[k]}]")
        axd.axhline(0.0, color="0.6", lw=0.5)
        axd.set_ylabel("difference (mV)")
        axd.legend(fontsize=6, loc="upper right")
    axes[-1, 0].set_xlabel("time (ms, biological)")
    axes[-1, 0].set_xlim(0, results[0].duration_ms)
    save(fig, path)


__all__ = ["plot_comparison"]
