"""The CapMem DAC map: 10-bit code <-> analog value of one neuron-circuit parameter.

The map is linear in its *domain* y: the value itself (``linear`` maps: potentials, input
gains) or its logarithm (``log`` maps: time constants, standing in for CapMem bias currents
with range switches, a constant relative step per code)::

    y(code) = y_0 + slope * code,     y_0 = y(at_code_0),
    slope   = (y(at_code_max) - y(at_code_0)) / max_code

A circuit with mismatch realises ``y = y_0 + offset_dev + slope (1 + gain_dev) code``
(``offset_dev`` in the domain's unit, ``gain_dev`` relative). Codes are clipped to
[0, max_code] and rounded to integers when the DAC has finite resolution (``bits`` set).

This module is the single place that knows how a code becomes a value: the hardware config's
parameter specs carry the map's constants (:class:`neuroemu.hardware.config.ParameterSpec`,
:class:`~neuroemu.hardware.config.Dac`), the emulator's chip model evaluates it with per-circuit
deviations, the compiler and the calibration use its nominal inverse.
"""
from __future__ import annotations

from typing import Literal, Protocol

import numpy as np


class MapSpec(Protocol):
    """The constants of one parameter's map (a :class:`~neuroemu.hardware.config.ParameterSpec`)."""

    map: Literal["linear", "log"]
    at_code_0: float
    at_code_max: float


class DacSpec(Protocol):
    """The converter (a :class:`~neuroemu.hardware.config.Dac`): codes 0..max_code, ``bits``
    None for continuous codes."""

    bits: int | None
    max_code: int


def domain(spec: MapSpec, value: np.ndarray | float) -> np.ndarray:
    """Values in the map's domain: themselves (linear) or their logarithm (log; a non-positive
    value, which a log map cannot produce, is -inf; NaN stays NaN)."""
    v = np.asarray(value, float)
    if spec.map != "log":
        return v
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(v > 0, np.log(np.where(v > 0, v, 1.0)), np.where(np.isnan(v), np.nan, -np.inf))


def from_domain(spec: MapSpec, y: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`domain`: values from the map's domain (e^y for log maps)."""
    return np.exp(y) if spec.map == "log" else np.asarray(y, float)


def origin_and_slope(spec: MapSpec, dac: DacSpec) -> tuple[float, float]:
    """(y_0, slope) of the nominal map in its domain; the slope's sign is the map's direction."""
    y0, y1 = domain(spec, spec.at_code_0), domain(spec, spec.at_code_max)
    return float(y0), float((y1 - y0) / dac.max_code)


def reach(spec: MapSpec) -> tuple[float, float]:
    """(lowest, highest) value the nominal map produces over the codes."""
    return (min(spec.at_code_0, spec.at_code_max), max(spec.at_code_0, spec.at_code_max))


def check_range(spec: MapSpec, value_range: tuple[float, float]) -> None:
    """Refuse (ValueError) a target range that the nominal map does not reach."""
    lo, hi = value_range
    vmin, vmax = reach(spec)
    if not (vmin <= lo and hi <= vmax):
        raise ValueError(f"range {[lo, hi]} must lie inside what the DAC reaches [{vmin}, {vmax}]")


def round_code(dac: DacSpec, code: np.ndarray | float) -> np.ndarray:
    """``code`` clipped to [0, max_code], rounded when the DAC has finite resolution."""
    code = np.clip(np.asarray(code, dtype=float), 0.0, dac.max_code)
    return np.rint(code) if dac.bits is not None else code


def value_at_code(
    spec: MapSpec,
    dac: DacSpec,
    code: np.ndarray | float,
    offset_dev: np.ndarray | float = 0.0,
    gain_dev: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Analog value that ``code`` produces on a circuit with the given deviations (none: the
    nominal map)."""
    code = round_code(dac, code)
    y0, slope = origin_and_slope(spec, dac)
    return from_domain(spec, y0 + np.asarray(offset_dev, float) + slope * (1.0 + np.asarray(gain_dev, float)) * code)


def nominal_code(spec: MapSpec, dac: DacSpec, value: np.ndarray | float) -> np.ndarray:
    """The code that gives ``value`` on a circuit without mismatch (rounded if the DAC
    quantizes). Values beyond the DAC's reach clip to code 0 or max_code."""
    y0, slope = origin_and_slope(spec, dac)
    return round_code(dac, (domain(spec, value) - y0) / slope)


def code_towards(spec: MapSpec, dac: DacSpec, code: np.ndarray | float, value: float, from_value: float) -> np.ndarray:
    """The code that moves a circuit realising ``from_value`` at ``code`` to ``value`` along the
    nominal slope (the circuit's own offset is kept, its gain deviation ignored)."""
    _, slope = origin_and_slope(spec, dac)
    return round_code(dac, np.asarray(code, float) + (domain(spec, value) - domain(spec, from_value)) / slope)
