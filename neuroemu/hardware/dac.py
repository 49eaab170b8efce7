"""Nominal and mismatched maps between 10-bit CapMem DAC codes and analog parameter values.

The single place that knows how a code becomes an analog value. Used by the emulator's chip
model (with per-circuit deviations) and by anything that needs the nominal code for a target.
"""
from __future__ import annotations

import numpy as np

from neuroemu.hardware.config import Dac, ParameterSpec


def _slope_and_origin(spec: ParameterSpec, dac: Dac) -> tuple[float, float]:
    """(origin, slope) of the nominal map in the map's domain (value or ln value)."""
    if spec.map == "log":
        y0, y1 = np.log(spec.at_code_0), np.log(spec.at_code_max)
    else:
        y0, y1 = spec.at_code_0, spec.at_code_max
    return float(y0), float((y1 - y0) / dac.max_code)


def value_at_code(
    spec: ParameterSpec,
    dac: Dac,
    code: np.ndarray | float,
    offset_dev: np.ndarray | float = 0.0,
    gain_dev: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Analog value produced by ``code``, for a circuit with the given deviations.

    offset_dev: additive deviation in the map's domain (parameter unit, or ln value for log maps);
    gain_dev: relative deviation of the slope. Codes are clipped to [0, max_code] and rounded
    when the DAC has finite resolution.
    """
    code = np.clip(np.asarray(code, dtype=float), 0.0, dac.max_code)
    if dac.bits is not None:
        code = np.rint(code)
    y0, slope = _slope_and_origin(spec, dac)
    y = y0 + np.asarray(offset_dev, float) + slope * (1.0 + np.asarray(gain_dev, float)) * code
    return np.exp(y) if spec.map == "log" else y


def nominal_code(spec: ParameterSpec, dac: Dac, value: np.ndarray | float) -> np.ndarray:
    """Code that gives ``value`` on a circuit without mismatch (rounded if the DAC quantizes).

    Values outside the DAC's reach clip to 0 or max_code.
    """
    y0, slope = _slope_and_origin(spec, dac)
    y = np.log(np.asarray(value, float)) if spec.map == "log" else np.asarray(value, float)
    code = np.clip((y - y0) / slope, 0.0, dac.max_code)
    return np.rint(code) if dac.bits is not None else code
