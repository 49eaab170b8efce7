"""The calibration report: spread per parameter before and after, ratios, failures.

Spreads are of *measured* values (what the calibration saw through the chip's readout), with
5 % cut from each tail before the standard deviation as calix's tests do
(``np.std(scipy.stats.trimboth(x, 0.05))``). The ratio calibrated/uncalibrated std is compared
with calix's acceptance limits. Potentials are read by the 8-bit CADC (4.5 mV per LSB on bss2):
a calibrated spread far below one LSB reads as (nearly) zero. A refractory time made by a
digital counter (configs with ``realism.refractory``) is not calibrated: the report gives the
counter, its clock and the quantization error against the target instead of a spread ratio.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from neuroemu.calibration.measure import trimmed_std
from neuroemu.models.lif import CIRCUIT_UNITS as UNITS
from neuroemu.models.lif import POTENTIALS

#: calibrated std / uncalibrated std accepted by calix's tests (test_neuron_distribution.py)
CALIX_LIMITS: dict[str, float] = {
    "v_leak": 0.30, "v_reset": 0.20, "v_thresh": 0.35, "tau_mem": 0.45, "tau_syn_exc": 0.20, "tau_syn_inh": 0.20,
}
#: what this project aims for on every parameter
GOAL_RATIO = 0.10


def spread(values: np.ndarray) -> dict[str, float]:
    """mean, std, relative std and trimmed std (5 % tails cut) of the finite values."""
    v = np.asarray(values, float)
    f = v[np.isfinite(v)]
    if f.size == 0:
        return {"mean": float("nan"), "std": float("nan"), "relative_std": float("nan"), "trimmed_std": float("nan"),
                "finite": 0}
    mean = float(f.mean())
    std = float(f.std()) if np.ptp(f) > 0 else 0.0  # equal values: exactly 0, not the mean's rounding
    return {"mean": mean, "std": std, "relative_std": std / abs(mean) if mean else float("nan"),
            "trimmed_std": trimmed_std(f), "finite": int(f.size)}


def std_ratio(after: np.ndarray, before: np.ndarray) -> float:
    """Trimmed std of ``after`` over trimmed std of ``before``; NaN when the uncalibrated values
    do not spread (a chip without mismatch: nothing to reduce)."""
    b = trimmed_std(before)
    f = np.asarray(before, float)
    scale = float(np.abs(f[np.isfinite(f)]).mean()) if np.isfinite(f).any() else 0.0
    if not np.isfinite(b) or b <= 1e-9 * scale:
        return float("nan")
    return trimmed_std(after) / b


def calibration_report(cal) -> dict[str, Any]:
    """Report of a :class:`~neuroemu.calibration.Calibration` (JSON-ready dict)."""
    params = {}
    for i, name in enumerate(cal.parameters):
        ratio = std_ratio(cal.achieved[i], cal.uncalibrated[i])
        limit = CALIX_LIMITS.get(name)
        failed = np.flatnonzero(~cal.success[i])
        # potentials read by the CADC without dithering noise (a clamped membrane) all land on
        # whole CADC codes: a spread below the quantization step is not resolved
        floor = None
        lsb = cal.cadc_V_per_lsb
        if name in POTENTIALS and lsb > 0:
            f = cal.achieved[i][np.isfinite(cal.achieved[i])]
            codes = (f - f[0]) / lsb if f.size else f
            if (f.size and np.isfinite(ratio) and np.allclose(codes, np.rint(codes), atol=1e-6)
                    and trimmed_std(f) < lsb / np.sqrt(12)):
                floor = (lsb / np.sqrt(12)) / trimmed_std(cal.uncalibrated[i])
        params[name] = {
            "unit": UNITS[name], "target": cal.targets.get(name),
            "before": spread(cal.uncalibrated[i]), "after": spread(cal.achieved[i]),
            "ratio": ratio, "ratio_below_adc_resolution": floor, "calix_limit": limit,
            "within_calix_limit": None if limit is None or not np.isfinite(ratio) else bool(ratio < limit),
            "below_goal": bool(np.isfinite(ratio) and ratio < GOAL_RATIO),
            "nominal_code": float(cal.nominal_codes[i]),
            "codes": {"min": float(cal.codes[i].min()), "max": float(cal.codes[i].max()),
                      "std": float(cal.codes[i].std())},
            "failed": [int(c) for c in failed],
        }
        if name == "tau_refrac" and cal.refractory_counter is not None:
            params[name]["refractory_counter"] = cal.refractory_counter
    return {
        "id": cal.id, "hardware": cal.hardware_name, "hardware_hash": cal.hardware_hash[:12],
        "chip_seed": cal.chip_seed,
        "circuits": cal.n_circuits, "created": cal.created, "neuroemu_version": cal.neuroemu_version,
        "targets": dict(cal.targets.as_dict()), "runs": cal.runs, "emulated_us": cal.emulated_us,
        "wall_time_s": cal.wall_time_s, "parameters": params, "failures": cal.failures(), "ok": cal.ok,
    }


def _fmt_value(name: str, v: float) -> str:
    if not np.isfinite(v):
        return "-"
    if name in POTENTIALS:
        return f"{1e3 * v:.2f}"
    if name.startswith("input_gain"):
        return f"{1e3 * v:.4f}"
    return f"{v:.4g}"


def _pct(sp: dict[str, float]) -> str:
    """Relative std (trimmed std / |mean|) in percent."""
    m, t = sp["mean"], sp["trimmed_std"]
    if m is None or t is None or not np.isfinite(m) or not np.isfinite(t) or m == 0:
        return "-"
    return f"{100 * t / abs(m):.2f} %"


def describe_refractory_counter(rc: dict[str, Any]) -> str:
    """One line on a digitally set refractory time (``Calibration.refractory_counter``)."""
    err = rc["quantization_error_us"]
    rel = 100 * err / rc["target_us"] if rc["target_us"] > 0 else float("nan")
    return (f"set digitally, not calibrated: counter {rc['counter']} x {1000 * rc['period_us']:g} ns (clock scale "
            f"{rc['clock_scale']}) = {rc['set_us']:.4g} µs on every circuit; quantization error {1000 * err:+.3g} ns "
            f"({rel:+.2f} %); measured {rc['measured_mean_us']:.4g} µs, within {1000 * rc['check_us']:g} ns of it on "
            f"{rc['verified']} circuits")


def render_report(rep: dict[str, Any]) -> str:
    """Text table of :func:`calibration_report`."""
    lines = [
        f"calibration {rep['id']}: chip {rep['chip_seed']} of {rep['hardware']} (config {rep['hardware_hash']}), "
        f"{rep['circuits']} circuits, {rep['runs']} emulator runs, {rep['wall_time_s']:.2f} s",
        "  spreads of measured values, std with 5 % tails cut (calix); potentials in mV, gains in mV/µs per code;",
        "  '<' marks a calibrated spread below the CADC's resolution (the ratio is an upper bound)",
        f"  {'parameter':<15} {'target':>9} {'before std':>11} {'after std':>10} {'rel. std before/after':>22} "
        f"{'ratio':>7} {'calix':>6}  failed",
    ]
    for name, p in rep["parameters"].items():
        b, a = p["before"]["trimmed_std"], p["after"]["trimmed_std"]
        limit = f"{p['calix_limit']:.2f}" if p["calix_limit"] is not None else "-"
        ratio = f"{p['ratio']:.3f}" if p["ratio"] is not None and np.isfinite(p["ratio"]) else "-"
        if p.get("ratio_below_adc_resolution") is not None:
            ratio = f"<{p['ratio_below_adc_resolution']:.3f}"  # below one CADC step: an upper bound
        flag = "" if p["calix_limit"] is None or p["within_calix_limit"] in (None, True) else "  ABOVE LIMIT"
        failed = p["failed"]
        shown = ", ".join(str(c) for c in failed[:12]) + (", ..." if len(failed) > 12 else "")
        rel = f"{_pct(p['before'])} / {_pct(p['after'])}"
        if p.get("refractory_counter"):
            ratio = "set"  # digital: nothing to calibrate
        lines.append(f"  {name:<15} {_fmt_value(name, p['target']):>9} {_fmt_value(name, b):>11} "
                     f"{_fmt_value(name, a):>10} {rel:>22} {ratio:>7} {limit:>6}  {len(failed)}"
                     + (f" [{shown}]" if failed else "") + flag)
        if p.get("refractory_counter"):
            lines.append("    " + describe_refractory_counter(p["refractory_counter"]))
    lines.append("  all circuits reached their targets" if rep["ok"] else
                 f"  {sum(len(v) for v in rep['failures'].values())} parameter settings missed their target (listed "
                 "above)")
    return "\n".join(lines)
