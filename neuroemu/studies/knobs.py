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
| ``rail_span`` | scale s (1 = config; 0 = off) | rails ``[high - s (high - low), high]`` (upper rail kept) |
| ``latency`` | biological ms (0 = off) | both fixed latencies: input -> membrane, neuron -> neuron |
| ``bus_serialization`` | scale s (1 = config; 0 = off) | shared event buses, one event per s x the config's interval |
| ``saturation`` | biological nA/nF (0 = off) | saturating synaptic inputs, I_max / C_m (needs emulator support) |

The four limits of the chip (docs/realism.md): on the ``ideal`` base each is off until its knob
switches it on, on the ``chip`` base its knob overrides the config's value; 0 switches it off on
both. Where a knob needs the chip's figures (the rails, the buses' count, interval and queue) it
takes them from the study's hardware config, or from ``bss2`` where that config has none
(e.g. ``--hardware ideal``). ``rail_span`` and ``saturation`` are discontinuous at 0: 0 means
*no* limit, small values a tight one. ``rail_span`` keeps the upper rail (it lies above every
threshold the DACs can set; only the lower rail binds) and moves the lower one; the rails must
contain the DAC ranges of v_leak, v_reset and v_thresh, so values that lift the lower rail above
the lowest of them are refused (bss2: rail_span >= 0.7625, lower rail <= 0.285 V).
``saturation`` sets ``realism.synaptic_saturation`` (I_max / C_m, biological nA/nF).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable

from neuroemu.errors import BackendError, NeuroemuError
from neuroemu.hardware.config import (
    PARAMETERS,
    HardwareConfig,
    Latency,
    Rails,
    Realism,
    SynapticSaturation,
)

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
    "rail_span": ("voltage rails [high - s (high - low), high] around the config's upper rail; 0 = no rails",
                  "scale of the config's span"),
    "latency": ("fixed latency of input and on-chip events to the membrane; 0 = none", "biological ms"),
    "bus_serialization": ("shared event buses, one event per s x the config's interval per bus; 0 = off",
                          "scale of the config's interval"),
    "saturation": ("saturating synaptic inputs, I_max / C_m per receptor; 0 = none",
                   "biological nA/nF"),
}

#: the knobs of the chip's limits (``realism``): each switches one part on (ideal base) or overrides it
#: (chip base); 0 switches it off
REALISM_KNOBS = ("rail_span", "latency", "bus_serialization", "saturation")

#: knobs the Brian2 backend can express (chip-replay of the emulator's effective network,
#: injected noise, the input events' bus departures); the others it refuses. Its chip-replay does
#: not model the rails, the latency or synaptic saturation, so ``rail_span``, ``latency`` and
#: ``saturation`` are refused
BRIAN2_KNOBS = {"mismatch", *(f"mismatch.{p}" for p in PARAMETERS), "weight_mismatch", "weight_bits",
                "membrane_noise", "threshold_jitter", "dead_fraction", "bus_serialization", "rail_span", "latency",
                "saturation"}


def check_knob(name: str, value: float) -> None:
    """Refuse an unknown knob or a value it cannot take (:class:`NeuroemuError`, naming both)."""
    if name not in KNOBS:
        close = [k for k in KNOBS if k.split(".")[0] == name.split(".")[0]]
        hint = f" (did you mean {', '.join(close[:3])}?)" if close and name.startswith("mismatch.") else ""
        raise NeuroemuError(f"unknown knob '{name}'{hint}; knobs: "
                            f"{', '.join(k for k in KNOBS if not k.startswith('mismatch.'))}, mismatch.<parameter> "
                            f"with parameter one of {', '.join(PARAMETERS)}")
    if not math.isfinite(value):
        raise NeuroemuError(f"knob {name} must be a finite number, got {value}")
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


def check_points(hw: HardwareConfig, base: str, points: Iterable[dict[str, float]]) -> None:
    """Apply every grid point's knobs to ``hw`` once, so that a value the config cannot take (e.g.
    a ``rail_span`` whose lower rail lies above the leak range) is refused before a study starts
    rather than by its first task."""
    for point in points:
        apply_knobs(hw, base, point)


@dataclass(frozen=True)
class Setting:
    """What a grid point means for a run: the hardware config to compile for and the imperfections."""

    hardware: HardwareConfig
    imperfections: Any  # neuroemu.backends.emulator.Imperfections


