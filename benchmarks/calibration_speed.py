"""Calibration speed and quality (issue 5). Reports figures, asserts nothing.

Calibrates all 512 circuits of ``bss2`` for all nine parameters (calix default targets,
membrane noise and threshold jitter on, no cache) on several chip seeds. Goal: <= 10 s wall
per chip on this machine (the real chip's calix takes ~5 min), calibrated/uncalibrated std
ratios below calix's limits, and below 0.10 on every parameter.

Per parameter it prints two ratios (5 % tails cut, as calix's tests):
* ``measured``: what the calibration itself read through the emulated readout (the report);
* ``true``: the circuits' hidden analog values at the calibrated vs the nominal codes, read
  from the chip's fixed pattern. Only this benchmark reads the pattern, to verify the
  black-box calibration; the calibration never does. For the input gains the true value is
  the circuit's bare gain, while the calibration (like calix) equalises the gain seen through
  the synapses of its column, which also carries per-synapse mismatch (8 % / sqrt(255 rows));
  ``(through synapses)`` is that product (bare gain x mean row and synapse factor of the column).

    python benchmarks/calibration_speed.py [--hardware bss2] [--chips 0,1,2] [--json]
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from neuroemu.backends.emulator import Chip, Imperfections
from neuroemu.calibration import CALIX_LIMITS, calibrate, calibration_report
from neuroemu.calibration.measure import trimmed_std
from neuroemu.calibration.report import GOAL_RATIO
from neuroemu.hardware import load_hardware


def true_ratios(hw, cal, imp: Imperfections) -> dict[str, float]:
    """Trimmed-std ratio of the hidden analog values at calibrated vs nominal codes (verification)."""
    chip = Chip(hw, cal.chip_seed)
    row, syn = chip.weight_factor(imp)  # (hemispheres, rows), (hemispheres, rows, columns)
    through = (row[:, :, None] * syn).mean(axis=1).reshape(-1)  # mean synapse factor of each circuit's column
    out = {}
    for i, name in enumerate(cal.parameters):
        before = chip.analog(name, np.full(cal.n_circuits, cal.nominal_codes[i]), imp)
        after = chip.analog(name, cal.codes[i], imp)
        out[name] = trimmed_std(after) / trimmed_std(before)
        if name.startswith("input_gain"):
            out[name + " (through synapses)"] = trimmed_std(after * through) / trimmed_std(before * through)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hardware", default="bss2")
    ap.add_argument("--chips", default="0,1,2", help="comma-separated chip seeds")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    hw = load_hardware(args.hardware)
    imp = Imperfections()
    t = time.perf_counter()
    calibrate(hw, 999, imperfections=imp, cache=False)  # warm-up: numba kernels, imports, calibration networks
    cold = time.perf_counter() - t
    rows = []
    for seed in (int(s) for s in args.chips.split(",")):
        t = time.perf_counter()
        cpu = time.process_time()
        cal = calibrate(hw, seed, imperfections=imp, cache=False)
        wall, cpu = time.perf_counter() - t, time.process_time() - cpu
        rep = calibration_report(cal)
        measured = {}
        for name, p in rep["parameters"].items():
            bound = p["ratio_below_adc_resolution"]
            measured[name] = bound if bound is not None else p["ratio"]
        rows.append({"chip": seed, "wall_s": wall, "cpu_s": cpu, "runs": cal.runs, "emulated_us": cal.emulated_us,
                     "failed": {k: len(v) for k, v in cal.failures().items()}, "measured": measured,
                     "true": true_ratios(hw, cal, imp)})
    if args.json:
        print(json.dumps({"hardware": hw.name, "circuits": hw.neurons.circuits, "first_in_process_s": cold,
                          "rows": rows},
                         indent=2))
        return
    print(f"calibration of {hw.name} ({hw.neurons.circuits} circuits, all parameters, noise on, no cache)")
    for r in rows:
        print(f"  chip {r['chip']}: {r['wall_s']:.2f} s wall, {r['cpu_s']:.2f} s CPU, {r['runs']} emulator runs, "
              f"{r['emulated_us'] / 1e3:.1f} ms chip time, failed circuits {r['failed'] or 0}")
    print(f"  wall per chip: mean {np.mean([r['wall_s'] for r in rows]):.2f} s, "
          f"max {max(r['wall_s'] for r in rows):.2f} s (goal <= 10 s); the first calibration of a process "
          f"(chip 999: numba cache load, compiling the calibration networks) took {cold:.2f} s")
    names = list(rows[0]["true"])
    w = max(len(n) for n in names)
    print(f"\n  {'parameter':<{w}} {'calix':>6} " + " ".join(f"{'chip ' + str(r['chip']):>15}" for r in rows)
          + "   (measured / true std ratio)")
    for name in names:
        limit = CALIX_LIMITS.get(name)
        cells = " ".join((f"{r['measured'][name]:>7.3f}" if name in r["measured"] else f"{'-':>7}")
                         + f"/{r['true'][name]:<7.3f}" for r in rows)
        worst = max(max(r["measured"].get(name, 0.0), r["true"][name]) for r in rows)
        flag = ("" if worst < GOAL_RATIO else
                "  above goal 0.10" if limit is None or worst < limit else "  ABOVE LIMIT")
        print(f"  {name:<{w}} {('-' if limit is None else f'{limit:.2f}'):>6} {cells}{flag}")


if __name__ == "__main__":
    main()
