"""Spike rasters and membrane traces of one or more results (overlaid for comparisons)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from neuroemu.backends.result import Result
from neuroemu.plotting.figure import figure, save

COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red")
MARKERS = ("|", "_", "x", ".")


def draw_rasters(ax, results: Sequence[Result], labels: Sequence[str], trial: int) -> dict[str, int]:
    """Overlay the rasters of ``trial`` of ``results`` on ``ax``, populations stacked in the order
    of the first result (biological ms); returns each population's first row."""
    offsets, base = {}, 0
    for name, ps in results[0].populations.items():
        offsets[name] = base
        base += ps.spikes.n_neurons
    for i, (r, label) in enumerate(zip(results, labels)):
        first = True
        for name, ps in r.populations.items():
            if name not in offsets:
                continue
            b = ps.spikes.trial_bounds()
            t = ps.spikes.times[b[trial]:b[trial + 1]]
            n = ps.spikes.neuron[b[trial]:b[trial + 1]] + offsets[name]
            ax.scatter(t, n, s=12, marker=MARKERS[i % 4], color=COLORS[i % 4], linewidths=1,
                       label=label if first else None)
            first = False
    for y in offsets.values():
        ax.axhline(y - 0.5, color="0.85", lw=0.5)
    ax.set_ylim(-0.5, max(base, 1) - 0.5)
    return offsets


def draw_traces(ax, results: Sequence[Result], labels: Sequence[str], trial: int, alpha: float = 0.9,
                dashed_after_first: bool = False) -> None:
    """Overlay the membrane traces (biological ms, mV) of ``trial`` of ``results`` on ``ax``, one
    colour per result (results without traces are skipped); ``dashed_after_first`` draws every
    result after the first dashed."""
    for i, (r, label) in enumerate(zip(results, labels)):
        if r.traces is None:
            continue
        for j in range(len(r.traces.nodes)):
            ax.plot(r.traces.sample_times_ms(j), r.traces.v_mV[trial, j], color=COLORS[i % 4], lw=0.8, alpha=alpha,
                    ls="--" if dashed_after_first and i > 0 else "-",
                    label=f"{label}: {r.traces.population[j]}[{r.traces.index[j]}]")


def plot_raster(results: Sequence[Result] | Result, path: str | Path, trial: int = 0,
                labels: Sequence[str] | None = None) -> None:
    """Raster (all recorded populations stacked) and, if recorded, membrane traces of ``trial``.

    Several results are overlaid in different colours (e.g. emulator vs Brian2)."""
    results = [results] if isinstance(results, Result) else list(results)
    labels = list(labels) if labels else [r.backend for r in results]
    has_traces = any(r.traces is not None for r in results)
    fig, axes = figure(2 if has_traces else 1, 1, figsize=(9, 6 if has_traces else 4), squeeze=False, sharex=True)
    ax = axes[0, 0]
    offsets = draw_rasters(ax, results, labels, trial)
    ticks = [(y + results[0].populations[name].spikes.n_neurons / 2, name) for name, y in offsets.items()]
    ax.set_yticks([t for t, _ in ticks], [n for _, n in ticks])
    ax.set_ylabel("neuron")
    ax.set_title(f"spikes, trial {trial} ({results[0].hardware_name})")
    if len(results) > 1:
        ax.legend(loc="upper right")
    if has_traces:
        axv = axes[1, 0]
        draw_traces(axv, results, labels, trial)
        axv.set_ylabel("membrane (mV, biological)")
        axv.legend(fontsize=7, loc="upper right")
    axes[-1, 0].set_xlabel("time (ms, biological)")
    axes[-1, 0].set_xlim(0, results[0].duration_ms)
    save(fig, path)