def apply_knobs(hw: HardwareConfig, base: str, point: dict[str, float]) -> Setting:
    """The hardware config and emulator imperfections of grid ``point`` (knob -> value, units of
    :data:`KNOBS`) on ``base`` (``ideal`` or ``chip``) for a study on ``hw``."""
    from neuroemu.backends.emulator import Imperfections

    if base not in BASES:
        raise NeuroemuError(f"unknown base '{base}' (ideal, chip)")
    for k, v in point.items():
        check_knob(k, v)
    config_bits = hw.synapses.weight_bits or 6
    limits = hw.realism  # the config's own limits, before the ideal base removes them
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
        elif k in REALISM_KNOBS:
            hw = _with_limit(hw, k, float(v), limits)
            if k in _SWITCHES:  # the emulator's switch of that part: on exactly when the knob is
                changes[_SWITCHES[k]] = v > 0
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


#: the :class:`~neuroemu.backends.emulator.Imperfections` switch of each realism knob's part (synaptic
#: saturation included)
_SWITCHES = {"rail_span": "rails", "latency": "latency", "bus_serialization": "event_buses", "saturation": "saturation"}


@lru_cache(maxsize=1)
def _bss2_limits() -> Realism:
    """bss2's limits: the figures a realism knob takes when the study's config has none."""
    from neuroemu.hardware import load_hardware

    return load_hardware("bss2").realism


#: the potentials whose DAC ranges the rails must contain (the membrane rests, resets and fires inside them)
_POTENTIALS = ("v_leak", "v_reset", "v_thresh")


def _check_rest_within(hw: HardwareConfig, rails: Rails, value: float, ref: Rails) -> None:
    """Refuse a ``rail_span`` whose rails do not contain every leak, reset and threshold potential
    the config's DACs can set (chip V): the emulator tracks a membrane that falls to the lower
    rail from above, not one that rests outside the rails (nor does the chip, whose DACs stay
    inside its supply range)."""
    floor_name = min(_POTENTIALS, key=lambda p: hw.parameters[p].range[0])
    floor = hw.parameters[floor_name].range[0]
    top_name = max(_POTENTIALS, key=lambda p: hw.parameters[p].range[1])
    top = hw.parameters[top_name].range[1]
    if rails.high_V < top:
        raise NeuroemuError(f"knob rail_span: the upper rail ({rails.high_V:g} V) lies below the highest {top_name} "
                            f"the config's DACs can set ({top:g} V); only rail_span=0 (no rails) applies")
    if rails.low_V > floor + 1e-12:
        least = math.ceil((ref.high_V - floor) / (ref.high_V - ref.low_V) * 1e4 - 1e-6) / 1e4
        raise NeuroemuError(
            f"knob rail_span={value:g} puts the lower rail at {rails.low_V:.4g} V, above the lowest {floor_name} the "
            f"config's DACs can set ({floor:g} V); the rails must contain the leak, reset and threshold ranges: use "
            f"rail_span >= {least:g} (rails [{ref.low_V:g}, {ref.high_V:g}] V at 1), or 0 for no rails")


def _with_limit(hw: HardwareConfig, knob: str, value: float, limits: Realism) -> HardwareConfig:
    """``hw`` with the part of ``realism`` that realism knob ``knob`` sets at ``value`` (0: that
    part off). ``limits``: the study config's own limits, which give the figures the knob scales
    (bss2's where it has none)."""
    if knob == "rail_span":
        rails = None
        if value > 0:
            ref = limits.rails or _bss2_limits().rails
            rails = Rails(low_V=ref.high_V - value * (ref.high_V - ref.low_V), high_V=ref.high_V)
            _check_rest_within(hw, rails, value, ref)
        realism = dataclasses.replace(hw.realism, rails=rails)
    elif knob == "latency":
        lat_us = float(hw.chip_time_us(value))
        realism = dataclasses.replace(hw.realism, latency=Latency(input_us=lat_us, recurrent_us=lat_us))
    elif knob == "bus_serialization":
        buses = None
        if value > 0:
            ref = limits.event_buses or _bss2_limits().event_buses
            buses = dataclasses.replace(ref, event_interval_us=ref.event_interval_us * value)
        realism = dataclasses.replace(hw.realism, event_buses=buses)
    elif knob == "saturation":
        sat = None
        if value > 0:  # nA/nF = (I_max in nA) / (C_m in nF) -> chip V/µs
            sat = SynapticSaturation(max_current_V_per_us=float(hw.chip_current_V_per_us(value, 1.0)))
        realism = dataclasses.replace(hw.realism, synaptic_saturation=sat)
    else:  # pragma: no cover (REALISM_KNOBS lists exactly the cases above)
        raise NeuroemuError(f"knob {knob} is not a limit of the chip")
    return hw.with_overrides(realism=realism)
