"""Membrane readouts as the chip has them: which converter, when it samples, what it reads.

A run's ``readout`` (keyword of :meth:`Backend.run`; ``neuroemu run --readout``) is one of

- ``probe`` (default): every recorded neuron at every integration step, exact and unquantized,
  as no chip can read it: for debugging and as the reference.
- ``madc``: through the config's ``voltage.madc`` (bss2: 10-bit, a sample every 0.034 µs, at
  most 2 neurons; two neurons share the converter in turn, so each is sampled every 0.068 µs,
  the second 0.034 µs after the first). More neurons than its ``channels`` are refused.
- ``cadc``: through ``voltage.cadc`` (bss2: 8-bit, every recorded neuron at the same instants,
  every 2 µs).

Sample instants lie on an absolute grid of chip time: converter instant ``i`` at ``i x
sample_interval_us`` from 0, neuron j of n interleaved ones at the instants ``i`` with ``i mod n
= j`` (so a run continued from a state samples as one longer run would). A run takes the
instants inside its recorded span, whole frames only (a frame: one sample of every recorded
neuron). The value is the converter's reading of the membrane at the instant: the code
``(V - V_at_code_0) / V_per_lsb`` rounded and clipped to ``0 .. 2**bits - 1`` (``bits`` null: the
exact fractional code, unclipped), and the chip potential that code stands for.

How a backend knows the membrane at an instant is its own (each says so in
``info["readout"]["sampling"]``): the emulator integrates on a step that divides the sampling
interval, so every instant is a step boundary where its state is exact (:func:`sample` with
``interpolate=False`` checks that); Brian2 interpolates linearly between its grid points.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from neuroemu.backends.result import Traces, node_traces
from neuroemu.errors import BackendError
from neuroemu.hardware.config import Adc, HardwareConfig

#: the readouts a run can use
READOUTS: tuple[str, ...] = ("probe", "madc", "cadc")

_HINT = {
    "madc": "Record at most {limit} neuron(s) (the network's record.v or run(record_v=...)), or use readout 'cadc' "
            "(every neuron, {cadc_bits}) or 'probe' (every neuron at every step, exact)",
    "cadc": "Record at most {limit} neuron(s), or use readout 'probe' (every neuron at every step, exact)",
}


@dataclass(frozen=True)
class ReadoutPlan:
    """How a run reads its membranes through a converter (``madc`` or ``cadc``).

    ``interval_us``: chip µs between two conversions; ``interleaved``: recorded neurons sampled
    in turn (1: every neuron at every conversion)."""

    mode: str
    adc: Adc
    interval_us: float
    interleaved: int

    @property
    def frame_us(self) -> float:
        """Chip µs between two samples of one neuron."""
        return self.interval_us * self.interleaved

    def offsets_us(self, n_neurons: int) -> np.ndarray:
        """Chip µs from a frame's start to the sample of each recorded neuron."""
        if self.interleaved <= 1:
            return np.zeros(n_neurons)
        return np.arange(n_neurons) * self.interval_us


def check_readout(mode: str) -> str:
    """``mode`` if it names a readout, else a :class:`BackendError` listing them."""
    if mode not in READOUTS:
        raise BackendError(f"readout must be one of {', '.join(READOUTS)}, got {mode!r}")
    return mode


def plan_readout(hw: HardwareConfig, mode: str, n_recorded: int) -> ReadoutPlan | None:
    """The readout of a run recording ``n_recorded`` membranes (None for ``probe``); refuses a
    converter without a stated sampling interval and more neurons than its channels."""
    if check_readout(mode) == "probe":
        return None
    adc: Adc = getattr(hw.voltage, mode)
    name = mode.upper()
    if adc.sample_interval_us is None:
        raise BackendError(
            f"readout '{mode}': hardware config '{hw.name}' states no sample_interval_us for its {name} "
            f"(voltage.{mode}; an IR compiled before readouts existed: compile it again); add it (bss2: "
            f"{_bss2_interval(mode)} µs) or use readout 'probe'")
    if adc.channels is not None and n_recorded > adc.channels:
        cadc = hw.voltage.cadc
        cadc_bits = f"{cadc.bits}-bit" if cadc.bits is not None else "exact"
        raise BackendError(
            f"readout '{mode}': the {name} of '{hw.name}' records at most {adc.channels} neuron(s) at a time; this "
            f"run records the membrane of {n_recorded}. "
            + _HINT[mode].format(limit=adc.channels, cadc_bits=cadc_bits))
    k = max(1, n_recorded) if adc.interleaved else 1
    return ReadoutPlan(mode=mode, adc=adc, interval_us=float(adc.sample_interval_us), interleaved=k)


def _bss2_interval(mode: str) -> str:
    return {"madc": "0.034", "cadc": "2.0"}[mode]


