"""Histograms of a calibration: every parameter's measured values before (nominal codes) and
after calibration, with the target and the calibrated/uncalibrated std ratio."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from neuroemu.plotting.figure import figure, save

_SCALE = {"V": (1e3, "mV"), "µs": (1.0, "µs"), "V/µs per code": (1e3, "mV/µs per code")}


def plot_calibration(cal, path: str | Path) -> None:
    """One panel per parameter: histograms of the uncalibrated and calibrated measured values."""
    from neuroemu.calibration.report import calibration_report
    from neuroemu.models.lif import CIRCUIT_UNITS as UNITS

    rep = calibration_report(cal)["parameters"]
    names = list(cal.parameters)
    cols = 3
    rows = int(np.ceil(len(names) / cols))
    fig, axes = figure(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        i = cal.index(name)
        factor, unit = _SCALE.get(UNITS[name], (1.0, UNITS[name]))
        before = cal.uncalibrated[i][np.isfinite(cal.uncalibrated[i])] * factor
        after = cal.achieved[i][np.isfinite(cal.achieved[i])] * factor
        both = np.concatenate([before, after])
        if both.size:
            lo, hi = np.percentile(both, [0.5, 99.5])
            pad = 0.05 * (hi - lo) or 0.01 * max(abs(hi), 1e-12)
            bins = np.linspace(lo - pad, hi + pad, 41)
            ax.hist(np.clip(before, bins[0], bins[-1]), bins=bins, color="tab:gray", alpha=0.6, label="uncalibrated")
            ax.hist(np.clip(after, bins[0], bins[-1]), bins=bins, color="tab:blue", alpha=0.8, label="calibrated")
        ax.axvline(cal.targets.get(name) * factor, color="tab:red", lw=1, label="target")
        p = rep[name]
        bound = p["ratio_below_adc_resolution"]
        ratio = f"std ratio < {bound:.3f} (CADC step)" if bound is not None else f"std ratio {p['ratio']:.3f}"
        rc = p.get("refractory_counter")
        if rc:  # a digital counter: set, not calibrated
            ratio = (f"set: counter {rc['counter']} x {1000 * rc['period_us']:g} ns "
                     f"({1000 * rc['quantization_error_us']:+.3g} ns)")
        failed = len(p["failed"])
        ax.set_title(f"{name}: {ratio}" + (f", {failed} failed" if failed else ""), fontsize=9)
        ax.set_xlabel(unit, fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"calibration {cal.id}: chip {cal.chip_seed} of {cal.hardware_name} ({cal.n_circuits} circuits)",
                 fontsize=10)
    fig.tight_layout()
    save(fig, path)


def plot_calibration_sweep(rows: list[dict], axes: list[str], path: str | Path, title: str = "") -> None:
    """Calibrated/uncalibrated std ratio of every parameter (mean ± std over chips) against the
    varied target (the first varied parameter; further ones give one line style per value),
    with calix's acceptance limits; right panel: relative std after calibration."""
    from neuroemu.calibration.report import CALIX_LIMITS, GOAL_RATIO
    from neuroemu.hardware.config import PARAMETERS

    x_name = axes[0]
    others = axes[1:]
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(row[a] for a in others), []).append(row)
    fig, (ax_r, ax_s) = figure(1, 2, figsize=(11, 4.2))
    styles = ["-", "--", ":", "-."]
    colors = {name: f"C{i}" for i, name in enumerate(PARAMETERS)}
    for gi, (key, grp) in enumerate(groups.items()):
        grp = sorted(grp, key=lambda r: r[x_name])
        x = np.array([r[x_name] for r in grp])
        suffix = "" if not others else " (" + ", ".join(f"{a}={v:g}" for a, v in zip(others, key)) + ")"
        for name in PARAMETERS:
            for ax, field in ((ax_r, "ratio"), (ax_s, "rel_std_after")):
                m = np.array([r.get(f"{name}_{field}_mean", np.nan) for r in grp], float)
                s = np.array([r.get(f"{name}_{field}_std", np.nan) for r in grp], float)
                ax.errorbar(x, m, yerr=s, marker="o", ms=3, capsize=2, ls=styles[gi % len(styles)], color=colors[name],
                            label=(name + suffix) if (ax is ax_r and (gi == 0 or others)) else None)
    for name, limit in CALIX_LIMITS.items():
        ax_r.axhline(limit, color=colors[name], lw=0.6, ls=(0, (1, 3)))
    ax_r.axhline(GOAL_RATIO, color="k", lw=0.8, ls="--")
    ax_r.set_ylabel("calibrated / uncalibrated std")
    ax_r.set_yscale("log")
    ax_s.set_ylabel("relative std after calibration")
    ax_s.set_yscale("log")
    for ax in (ax_r, ax_s):
        ax.set_xlabel(x_name)
        ax.tick_params(labelsize=8)
    ax_r.legend(fontsize=6, ncol=2)
    fig.suptitle(title or "calibration sweep", fontsize=10)
    fig.tight_layout()
    save(fig, path)
