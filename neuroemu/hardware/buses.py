r"""Shared event paths: spike-source events on the chip's PADI buses (serialization, queues, drops).

Facts of BrainScaleS-2 (public stack; see docs/realism.md):

* per hemisphere 4 PADI buses (halco ``PADIBusOnPADIBusBlock``); synapse driver ``d`` of a
  hemisphere listens to bus ``d mod 4`` (halco ``SynapseDriverOnSynapseDriverBlock::
  toPADIBusOnPADIBusBlock``: ``toEnum() % PADIBusOnPADIBusBlock::size``), so each bus feeds 32
  of the 128 drivers;
* an external source gets one spike label per PADI bus its targets' drivers hang on (grenade
  ``RoutingBuilder::get_external_labels``): one input spike is one event on *each* of those
  buses; on one bus it reaches every driver it is addressed to at once;
* a bus passes one event per FPGA/event clock cycle (125 MHz: 8 ns).

Model (chip units, µs). A compiled network's spike sources use *lines*: (source node, bus)
pairs, bus ``hemisphere * per_hemisphere + (row // rows_per_driver) % per_hemisphere`` of every
row its synapses sit on. Every input spike becomes one *bus event* per line of its source. Per
trial and bus, events queue in the order of their arrival (timestamp-clock times, then their
unquantized times, then source node) and leave one per ``event_interval_us``: event i leaves
at ``d_i = max(t_i, d_{i-1} + event_interval_us)``, its delay is ``d_i - t_i``. A bus holds at
most ``queue_depth`` events waiting or being sent (the one leaving at t counts until t): an
event arriving when it is full is dropped (never delivered; it takes no slot). ``queue_depth``
None: never full. Queues start empty at time 0; a run continued from a state sees the same
queue as one long run when its inputs include the spikes before its start (the backends pass
the trains up to the run's end and keep the events leaving inside the run).

What is *not* modelled: on-chip (neuron -> neuron) spikes also travel over PADI buses (from
the neurons' event outputs through the crossbar); the emulator's kernel delivers them itself,
without serialization. The FPGA -> chip links (shared by a bus index across hemispheres) are
taken to be fast enough.

Both backends use this module as data: the emulator (``backends/emulator``) and Brian2's
chip-replay (``backends/brian2``), so they see the same delivered times.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

import numba as nb
import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from neuroemu.hardware.config import EventBuses, HardwareConfig
    from neuroemu.ir.model import IR
    from neuroemu.spikes import SpikeTrains

#: relative tolerance (of the event interval) under which two times count as one instant
_TIME_EPS = 1e-9


def synapse_buses(ir: "IR", per_hemisphere: int) -> np.ndarray:
    """Global bus index of every synapse of ``ir`` (int64): ``hemisphere * per_hemisphere +
    (driver mod per_hemisphere)``, driver ``row // rows_per_driver`` of the synapse's row."""
    hw = ir.hardware()
    net, pl = ir.network, ir.placement
    post = net.lif_index()[net.synapses.post]
    h = pl.hemisphere[post].astype(np.int64)
    driver = pl.syn_row.astype(np.int64) // hw.synapses.rows_per_driver
    return h * per_hemisphere + driver % per_hemisphere


@dataclass(frozen=True)
class BusLines:
    """The (spike source, bus) lines of a compiled network, and the network split by them.

    Lines are sorted by (source node, bus). In the *split* network a source's first line keeps
    the source's node id and each further line is a virtual spike source ``n_nodes + j``
    (j = 0, 1, ... in line order) that carries the synapses of that bus: so that a backend can
    deliver one input spike at a different time on each bus.

    node: per line, its source's global node id. bus: per line, the global bus index.
    target: per line, its node in the split network. ptr: lines of node n are ``ptr[n]:ptr[n+1]``
    (length n_nodes + 1; LIF nodes and unconnected sources have none). syn_node: per synapse,
    its presynaptic node in the split network (LIF presynaptic nodes unchanged).
    """

    node: np.ndarray
    bus: np.ndarray
    target: np.ndarray
    ptr: np.ndarray
    syn_node: np.ndarray
    n_nodes: int
    n_buses: int

    @property
    def n_virtual(self) -> int:
        """Virtual nodes of the split network (lines beyond each source's first)."""
        return len(self.node) - int(np.count_nonzero(self.ptr[1:] > self.ptr[:-1]))


