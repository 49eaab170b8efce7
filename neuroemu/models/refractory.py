"""The refractory counter of a BrainScaleS-2 neuron: refractory times made digitally.

On BrainScaleS-2 the refractory time is not an analog parameter. Each neuron's digital backend
counts ``counter`` cycles of a refractory clock (haldls ``NeuronBackendConfig.RefractoryTime``,
8 bit: 0..255; "tau_ref = RefractoryTime * 1/f_clock"). Every neuron backend block has two such
clocks, a fast and a slow one, shared by all its neurons; each neuron selects one
(``NeuronBackendConfig.select_input_clock``). A clock runs at ``f = f_base / 2^(scale + 1)`` with
``f_base`` = 250 MHz and ``scale`` 0..15 (haldls ``CommonNeuronBackendConfig.ClockScale``):
125 MHz (8 ns per cycle) down to ~3.8 kHz (262 µs per cycle). So a refractory time is
counter x clock period: quantized in clock steps, and the same on every circuit with the same
setting (no analog per-circuit spread).

Scales and counters are chosen as calix does for a set of target times
(``calix.spiking.refractory_period.calculate_settings``, with no holdoff target):

* neurons whose target is at most the mean target count on the fast clock, the others on the
  slow one;
* each clock's scale is the smallest whose ``2^bits - 1`` cycles cover the longest target on it:
  ``scale = ceil(log2(tau_max / (2^bits - 1) * f_base / 2))``, at least 0; a target beyond what
  scale 15 covers is refused (ValueError);
* each neuron's counter is ``floor(tau * f) + 1`` (calix: "last bit of refractory counter is
  always used for holdoff"), clipped to ``2^bits - 1``; the realised time ``counter / f`` lies
  in (tau, tau + 1/f], at most one clock period above the target (below it only where the clip
  bites: a target of exactly 255 periods).

Simplifications, stated in docs/realism.md: calix's reset holdoff (the end of the refractory
period, at least one clock cycle, in which the membrane is free but cannot spike) is not modelled
apart: the membrane is clamped for the whole counter x period. Both neuron backend blocks
(hemispheres) get the same two scales, as calix writes one ``CommonNeuronBackendConfig`` to all
of them; the scales are chosen for the neurons of one network (unused circuits do not count).
Units: µs and MHz (chip time).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from neuroemu.hardware.config import Refractory

#: largest clock scale (haldls ``CommonNeuronBackendConfig.ClockScale``: 4 bit, 0..15)
CLOCK_SCALE_MAX = 15
#: slack for float products that should be whole numbers of cycles (2.0 µs x 125 MHz = 250)
_EPS = 1e-9


def clock_period_us(refractory: Refractory, scale: int) -> float:
    """Period (µs) of a refractory clock at ``scale``: 2^(scale + 1) / f_base (8 ns at scale 0)."""
    return 2.0 ** (int(scale) + 1) / refractory.clock_base_MHz


def max_counter(refractory: Refractory) -> int:
    """Largest counter value (255 for 8 bits)."""
    return 2**refractory.counter_bits - 1


def longest_us(refractory: Refractory) -> float:
    """The longest refractory time the counter makes (µs): the largest counter on the slowest clock."""
    return max_counter(refractory) * clock_period_us(refractory, CLOCK_SCALE_MAX)


def clock_scale(refractory: Refractory, tau_max_us: float) -> int:
    """The smallest scale whose largest counter covers ``tau_max_us`` (calix's
    ``_calculate_clock_scale``); ValueError beyond the slowest clock."""
    cycles = float(tau_max_us) / max_counter(refractory) * refractory.clock_base_MHz / 2.0
    scale = math.ceil(math.log2(cycles) - _EPS) if cycles > 1.0 else 0
    if scale > CLOCK_SCALE_MAX:
        raise ValueError(f"refractory time {tau_max_us:g} µs is longer than the counter makes "
                         f"({longest_us(refractory):g} µs: {max_counter(refractory)} cycles at clock scale "
                         f"{CLOCK_SCALE_MAX})")
    return scale


def counter_for(refractory: Refractory, tau_us: np.ndarray | float, scale: int) -> np.ndarray:
    """Counter values for ``tau_us`` on a clock at ``scale``: floor(tau f) + 1 (calix's
    ``_calculate_clock_cycles``), clipped to 1 .. 2^bits - 1."""
    f = 1.0 / clock_period_us(refractory, scale)  # cycles per µs
    n = np.floor(np.asarray(tau_us, float) * f + _EPS).astype(np.int64) + 1
    return np.clip(n, 1, max_counter(refractory))


@dataclass(frozen=True)
class RefractorySettings:
    """The digital refractory settings of a set of neurons (chip µs).

    scale_fast, scale_slow: the two clock scales (shared by all neuron backend blocks; the slow
    one is 0, as calix leaves it, when no neuron uses it); slow: per neuron, counts on the slow
    clock; counter: per neuron, cycles of its clock; period_fast_us, period_slow_us: the clocks'
    periods."""

    scale_fast: int
    scale_slow: int
    slow: np.ndarray
    counter: np.ndarray
    period_fast_us: float
    period_slow_us: float

    @property
    def period_us(self) -> np.ndarray:
        """Clock period of every neuron (µs)."""
        return np.where(self.slow, self.period_slow_us, self.period_fast_us)

    @property
    def time_us(self) -> np.ndarray:
        """The refractory time every neuron realises: counter x its clock period (µs)."""
        return self.counter * self.period_us

    def describe(self, target_us: np.ndarray) -> dict[str, Any]:
        """JSON-ready summary against the targets (µs): clocks, neurons per clock, counter range,
        largest quantization error (realised - target, µs and relative to the target)."""
        target = np.asarray(target_us, float)
        err = self.time_us - target
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(target > 0, np.abs(err) / target, 0.0)
        n_slow = int(self.slow.sum())
        return {
            "clock_scale_fast": int(self.scale_fast), "clock_scale_slow": int(self.scale_slow),
            "period_fast_us": float(self.period_fast_us), "period_slow_us": float(self.period_slow_us),
            "neurons_fast": int(self.slow.size - n_slow), "neurons_slow": n_slow,
            "counter_min": int(self.counter.min()) if self.counter.size else None,
            "counter_max": int(self.counter.max()) if self.counter.size else None,
            "max_quantization_error_us": float(np.abs(err).max()) if err.size else 0.0,
            "max_relative_error": float(rel.max()) if rel.size else 0.0,
        }


def refractory_settings(refractory: Refractory, target_us: np.ndarray | float) -> RefractorySettings:
    """Clock scales and counters for the refractory targets ``target_us`` (µs, per neuron), as
    calix chooses them (module doc). ValueError for a negative target or one beyond the slowest
    clock."""
    tau = np.atleast_1d(np.asarray(target_us, float))
    if tau.size and (not np.all(np.isfinite(tau)) or tau.min() < 0):
        raise ValueError("refractory targets must be finite and >= 0")
    # calix: fast if tau <= mean (a relative slack keeps equal targets, whose float mean may
    # round above them, together on the fast clock)
    slow = tau > tau.mean() * (1 + 1e-12) if tau.size else np.zeros(0, bool)
    fast = ~slow
    scale_fast = clock_scale(refractory, float(tau[fast].max())) if fast.any() else 0
    scale_slow = clock_scale(refractory, float(tau[slow].max())) if slow.any() else 0
    counter = np.zeros(tau.size, np.int64)
    counter[fast] = counter_for(refractory, tau[fast], scale_fast)
    counter[slow] = counter_for(refractory, tau[slow], scale_slow)
    return RefractorySettings(scale_fast=scale_fast, scale_slow=scale_slow, slow=slow, counter=counter,
                              period_fast_us=clock_period_us(refractory, scale_fast),
                              period_slow_us=clock_period_us(refractory, scale_slow))


__all__ = ["CLOCK_SCALE_MAX", "RefractorySettings", "clock_period_us", "clock_scale", "counter_for", "longest_us",
           "max_counter", "refractory_settings"]
