"""NIR graph -> network description (:func:`import_nir`).

Neuron nodes (CubaLIF, LIF, IF; CubaLI, LI, I as readouts) become LIF populations named like
the nodes, top-level Input nodes spike sources. The linear nodes between two of them (Affine,
Linear, Scale, Flatten, Conv1d/2d, SumPool2d, AvgPool2d; see :mod:`.linear`) compose into one
weight matrix per path, whose nonzero entries become synapses (receptor by sign) and whose
bias becomes a constant current (``i_offset``). Recurrent edges are ordinary projections.
Delay nodes become synaptic delays (the compiler refuses them on hardware without
programmable delays, naming the projection). The units: :mod:`.units`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from neuroemu.hardware import HardwareConfig, load_hardware
from neuroemu.network import FromList, Network
from neuroemu.nir.graph import FlatGraph, NirError, flatten, missing_resets, node_shape, read_graph
from neuroemu.nir.linear import LINEAR_TYPES, node_matrix
from neuroemu.nir.report import ImportReport, NodeReport
from neuroemu.nir.units import Convention

NEURON_TYPES = ("CubaLIF", "LIF", "IF", "CubaLI", "LI", "I")
SPIKING = ("CubaLIF", "LIF", "IF")
_FILTERED = ("CubaLIF", "CubaLI")  # with a synaptic filter
_LEAKY = ("CubaLIF", "LIF", "CubaLI", "LI")
_REFUSED = {
    "Threshold": "a bare threshold (a spike generator without a membrane) has no circuit on the chip",
}


@dataclass
class _Term:
    """Part of a node's input: ``matrix @ (values of node source)``, delayed by ``delay`` (s per row)."""

    source: str
    matrix: sp.csr_matrix
    delay: np.ndarray | None
    via: str
    delay_node: str = ""


@dataclass
class _Signal:
    shape: tuple[int, ...]
    terms: list[_Term]
    bias: np.ndarray | None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


def _hw_extremes(hw: HardwareConfig) -> dict[str, float]:
    """Biological values at the ends of the hardware's ranges (ms, mV)."""
    p = hw.parameters
    return {
        "tau_syn_min": float(hw.bio_time_ms(p["tau_syn_exc"].range[0])),
        "tau_mem_max": float(hw.bio_time_ms(p["tau_mem"].range[1])),
        "tau_refrac_min": float(hw.bio_time_ms(p["tau_refrac"].range[0])),
        "v_thresh_max": float(hw.bio_voltage_mV(p["v_thresh"].range[1])),
    }


def _param(node, name: str, size: int, node_name: str, default: Any = None) -> np.ndarray:
    value = getattr(node, name, None)
    if value is None:
        if default is None:
            raise NirError(f"NIR node '{node_name}' ({type(node).__name__}): parameter {name} is missing")
        value = default
    arr = np.asarray(value, float).ravel()
    if arr.size not in (1, size):
        raise NirError(f"NIR node '{node_name}' ({type(node).__name__}): {name} has {arr.size} values for {size} "
                       "neurons")
    arr = np.broadcast_to(arr, (size,)).copy()
    if not np.all(np.isfinite(arr)):
        raise NirError(f"NIR node '{node_name}' ({type(node).__name__}): {name} contains {arr[~np.isfinite(arr)][0]} "
                       f"(neuron {int(np.argmax(~np.isfinite(arr)))})")
    return arr


def _neuroemu_meta(node) -> dict:
    meta = getattr(node, "metadata", None) or {}
    return dict(meta.get("neuroemu", {}) or {})