def bus_lines(ir: "IR", per_hemisphere: int) -> BusLines:
    """The lines of ``ir``'s spike sources on buses of ``per_hemisphere`` per hemisphere."""
    net = ir.network
    syn = net.synapses
    n_buses = ir.hardware().neurons.hemispheres * per_hemisphere
    bus = synapse_buses(ir, per_hemisphere)
    pre = syn.pre.astype(np.int64)
    from_source = net.lif_index()[pre] < 0
    key = pre * n_buses + bus
    lines = np.unique(key[from_source])
    node, lbus = lines // n_buses, lines % n_buses
    first = np.ones(len(lines), bool)
    first[1:] = node[1:] != node[:-1]
    target = np.where(first, node, net.n_nodes + np.cumsum(~first) - 1)
    ptr = np.searchsorted(node, np.arange(net.n_nodes + 1)).astype(np.int64)
    syn_node = pre.copy()
    syn_node[from_source] = target[np.searchsorted(lines, key[from_source])]
    return BusLines(node=node, bus=lbus, target=target, ptr=ptr, syn_node=syn_node, n_nodes=int(net.n_nodes),
                    n_buses=int(n_buses))


@dataclass
class BusPass:
    """Input events after the buses. One entry per output event (events of sources with lines
    once per line, the others once, unchanged).

    source: index of the input event. node: node in the split network. bus: global bus (-1:
    the source has no line). depart_us: when it leaves the bus (chip µs; its arrival off the
    buses and for dropped events). delay_us: ``depart_us - arrival``. dropped: the bus's queue
    was full (the event is not delivered)."""

    source: np.ndarray
    node: np.ndarray
    bus: np.ndarray
    depart_us: np.ndarray
    delay_us: np.ndarray
    dropped: np.ndarray


@nb.njit(cache=True)
def _queue(t: np.ndarray, start: np.ndarray, interval: float, depth: int, depart: np.ndarray,
           dropped: np.ndarray) -> None:  # pragma: no cover - compiled
    """Per group ``start[g]:start[g+1]`` of events sorted by arrival ``t`` (µs): the FIFO bus
    that passes one event per ``interval`` and holds ``depth`` events (0: unbounded). Writes each
    event's departure ``depart`` (its arrival if dropped) and whether it is ``dropped``. A busy
    period's departures are its first event's arrival plus k intervals (no accumulated rounding)."""
    eps = _TIME_EPS * interval
    ring = np.empty(max(depth, 1))
    for g in range(len(start) - 1):
        count = 0  # events accepted in the group
        anchor = -np.inf  # arrival of the first event of the current busy period
        k = 0  # events accepted since that one
        for i in range(start[g], start[g + 1]):
            ti = t[i]
            free = anchor + k * interval  # when the bus can send the next event
            if depth > 0 and count >= depth and ring[count % depth] > ti - eps:
                dropped[i] = True  # the depth events before it are all still there
                depart[i] = ti
                continue
            if free - ti > eps:
                d = free
            else:  # idle bus: a new busy period
                anchor, k, d = ti, 0, ti
            depart[i] = d
            if depth > 0:
                ring[count % depth] = d
            count += 1
            k += 1


def _is_sorted(keys: tuple[np.ndarray, ...]) -> bool:
    """Are the rows sorted lexicographically by ``keys`` (primary first)?"""
    n = len(keys[0])
    undecided = np.ones(max(n - 1, 0), bool)  # pairs (i, i + 1) equal in the keys so far
    for key in keys:
        step = np.diff(key)
        if np.any(undecided & (step < 0)):
            return False
        undecided &= step == 0
    return True


