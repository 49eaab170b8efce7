"""Input spikes as generator channels with exact times (numpy only; no Brian2 here).

A Brian2 generator emits at most one spike per source and time step (Brian2's own
``SpikeGeneratorGroup`` refuses two spikes of one index in one step). Spikes of one source
that fall into the same step of ``dt`` are therefore split over extra *channels* of that
source: the k-th spike of a source inside one step goes to the source's channel k. Every
channel of a source has the source's synapses (same targets, same weights), so every spike
is delivered in its own step with its full charge. A source gets as many channels as its
worst step needs over all trials of the run (at least one), so all trials share one layout.

Channels do not bin times to the grid: each channel holds its spike times (s) in a flat
table, each channel's times followed by an ``inf`` sentinel; the generator fires channel c in
the step containing its next time, and the synapse adds the exact sub-step contribution
(see :mod:`neuroemu.backends.brian2.network`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from neuroemu.ir.model import IR
from neuroemu.spikes import SpikeTrains


@dataclass
class InputEvents:
    """All input spikes of a run, sorted by (trial, source node, time); times in biological ms."""

    time_ms: np.ndarray
    node: np.ndarray  # global node id of the spike source
    trial: np.ndarray


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
    step = np.floor(ev.time_ms / dt_ms).astype(np.int64)
    new = np.ones(len(step), bool)
    new[1:] = (step[1:] != step[:-1]) | (ev.node[1:] != ev.node[:-1]) | (ev.trial[1:] != ev.trial[:-1])
    group_start = np.maximum.accumulate(np.where(new, np.arange(len(step)), 0))
    return np.arange(len(step)) - group_start


def layout_channels(ir: IR, ev: InputEvents, rank: np.ndarray) -> ChannelLayout:
    """One channel per spike source, plus one per extra spike a source has in one step."""
    net = ir.network
    is_source = net.lif_index() < 0
    copies = np.where(is_source, 1, 0).astype(np.int64)
    if len(rank):
        np.maximum.at(copies, ev.node, rank + 1)
    first = np.cumsum(copies) - copies
    first = np.where(is_source, first, -1)
    return ChannelLayout(node=np.repeat(np.arange(net.n_nodes), copies), first=first)


def spike_table(ev: InputEvents, rank: np.ndarray, layout: ChannelLayout, trials: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
