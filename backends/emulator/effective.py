"""What a chip instance realises for an IR: the parameter path of the real chip.

IR targets (chip units) -> one DAC code per circuit (the nominal code for its target, or a
calibration's per-circuit code) -> the circuit's analog value through its mismatched DAC map
-> merged circuits combined into one logical neuron. Weights: code x row gain x synapse
factor x input gain of the synapse's circuit / merge size, sign from the row.

The emulator never reads a target past this path; that is what makes calibration meaningful.
The one exception is digital: on a config with a refractory counter (``realism.refractory``)
the refractory time is no analog parameter but counter x clock period, set from the targets as
calix sets it (:mod:`neuroemu.models.refractory`): quantized, with no DAC mismatch and no spread.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuroemu.backends.emulator.chip import Chip
from neuroemu.backends.emulator.imperfections import Imperfections
from neuroemu.errors import BackendError
from neuroemu.hardware.config import PARAMETERS, HardwareConfig
from neuroemu.ir.model import EXC, INH, IR
from neuroemu.models.refractory import refractory_settings


@dataclass
class EffectiveNetwork:
    """Per LIF neuron analog parameters (chip units: V, µs) and per synapse weights (V/µs:
    the jump of synaptic current over membrane capacitance, signed). ``tau_refrac`` is the
    refractory time the neuron realises: its first circuit's analog value, or counter x clock
    period on a config with a refractory counter."""

    v_leak: np.ndarray
    v_reset: np.ndarray
    v_thresh: np.ndarray
    tau_mem: np.ndarray
    tau_syn_exc: np.ndarray
    tau_syn_inh: np.ndarray
    tau_refrac: np.ndarray
    dead: np.ndarray  # bool
    weight: np.ndarray  # per synapse, V/µs


def circuit_codes(ir: IR, chip: Chip, codes: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """DAC code of every parameter on every circuit: calibration codes where given, else the
    nominal code of each circuit's target (unused circuits: the first neuron's target)."""
    hw = chip.hardware
    cph = hw.neurons.circuits_per_hemisphere
    owner = ir.placement.circuit_owner(hw.neurons.circuits, cph)
    out = {}
    for name in PARAMETERS:
        if codes is not None and name in codes:
            c = np.asarray(codes[name], float)
            if c.shape != (hw.neurons.circuits,):
                raise BackendError(
                    f"calibration codes for {name}: expected {hw.neurons.circuits} circuits, got {c.shape}")
            out[name] = c
            continue
        target = ir.targets.get(name)
        per_circuit = np.where(owner >= 0, target[np.maximum(owner, 0)], target[0])
        out[name] = chip.nominal_codes(name, per_circuit)
    return out


def effective_network(ir: IR, chip: Chip, imperfections: Imperfections = Imperfections(),
                      codes: dict[str, np.ndarray] | None = None) -> EffectiveNetwork:
    """The analog network that ``chip`` realises for ``ir``."""
    hw = chip.hardware
    if hw.content_hash != ir.provenance.hardware_hash:
        raise BackendError(
            f"the IR was compiled for hardware '{ir.provenance.hardware_name}' "
            f"(config {ir.provenance.hardware_hash[:12]}); "
            f"this chip is '{hw.name}' (config {hw.short_hash}): compile the network for '{hw.name}'"
        )
    cph = hw.neurons.circuits_per_hemisphere
    pl = ir.placement
    cc = circuit_codes(ir, chip, codes)
    analog = {name: chip.analog(name, cc[name], imperfections) for name in PARAMETERS}
    dead_circuit = chip.dead(imperfections)
    n = ir.network.n_lif
    first = (pl.hemisphere.astype(np.int64) * cph + pl.column).astype(np.int64)
    size = pl.size.astype(np.int64)
    # merged circuits share one membrane: conductances add (tau = k / sum(1/tau_c)), the leak
    # potential is conductance-weighted; threshold, reset and refractory come from the first
    # circuit (its comparator fires); synaptic time constants average over the circuits.
    # circuits of one neuron are contiguous: segment sums over circuits sorted by first circuit
    order = np.argsort(first, kind="stable")
    starts = first[order]
    covered = np.concatenate([np.arange(f, f + k) for f, k in zip(starts, size[order])]) if n else np.zeros(0, int)
    seg = np.repeat(np.arange(n), size[order])  # segment of each covered circuit

    def seg_sum(values: np.ndarray) -> np.ndarray:
        out = np.zeros(n)
        np.add.at(out, seg, values[covered])
        res = np.empty(n)
        res[order] = out
        return res

    g = 1.0 / analog["tau_mem"]
    k = size.astype(float)
    tau_mem = k / seg_sum(g)
    v_leak = seg_sum(g * analog["v_leak"]) / seg_sum(g)
    tau_e = seg_sum(analog["tau_syn_exc"]) / k
    tau_i = seg_sum(analog["tau_syn_inh"]) / k
    dead = seg_sum(dead_circuit.astype(float)) > 0
    # weights
    syn = ir.network.synapses
    post = ir.network.lif_index()[syn.post]
    h = pl.hemisphere[post].astype(np.int64)
    row_gain, syn_factor = chip.weight_factor(imperfections)
    circuit = h * cph + pl.syn_column
    gain = np.where(syn.receptor == EXC, analog["input_gain_exc"][circuit], analog["input_gain_inh"][circuit])
    sign = np.where(syn.receptor == INH, -1.0, 1.0)
    weight = (sign * ir.weights.code * row_gain[h, pl.syn_row] * syn_factor[h, pl.syn_row, pl.syn_column] * gain
              / size[post])
    return EffectiveNetwork(
        v_leak=v_leak, v_reset=analog["v_reset"][first], v_thresh=analog["v_thresh"][first],
        tau_mem=tau_mem, tau_syn_exc=tau_e, tau_syn_inh=tau_i,
        tau_refrac=refractory_times(hw, ir, analog["tau_refrac"][first]),
        dead=dead, weight=weight,
    )


def refractory_times(hw: HardwareConfig, ir: IR, analog_us: np.ndarray) -> np.ndarray:
    """The refractory time (µs) of every LIF neuron of ``ir`` on ``hw``: ``analog_us`` (its first
    circuit's analog value) on a config without a refractory counter; else counter x clock period
    for the IR's targets, the same on every chip instance and whatever the DAC codes (a
    calibration's tau_refrac codes included)."""
    counter = hw.realism.refractory
    if counter is None:
        return analog_us
    try:
        return refractory_settings(counter, ir.targets.tau_refrac).time_us
    except ValueError as e:
        raise BackendError(f"refractory counter: {e}") from None