def trial_order(trial: np.ndarray, time: np.ndarray, *ties: np.ndarray) -> np.ndarray:
    """Permutation sorting events by (trial, time, *ties), exactly. Spike trains and bus output
    are sorted or nearly sorted: the identity when sorted already, else one stable sort of
    ``time + trial * span`` (fast on nearly sorted runs), checked, and a lexsort only where that
    check fails (times so close that the sum rounds them together)."""
    keys = (np.asarray(trial), np.asarray(time, float), *ties)
    if _is_sorted(keys):
        return np.arange(len(keys[0]))
    span = 2.0 * (float(np.abs(keys[1]).max()) + 1.0)
    order = np.argsort(keys[1] + keys[0] * span, kind="stable")
    if _is_sorted(tuple(k[order] for k in keys)):
        return order
    return np.lexsort(keys[::-1])


def serialize(arrival_us: np.ndarray, order_us: np.ndarray, node: np.ndarray, trial: np.ndarray,
              lines: BusLines, buses: "EventBuses", clock_us: float = 0.0) -> BusPass:
    """The input events (``arrival_us``: chip µs as they reach the chip, e.g. on the timestamp
    clock; ``order_us``: their order on the buses, e.g. the unquantized times, of which
    ``arrival_us`` must be a non-decreasing function; ``node``: global source node; ``trial``)
    through the buses ``buses`` on the lines ``lines``. Events queue in the order (order_us,
    node); output events are in the order (trial, order_us, node) of their input events, then
    line. ``clock_us`` > 0: the arrivals are clock times (multiples of it); when the event
    interval is a whole number of clock periods the departures are too, and are computed as
    such (bit-identical to an arrival at the same clock time)."""
    arrival_us = np.asarray(arrival_us, float)
    order_us = np.asarray(order_us, float)
    node = np.asarray(node, np.int64)
    trial = np.asarray(trial, np.int64)
    perm = trial_order(trial, order_us, node)  # the queues' order within a bus
    count = lines.ptr[node + 1] - lines.ptr[node]
    reps = np.maximum(count[perm], 1)
    src = np.repeat(perm, reps)
    k = np.arange(len(src)) - np.repeat(np.cumsum(reps) - reps, reps)
    on_bus = count[src] > 0
    line = np.where(on_bus, lines.ptr[node[src]] + k, 0)
    out_node = np.where(on_bus, lines.target[line] if len(lines.target) else 0, node[src])
    out_bus = np.where(on_bus, lines.bus[line] if len(lines.bus) else -1, -1)
    arrival = arrival_us[src]
    depart = arrival.copy()
    dropped = np.zeros(len(src), bool)
    sel = np.flatnonzero(on_bus)
    if len(sel):
        group = trial[src[sel]] * lines.n_buses + out_bus[sel]
        by_group = np.argsort(group, kind="stable")  # keeps the order within each (trial, bus)
        idx, group = sel[by_group], group[by_group]
        start = np.flatnonzero(np.r_[True, group[1:] != group[:-1], True]).astype(np.int64)
        d = np.zeros(len(idx))
        drop = np.zeros(len(idx), np.bool_)
        depth = 0 if buses.queue_depth is None else int(buses.queue_depth)
        _queue(arrival[idx], start, float(buses.event_interval_us), depth, d, drop)
        depart[idx] = d
        dropped[idx] = drop
        per_clock = buses.event_interval_us / clock_us if clock_us > 0 else 0.0
        if per_clock >= 1 and abs(per_clock - round(per_clock)) < _TIME_EPS:
            depart[idx] = np.round(d / clock_us) * clock_us
    return BusPass(source=src, node=out_node, bus=out_bus, depart_us=depart, delay_us=depart - arrival,
                   dropped=dropped)


