"""Network description, IR or TTFS model -> NIR graph (:func:`to_nir`).

Every LIF population becomes a ``CubaLIF`` node in NIR's own units with ``r = 1``,
``w_in = 1``, voltages in mV (``v_scale`` 1, ``v_offset`` 0) and time constants in seconds of
biological time (``tau_ms / 1000``), so any NIR simulator runs the same dynamics:
``v_leak = v_rest + i_offset * tau_mem / cm`` (the bias current as the leak it is), and each
projection a ``Linear`` node whose weight ``W = q * tau_mem * tau_syn / cm`` (q nA, tau_mem
ms, tau_syn s, cm nF; the inverse of :mod:`.units`), followed by a ``Delay`` node where it has
delays; a projection with several synapses on one pair (multapses) gets one ``Linear`` node per
repetition. Spike sources become ``Input`` nodes (their default spike times, e.g. a TTFS model's
bias spikes, travel in the metadata only: another simulator must feed those inputs itself). What
NIR has no field for travels in each node's
``metadata["neuroemu"]`` (refractory time, capacitance, the split of the leak into ``v_rest``
and ``i_offset``, the inhibitory synaptic time constant, default spike times, what is recorded),
so :func:`~neuroemu.nir.import_nir` restores the network exactly. A population whose
``tau_syn_inh`` differs from ``tau_syn_exc`` is exact only on that round trip: NIR's CubaLIF has
one synaptic time constant (the export says so).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from neuroemu.compiler.validate import validate
from neuroemu.ir.model import IR, LogicalNetwork
from neuroemu.network import Network
from neuroemu.nir.graph import NirError


def _logical(obj: Any, weights: str) -> tuple[LogicalNetwork, np.ndarray]:
    if isinstance(obj, IR):
        net = obj.network
        w = net.synapses.weight.astype(float)
        if weights == "deployed":
            w = np.asarray(obj.weights.deployed_weight(net.synapses.receptor), float)
        return net, w
    if weights != "described":
        raise NirError("weights='deployed' needs a compiled IR (the chip's weights exist after compilation)")
    if isinstance(obj, Network):
        net = validate(obj)
        return net, net.synapses.weight.astype(float)
    if hasattr(obj, "to_network"):  # a TTFS model
        net = validate(obj.to_network())
        return net, net.synapses.weight.astype(float)
    raise NirError(f"to_nir takes a Network, an IR or a TTFS model, not {type(obj).__name__}")


def _node_name(name: str) -> str:
    return name.replace("/", "_")


def to_nir(obj: Any, weights: str = "described") -> "Any":
    """The NIR graph of a :class:`~neuroemu.network.Network`, a compiled
    :class:`~neuroemu.ir.IR` or a trained TTFS model (see the module docstring).

    weights: ``described`` (as written) or, for an IR, ``deployed`` (the 6-bit weights the
    chip realises, from the IR's quantization).
    """
    import nir

    if weights not in ("described", "deployed"):
        raise NirError(f"weights must be 'described' or 'deployed', got {weights!r}")
    net, w_all = _logical(obj, weights)
    p = net.params
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    lif_of = {pop.name: np.arange(pop.lif_first, pop.lif_first + pop.size) for pop in net.lif_populations()}
    warnings: list[str] = []
    node_of = {pop.name: _node_name(pop.name) for pop in net.populations}
    if len(set(node_of.values())) < len(node_of):
        clash = sorted(n for n in node_of if list(node_of.values()).count(node_of[n]) > 1)
        raise NirError(f"populations {', '.join(repr(c) for c in clash)} would get the same NIR node name "
                       f"('/' is not allowed in NIR names and becomes '_'): rename one")

    def unique(name: str) -> str:
        while name in nodes or name in node_of.values():
            name += "_"
        return name

    for pop in net.populations:
        name = node_of[pop.name]
        if pop.kind == "spike_source":
            meta: dict[str, Any] = {}
            trains = net.default_inputs.get(pop.name)
            if trains is not None and len(trains.times):
                first = trains.trial == 0
                meta = {"spike_times": np.asarray(trains.times[first], float),
                        "spike_neuron": np.asarray(trains.neuron[first], np.int64)}
            nodes[name] = nir.Input(input_type={"input": np.array([pop.size])},
                                    metadata={"neuroemu": meta} if meta else {})
            continue
        i = lif_of[pop.name]
        tau_syn_s = p.tau_syn_exc[i] / 1000.0
        if not np.allclose(p.tau_syn_exc[i], p.tau_syn_inh[i]):
            warnings.append(f"{pop.name}: tau_syn_inh differs from tau_syn_exc; NIR's CubaLIF has one synaptic time "
                            "constant (tau_syn_exc); tau_syn_inh travels in the metadata")
        nodes[name] = nir.CubaLIF(
            tau_syn=tau_syn_s, tau_mem=p.tau_mem[i] / 1000.0, r=np.ones(pop.size), v_leak=p.v_inf()[i],
            v_threshold=p.v_thresh[i].copy(), v_reset=p.v_reset[i].copy(), w_in=np.ones(pop.size),
            metadata={"neuroemu": {"tau_refrac": p.tau_refrac[i].copy(), "cm": p.cm[i].copy(),
                                   "v_rest": p.v_rest[i].copy(), "i_offset": p.i_offset[i].copy(),
                                   "tau_syn_inh": p.tau_syn_inh[i] / 1000.0}})
    lif_index = net.lif_index()
    first_node = {pop.name: pop.first for pop in net.populations}
    pops = {pop.name: pop for pop in net.populations}
    syn = net.synapses
    for proj in net.projections:
        sel = slice(proj.first, proj.first + proj.count)
        pre, post = pops[proj.pre], pops[proj.post]
        rows = syn.post[sel] - first_node[proj.post]
        cols = syn.pre[sel] - first_node[proj.pre]
        lif = lif_index[syn.post[sel]]
        wq = w_all[sel] * p.tau_mem[lif] * (p.tau_syn_exc[lif] / 1000.0) / p.cm[lif]
        delays = syn.delay[sel]
        # a matrix holds one synapse per pair: the k-th synapse of a pair (multapses) goes to the k-th node
        pair = rows.astype(np.int64) * pre.size + cols
        order = np.argsort(pair, kind="stable")
        starts = np.r_[0, np.flatnonzero(np.diff(pair[order])) + 1]
        occurrence = np.empty(len(pair), np.int64)
        occurrence[order] = np.arange(len(pair)) - np.repeat(starts, np.diff(np.r_[starts, len(pair)]))
        for k in range(int(occurrence.max(initial=0)) + 1 if len(pair) else 1):
            mine = occurrence == k
            matrix = np.zeros((post.size, pre.size))
            matrix[rows[mine], cols[mine]] = wq[mine]
            lname = unique(_node_name(proj.name) + ("" if k == 0 else f"#{k + 1}"))
            nodes[lname] = nir.Linear(weight=matrix)
            edges.append((node_of[proj.pre], lname))
            if np.any(delays[mine] > 0):
                lo, hi = np.full(post.size, np.inf), np.full(post.size, -np.inf)
                np.minimum.at(lo, rows[mine], delays[mine])
                np.maximum.at(hi, rows[mine], delays[mine])
                if np.any(hi > lo):
                    raise NirError(f"projection '{proj.name}': synapses onto one neuron have different delays; NIR's "
                                   "Delay node delays each target once (export one projection per delay)")
                dname = unique(lname + ".delay")
                nodes[dname] = nir.Delay(delay=np.where(np.isfinite(lo), lo, 0.0) / 1000.0)
                edges += [(lname, dname), (dname, node_of[proj.post])]
            else:
                edges.append((lname, node_of[proj.post]))
    outputs = net.record_spikes or [q.name for q in net.lif_populations()]
    for name in outputs:
        oname = unique("output" if len(outputs) == 1 else f"output.{node_of[name]}")
        nodes[oname] = nir.Output(output_type={"output": np.array([pops[name].size])})
        edges.append((node_of[name], oname))
    record_v: dict[str, list[int]] = {}
    pop_of = net.population_of_node()
    for node in net.record_v:
        pop = net.populations[int(pop_of[node])]
        record_v.setdefault(node_of[pop.name], []).append(int(node - pop.first))
    meta = {"neuroemu": {"name": net.name, "v_scale": 1.0, "v_offset": 0.0, "cm": 1.0,
                         "record": {"spikes": [node_of[n] for n in net.record_spikes], "v": record_v},
                         **({"warnings": warnings} if warnings else {})}}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def write_nir(obj: Any, path, weights: str = "described") -> Any:
    """``nir.write(path, to_nir(obj))`` (written atomically); returns the graph."""
    import nir

    from neuroemu.hdf5.atomic import atomic_path

    graph = to_nir(obj, weights)
    with atomic_path(path) as tmp:
        nir.write(str(tmp), graph)
    return graph
