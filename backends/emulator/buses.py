"""Input events through the chip's shared event buses, for the emulator.

The bus model (lines, queues, drops, which run an event belongs to) is
:mod:`neuroemu.hardware.buses`, shared with Brian2's chip-replay. Here: the network the kernel
runs when a spike source feeds several buses (each further bus a virtual spike source with that
bus's synapses, so that one input spike reaches each bus's rows at that bus's departure time),
and a run's input events in the kernel's order.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from neuroemu.hardware.buses import BusLines, departures, trial_order
from neuroemu.hardware.config import EventBuses, HardwareConfig
from neuroemu.ir.model import IR, IRPopulation
from neuroemu.spikes import SpikeTrains

#: name of the population of virtual bus-line nodes in the split network (never user-visible)
VIRTUAL_POPULATION = "__bus_lines__"


def split_ir(ir: IR, lines: BusLines) -> IR:
    """``ir`` whose network has each source's further bus lines as virtual spike sources
    (nodes ``n_nodes ..``, one population appended) owning that bus's synapses; synapse order,
    populations and LIF indices unchanged (so the effective network's per-synapse arrays apply)."""
    if lines.n_virtual == 0:
        return ir
    net = ir.network
    extra = IRPopulation(VIRTUAL_POPULATION, "spike_source", first=net.n_nodes, size=lines.n_virtual)
    syn = dataclasses.replace(net.synapses, pre=lines.syn_node.astype(net.synapses.pre.dtype))
    return dataclasses.replace(ir, network=dataclasses.replace(net, populations=[*net.populations, extra],
                                                               synapses=syn))


@dataclass
class BusEvents:
    """A run's input events after the buses, as the kernel takes them: times (chip µs), nodes of
    the split network, per-trial start index (sorted by trial and time; simultaneous events in
    the buses' order); ``traffic``: what the buses did (:func:`neuroemu.hardware.buses.traffic`)."""

    time: np.ndarray
    node: np.ndarray
    ptr: np.ndarray
    traffic: dict[str, Any]


def bus_events(ir: IR, hw: HardwareConfig, buses: EventBuses, lines: BusLines, inputs: Mapping[str, SpikeTrains],
               trials: int, t_res_us: float, t_start_ms: float, t_end_ms: float) -> BusEvents:
    """:func:`neuroemu.hardware.buses.departures` of ``inputs`` (every spike before ``t_end_ms``)
    in [t_start_ms, t_end_ms), sorted for the kernel."""
    dep = departures(ir, hw, buses, lines, inputs, t_res_us, t_start_ms, t_end_ms)
    order = trial_order(dep.trial, dep.time_us)
    ptr = np.searchsorted(dep.trial[order], np.arange(trials + 1)).astype(np.int64)
    return BusEvents(dep.time_us[order], dep.node[order].astype(np.int32), ptr, dep.traffic)