def _at(grid_us: np.ndarray, v: np.ndarray, t_us: np.ndarray, tol: float, interpolate: bool) -> np.ndarray:
    """``v`` ((trials, grid)) at times ``t_us``: the grid value where a time is a grid point
    (within ``tol``), else linear interpolation between its neighbours (only if ``interpolate``)."""
    idx = np.searchsorted(grid_us, t_us - tol)
    idx = np.minimum(idx, len(grid_us) - 1)
    on_grid = np.abs(grid_us[idx] - t_us) <= tol
    out = v[:, idx]
    if np.all(on_grid):
        return out
    if not interpolate:
        raise AssertionError("readout instants off the backend's recorded grid")  # a backend's bug, not a user's
    off = np.flatnonzero(~on_grid)
    hi = np.clip(idx[off], 1, len(grid_us) - 1)
    lo = hi - 1
    w = (t_us[off] - grid_us[lo]) / (grid_us[hi] - grid_us[lo])
    out[:, off] = v[:, lo] * (1.0 - w) + v[:, hi] * w
    return out


def sample(plan: ReadoutPlan, grid_us: np.ndarray, v_V: np.ndarray,
           interpolate: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The converter's instants inside ``grid_us`` (increasing chip µs where the backend has
    the membrane ``v_V``, (trials, neurons, grid) chip V): (frame starts (frames,) µs, offset
    of each neuron's sample (neurons,) µs, membrane at each sample (trials, neurons, frames) V)."""
    n = v_V.shape[1]
    offsets = plan.offsets_us(n)
    if len(grid_us) == 0:
        return np.zeros(0), offsets, np.zeros(v_V.shape[:2] + (0,))
    lo, hi = float(grid_us[0]), float(grid_us[-1])
    tol = 1e-9 * max(1.0, abs(lo), abs(hi))
    frame = plan.frame_us
    k0 = math.ceil((lo - tol) / frame)
    k1 = math.floor((hi + tol - (float(offsets[-1]) if n else 0.0)) / frame)
    frames = np.arange(k0, max(k0, k1 + 1)) * frame
    out = np.zeros(v_V.shape[:2] + (len(frames),))
    if len(frames):
        for j in range(n):
            out[:, j, :] = _at(grid_us, v_V[:, j, :], frames + offsets[j], tol, interpolate)
    return frames, offsets, out


def read(plan: ReadoutPlan, hw: HardwareConfig, v_V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, chip V each code stands for) of the membrane ``v_V`` (chip V) read by the plan's
    converter: integer codes clipped to its range, or exact fractional codes (``bits`` null)."""
    codes = np.asarray(hw.adc_read(v_V, plan.adc), float)
    return codes, plan.adc.V_at_code_0 + codes * plan.adc.V_per_lsb


def readout_traces(net, hw: HardwareConfig, nodes: np.ndarray, plan: ReadoutPlan, grid_us: np.ndarray,
                   v_V: np.ndarray, interpolate: bool) -> Traces:
    """:class:`Traces` of ``nodes`` as ``plan``'s converter reads the membrane ``v_V`` ((trials,
    neurons, grid) chip V, known at the chip times ``grid_us``)."""
    frames, offsets, v = sample(plan, np.asarray(grid_us, float), np.asarray(v_V, float), interpolate)
    codes, volts = read(plan, hw, v)
    offsets_ms = np.asarray(hw.bio_time_ms(offsets), float) if plan.interleaved > 1 else None
    return node_traces(net, nodes, np.asarray(hw.bio_time_ms(frames), float), np.asarray(hw.bio_voltage_mV(volts),
                       float), volts, readout=plan.mode, codes=codes, offsets_ms=offsets_ms)


def readout_info(mode: str, plan: ReadoutPlan | None, step_us: float, sampling: str) -> dict[str, Any]:
    """The ``info["readout"]`` entry of a result: the mode, the converter's facts and units, and
    how the backend obtained the membrane at the sample instants (``sampling``)."""
    if plan is None:
        return {"mode": mode, "quantized": False, "sample_interval_us": step_us,
                "values": "exact membrane at every integration step: v_chip_V (chip V), v_mV (biological mV)",
                "sampling": sampling}
    adc = plan.adc
    return {
        "mode": mode, "converter": mode.upper(), "bits": adc.bits, "quantized": adc.bits is not None,
        "code_range": None if adc.bits is None else [0, 2**adc.bits - 1],
        "V_at_code_0": adc.V_at_code_0, "V_per_lsb": adc.V_per_lsb,
        "sample_interval_us": plan.interval_us, "neuron_sample_interval_us": plan.frame_us,
        "channels": adc.channels, "interleaved": plan.interleaved,
        "values": "codes: the converter's readings (traces.codes; exact fractional codes if bits is null); "
                  "v_chip_V = V_at_code_0 + code x V_per_lsb (chip V); v_mV: that potential in biological mV",
        "sampling": sampling,
    }


__all__ = ["READOUTS", "ReadoutPlan", "check_readout", "plan_readout", "sample", "read", "readout_traces",
           "readout_info"]
