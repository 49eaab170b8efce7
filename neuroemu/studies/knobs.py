"""Imperfection knobs of robustness studies: each named, documented, applied one at a time.

A study starts from a *base* (``ideal``: every imperfection off, continuous weights, exact DAC
codes and timestamps, none of the chip's limits of ``realism``; or ``chip``: the hardware
config's defaults) and sets the knobs of a grid
point on top. With every knob at 0 on the ideal base the run equals the ideal run.

| knob | value | what it sets |
|---|---|---|
| ``mismatch`` | scale (1 = config spreads) | fixed-pattern deviations of every circuit parameter |
| ``mismatch.<parameter>`` | scale | one parameter's deviations (e.g. ``mismatch.tau_mem``) |
| ``weight_mismatch`` | scale | synapse-driver row gains and per-synapse deviations |
| ``weight_bits`` | bits (0 = continuous) | weight resolution at the same largest synaptic strength |
| ``membrane_noise`` | scale (1 = config std) | membrane noise |
| ``threshold_jitter`` | scale | trial-to-trial threshold jitter |
| ``spike_jitter`` | std, biological ms | Gaussian jitter of every spike time |
| ``dead_fraction`` | fraction 0..1 | circuits that never spike (nested sets per chip seed) |
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from neuroemu.errors import BackendError, NeuroemuError
from neuroemu.hardware.config import PARAMETERS, HardwareConfig, Realism

BASES = ("ideal", "chip")

#: knob -> (what it is, unit) for help texts and docs
KNOBS: dict[str, tuple[str, str]] = {
    "mismatch": ("fixed-pattern deviations of all circuit parameters", "scale of the config spreads"),
    **{f"mismatch.{p}": (f"fixed-pattern deviations of {p}", "scale") for p in PARAMETERS},
    "weight_mismatch": ("synapse-driver row gains and per-synapse weight deviations", "scale"),
    "weight_bits": ("weight resolution at the config's largest synaptic strength; 0 = continuous", "bits"),
    "membrane_noise": ("membrane noise", "scale of the config std"),
    "threshold_jitter": ("trial-to-trial threshold jitter", "scale of the config std"),
    "spike_jitter": ("Gaussian jitter of spike times", "std in biological ms"),
    "dead_fraction": ("circuits that never spike", "fraction"),
}

#: knobs the Brian2 backend can express (chip-replay of the emulator's effective network,
#: injected noise); the others it refuses
BRIAN2_KNOBS = {"mismatch", *(f"mismatch.{p}" for p in PARAMETERS), "weight_mismatch", "weight_bits",
                "membrane_noise", "threshold_jitter", "dead_fraction"}


def check_knob(name: str, value: float) -> None:
    if name not in KNOBS:
        close = [k for k in KNOBS if k.split(".")[0] == name.split(".")[0]]
        hint = f" (did you mean {', '.join(close[:3])}?)" if close and name.startswith("mismatch.") else ""
        raise NeuroemuError(f"unknown knob '{name}'{hint}; knobs: "
                            f"{', '.join(k for k in KNOBS if not k.startswith('mismatch.'))}, mismatch.<parameter> "
                            f"with parameter one of {', '.join(PARAMETERS)}")
    if value < 0:
        raise NeuroemuError(f"knob {name} must be >= 0, got {value}")
    if name == "weight_bits" and (value != int(value) or value > 16):
        raise NeuroemuError(f"knob weight_bits must be an integer 0..16 (0 = continuous), got {value}")
    if name == "dead_fraction" and value >= 1:
        raise NeuroemuError(f"knob dead_fraction must be below 1, got {value}")


def check_backend(backend: str, knobs: list[str]) -> None:
    """Refuse knobs a backend cannot express, naming them."""
    if backend == "brian2":
        bad = [k for k in knobs if k not in BRIAN2_KNOBS]
        if bad:
            raise BackendError(
                f"the brian2 backend cannot express knob(s) {', '.join(bad)} (it replays the emulator's effective "
                "chip and injects noise); use --backend emulator, or vary: "
                f"{', '.join(sorted(k for k in BRIAN2_KNOBS if not k.startswith('mismatch.')))}"
            )


@dataclass(frozen=True)
class Setting:
    """What a grid point means for a run: the hardware config to compile for and the imperfections."""

    hardware: HardwareConfig
    imperfections: Any  # neuroemu.backends.emulator.Imperfections


def apply_knobs(hw: HardwareConfig, base: str, point: dict[str, float]) -> Setting:
    """The hardware config and emulator imperfections of grid ``point`` on ``base``."""
    from neuroemu.backends.emulator import Imperfections

    if base not in BASES:
        raise NeuroemuError(f"unknown base '{base}' (ideal, chip)")
    for k, v in point.items():
        check_knob(k, v)
    config_bits = hw.synapses.weight_bits or 6
    if base == "ideal":
        imp = Imperfections.none()
        hw = hw.with_overrides(
            synapses=dataclasses.replace(hw.synapses, weight_bits=None),
            dac=dataclasses.replace(hw.dac, bits=None),
            timing=dataclasses.replace(hw.timing, timestamp_resolution_us=None),
            realism=Realism(),  # the chip's limits too (refractory counter, ...; docs/realism.md)
        )
    else:
        imp = Imperfections()
    per_param = dict(imp.parameter_mismatch_scale)
    changes: dict[str, Any] = {}
    for k, v in point.items():
        if k == "mismatch":
            changes["mismatch_scale"] = float(v)
        elif k.startswith("mismatch."):
            per_param[k.split(".", 1)[1]] = float(v)
        elif k == "weight_mismatch":
            changes["weight_mismatch_scale"] = float(v)
        elif k == "weight_bits":
            hw = _with_weight_bits(hw, int(v), config_bits)
        elif k == "membrane_noise":
            changes["membrane_noise_scale"] = float(v)
        elif k == "threshold_jitter":
            changes["threshold_jitter_scale"] = float(v)
        elif k == "spike_jitter":
            changes["spike_time_jitter_us"] = float(hw.chip_time_us(float(v)))
        elif k == "dead_fraction":
            changes["dead_fraction"] = float(v)
    if per_param:
        # on the ideal base a per-parameter knob switches on only that parameter's mismatch
        if base == "ideal" and "mismatch" not in point:
            changes["mismatch_scale"] = 1.0
            per_param = {p: per_param.get(p, 0.0) for p in PARAMETERS}
        changes["parameter_mismatch_scale"] = per_param
    return Setting(hw, imp.replace(**changes))


def _with_weight_bits(hw: HardwareConfig, bits: int, config_bits: int) -> HardwareConfig:
    """``hw`` with ``bits``-bit weights (0: continuous) whose largest code reaches the same synaptic
    strength as the config's ``config_bits``-bit one: the input-gain DAC map and range scale by
    (2^config_bits - 1) / (2^bits - 1), so fewer bits mean coarser steps, not weaker synapses."""
    if bits == 0:
        return hw.with_overrides(synapses=dataclasses.replace(hw.synapses, weight_bits=None))
    f = (2**config_bits - 1) / (2**bits - 1)
    params = dict(hw.parameters)
    for name in ("input_gain_exc", "input_gain_inh"):
        p = params[name]
        params[name] = dataclasses.replace(p, range=(p.range[0] * f, p.range[1] * f), at_code_0=p.at_code_0 * f,
                                           at_code_max=p.at_code_max * f, mismatch_offset=p.mismatch_offset * f)
    return hw.with_overrides(synapses=dataclasses.replace(hw.synapses, weight_bits=bits), parameters=params)