@dataclass
class Departures:
    """Input events as they leave the buses within one run (unsorted): ``time_us`` (chip µs),
    ``node`` (of the split network, :class:`BusLines`), ``trial``; ``traffic``: what the buses
    did to this run's events (:func:`traffic`)."""

    time_us: np.ndarray
    node: np.ndarray
    trial: np.ndarray
    traffic: dict[str, Any]


def departures(ir: "IR", hw: "HardwareConfig", buses: "EventBuses", lines: BusLines,
               inputs: "Mapping[str, SpikeTrains]", t_res_us: float, t_start_ms: float,
               t_end_ms: float) -> Departures:
    """The events of ``inputs`` (population -> trains, biological ms, holding every spike before
    ``t_end_ms``: earlier spikes fill the queues as in one long run) that leave the buses in
    [t_start_ms, t_end_ms). A spike reaches the chip at its time on the timestamp clock
    ``t_res_us`` (0: exact). An event belongs to the run in which its unquantized time plus its
    queueing delay falls (an undelayed event: its own time, as without buses); a dropped one to
    the run of its time."""
    net = ir.network
    times, nodes, trial_of = [np.zeros(0)], [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for name, trains in inputs.items():
        pop = net.population(name)
        times.append(np.asarray(trains.times, float))
        nodes.append(trains.neuron.astype(np.int64) + pop.first)
        trial_of.append(trains.trial.astype(np.int64))
    t_ms, node, trial = np.concatenate(times), np.concatenate(nodes), np.concatenate(trial_of)
    raw_us = np.asarray(hw.chip_time_us(t_ms), float)
    arrival = np.floor(raw_us / t_res_us) * t_res_us if t_res_us > 0 else raw_us
    bp = serialize(arrival, raw_us, node, trial, lines, buses, t_res_us)
    leave_ms = t_ms[bp.source] + np.asarray(hw.bio_time_ms(bp.delay_us), float)
    in_run = (leave_ms >= t_start_ms) & (leave_ms < t_end_ms)
    deliver = in_run & ~bp.dropped
    return Departures(bp.depart_us[deliver], bp.node[deliver], trial[bp.source[deliver]],
                      traffic(bp, in_run, hw.timing.speedup))


def traffic(bp: BusPass, keep: np.ndarray, speedup: float) -> dict[str, Any]:
    """What the buses did to the events ``keep`` (bool per output event) of ``bp``: bus events,
    delayed ones, their largest and mean delay (mean over the delayed events; chip µs and
    biological ms at ``speedup``), dropped ones."""
    on = keep & (bp.bus >= 0)
    late = on & ~bp.dropped & (bp.delay_us > 0)
    d = bp.delay_us[late]
    max_us = float(d.max()) if len(d) else 0.0
    mean_us = float(d.mean()) if len(d) else 0.0
    to_ms = speedup / 1000.0
    return {"events": int(np.count_nonzero(on)), "delayed": int(len(d)),
            "max_delay_us": max_us, "mean_delay_us": mean_us,
            "max_delay_ms": max_us * to_ms, "mean_delay_ms": mean_us * to_ms,
            "dropped": int(np.count_nonzero(on & bp.dropped))}


def format_traffic(t: dict[str, Any] | None) -> str:
    """One line on the buses' effect (``traffic``'s dict; None: serialization off)."""
    if t is None:
        return "event buses: off (no serialization)"
    return (f"event buses: {t['delayed']} of {t['events']} bus events delayed (max {t['max_delay_us']:.4g} µs = "
            f"{t['max_delay_ms']:.4g} ms biological, mean {t['mean_delay_us']:.4g} µs), {t['dropped']} dropped")


def peak_load(ir: "IR", hw: "HardwareConfig") -> dict[str, Any] | None:
    """The expected peak load of every bus that spike sources use (None: the config has no
    event buses). Spike sources declare no rates; what a network says about its load is

    * its default inputs (spike times in the description): they go through the buses exactly as a
      run would send them (timestamp clock, queues); a bus whose peak exceeds one event per
      interval delays (or drops) some of them;
    * for sources without default inputs, how many share a bus: in the worst case they fire
      together (synchronous input, e.g. one sample's spikes), k events within one interval,
      the last leaving (k - 1) intervals late, and those beyond the queue depth dropped.

    Per bus (hemisphere, bus index): ``sources``, ``sources_without_inputs``, and for the default
    inputs ``delayed``, ``dropped`` and ``max_delay_us``. ``warnings``: a sentence per problem:
    default inputs delayed or dropped, or more sources without inputs on a bus than its queue
    holds (a synchronous burst would lose events); bursts that only delay are listed, not warned."""
    eb = hw.realism.event_buses
    if eb is None:
        return None
    lines = bus_lines(ir, eb.per_hemisphere)
    net = ir.network
    per_bus_sources = np.bincount(lines.bus, minlength=lines.n_buses)
    with_inputs = np.zeros(net.n_nodes, bool)
    times, nodes, trials = [np.zeros(0)], [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for name, trains in net.default_inputs.items():
        pop = net.population(name)
        with_inputs[pop.first:pop.first + pop.size] = True
        times.append(np.asarray(hw.chip_time_us(trains.times), float))
        nodes.append(trains.neuron.astype(np.int64) + pop.first)
        trials.append(trains.trial.astype(np.int64))
    raw, node, trial = np.concatenate(times), np.concatenate(nodes), np.concatenate(trials)
    res = hw.timing.timestamp_resolution_us
    t = np.floor(raw / res) * res if res else raw
    bp = serialize(t, raw, node, trial, lines, eb, res or 0.0)
    silent_sources = np.bincount(lines.bus[~with_inputs[lines.node]], minlength=lines.n_buses)
    depth = eb.queue_depth
    interval = eb.event_interval_us
    buses = []
    for b in np.flatnonzero(per_bus_sources):
        sel = bp.bus == b
        late = sel & (bp.delay_us > 0) & ~bp.dropped
        buses.append({"hemisphere": int(b // eb.per_hemisphere), "bus": int(b % eb.per_hemisphere),
                      "sources": int(per_bus_sources[b]), "sources_without_inputs": int(silent_sources[b]),
                      "delayed": int(np.count_nonzero(late)), "dropped": int(np.count_nonzero(sel & bp.dropped)),
                      "max_delay_us": float(bp.delay_us[late].max(initial=0.0))})

    def names(entries: list[dict[str, Any]]) -> str:
        return ", ".join(f"hemisphere {e['hemisphere']} bus {e['bus']}" for e in entries)

    warnings = []
    busy = [e for e in buses if e["delayed"] or e["dropped"]]
    if busy:
        warnings.append(
            f"the default inputs exceed one event per {interval:g} µs on {len(busy)} event bus(es) ({names(busy)}): "
            f"{sum(e['delayed'] for e in busy)} events delayed (up to {max(e['max_delay_us'] for e in busy):.4g} µs), "
            f"{sum(e['dropped'] for e in busy)} dropped")
    crowded = [e for e in buses if depth is not None and e["sources_without_inputs"] > depth]
    if crowded:
        k = max(e["sources_without_inputs"] for e in crowded)
        warnings.append(
            f"{len(crowded)} event bus(es) ({names(crowded)}) carry more spike sources without default inputs than "
            f"a bus queue holds (up to {k}, queue {depth}): a synchronous burst of more than {depth} of them loses "
            f"the rest, and n synchronous events arrive spread over (n - 1) x {interval:g} µs")
    return {"per_hemisphere": eb.per_hemisphere, "event_interval_us": interval, "queue_depth": depth,
            "buses": buses, "default_inputs": traffic(bp, np.ones(len(bp.bus), bool), hw.timing.speedup),
            "max_sources_per_bus": int(per_bus_sources.max(initial=0)), "warnings": warnings}
