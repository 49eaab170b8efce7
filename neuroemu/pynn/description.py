"""PyNN objects -> neuroemu's network description: the one translation between the two.

Every PyNN Population becomes a population of the description (named by its label, made
unique), ``IF_curr_exp`` a LIF population with its native parameters (the translation table
of :mod:`~neuroemu.pynn.standardmodels`) and the bias current of the injected current
sources added to ``i_offset``, spike sources a spike-source population whose spikes each run
supplies. Every PyNN Projection becomes one projection per (pre, post) population pair it
spans (an Assembly spans several) with its connections as an explicit list, weights in nA
(inhibitory <= 0, as PyNN requires for current-based synapses) and delays: on the emulated
chip a delay equal to the chip's fixed latency is "no programmable delay", any other is kept
and refused by the compiler with the projection's name; Brian2's software modes keep all.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuroemu.network.model import FromList, Network, Record
from neuroemu.pynn.simulator import State
from neuroemu.pynn.standardmodels import IF_curr_exp

_RECEPTOR = {"excitatory": "exc", "inhibitory": "inh"}


@dataclass
class Described:
    """A description and how PyNN's cells map onto it."""

    network: Network
    names: list[str]  # description population name of each PyNN population (state order)


def population_names(state: State) -> list[str]:
    """A unique description name per PyNN population: its label (suffixed when repeated)."""
    names: list[str] = []
    for pop in state.populations:
        base = str(pop.label) or "population"
        name, k = base, 1
        while name in names:
            k += 1
            name = f"{base}#{k}"
        names.append(name)
    return names


def describe(state: State, injected_nA: dict[int, np.ndarray]) -> Described:
    """The description of the PyNN network in ``state``; ``injected_nA``: population index ->
    per-neuron current of the current sources in force (added to ``i_offset``)."""
    names = population_names(state)
    net = Network(name="pynn")
    for i, (pop, name) in enumerate(zip(state.populations, names)):
        if isinstance(pop.celltype, IF_curr_exp):
            params = {k: np.asarray(v, float).copy() for k, v in pop._parameters.items()}
            if i in injected_nA:
                params["i_offset"] = params["i_offset"] + injected_nA[i]
            net.add_lif(name, pop.size, **params)
        else:
            net.add_spike_source(name, pop.size)
    first_ids = np.array([int(p.first_id) for p in state.populations], np.int64)
    on_chip = state.settings.on_chip
    for proj in state.projections:
        pre_ids, post_ids = proj.connection_ids()
        pre_pop = np.searchsorted(first_ids, pre_ids, side="right") - 1
        post_pop = np.searchsorted(first_ids, post_ids, side="right") - 1
        weight, delay = proj.values("weight"), proj.values("delay")
        if on_chip:  # the chip's latency is what every connection has; only the rest is a delay
            lat = state.min_delay
            delay = np.where(np.abs(delay - lat) < 1e-9, 0.0, delay - lat)
        n = len(first_ids)
        pairs = [divmod(int(k), n) for k in np.unique(pre_pop * n + post_pop)]
        label = (str(proj.label) if proj.label
                 else f"{names[pairs[0][0]]}->{names[pairs[0][1]]}" if pairs else "projection")
        for a, b in pairs or []:
            sel = (pre_pop == a) & (post_pop == b)
            net.connect(
                names[a], names[b],
                FromList(np.stack([pre_ids[sel] - first_ids[a], post_ids[sel] - first_ids[b]], axis=1)),
                weight=weight[sel], receptor=_RECEPTOR[proj.receptor_type],
                delay=None if not np.any(delay[sel]) else delay[sel],
                name=label if len(pairs) == 1 else f"{label} [{names[a]}->{names[b]}]")
    net.record = Record(spikes=[n for p, n in zip(state.populations, names) if isinstance(p.celltype, IF_curr_exp)])
    return Described(net, names)
