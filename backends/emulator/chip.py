"""A chip instance: (hardware config, seed). The seed draws the fixed pattern once.

The pattern is stored as standard-normal (and uniform) draws; the config's spreads, scaled by
the run's :class:`Imperfections`, turn them into deviations. So one chip can be studied at any
mismatch scale without redrawing, and the same seed is the same chip, bit for bit, forever.

Per circuit and parameter: an offset and a gain deviation of the DAC map (see
:mod:`neuroemu.models.dac`). Per synapse-driver row: a gain. Per synapse: a multiplicative
deviation. Per circuit: a uniform draw that decides whether it is dead at a given fraction
(the dead set grows monotonically with the fraction).

This module is the hidden truth of the emulated chip. Calibration must never read it: it
measures through :class:`~neuroemu.backends.emulator.EmulatorBackend` runs only.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neuroemu.backends.emulator.imperfections import Imperfections
from neuroemu.errors import BackendError
from neuroemu.hardware import HardwareConfig, hardware_from_json, load_hardware
from neuroemu.hardware.config import PARAMETERS
from neuroemu.hdf5 import create, open_checked, serialize
from neuroemu.models.dac import nominal_code, value_at_code
from neuroemu.models.refractory import refractory_settings

#: Spawn keys of the independent streams: changing one component never changes another.
_STREAMS = {"offset": 0, "gain": 1, "row_gain": 2, "synapse": 3, "dead": 4}


@dataclass
class FixedPattern:
    """Standard-normal draws of one chip (dimensionless) and uniforms for dead circuits."""

    seed: int
    offset_z: np.ndarray  # (n_parameters, circuits)
    gain_z: np.ndarray  # (n_parameters, circuits)
    row_gain_z: np.ndarray  # (hemispheres, rows)
    synapse_z: np.ndarray  # (hemispheres, rows, columns)
    dead_u: np.ndarray  # (circuits,)

    @classmethod
    def draw(cls, hw: HardwareConfig, seed: int) -> "FixedPattern":
        if int(seed) != seed or seed < 0:
            raise BackendError(f"chip seed must be a non-negative integer, got {seed!r}")
        ss = np.random.SeedSequence(int(seed))
        gens = {name: np.random.default_rng(child) for name, child in zip(_STREAMS, ss.spawn(len(_STREAMS)))}
        C, H, R = hw.neurons.circuits, hw.neurons.hemispheres, hw.synapses.rows_per_hemisphere
        cph = hw.neurons.circuits_per_hemisphere
        return cls(
            seed=int(seed),
            offset_z=gens["offset"].standard_normal((len(PARAMETERS), C)),
            gain_z=gens["gain"].standard_normal((len(PARAMETERS), C)),
            row_gain_z=gens["row_gain"].standard_normal((H, R)),
            synapse_z=gens["synapse"].standard_normal((H, R, cph)),
            dead_u=gens["dead"].random(C),
        )


class Chip:
    """An emulated chip: hardware config + seed (+ its fixed pattern)."""

    def __init__(self, hardware: HardwareConfig | str, seed: int, pattern: FixedPattern | None = None):
        self.hardware = load_hardware(hardware) if isinstance(hardware, str) else hardware
        self.seed = int(seed)
        self.pattern = pattern if pattern is not None else FixedPattern.draw(self.hardware, seed)

    def __repr__(self) -> str:
        return f"Chip({self.hardware.name!r}, seed={self.seed})"

    # --- analog values (hidden truth) -----------------------------------------------------
    def analog(self, name: str, codes: np.ndarray, imperfections: Imperfections = Imperfections()) -> np.ndarray:
        """Analog value of parameter ``name`` on every circuit for DAC ``codes`` (per circuit)."""
        hw = self.hardware
        spec = hw.parameters[name]
        i = PARAMETERS.index(name)
        scale = imperfections.parameter_scale(name)
        offset = self.pattern.offset_z[i] * spec.mismatch_offset * scale
        gain = self.pattern.gain_z[i] * spec.mismatch_gain * scale
        codes = np.broadcast_to(np.asarray(codes, float), (hw.neurons.circuits,))
        return value_at_code(spec, hw.dac, codes, offset, gain)

    def weight_factor(self, imperfections: Imperfections = Imperfections()) -> tuple[np.ndarray, np.ndarray]:
        """(row gain (H, R), synapse factor (H, R, columns)): multiplicative, clipped at 0."""
        sm = self.hardware.synapse_mismatch
        s = imperfections.weight_mismatch_scale
        row = np.maximum(1.0 + self.pattern.row_gain_z * sm.row_gain * s, 0.0)
        syn = np.maximum(1.0 + self.pattern.synapse_z * sm.synapse * s, 0.0)
        return row, syn

    def dead(self, imperfections: Imperfections = Imperfections()) -> np.ndarray:
        """Boolean per circuit: never spikes."""
        frac = self.hardware.noise.dead_fraction if imperfections.dead_fraction is None else imperfections.dead_fraction
        dead = self.pattern.dead_u < frac
        if imperfections.dead_circuits:
            idx = np.asarray(imperfections.dead_circuits, int)
            if idx.min() < 0 or idx.max() >= self.hardware.neurons.circuits:
                raise BackendError(f"dead circuit index out of range 0..{self.hardware.neurons.circuits - 1}")
            dead[idx] = True
        return dead

    def nominal_codes(self, name: str, target: np.ndarray | float) -> np.ndarray:
        """The one code the uncalibrated chip uses for ``target`` (nominal DAC map)."""
        return nominal_code(self.hardware.parameters[name], self.hardware.dac, target)

    # --- summary ----------------------------------------------------------------------------
    def summary(self, imperfections: Imperfections = Imperfections()) -> dict[str, Any]:
        """Spread of every parameter at the nominal code of its calibration-default target; on a
        config with a refractory counter, tau_refrac is counter x clock period (no spread) and its
        entry says which (``refractory_counter``)."""
        from neuroemu.calibration.targets import default_targets

        hw = self.hardware
        targets = default_targets(hw)
        params = {}
        counter = hw.realism.refractory
        for name in PARAMETERS:
            target = targets[name]
            entry: dict[str, Any] = {}
            if name == "tau_refrac" and counter is not None:  # digital: counter x clock period, no spread
                settings = refractory_settings(counter, [target])
                values = np.full(hw.neurons.circuits, settings.time_us[0])
                entry = {"std": 0.0, "relative_std": 0.0,
                         "refractory_counter": {"counter": int(settings.counter[0]),
                                                "clock_scale": int(settings.scale_fast),
                                                "period_us": float(settings.period_fast_us)}}
            else:
                values = self.analog(name, self.nominal_codes(name, target), imperfections)
            params[name] = {
                "unit": hw.parameters[name].unit, "target": float(target),
                "nominal_code": float(self.nominal_codes(name, target)),
                "mean": float(values.mean()), "std": float(values.std()),
                "relative_std": float(values.std() / abs(values.mean())) if values.mean() else 0.0,
                "min": float(values.min()), "max": float(values.max()), **entry,
            }
        row, syn = self.weight_factor(imperfections)
        return {
            "hardware": hw.name, "hardware_hash": hw.short_hash, "chip_seed": self.seed,
            "parameters": params,
            "row_gain": {"mean": float(row.mean()), "std": float(row.std())},
            "synapse_factor": {"mean": float(syn.mean()), "std": float(syn.std())},
            "dead_circuits": [int(i) for i in np.flatnonzero(self.dead(imperfections))],
        }

    # --- files ------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the chip (config content + fixed pattern) to HDF5 (atomic)."""
        with create(path, "chip") as f:
            f.attrs["hardware_json"] = self.hardware.canonical_json()
            f.attrs["hardware_name"] = self.hardware.name
            serialize.write(f.create_group("pattern"), self.pattern)

    @classmethod
    def load(cls, path: str | Path) -> "Chip":
        with open_checked(path, "chip") as f:
            hw = hardware_from_json(str(f.attrs["hardware_json"]), source=f"chip file {path}")
            pattern = serialize.read(f["pattern"], FixedPattern)
        return cls(hw, pattern.seed, pattern)