class _Importer:
    def __init__(self, graph, conv: Convention, hw: HardwareConfig, source: str, file_path: str | None,
                 auto_voltage: bool):
        self.flat: FlatGraph = flatten(graph)
        self.conv = conv
        self.auto_voltage = auto_voltage
        self.hw = hw
        self.ext = _hw_extremes(hw)
        self.report = ImportReport(source=source, convention=conv)
        self.file_path = file_path
        self.signals: dict[str, _Signal] = {}
        self.visiting: set[str] = set()
        self.kinds = {name: type(node).__name__ for name, node in self.flat.nodes.items()}
        self.sizes: dict[str, tuple[int, ...]] = {}
        self.from_file: dict[str, list[str]] = {}  # population -> time constants taken from the file (scale with time)
        self.projection_names: dict[str, int] = {}  # base name -> uses (names stay unique across the import)
        self._approx: dict[str, tuple[list[str], str]] = {}

    def approx(self, key: str, name: str, kind: str, text: str) -> None:
        """One approximation, reported once for all nodes it applies to."""
        names, _ = self._approx.setdefault(key + kind, ([], text))
        names.append(name)

    # --- classification and shapes -----------------------------------------------------------
    def role(self, name: str) -> str:
        kind = self.kinds[name]
        if name in self.flat.passthrough:
            return "pass"
        if kind == "Input":
            return "source"
        if kind == "Output":
            return "output"
        if kind in NEURON_TYPES:
            return "neuron"
        if kind in LINEAR_TYPES:
            return "linear"
        if kind == "Delay":
            return "delay"
        if kind in _REFUSED:
            raise NirError(f"NIR node '{name}' ({kind}): not supported: {_REFUSED[kind]}")
        raise NirError(f"NIR node '{name}' has type {kind}, which neuroemu does not import (supported: Input, Output, "
                       f"{', '.join(NEURON_TYPES)}, {', '.join(LINEAR_TYPES)}, Delay, nested NIRGraph)")

    def neuron_shape(self, name: str) -> tuple[int, ...]:
        if name in self.sizes:
            return self.sizes[name]
        node = self.flat.nodes[name]
        shape = node_shape(node, "input")
        if shape is None:
            for attr in ("tau_mem", "tau", "r", "v_threshold", "tau_syn", "v_leak"):
                value = getattr(node, attr, None)
                if value is not None and np.asarray(value).size > 1:
                    shape = tuple(np.asarray(value).shape)
                    break
        if shape is None:
            preds = self.flat.predecessors(name)
            shape = self.signal(preds[0]).shape if preds else (1,)
        self.sizes[name] = tuple(int(s) for s in shape)
        return self.sizes[name]

    def source_shape(self, name: str) -> tuple[int, ...]:
        shape = node_shape(self.flat.nodes[name], "input") or node_shape(self.flat.nodes[name], "output")
        if shape is None:
            raise NirError(f"NIR node '{name}' (Input) has no input shape")
        return shape

    # --- the composed input of every node ---------------------------------------------------
    def output_of(self, name: str) -> _Signal:
        """What node ``name`` sends on: a neuron's or source's own values, else its composed signal."""
        role = self.role(name)
        if role in ("source", "neuron"):
            shape = self.source_shape(name) if role == "source" else self.neuron_shape(name)
            n = int(np.prod(shape))
            return _Signal(shape, [_Term(name, sp.identity(n, format="csr"), None, "")], None)
        if role == "output":
            raise NirError(f"NIR node '{name}' (Output) has outgoing edges")
        return self.signal(name)

    def input_of(self, name: str) -> _Signal | None:
        """The sum of what the predecessors of ``name`` send (None: no incoming edge)."""
        preds = self.flat.predecessors(name)
        if not preds:
            return None
        total: _Signal | None = None
        for p in preds:
            s = self.output_of(p)
            if total is None:
                total = _Signal(s.shape, list(s.terms), None if s.bias is None else s.bias.copy())
                continue
            if s.size != total.size:
                raise NirError(f"NIR edge {p} -> {name}: '{p}' sends {s.size} values (shape {s.shape}) but '{name}' "
                               f"also receives {total.size} (shape {total.shape}) from another edge")
            total.terms.extend(s.terms)
            if s.bias is not None:
                total.bias = s.bias.copy() if total.bias is None else total.bias + s.bias
        return total

    def signal(self, name: str) -> _Signal:
        """The output of linear / delay / pass-through node ``name`` as terms over sources."""
        if name in self.signals:
            return self.signals[name]
        if name in self.visiting:
            raise NirError(f"NIR node '{name}' lies on a cycle of linear nodes without a neuron: the graph has an "
                           "algebraic loop, which no simulator can run")
        self.visiting.add(name)
        role = self.role(name)
        inp = self.input_of(name)
        if inp is None:
            raise NirError(f"NIR node '{name}' ({self.kinds[name]}) has no incoming edge")
        node = self.flat.nodes[name]
        if role == "pass":
            out = inp
        elif role == "delay":
            d = np.asarray(node.delay, float).ravel()
            if d.size not in (1, inp.size) or np.any(~np.isfinite(d)) or np.any(d < 0):
                raise NirError(f"NIR node '{name}' (Delay): delay must be {inp.size} finite values >= 0 s")
            d = np.broadcast_to(d, (inp.size,)).copy()
            terms = [_Term(t.source, t.matrix, d if t.delay is None else t.delay + d, t.via or name, name)
                     for t in inp.terms]
            out = _Signal(inp.shape, terms, inp.bias)
        else:
            a, b, shape = node_matrix(node, inp.shape, name)
            elementwise = self.kinds[name] in ("Scale", "Flatten")
            terms = []
            for t in inp.terms:
                delay = t.delay
                if delay is not None and not elementwise:
                    if np.ptp(delay) > 0:
                        raise NirError(f"NIR node '{name}' ({self.kinds[name]}) mixes values that a Delay node before "
                                       "it delays differently; neuroemu imports per-synapse delays only where they "
                                       "stay per target (a Delay right before the neuron layer)")
                    delay = np.full(a.shape[0], float(delay[0]))
                terms.append(_Term(t.source, (a @ t.matrix).tocsr(), delay, name, t.delay_node))
            bias = None if inp.bias is None else a @ inp.bias
            if b is not None:
                bias = b if bias is None else bias + b
            out = _Signal(shape, terms, bias)
        self.visiting.discard(name)
        self.signals[name] = out
        return out

    # --- building the network ---------------------------------------------------------------
    def run(self) -> Network:
        flat = self.flat
        meta = dict(flat.metadata.get("neuroemu", {}) or {})
        net = Network(str(meta.get("name", "nir")))
        for name in flat.nodes:
            self.role(name)  # refuse unknown types first, naming the node
        sources = [n for n in flat.nodes if self.role(n) == "source"]
        neurons = [n for n in flat.nodes if self.role(n) == "neuron"]
        if not neurons:
            raise NirError("the NIR graph has no neuron node (CubaLIF, LIF, IF, CubaLI, LI, I): nothing to run")
        for name in sources:
            shape = self.source_shape(name)
            n = int(np.prod(shape))
            smeta = _neuroemu_meta(flat.nodes[name])
            times = None
            if "spike_times" in smeta:  # biological ms at time_scale 1 (written by neuroemu)
                t_all = self.conv.time_scale * np.atleast_1d(np.asarray(smeta["spike_times"], float))
                times = [list(t_all[np.atleast_1d(smeta["spike_neuron"]) == k]) for k in range(n)]
            net.add_spike_source(name, n, times)
            self.report.nodes.append(NodeReport(name, "Input", n, f"spike sources '{name}'" + (
                f" (shape {shape}, flattened)" if len(shape) > 1 else "")))
        inputs = {name: self.input_of(name) for name in neurons}
        for name in flat.nodes:
            if self.role(name) in ("linear", "delay", "pass"):
                self.signal(name)  # check the shapes of nodes that lead nowhere too
        if self.auto_voltage:
            self.choose_voltage(neurons, inputs)
        pops: dict[str, dict] = {}
        for name in neurons:
            pops[name] = self.neuron(net, name)
        n_syn = 0
        for name in neurons:
            inp = inputs[name]
            if inp is None:
                continue
            size = int(np.prod(self.neuron_shape(name)))
            if inp.size != size:
                raise NirError(f"NIR node '{name}' ({self.kinds[name]}) has {size} neurons but receives {inp.size} "
                               f"values (shape {inp.shape})")
            n_syn += self.projections(net, name, inp, pops[name])
            if inp.bias is not None and np.any(inp.bias != 0):
                pop = net.population(name)
                pop.params["i_offset"] = (np.asarray(pop.params.get("i_offset", 0.0), float)
                                          + pops[name]["bias_nA"] * inp.bias)
        # what is recorded: spikes of every spiking layer, the membrane of every readout
        readouts = [n for n in neurons if self.kinds[n] not in SPIKING]
        net.record.spikes = [n for n in neurons if self.kinds[n] in SPIKING]
        net.record.v = {n: list(range(net.population(n).size)) for n in readouts}
        if "record" in meta:
            self.apply_record(net, meta["record"])
        for name in flat.nodes:
            role = self.role(name)
            if role == "output":
                feeding = [p for p in flat.predecessors(name)]
                for p in feeding:
                    if self.role(p) not in ("neuron", "pass", "source"):
                        self.report.notes.append(f"Output '{name}' is fed by {self.kinds[p]} node '{p}', a linear map "
                                                 "of spikes; record the layers before it")
                self.report.nodes.append(NodeReport(name, "Output", 0, "outputs: " + ", ".join(feeding)))
                self.report.outputs += [self.origin(p) for p in feeding if self.origin(p) in pops]
            elif role in ("linear", "delay", "pass"):
                sig = self.signals.get(name)
                self.report.nodes.append(NodeReport(name, self.kinds[name], sig.size if sig else 0,
                                                    "weights (folded into the synapses after it)" if role != "pass"
                                                    else "passes through (nested graph boundary)"))
        order = {n: i for i, n in enumerate(flat.nodes)}
        self.report.nodes.sort(key=lambda r: order.get(r.name, len(order)))
        for names, text in self._approx.values():
            kind = self.kinds[names[0]]
            self.report.approximations.append(f"{', '.join(names)} ({kind}): {text}")
        self.report.time_constants_from_file = dict(self.from_file)
        self.report.populations = len(net.populations)
        self.report.neurons = sum(p.size for p in net.populations if p.kind == "lif")
        self.report.synapses = n_syn
        if self.file_path is not None:
            absent = [n for n in missing_resets(self.file_path) if n in pops]
            if absent:
                self.report.approximations.append(
                    f"{', '.join(absent)}: the file has no v_reset (nir reads 0), so its reset mechanism cannot be "
                    "told from it: a framework that resets by subtraction (snnTorch reset_mechanism='subtract') "
                    "writes none either, and the chip cannot subtract (it resets the membrane to a potential). "
                    "Imported as reset to v = 0; a network trained with subtraction may behave differently")
        return net

    def potentials(self, name: str, inp: _Signal | None) -> dict[str, np.ndarray]:
        """NIR-unit potentials of neuron node ``name`` that must fit the chip: the leak (with the
        shift of any bias), the reset and (spiking nodes) the threshold."""
        node, kind = self.flat.nodes[name], self.kinds[name]
        n = int(np.prod(self.neuron_shape(name)))
        p = lambda attr, default=None: _param(node, attr, n, name, default)  # noqa: E731
        leak = p("v_leak") if kind in _LEAKY else np.zeros(n)
        if inp is not None and inp.bias is not None:
            if kind in _FILTERED:
                shift = p("r") * p("w_in", 1.0) * inp.bias
            elif kind in _LEAKY:
                shift = p("r") * inp.bias
            else:  # no leak: the bias current against the longest leak the chip has
                shift = p("r") * inp.bias * self.ext["tau_mem_max"] / (1000.0 * self.conv.time_scale)
            leak = leak + shift
        out = {"leak": leak, "reset": p("v_reset", 0.0) if kind in SPIKING else leak}
        if kind in SPIKING:
            out["thresh"] = p("v_threshold")
        return out

    def choose_voltage(self, neurons: list[str], inputs: dict[str, _Signal | None]) -> None:
        """``v_scale='auto'``: the scale that puts the largest threshold-to-leak distance at 15 mV (the
        chip's nominal operating point), or the largest smaller one at which every potential of the
        graph fits the hardware's ranges (leak and reset in the leak range, thresholds in the
        threshold range); the offset nearest to -65 mV that places them inside."""
        hw = self.hw
        leak_lo, leak_hi = (float(hw.bio_voltage_mV(x)) for x in hw.parameters["v_leak"].range)
        thr_lo, thr_hi = (float(hw.bio_voltage_mV(x)) for x in hw.parameters["v_thresh"].range)
        groups = {"leak": [], "thresh": []}
        for name in neurons:
            pot = self.potentials(name, inputs[name])
            groups["leak"] += [pot["leak"], pot["reset"]]
            if "thresh" in pot:
                groups["thresh"].append(pot["thresh"])
        ranges = {"leak": (leak_lo, leak_hi), "thresh": (thr_lo, thr_hi)}
        ext = {k: (float(np.min(np.concatenate(v))), float(np.max(np.concatenate(v)))) for k, v in groups.items() if v}
        spans = [float(np.max(self.potentials(n, None)["thresh"] - self.potentials(n, None)["leak"]))
                 for n in neurons if self.kinds[n] in SPIKING]
        span = max(spans) if spans else 0.0
        s_cap = 15.0 / span if span > 0 else 15.0  # the largest threshold-to-leak distance at 15 mV
        s_max = s_cap
        for a, (a_min, _) in ext.items():  # o + s x >= lo_a for x = a_min; o + s x <= hi_b for x = b_max
            for b, (_, b_max) in ext.items():
                extent = b_max - a_min
                if extent > 0:
                    s_max = min(s_max, (ranges[b][1] - ranges[a][0]) / extent)
        s = 0.98 * s_max if s_max < s_cap else s_cap  # a margin inside the ranges
        o_lo = max(ranges[k][0] - s * lo for k, (lo, _) in ext.items())
        o_hi = min(ranges[k][1] - s * hi for k, (_, hi) in ext.items())
        offset = float(np.clip(-65.0, o_lo, o_hi)) if o_lo <= o_hi else -65.0
        self.conv = dataclasses.replace(self.conv, v_scale=float(s), v_offset=offset)
        self.report.convention = self.conv
        if s < s_cap:
            self.report.notes.append(
                f"v_scale {s:.4g} mV per NIR unit (auto): the largest at which the graph's potentials (leak with "
                f"biases {ext['leak'][0]:.3g} to {ext['leak'][1]:.3g}"
                + (f", thresholds {ext['thresh'][0]:.3g} to {ext['thresh'][1]:.3g}" if "thresh" in ext else "")
                + f" NIR units) fit {hw.name}'s ranges; the threshold lies {s * span:.3g} mV above the leak, so the "
                "chip's noise matters more than at the nominal 15 mV")
        else:
            self.report.notes.append(f"v_scale {s:.4g} mV per NIR unit (auto): the largest threshold-to-leak distance "
                                     "of the graph at 15 mV, as on the chip's nominal operating point")

    def origin(self, name: str) -> str:
        """The node behind pass-through (nested Input/Output) nodes."""
        while self.role(name) == "pass":
            preds = self.flat.predecessors(name)
            if len(preds) != 1:
                return name
            name = preds[0]
        return name

    def apply_record(self, net: Network, record: dict) -> None:
        spikes = record.get("spikes")
        if spikes is not None:
            spikes = [x.decode() if isinstance(x, bytes) else str(x) for x in np.atleast_1d(spikes)]
        net.record.spikes = spikes
        net.record.v = {str(k): [int(i) for i in np.atleast_1d(v)] for k, v in dict(record.get("v", {}) or {}).items()}

    def neuron(self, net: Network, name: str) -> dict:
        """Add the LIF population of neuron node ``name``; returns its per-neuron input factors."""
        node, kind, conv, ext = self.flat.nodes[name], self.kinds[name], self.conv, self.ext
        shape = self.neuron_shape(name)
        n = int(np.prod(shape))
        meta = _neuroemu_meta(node)
        p = lambda attr, default=None: _param(node, attr, n, name, default)  # noqa: E731
        cm = np.broadcast_to(np.asarray(meta.get("cm", conv.cm), float), (n,)).copy()
        s = conv.v_scale
        params: dict[str, Any] = {"cm": cm}
        spiking = kind in SPIKING
        if kind in _FILTERED:
            tau_m = conv.decay_tau(p("tau_mem"), name, "tau_mem")
            tau_s = conv.decay_tau(p("tau_syn"), name, "tau_syn")
            r_eff = conv.coupling(p("r"), p("tau_mem"), p("tau_syn"))
            tau_m_bio, tau_s_bio = conv.ms(tau_m), conv.ms(tau_s)
            w_in = p("w_in", 1.0)
            weight_nA = cm * s * r_eff / tau_m_bio * w_in * conv.input_area() / p("tau_syn")
            bias_nA = cm * s * p("r") / tau_m_bio * w_in
            v_leak = p("v_leak")
        elif kind in _LEAKY:  # LIF, LI: no synaptic filter
            tau = conv.decay_tau(p("tau"), name, "tau")
            tau_m_bio = conv.ms(tau)
            tau_s_bio = np.full(n, ext["tau_syn_min"])
            weight_nA = cm * s * p("r") * conv.input_area() / p("tau") / tau_s_bio
            bias_nA = cm * s * p("r") / tau_m_bio
            v_leak = p("v_leak")
            self.approx("nofilter", name, kind,
                        f"NIR has no synaptic filter here; inputs go through the shortest synaptic time constant "
                        f"{self.hw.name} allows, {ext['tau_syn_min']:.3g} ms, with the charge of NIR's instant jump: "
                        f"spikes come up to ~{ext['tau_syn_min']:.3g} ms later")
        else:  # IF, I: no leak, no synaptic filter
            tau_m_bio = np.full(n, ext["tau_mem_max"])
            tau_s_bio = np.full(n, ext["tau_syn_min"])
            weight_nA = cm * s * p("r") * conv.input_area() / tau_s_bio
            bias_nA = cm * s * p("r") / (1000.0 * conv.time_scale)
            v_leak = np.zeros(n)
            self.approx("noleak", name, kind,
                        f"no leak in NIR; the longest membrane time constant {self.hw.name} allows, "
                        f"{ext['tau_mem_max']:.3g} ms, loses a fraction ~T/{ext['tau_mem_max']:.3g} ms of the membrane "
                        f"over T ms; inputs through the shortest synaptic time constant, {ext['tau_syn_min']:.3g} ms "
                        f"(spikes up to ~{ext['tau_syn_min']:.3g} ms later)")
        params["tau_mem"] = tau_m_bio
        params["tau_syn_exc"] = tau_s_bio
        params["tau_syn_inh"] = np.asarray(conv.ms(meta["tau_syn_inh"]), float) if "tau_syn_inh" in meta else tau_s_bio
        params["v_rest"] = conv.mV(v_leak)
        if "v_rest" in meta and "i_offset" in meta:  # written by neuroemu: the exact split of the leak
            params["v_rest"] = np.broadcast_to(np.asarray(meta["v_rest"], float), (n,)).copy()
            # the leak shift i_offset tau_mem / cm is a potential: it stays when time_scale stretches tau_mem
            params["i_offset"] = np.broadcast_to(np.asarray(meta["i_offset"], float), (n,)) / conv.time_scale
        if spiking:
            params["v_thresh"] = conv.mV(p("v_threshold"))
            params["v_reset"] = conv.mV(p("v_reset", 0.0))
        else:
            params["v_thresh"] = np.full(n, ext["v_thresh_max"])
            params["v_reset"] = params["v_rest"].copy()
            self.approx("readout", name, kind,
                        f"a readout that never spikes: its threshold is set to the top of {self.hw.name}'s range "
                        f"({ext['v_thresh_max']:.4g} mV), valid while the membrane stays below it; the membrane is "
                        "recorded")
        if "tau_refrac" in meta:
            params["tau_refrac"] = conv.time_scale * np.broadcast_to(np.asarray(meta["tau_refrac"], float), (n,))
        elif conv.discrete and spiking:  # a discrete-time neuron spikes at most once per step
            params["tau_refrac"] = np.full(n, max(0.5 * float(conv.ms(conv.dt)), ext["tau_refrac_min"]))
            self.approx("refrac_dt", name, kind,
                        f"a discrete-time neuron spikes at most once per step and restarts at the step after its "
                        f"crossing: refractory time half a step (the mean gap), "
                        f"{max(0.5 * float(conv.ms(conv.dt)), ext['tau_refrac_min']):.4g} ms")
        else:
            params["tau_refrac"] = np.full(n, ext["tau_refrac_min"])
            if spiking:
                self.approx("refrac", name, kind,
                            f"NIR neurons have no refractory time; the shortest {self.hw.name} allows, "
                            f"{ext['tau_refrac_min']:.3g} ms, holds the membrane at v_reset after each spike")
        self.from_file[name] = [k for k, ok in (("tau_mem", kind in _LEAKY), ("tau_syn_exc", kind in _FILTERED),
                                                ("tau_syn_inh", kind in _FILTERED)) if ok]
        for key, value in list(params.items()):
            arr = np.asarray(value, float)
            params[key] = float(arr[0]) if arr.size and np.all(arr == arr.flat[0]) else arr
        net.add_lif(name, n, **params)
        role = "LIF population" if spiking else "LIF population, readout (membrane recorded)"
        self.report.nodes.append(NodeReport(name, kind, n, f"{role} '{name}'" + (
            f" (shape {shape}, flattened)" if len(shape) > 1 else "")))
        return {"weight_nA": np.asarray(weight_nA, float), "bias_nA": np.asarray(bias_nA, float)}

    def projections(self, net: Network, post: str, inp: _Signal, factors: dict) -> int:
        """Projections of every term of ``post``'s input; returns the number of synapses."""
        count = 0
        names = self.projection_names
        for t in inp.terms:
            coo = t.matrix.tocoo()
            keep = coo.data != 0
            rows, cols, w = coo.row[keep], coo.col[keep], coo.data[keep]
            if len(w) == 0:
                continue
            weight = w * factors["weight_nA"][rows]
            base = t.via or f"{t.source}->{post}"
            names[base] = names.get(base, 0) + 1
            pname = base if names[base] == 1 else f"{base}#{names[base]}"
            delay = None
            if t.delay is not None:
                delay = np.asarray(self.conv.ms(t.delay[rows]), float)
            net.connect(t.source, post, FromList(np.stack([cols, rows], axis=1).astype(np.int64)), weight=weight,
                        receptor="auto", delay=delay, name=pname)
            if t.delay_node:
                self.report.delay_nodes[pname] = t.delay_node
            count += len(w)
        return count


