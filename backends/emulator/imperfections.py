"""Which imperfections a run has, and how strong: every knob named, scalable, switchable alone.

Magnitudes come from the hardware config; these are multipliers (``*_scale``) or absolute
overrides. ``Imperfections()`` is the config as written; ``Imperfections.none()`` switches
everything off so a mismatched config behaves like ``ideal`` (apart from quantization done by
the compiler).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from neuroemu.errors import BackendError
from neuroemu.hardware.config import PARAMETERS, HardwareConfig


@dataclass(frozen=True)
class Imperfections:
    """Run-level imperfection settings of the emulator.

    mismatch_scale: multiplies every fixed-pattern deviation of the circuits' DAC maps.
    parameter_mismatch_scale: per parameter (e.g. ``{"tau_mem": 0.5}``), on top of the above.
    weight_mismatch_scale: multiplies the synapse-driver row gain and per-synapse deviations.
    membrane_noise_scale, threshold_jitter_scale: multiply the config's magnitudes.
    spike_time_jitter_us: std of spike-time jitter (chip µs); None = config value.
    dead_fraction: fraction of circuits (drawn from the chip seed) that never spike; None = config.
    dead_circuits: extra circuits (global indices) that never spike.
    timestamp_quantization: put input and recorded spike times on the FPGA clock grid.
    latency: the chip's fixed transport latencies (config ``realism.latency``) on or off.
    rails: the membrane held within the analog supply range (config ``realism.rails``) on or off.
    reset_conductance: the reset's finite conductance (config ``realism.refractory.reset_tau_us``)
        on, or off (an instant reset).
    saturation: saturating synaptic inputs (config ``realism.synaptic_saturation``) on, or off
        (linear).
    event_buses: serialize input events on the config's shared event buses (queueing delays and
        drops, :mod:`neuroemu.hardware.buses`); off, or without ``realism.event_buses`` in the
        config, every event arrives at its time.
    """

    mismatch_scale: float = 1.0
    parameter_mismatch_scale: dict[str, float] = field(default_factory=dict)
    weight_mismatch_scale: float = 1.0
    membrane_noise_scale: float = 1.0
    threshold_jitter_scale: float = 1.0
    spike_time_jitter_us: float | None = None
    dead_fraction: float | None = None
    dead_circuits: tuple[int, ...] = ()
    timestamp_quantization: bool = True
    latency: bool = True
    rails: bool = True
    reset_conductance: bool = True
    saturation: bool = True
    event_buses: bool = True

    def __post_init__(self) -> None:
        for name in ("mismatch_scale", "weight_mismatch_scale", "membrane_noise_scale", "threshold_jitter_scale"):
            if getattr(self, name) < 0:
                raise BackendError(f"imperfections: {name} must be >= 0, got {getattr(self, name)}")
        unknown = sorted(set(self.parameter_mismatch_scale) - set(PARAMETERS))
        if unknown:
            raise BackendError(f"imperfections: unknown parameter '{unknown[0]}' (known: {', '.join(PARAMETERS)})")
        if any(v < 0 for v in self.parameter_mismatch_scale.values()):
            raise BackendError("imperfections: parameter mismatch scales must be >= 0")
        if self.spike_time_jitter_us is not None and self.spike_time_jitter_us < 0:
            raise BackendError("imperfections: spike_time_jitter_us must be >= 0")
        if self.dead_fraction is not None and not 0 <= self.dead_fraction < 1:
            raise BackendError(f"imperfections: dead_fraction must be in [0, 1), got {self.dead_fraction}")

    @classmethod
    def none(cls) -> "Imperfections":
        """Everything off: no mismatch, no noise, no dead circuits, exact timestamps, none of the
        chip's limits (realism: latency, event serialization, ...)."""
        return cls(mismatch_scale=0.0, weight_mismatch_scale=0.0, membrane_noise_scale=0.0,
                   threshold_jitter_scale=0.0, spike_time_jitter_us=0.0, dead_fraction=0.0,
                   timestamp_quantization=False, latency=False, event_buses=False, rails=False,
                   reset_conductance=False, saturation=False)

    def without_noise(self) -> "Imperfections":
        """The same with every temporal noise off (membrane noise, threshold jitter, spike-time
        jitter); the fixed pattern stays."""
        return self.replace(membrane_noise_scale=0.0, threshold_jitter_scale=0.0, spike_time_jitter_us=0.0)

    def replace(self, **changes: Any) -> "Imperfections":
        return dataclasses.replace(self, **changes)

    def parameter_scale(self, name: str) -> float:
        return self.mismatch_scale * self.parameter_mismatch_scale.get(name, 1.0)

    def effective(self, hw: HardwareConfig) -> dict[str, Any]:
        """The magnitudes in force on ``hw`` (what a Result records), chip units."""
        n = hw.noise
        jitter = n.spike_time_jitter_us if self.spike_time_jitter_us is None else self.spike_time_jitter_us
        dead = n.dead_fraction if self.dead_fraction is None else self.dead_fraction
        res = hw.timing.timestamp_resolution_us if self.timestamp_quantization else None
        eb = hw.realism.event_buses if self.event_buses else None
        return {
            "mismatch": {p: {"offset": hw.parameters[p].mismatch_offset * self.parameter_scale(p),
                             "gain": hw.parameters[p].mismatch_gain * self.parameter_scale(p)} for p in PARAMETERS},
            "weight_mismatch": {"row_gain": hw.synapse_mismatch.row_gain * self.weight_mismatch_scale,
                                "synapse": hw.synapse_mismatch.synapse * self.weight_mismatch_scale},
            "membrane_noise_V": n.membrane_V * self.membrane_noise_scale,
            "threshold_jitter_V": n.threshold_jitter_V * self.threshold_jitter_scale,
            "spike_time_jitter_us": jitter,
            "dead_fraction": dead,
            "dead_circuits": list(self.dead_circuits),
            "timestamp_resolution_us": res,
            "latency_input_us": hw.realism.latency.input_us if self.latency else 0.0,
            "latency_recurrent_us": hw.realism.latency.recurrent_us if self.latency else 0.0,
            # (low, high) chip V the membrane cannot leave; None: unbounded
            "rails_V": ((hw.realism.rails.low_V, hw.realism.rails.high_V)
                        if self.rails and hw.realism.rails is not None else None),
            "reset_tau_us": (hw.realism.refractory.reset_tau_us
                             if self.reset_conductance and hw.realism.refractory is not None else 0.0),
            # the synaptic inputs' saturation current (chip V/µs); None: linear
            "saturation_V_per_us": (hw.realism.synaptic_saturation.max_current_V_per_us
                                    if self.saturation and hw.realism.synaptic_saturation is not None else None),
            # per_hemisphere, event_interval_us (chip µs), queue_depth; None: no serialization
            "event_buses": None if eb is None else dataclasses.asdict(eb),
        }

    def switches(self, hw: HardwareConfig) -> dict[str, bool]:
        """Which imperfections are on (nonzero) for a run on ``hw``."""
        e = self.effective(hw)
        return {
            "mismatch": any(v["offset"] > 0 or v["gain"] > 0 for v in e["mismatch"].values()),
            "weight_mismatch": e["weight_mismatch"]["row_gain"] > 0 or e["weight_mismatch"]["synapse"] > 0,
            "membrane_noise": e["membrane_noise_V"] > 0,
            "threshold_jitter": e["threshold_jitter_V"] > 0,
            "spike_time_jitter": e["spike_time_jitter_us"] > 0,
            "dead_circuits": e["dead_fraction"] > 0 or bool(e["dead_circuits"]),
            "timestamp_quantization": e["timestamp_resolution_us"] is not None,
            "latency": e["latency_input_us"] > 0 or e["latency_recurrent_us"] > 0,
            "rails": e["rails_V"] is not None,
            "reset_conductance": e["reset_tau_us"] > 0,
            "saturation": e["saturation_V_per_us"] is not None,
            "event_buses": e["event_buses"] is not None,
            "weight_quantization": hw.synapses.weight_bits is not None,
            "dac_quantization": hw.dac.bits is not None,
        }
