"""Calibration targets: what every circuit should realise, in chip units.

Defaults are calix's (``calix.spiking.neuron.NeuronCalibTarget``): leak 80, reset 70,
threshold 125 CADC; tau_mem 10 µs, tau_syn 10 µs, refractory 2 µs; plus a synaptic input
gain (V/µs per weight code) that maps 63 codes to ~4.7 nA at 1 nF on one circuit.

A user target file (YAML) sets any subset of the parameters; the rest keep the defaults::

    v_leak: {cadc: 80}        # potentials: volts (a bare number or {V: 0.42}), CADC codes
    v_reset: 0.375            #   ({cadc: 70}) or biological millivolts ({mV: -66.7})
    v_thresh: {mV: -50}
    tau_mem: 10.0             # µs (chip time)
    tau_syn_exc: 10.0
    tau_refrac: 2.0
    input_gain_exc: 1.0e-3    # V/µs per weight code

Every value is checked against the calibratable range of the hardware config; errors name the
key, the value, the range and the file.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from neuroemu.errors import ConfigError
from neuroemu.hardware.config import PARAMETERS, HardwareConfig
from neuroemu.models.lif import CIRCUIT_PARAMETERS, CIRCUIT_UNITS, POTENTIALS
from neuroemu.yaml_schema import read_yaml_mapping

#: calix defaults (from the schema); potentials in CADC codes, times in µs, gain in V/µs per weight code
CALIX_DEFAULTS: dict[str, float] = {p.name: p.calix_default for p in CIRCUIT_PARAMETERS}


def default_targets(hw: HardwareConfig) -> dict[str, float]:
    """The calix default targets in chip units of ``hw`` (potentials in V, times in µs)."""
    out = {}
    for name in PARAMETERS:
        value = CALIX_DEFAULTS[name]
        out[name] = float(hw.cadc_voltage_V(value)) if name in POTENTIALS else value
    return out


@dataclass(frozen=True)
class CalibrationTarget:
    """One target value per parameter for every circuit, chip units: potentials in V, times in
    µs, synaptic input gains in V/µs per weight code (current jump over membrane capacitance)."""

    v_leak: float
    v_reset: float
    v_thresh: float
    tau_mem: float
    tau_syn_exc: float
    tau_syn_inh: float
    tau_refrac: float
    input_gain_exc: float
    input_gain_inh: float

    # --- construction -----------------------------------------------------------------------
    @classmethod
    def default(cls, hw: HardwareConfig) -> "CalibrationTarget":
        """calix's defaults translated to ``hw``'s units."""
        return cls(**default_targets(hw))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], hw: HardwareConfig, source: str = "targets") -> "CalibrationTarget":
        """Defaults overridden by ``data`` (parameter -> value as in a target file); checked against ``hw``."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{source}: expected a mapping of parameter -> target, got {data!r}")
        values = default_targets(hw)
        for key, raw in data.items():
            if key not in PARAMETERS:
                raise ConfigError(f"{source}: unknown key '{key}' (allowed: {', '.join(PARAMETERS)})")
            values[key] = _parse_value(key, raw, hw, source)
        target = cls(**values)
        target.check(hw, source)
        return target

    @classmethod
    def load(cls, path: str | Path, hw: HardwareConfig) -> "CalibrationTarget":
        """Read a target file (YAML mapping); errors name key, value, range and file."""
        data = read_yaml_mapping(path)
        return cls.from_mapping(data, hw, source=str(path))

    # --- access -------------------------------------------------------------------------------
    def get(self, name: str) -> float:
        return float(getattr(self, name))

    def as_dict(self) -> dict[str, float]:
        return {name: self.get(name) for name in PARAMETERS}

    def replace(self, **changes: float) -> "CalibrationTarget":
        return dataclasses.replace(self, **changes)

    def canonical_json(self) -> str:
        """Sorted JSON with values rounded to 12 significant digits (what the cache key hashes)."""
        return json.dumps({k: float(f"{v:.12g}") for k, v in self.as_dict().items()}, sort_keys=True)

    # --- checks -------------------------------------------------------------------------------
    def check(self, hw: HardwareConfig, source: str = "targets") -> None:
        """Every value finite and inside ``hw``'s calibratable range, else ConfigError."""
        for name in PARAMETERS:
            value = self.get(name)
            lo, hi = hw.parameters[name].range
            if not math.isfinite(value) or not (lo * (1 - 1e-9) <= value <= hi * (1 + 1e-9)):
                extra = ""
                if name in POTENTIALS and math.isfinite(value):
                    extra = (f" (CADC {float(hw.cadc_code(value)):.1f}; range CADC {float(hw.cadc_code(lo)):.1f}-"
                             f"{float(hw.cadc_code(hi)):.1f})")
                raise ConfigError(
                    f"{source}: key '{name}': target {value:.6g} {CIRCUIT_UNITS[name]}{extra} is outside the "
                    f"calibratable range {lo:g}-{hi:g} {CIRCUIT_UNITS[name]} of hardware '{hw.name}'"
                )

    def describe(self, hw: HardwareConfig) -> dict[str, str]:
        """Human-readable target per parameter (potentials also in CADC and biological mV)."""
        out = {}
        for name in PARAMETERS:
            v = self.get(name)
            if name in POTENTIALS:
                out[name] = f"{v:.4g} V (CADC {float(hw.cadc_code(v)):.1f}, {float(hw.bio_voltage_mV(v)):.2f} mV)"
            else:
                out[name] = f"{v:.4g} {CIRCUIT_UNITS[name]}"
        return out


_POTENTIAL_FORMS = "a number (V) or a mapping {V: x}, {cadc: n} or {mV: x}"


def _number(key: str, raw: Any, source: str, what: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise ConfigError(f"{source}: key '{key}': expected {what}, got {raw!r}")
    if not math.isfinite(raw):
        raise ConfigError(f"{source}: key '{key}': expected a finite number, got {raw!r}")
    return float(raw)


def _parse_value(key: str, raw: Any, hw: HardwareConfig, source: str) -> float:
    """A target file value in chip units; potentials accept V, {cadc: n} and {mV: x} (biological)."""
    if key not in POTENTIALS:
        if isinstance(raw, Mapping):
            raise ConfigError(f"{source}: key '{key}': expected a number ({CIRCUIT_UNITS[key]}), got {raw!r}")
        return _number(key, raw, source, f"a number ({CIRCUIT_UNITS[key]})")
    if isinstance(raw, Mapping):
        if len(raw) != 1 or next(iter(raw)) not in ("V", "cadc", "mV"):
            raise ConfigError(f"{source}: key '{key}': expected {_POTENTIAL_FORMS}, got {dict(raw)!r}")
        unit, value = next(iter(raw.items()))
        value = _number(f"{key}.{unit}", value, source, "a number")
        if unit == "cadc":
            return float(hw.cadc_voltage_V(value))
        if unit == "mV":
            return float(hw.chip_voltage_V(value))
        return value
    return _number(key, raw, source, _POTENTIAL_FORMS)


def load_targets(path: str | Path | None, hw: HardwareConfig) -> CalibrationTarget:
    """Targets from a YAML file (None: calix defaults), checked against ``hw``."""
    return CalibrationTarget.default(hw) if path is None else CalibrationTarget.load(path, hw)
