"""Calibration sweeps: calibrate many chips for many targets on the sweep engine (Dask).

A grid point overrides some targets (``{"tau_mem": 5.0}``: chip units as in a target file —
potentials in V, times in µs, gains in V/µs per code); every (point, chip seed) task calibrates
that chip and records the achieved spreads. ``calibrate_point`` is the task function
(``"neuroemu.calibration.sweep:calibrate_point"``); :func:`build_spec` makes the sweep.

A record holds, per parameter ``p``: ``p_ratio`` (calibrated / uncalibrated std of the measured
values, 5 % tails cut; where the calibrated spread is below the CADC's resolution, the upper
bound from one CADC step, flagged by ``p_adc_limited`` = 1), ``p_std_before`` and ``p_std_after``
(chip units), ``p_rel_std_after``
(std / mean after) and ``p_failed`` (circuits that missed the target); plus ``failed`` (all
parameters) and the calibration ``id``. Records are deterministic functions of (point, chip,
settings, seed): no timings.
"""
from __future__ import annotations

import itertools
from typing import Any, Mapping, Sequence

from neuroemu.calibration.targets import CalibrationTarget
from neuroemu.errors import ConfigError
from neuroemu.hardware import HardwareConfig, hardware_from_json
from neuroemu.hardware.config import PARAMETERS
from neuroemu.sweeps import SweepSpec

#: the task function's import path
TASK = "neuroemu.calibration.sweep:calibrate_point"
#: per-parameter fields of a record, in table order
FIELDS = ("ratio", "adc_limited", "std_before", "std_after", "rel_std_after", "failed")


def grid(axes: Sequence[tuple[str, Sequence[float]]]) -> list[dict[str, float]]:
    """Cartesian product of ``(parameter, values)`` axes -> grid points (first axis slowest)."""
    names = [name for name, _ in axes]
    for name, values in axes:
        if name not in PARAMETERS:
            raise ConfigError(f"--vary {name}: unknown target parameter (known: {', '.join(PARAMETERS)})")
        if not values:
            raise ConfigError(f"--vary {name}: no values given")
    if len(set(names)) != len(names):
        raise ConfigError(f"--vary: parameter repeated in {', '.join(names)}")
    return [dict(zip(names, map(float, combo))) for combo in itertools.product(*(v for _, v in axes))]


def build_spec(hw: HardwareConfig, axes: Sequence[tuple[str, Sequence[float]]], chips: Sequence[int],
               base: CalibrationTarget | None = None, noise: bool = True, cache: bool = True,
               seed: int = 0) -> SweepSpec:
    """A calibration sweep over ``axes`` (target parameter, values) x ``chips``.

    base: targets the points override (default calix's); every point's targets are checked
    against ``hw`` here, so a bad value fails before any task runs. noise: measure with the
    config's temporal noise; cache: tasks reuse and fill the calibration cache; seed: noise
    seed of every calibration (0 = what ``neuroemu calibrate`` uses)."""
    base = base or CalibrationTarget.default(hw)
    points = grid(axes)
    for point in points:
        CalibrationTarget.from_mapping({**base.as_dict(), **point}, hw, source=f"sweep point {point}")
    settings = {"hardware": hw.name, "hardware_json": hw.canonical_json(), "base_targets": base.as_dict(),
                "noise": bool(noise), "cache": bool(cache)}
    return SweepSpec(kind="calibration", task=TASK, grid=points, chips=[int(c) for c in chips], settings=settings,
                     seed=int(seed))


def calibrate_point(point: Mapping[str, float], chip: int, settings: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """Sweep task: calibrate ``chip`` for the base targets overridden by ``point``; the record of
    achieved spreads (see the module doc)."""
    from neuroemu.backends.emulator import Imperfections
    from neuroemu.calibration.core import calibrate
    from neuroemu.calibration.report import calibration_report

    hw = hardware_from_json(settings["hardware_json"], source=f"sweep config {settings.get('hardware', '')}")
    target = CalibrationTarget.from_mapping({**settings["base_targets"], **point}, hw,
                                            source=f"sweep point {dict(point)}")
    imp = Imperfections() if settings.get("noise", True) else Imperfections().without_noise()
    cal = calibrate(hw, int(chip), target, imperfections=imp, cache=bool(settings.get("cache", True)), seed=int(seed))
    return record_of(calibration_report(cal))


def record_of(rep: Mapping[str, Any]) -> dict[str, Any]:
    """The flat sweep record of a calibration report."""
    out: dict[str, Any] = {"id": rep["id"]}
    failed = 0
    for name, p in rep["parameters"].items():
        bound = p.get("ratio_below_adc_resolution")
        # a spread the CADC cannot resolve (reads all on one code): the ratio's upper bound
        out[f"{name}_ratio"] = float(p["ratio"] if bound is None else bound)
        out[f"{name}_adc_limited"] = float(bound is not None)
        out[f"{name}_std_before"] = float(p["before"]["trimmed_std"])
        out[f"{name}_std_after"] = float(p["after"]["trimmed_std"])
        mean = p["after"]["mean"]
        out[f"{name}_rel_std_after"] = float(p["after"]["trimmed_std"] / abs(mean)) if mean else float("nan")
        out[f"{name}_failed"] = float(len(p["failed"]))
        failed += len(p["failed"])
    out["failed"] = float(failed)
    return out


def table(spec: SweepSpec, records: dict[tuple[int, int], dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per grid point: the point, chips done, and mean/std over chips of every field."""
    from neuroemu.sweeps import aggregate

    fields = [f"{p}_{f}" for p in PARAMETERS for f in FIELDS] + ["failed"]
    return aggregate(spec, records, fields=fields)


__all__ = ["TASK", "FIELDS", "grid", "build_spec", "calibrate_point", "record_of", "table"]