def import_nir(graph_or_path, time_scale: float = 1.0, dt: float | None = None, *, v_scale: float | str | None = None,
               v_offset: float | None = None, cm: float | None = None,
               hardware: HardwareConfig | str = "bss2") -> tuple[Network, ImportReport]:
    """A NIR graph (a :class:`nir.NIRGraph` or a file path) as a network description, and the
    report of what became what.

    time_scale: biological ms per NIR ms (1 s of NIR time = ``1000 * time_scale`` ms).
    dt: the step (s) of a discrete-time export (``r = tau_mem/dt``, ``w_in = tau_syn/dt``);
    None imports the continuous model the file describes. v_scale / v_offset: mV per NIR
    voltage unit and mV of NIR's 0; ``v_scale='auto'`` (default; a graph written by neuroemu
    carries its own) puts the largest threshold-to-leak distance at 15 mV, or less where the
    graph's potentials would leave the hardware's ranges, with the offset nearest -65 mV. cm:
    membrane capacitance (nF), the unit of the currents. hardware: the
    config whose extremes stand in for what NIR leaves out (see :mod:`.units`).
    """
    file_path = None
    if isinstance(graph_or_path, (str, Path)):
        file_path = str(graph_or_path)
        graph = read_graph(graph_or_path)
        source = str(graph_or_path)
    else:
        graph = graph_or_path
        source = "NIRGraph"
    meta = dict((getattr(graph, "metadata", None) or {}).get("neuroemu", {}) or {})
    if "v_scale" in meta:  # written by neuroemu: exact units of its own, which the metadata's values assume
        given = [k for k, v in (("v_scale", v_scale), ("v_offset", v_offset), ("cm", cm)) if v is not None]
        if given:
            raise NirError(f"{source} was written by neuroemu in its own units (mV, nF, with the split of leak and "
                           f"bias in its metadata): import it without {', '.join(given)}; time_scale and dt still "
                           "apply")
    if v_scale is None:
        v_scale = meta.get("v_scale", "auto")
    auto = isinstance(v_scale, str)
    if auto and v_scale != "auto":
        raise NirError(f"v_scale must be a number (mV per NIR unit) or 'auto', got {v_scale!r}")
    if auto and v_offset is not None:
        raise NirError("v_offset goes with a fixed v_scale; with v_scale='auto' the offset is chosen too")
    conv = Convention(time_scale=float(time_scale), dt=None if dt is None else float(dt),
                      v_scale=15.0 if auto else float(v_scale),
                      v_offset=float(v_offset if v_offset is not None else meta.get("v_offset", -65.0)),
                      cm=float(cm if cm is not None else meta.get("cm", 1.0)))
    hw = hardware if isinstance(hardware, HardwareConfig) else load_hardware(hardware)
    imp = _Importer(graph, conv, hw, source, file_path, auto)
    net = imp.run()
    return net, imp.report


def from_nir(graph_or_path, time_scale: float = 1.0, dt: float | None = None, **options: Any) -> Network:
    """The network description of a NIR graph or file (see :func:`import_nir`)."""
    return import_nir(graph_or_path, time_scale, dt, **options)[0]
