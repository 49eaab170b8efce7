"""Pass 4, translate: biological parameters -> chip-unit analog targets per neuron.

Times divide by the speed-up (ms -> µs: 10 ms biological = 10 µs at 1000x); potentials go
through the config's voltage map; the leak potential is ``v_inf = v_rest + i_offset * tau_mem / cm``
(a constant bias current realised exactly as a shifted leak, see
:meth:`~neuroemu.ir.model.NeuronParams.v_inf`); the weight scale (nA per code) becomes the synaptic input
gain (V/µs per code) of each of the neuron's circuits (times the merge size, since merged
circuits share one membrane of k-fold capacitance). Targets outside the range the chip can be
calibrated to are an error naming population, neuron, value and range. The refractory target
stays the target: on a config with a refractory counter the chip makes it as counter x clock
period (:mod:`neuroemu.models.refractory`; the resource report shows the clocks chosen).
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from neuroemu.errors import DelayError, RangeError
from neuroemu.hardware.config import HardwareConfig
from neuroemu.ir.model import RECEPTORS, ChipTargets, LogicalNetwork, Placement, WeightQuantization
from neuroemu.models.lif import CIRCUIT_PARAMETERS, DESCRIPTION_OF, POTENTIALS
from neuroemu.models.refractory import refractory_settings

#: chip parameter <- (biological quantity, kind), from the schema :mod:`neuroemu.models.lif`;
#: v_inf: v_rest shifted by the bias current i_offset
_FROM_BIO = {p.name: (p.realises, p.kind) for p in CIRCUIT_PARAMETERS if p.realises is not None}


def _bio_of_chip(hw: HardwareConfig, kind: str, value: float) -> float:
    return float(hw.bio_voltage_mV(value)) if kind == "potential" else float(hw.bio_time_ms(value))


def refuse_delays(net: LogicalNetwork, what: str, hint: str = "leave delay unset") -> None:
    """Raise :class:`DelayError` naming the first projection with a synaptic delay (``what``: who
    has no programmable delays; the error's ``projection`` names it for callers that translate it)."""
    delayed = np.flatnonzero(net.synapses.delay > 0)
    if delayed.size:
        proj = net.projections[int(net.synapses.projection[delayed[0]])]
        err = DelayError(f"projection '{proj.name}': delay {net.synapses.delay[delayed[0]]:g} ms, but {what} has no "
                         f"programmable synaptic delays ({hint})")
        err.projection = proj.name
        raise err


def check_delays(net: LogicalNetwork, hw: HardwareConfig) -> None:
    """Refuse synaptic delays on hardware without programmable delays (DelayError naming the projection)."""
    if not hw.synapses.delays:
        refuse_delays(net, hw.name)


def neuron_targets(net: LogicalNetwork, hw: HardwareConfig) -> dict[str, np.ndarray]:
    """The neuron parameters in chip units (chip parameter -> per-LIF values). Raises RangeError
    for a value outside the range the chip can be calibrated to (before the weights are
    quantized: a time constant or potential is the first thing to fix)."""
    lif_pops = net.lif_populations()
    pop_of_lif = np.repeat(np.arange(len(lif_pops)), [p.size for p in lif_pops])
    values: dict[str, np.ndarray] = {}
    for chip_name, (bio_name, kind) in _FROM_BIO.items():
        bio = net.params.v_inf() if bio_name == "v_inf" else getattr(net.params, bio_name)
        chip = np.asarray(hw.chip_voltage_V(bio) if kind == "potential" else hw.chip_time_us(bio), dtype=np.float64)
        lo, hi = hw.parameters[chip_name].range
        bad = np.flatnonzero((chip < lo * (1 - 1e-9)) | (chip > hi * (1 + 1e-9)))
        if bad.size:
            i = int(bad[0])
            pop = lif_pops[pop_of_lif[i]]
            unit_bio = "mV" if kind == "potential" else "ms"
            unit_chip = hw.parameters[chip_name].unit
            what = f"{bio_name} {bio[i]:.6g} {unit_bio}"
            if bio_name == "v_inf":
                p = net.params
                what = (f"v_rest {p.v_rest[i]:.6g} mV" if p.i_offset[i] == 0 else
                        f"the leak potential v_rest + i_offset*tau_mem/cm = {p.v_rest[i]:.6g} mV + {p.i_offset[i]:.6g} "
                        f"nA x {p.tau_mem[i]:.6g} ms / {p.cm[i]:.6g} nF = {bio[i]:.6g} mV")
            err = RangeError(
                f"population '{pop.name}' neuron {i - pop.lif_first}: {what} is "
                f"{chip[i]:.6g} {unit_chip} on {hw.name}, outside its range {lo:g}-{hi:g} {unit_chip} "
                f"({_bio_of_chip(hw, kind, lo):.4g} to {_bio_of_chip(hw, kind, hi):.4g} {unit_bio} biological)"
            )
            # for callers that translate it (e.g. the NIR importer): what, where, and the range in biological units
            err.population, err.neuron, err.parameter = pop.name, i - pop.lif_first, bio_name
            err.value, err.range = float(bio[i]), (_bio_of_chip(hw, kind, lo), _bio_of_chip(hw, kind, hi))
            raise err
        values[chip_name] = chip
    return values


def description_of_targets(hw: HardwareConfig, values: Mapping[str, np.ndarray | float]) -> dict[str, np.ndarray]:
    """The inverse of :func:`neuron_targets`: the description's neuron parameters (biological
    units) that ``hw`` translates to the chip ``values`` (circuit parameter -> value; input gains
    not needed), with no bias current (v_rest = the leak potential). ``cm`` and ``i_offset``, which
    no circuit parameter carries alone, are not included."""
    out = {}
    for circuit, name in DESCRIPTION_OF.items():
        value = values[circuit]
        out[name] = np.asarray(hw.bio_voltage_mV(value) if circuit in POTENTIALS else hw.bio_time_ms(value), float)
    return out


def check_refractory_counter(hw: HardwareConfig, tau_refrac_us: np.ndarray) -> None:
    """On a config with a refractory counter, refuse (RangeError) targets the counter cannot make
    (beyond its longest time on the slowest clock; inside the parameter's range they all fit)."""
    counter = hw.realism.refractory
    if counter is None:
        return
    try:
        refractory_settings(counter, tau_refrac_us)
    except ValueError as e:
        raise RangeError(f"tau_refrac on {hw.name}: {e}") from None


def translate(net: LogicalNetwork, placement: Placement, weights: WeightQuantization,
              hw: HardwareConfig) -> ChipTargets:
    """Chip targets for every LIF neuron. Raises RangeError for unrealisable values."""
    lif_pops = net.lif_populations()
    values = neuron_targets(net, hw)
    check_refractory_counter(hw, values["tau_refrac"])
    for rec, name in enumerate(RECEPTORS):
        spec = hw.parameters[f"input_gain_{name}"]
        lo, hi = spec.range
        gain = np.full(net.n_lif, float(np.sqrt(lo * hi)))  # receptor unused: a mid-range gain
        for g in np.flatnonzero(weights.group_receptor == rec):
            pop = next(p for p in lif_pops if p.name == weights.group_population[g])
            idx = np.arange(pop.lif_first, pop.lif_first + pop.size)
            gain[idx] = placement.size[idx] * hw.chip_current_V_per_us(weights.group_scale[g], net.params.cm[idx])
        values[f"input_gain_{name}"] = np.clip(gain, lo, hi)  # quantize already kept the scale in range
    return ChipTargets(**values)
