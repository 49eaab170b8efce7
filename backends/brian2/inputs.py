"""Input spikes as generator channels (numpy only; no Brian2 here).

An input spike at time s acts at the first grid point at or after s, ``ceil(s/dt) dt`` (see
:mod:`neuroemu.backends.brian2.network`): its *step* is the one starting there. A Brian2
generator emits at most one spike per source and step (Brian2's own ``SpikeGeneratorGroup``
refuses two spikes of one index in one step). Spikes of one source that fall into the same
step are therefore split over extra *channels* of that source: the k-th spike of a source in
one step goes to the source's channel k. Every channel of a source has the source's synapses
(same targets, same weights), so every spike is delivered with its full weight. A source gets
as many channels as its worst step needs over all trials of the run (at least one), so all
trials share one layout.

Each channel holds its spike times (s) in a flat table, each channel's times followed by an
``inf`` sentinel; the generator fires channel c in the step of its next time.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from neuroemu.hardware.buses import BusLines
from neuroemu.ir.model import IR
from neuroemu.spikes import SpikeTrains

#: an event belongs to the step that starts at the grid point t with s in (t - dt + eps dt, t + eps dt]:
#: a time on the grid acts there, however rounding left it (runs continued from a state count time
#: from their own start, one long run from 0: the same event must fall into the same step in both)
STEP_EPS = 1e-6


@dataclass
class InputEvents:
    """All input spikes of a run, sorted by (trial, source node, time); times in biological ms."""

    time_ms: np.ndarray
    node: np.ndarray  # global node id of the spike source
    trial: np.ndarray


@dataclass
class SourceDelays:
    """Synapses with a delay as extra sources ("virtual nodes") whose spikes are a node's spikes
    shifted by the delay: node ids ``0 .. n_nodes - 1`` keep the synapses without delay (with
    event buses, the bus lines' virtual nodes follow them), each (node, delay) group with a
    delay > 0 gets the next node id (the last ``len(node)`` ids).

    For a spike source that is how its delayed synapses work. A LIF neuron's delayed synapses
    are realised by Brian2's delayed pathways (see :mod:`.network`); its virtual node gets a
    copy of them (``replay_syn``, fed by ``replay_pre``) that delivers the spikes a previous
    run left in flight, so that a run continued from a state loses none."""

    syn_pre: np.ndarray  # per IR synapse: its presynaptic node, or the virtual node of a delayed input synapse
    lif_index: np.ndarray  # per (virtual) node: LIF index, -1 for sources and virtual nodes
    node: np.ndarray  # per virtual node: the node it delays
    delay_ms: np.ndarray  # per virtual node
    replay_syn: np.ndarray  # IR synapse indices of the delayed LIF->LIF synapses
    replay_pre: np.ndarray  # the virtual node feeding each of their copies

    @property
    def n_nodes(self) -> int:
        return len(self.lif_index)


def _delay_groups(syn_pre: np.ndarray, lif_index: np.ndarray, pre: np.ndarray, delay_ms: np.ndarray,
                  from_lif: np.ndarray) -> SourceDelays:
    """``syn_pre``/``lif_index`` (the synapses' presynaptic nodes and the nodes so far) plus one
    virtual node per (presynaptic node ``pre``, delay) group of the synapses with ``delay_ms`` > 0,
    numbered after the existing nodes. Delayed input synapses (``from_lif`` False) move to their
    virtual node; delayed LIF->LIF synapses stay on their neuron (Brian2's delayed pathways) and
    get a replay copy fed by theirs."""
    empty = np.zeros(0, np.int64)
    delayed = np.flatnonzero(delay_ms > 0)
    if len(delayed) == 0:
        return SourceDelays(syn_pre, lif_index, empty, np.zeros(0), empty, empty)
    keys, group = np.unique(np.stack([pre[delayed].astype(float), delay_ms[delayed]], axis=1), axis=0,
                            return_inverse=True)
    vnode = len(lif_index) + group.reshape(-1)
    lif_syn = from_lif[delayed]
    syn_pre = syn_pre.copy()
    syn_pre[delayed[~lif_syn]] = vnode[~lif_syn]
    return SourceDelays(syn_pre, np.concatenate([lif_index, np.full(len(keys), -1, lif_index.dtype)]),
                        keys[:, 0].astype(np.int64), keys[:, 1].copy(), delayed[lif_syn], vnode[lif_syn])


def source_delays(ir: IR, delay_ms: np.ndarray | None = None) -> SourceDelays:
    """The virtual nodes of the delayed synapses (none without delays). ``delay_ms``: per IR
    synapse, the delay it has in this run (ms; None: the IR's own ``synapses.delay``; chip-replay
    gives its LIF->LIF synapses the chip's recurrent latency)."""
    net = ir.network
    syn = net.synapses
    lif = net.lif_index()
    delay = np.asarray(syn.delay if delay_ms is None else delay_ms, float)
    return _delay_groups(syn.pre.astype(np.int64).copy(), lif, syn.pre, delay, lif[syn.pre] >= 0)


def bus_source_delays(ir: IR, lines: BusLines, delay_ms: np.ndarray | None = None) -> SourceDelays:
    """The spike sources' further bus lines (:class:`neuroemu.hardware.buses.BusLines`) as
    virtual nodes ``n_nodes + j``, each with the synapses of its bus: one input spike then acts
    on each bus's synapses at that bus's departure time (the events come from
    :func:`neuroemu.hardware.buses.departures`, not from :func:`add_delayed`). ``delay_ms``: per IR
    synapse (ms; None: none): LIF->LIF synapses only (the chip's recurrent latency), as virtual
    nodes after the bus lines' (see :func:`_delay_groups`); the input synapses' latency is a shift
    of the departures, the chip has no other delays."""
    net = ir.network
    lif = net.lif_index()
    from_lif = lif[net.synapses.pre] >= 0
    delay = np.zeros(len(from_lif)) if delay_ms is None else np.asarray(delay_ms, float)
    if np.any(delay[~from_lif] > 0):
        raise ValueError("bus_source_delays: input synapses have no delays on the chip (their latency shifts the "
                         "departures)")
    base = np.concatenate([lif, np.full(lines.n_virtual, -1, lif.dtype)])
    return _delay_groups(lines.syn_node.astype(np.int64), base, net.synapses.pre, delay, from_lif)


def in_flight(sd: SourceDelays, lif_nodes: np.ndarray, t_ms: np.ndarray, lif: np.ndarray, trial: np.ndarray,
              t_from: float, dt_ms: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LIF spikes (grid times ms, LIF indices, trials) whose delayed synapses deliver after
    ``t_from``: (arrival times, virtual nodes, trials) for the run that continues. A delay acts
    as its nearest multiple of ``dt_ms`` (ties to even), as Brian2's spike queue realises it."""
    groups = sd.n_nodes - len(sd.node) + np.arange(len(sd.node))
    is_lif = np.isin(sd.node, lif_nodes)
    node_of = np.full(int(lif_nodes.max(initial=-1)) + 1, -1, np.int64)
    node_of[lif_nodes] = np.arange(len(lif_nodes))
    times, nodes, trials = [np.zeros(0)], [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for g in np.flatnonzero(is_lif):
        sel = lif == node_of[sd.node[g]]
        arrival = t_ms[sel] + np.rint(sd.delay_ms[g] / dt_ms) * dt_ms
        late = arrival > t_from
        times.append(arrival[late])
        nodes.append(np.full(int(late.sum()), groups[g], np.int64))
        trials.append(np.asarray(trial[sel][late], np.int64))
    return np.concatenate(times), np.concatenate(nodes), np.concatenate(trials)


def add_delayed(ev: "InputEvents", sd: SourceDelays) -> "InputEvents":
    """``ev`` plus, for every spike of a source with delayed synapses, a spike of each of its
    virtual nodes at the spike's time + the delay; sorted by (trial, node, time)."""
    if len(sd.node) == 0 or len(ev.time_ms) == 0:
        return ev
    order = np.argsort(sd.node, kind="stable")
    first = np.searchsorted(sd.node[order], ev.node, side="left")
    count = np.searchsorted(sd.node[order], ev.node, side="right") - first
    src = np.repeat(np.arange(len(ev.time_ms)), count)
    k = np.arange(len(src)) - np.repeat(np.cumsum(count) - count, count)
    vnode = order[np.repeat(first, count) + k]
    t = np.concatenate([ev.time_ms, ev.time_ms[src] + sd.delay_ms[vnode]])
    n = np.concatenate([ev.node, len(sd.lif_index) - len(sd.node) + vnode])
    tr = np.concatenate([ev.trial, ev.trial[src]])
    o = np.lexsort((t, n, tr))
    return InputEvents(t[o], n[o], tr[o])


@dataclass
class ChannelLayout:
    """The generator channels of one trial (every trial has the same layout)."""

    node: np.ndarray  # (C,) global source node of each channel (a source's extra channels follow its first)
    first: np.ndarray  # (n_nodes,) first channel of each node, -1 for LIF nodes

    @property
    def n(self) -> int:
        return len(self.node)

    def key(self) -> tuple:
        """Hashable identity (a built network is reusable for inputs with the same layout)."""
        return (len(self.first), self.node.tobytes())


def gather_events(ir: IR, inputs: Mapping[str, SpikeTrains], duration_ms: float, t_res_ms: float = 0.0) -> InputEvents:
    """Input spikes of every source population (resolved to the run's trials) before ``duration_ms``;
    ``t_res_ms`` > 0 floors them to that clock (the chip's FPGA playback, biological ms)."""
    times, nodes, trials = [np.zeros(0)], [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for name, trains in inputs.items():
        pop = ir.network.population(name)
        t = trains.times if t_res_ms <= 0 else np.floor(trains.times / t_res_ms) * t_res_ms
        keep = t < duration_ms
        times.append(t[keep])
        nodes.append(trains.neuron[keep].astype(np.int64) + pop.first)
        trials.append(trains.trial[keep].astype(np.int64))
    t, n, k = np.concatenate(times), np.concatenate(nodes), np.concatenate(trials)
    order = np.lexsort((t, n, k))
    return InputEvents(t[order], n[order], k[order])


def step_rank(ev: InputEvents, dt_ms: float) -> np.ndarray:
    """Rank of each spike among the spikes of its source in its time step (0 for the first)."""
    if len(ev.time_ms) == 0:
        return np.zeros(0, np.int64)
    step = np.ceil(ev.time_ms / dt_ms - STEP_EPS).astype(np.int64)
    new = np.ones(len(step), bool)
    new[1:] = (step[1:] != step[:-1]) | (ev.node[1:] != ev.node[:-1]) | (ev.trial[1:] != ev.trial[:-1])
    group_start = np.maximum.accumulate(np.where(new, np.arange(len(step)), 0))
    return np.arange(len(step)) - group_start


def layout_channels(lif_index: np.ndarray, ev: InputEvents, rank: np.ndarray) -> ChannelLayout:
    """One channel per spike source (``lif_index`` < 0: sources and virtual nodes of
    :class:`SourceDelays`), plus one per extra spike a source has in one step."""
    is_source = lif_index < 0
    copies = np.where(is_source, 1, 0).astype(np.int64)
    if len(rank):
        np.maximum.at(copies, ev.node, rank + 1)
    first = np.cumsum(copies) - copies
    first = np.where(is_source, first, -1)
    return ChannelLayout(node=np.repeat(np.arange(len(lif_index)), copies), first=first)


def spike_table(ev: InputEvents, rank: np.ndarray, layout: ChannelLayout,
                trials: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The flat spike table (s) and each channel's start in it, for the trials ``trials``
    simulated side by side (channel index = position of the trial in ``trials`` x channels per
    trial + channel). Trial -1 is a silent padding trial."""
    trials = np.asarray(trials, np.int64)
    n_ch = layout.n * len(trials)
    pos = np.full(int(max(trials.max(initial=-1), ev.trial.max(initial=-1))) + 2, -1, np.int64)
    pos[trials[trials >= 0]] = np.flatnonzero(trials >= 0)
    slot = pos[ev.trial] if len(ev.trial) else np.zeros(0, np.int64)
    sel = slot >= 0
    channel = slot[sel] * layout.n + layout.first[ev.node[sel]] + rank[sel]
    t = ev.time_ms[sel]
    order = np.lexsort((t, channel))
    channel, t = channel[order], t[order]
    counts = np.bincount(channel, minlength=n_ch)
    start = np.cumsum(counts + 1) - (counts + 1)  # each channel: its spikes, then the sentinel
    table = np.full(n_ch + len(t), np.inf)
    table[start[channel] + (np.arange(len(t)) - (np.cumsum(counts) - counts)[channel])] = t * 1e-3
    return table, start
