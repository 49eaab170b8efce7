"""Pass 1, validate: check a network description and expand its connectors.

Produces the :class:`~neuroemu.ir.LogicalNetwork` (biological units, explicit synapse lists).
Every refusal names the population or projection and, where it helps, the neuron or synapse.
Needs no hardware config: what a chip can realise is checked by the later passes.
"""
from __future__ import annotations

import numpy as np

from neuroemu.errors import NetworkError
from neuroemu.ir.model import EXC, INH, IRPopulation, IRProjection, LogicalNetwork, NeuronParams, Synapses
from neuroemu.models.lif import NEURON_PARAMETERS
from neuroemu.network.model import (
    LIF_DEFAULTS,
    LIF_UNITS,
    AllToAll,
    FixedProbability,
    FromList,
    FromMatrix,
    LIFPopulation,
    Network,
    OneToOne,
    Projection,
    RandomWeights,
    SpikeSourcePopulation,
)

_BOUND = {p.name: p.bound for p in NEURON_PARAMETERS}


def check_population(pop) -> None:
    """Refuse a population with a bad name, size or parameter (NetworkError naming it)."""
    if not isinstance(pop.name, str) or not pop.name:
        raise NetworkError("a population has an empty name")
    if isinstance(pop.size, bool) or not isinstance(pop.size, (int, np.integer)) or pop.size < 1:
        raise NetworkError(f"population '{pop.name}': size must be a positive integer, got {pop.size!r}")
    if isinstance(pop, SpikeSourcePopulation):
        if pop.spike_times is not None and pop.spike_times.n_neurons != pop.size:
            raise NetworkError(
                f"population '{pop.name}': spike times given for {pop.spike_times.n_neurons} sources, size is "
                f"{pop.size}"
            )
        return
    unknown = sorted(set(pop.params) - set(LIF_DEFAULTS))
    if unknown:
        raise NetworkError(f"population '{pop.name}': unknown parameter '{unknown[0]}' (known: "
                           f"{', '.join(LIF_DEFAULTS)})")
    for key in LIF_DEFAULTS:
        raw = np.asarray(pop.params.get(key, LIF_DEFAULTS[key]), dtype=np.float64)
        if raw.ndim not in (0, 1) or (raw.ndim == 1 and raw.shape[0] != pop.size):
            raise NetworkError(
                f"population '{pop.name}': parameter {key} must be a scalar or {pop.size} values, got shape {raw.shape}"
            )
        values = pop.param(key)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise NetworkError(f"population '{pop.name}': parameter {key} is {values[bad[0]]} at neuron {bad[0]}")
        unit = LIF_UNITS[key]
        if _BOUND[key] == "positive":
            bad = np.flatnonzero(values <= 0)
            if bad.size:
                raise NetworkError(
                    f"population '{pop.name}': {key} must be positive, got {values[bad[0]]} {unit} at neuron {bad[0]}"
                )
        elif _BOUND[key] == "non-negative":
            bad = np.flatnonzero(values < 0)
            if bad.size:
                raise NetworkError(
                    f"population '{pop.name}': {key} must be >= 0, got {values[bad[0]]} {unit} at neuron {bad[0]}"
                )
    reset, thresh = pop.param("v_reset"), pop.param("v_thresh")
    bad = np.flatnonzero(reset >= thresh)
    if bad.size:
        raise NetworkError(
            f"population '{pop.name}': v_reset ({reset[bad[0]]} mV) must be below v_thresh ({thresh[bad[0]]} mV) at "
            f"neuron {bad[0]}"
        )


def _expand_connector(proj: Projection, name: str, n_pre: int, n_post: int,
                      same: bool) -> tuple[np.ndarray, np.ndarray]:
    c = proj.connector
    where = f"projection '{name}'"
    if isinstance(c, AllToAll):
        pre, post = np.meshgrid(np.arange(n_pre), np.arange(n_post), indexing="ij")
        pre, post = pre.ravel(), post.ravel()
        if same and not c.allow_self:
            keep = pre != post
            pre, post = pre[keep], post[keep]
        return pre, post
    if isinstance(c, OneToOne):
        if n_pre != n_post:
            raise NetworkError(f"{where}: one_to_one needs equal sizes, got {n_pre} -> {n_post}")
        return np.arange(n_pre), np.arange(n_post)
    if isinstance(c, FixedProbability):
        if not 0.0 <= c.p <= 1.0 or not np.isfinite(c.p):
            raise NetworkError(f"{where}: connection probability must be in [0, 1], got {c.p}")
        mask = np.random.default_rng(c.seed).random((n_pre, n_post)) < c.p
        if same and not c.allow_self:
            np.fill_diagonal(mask, False)
        pre, post = np.nonzero(mask)
        return pre, post
    if isinstance(c, FromList):
        pairs = np.asarray(c.pairs)
        if pairs.size == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        if pairs.ndim != 2 or pairs.shape[1] != 2:
            raise NetworkError(f"{where}: from_list needs (n, 2) index pairs, got shape {pairs.shape}")
        pre, post = pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)
        for arr, n, what in ((pre, n_pre, proj.pre), (post, n_post, proj.post)):
            bad = np.flatnonzero((arr < 0) | (arr >= n))
            if bad.size:
                raise NetworkError(f"{where}: pair {bad[0]} refers to neuron {arr[bad[0]]} of '{what}', which has {n}")
        return pre, post
    if isinstance(c, FromMatrix):
        w = np.asarray(c.weights, dtype=np.float64)
        if w.shape != (n_pre, n_post):
            raise NetworkError(f"{where}: weight matrix must have shape ({n_pre}, {n_post}), got {w.shape}")
        if proj.weight is not None:
            raise NetworkError(f"{where}: from_matrix holds the weights; leave 'weight' unset")
        pre, post = np.nonzero(w)
        return pre, post
    raise NetworkError(f"{where}: unknown connector {c!r}")


def _weights(proj: Projection, name: str, pre: np.ndarray, post: np.ndarray, n_pre: int, n_post: int) -> np.ndarray:
    where = f"projection '{name}'"
    n = len(pre)
    if isinstance(proj.connector, FromMatrix):
        return np.asarray(proj.connector.weights, dtype=np.float64)[pre, post]
    w = proj.weight
    if w is None:
        raise NetworkError(f"{where}: no weight given")
    if isinstance(w, RandomWeights):
        rng = np.random.default_rng(w.seed)
        if w.distribution == "normal":
            if w.b < 0:
                raise NetworkError(f"{where}: normal weight std must be >= 0, got {w.b}")
            values = rng.normal(w.a, w.b, size=n)
        else:
            if w.b < w.a:
                raise NetworkError(f"{where}: uniform weights need low <= high, got [{w.a}, {w.b}]")
            values = rng.uniform(w.a, w.b, size=n)
        if proj.receptor == "exc":
            values = np.abs(values)
        elif proj.receptor == "inh":
            values = -np.abs(values)
        return values
    arr = np.asarray(w, dtype=np.float64)
    if arr.ndim == 0:
        return np.full(n, float(arr))
    if arr.ndim == 1 and arr.shape[0] == n:
        return arr.copy()
    if arr.shape == (n_pre, n_post):
        return arr[pre, post]
    raise NetworkError(
        f"{where}: weights of the wrong shape {arr.shape}: expected a scalar, {n} values (one per synapse) "
        f"or a ({n_pre}, {n_post}) matrix"
    )


def validate(net: Network) -> LogicalNetwork:
    """Check ``net`` and expand it into a :class:`LogicalNetwork`. Raises NetworkError."""
    if not net.populations:
        raise NetworkError("the network has no populations")
    names = [p.name for p in net.populations]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise NetworkError(f"population '{dup[0]}' is defined twice")
    for pop in net.populations:
        check_population(pop)

    populations: list[IRPopulation] = []
    first = lif_first = 0
    for pop in net.populations:
        is_lif = isinstance(pop, LIFPopulation)
        populations.append(IRPopulation(pop.name, pop.kind, first, int(pop.size), lif_first if is_lif else -1))
        first += pop.size
        lif_first += pop.size if is_lif else 0
    by_name = {p.name: (p, ip) for p, ip in zip(net.populations, populations)}
    lif_pops = [p for p in net.populations if isinstance(p, LIFPopulation)]
    if not lif_pops:
        raise NetworkError("the network has no LIF population (only spike sources)")
    params = NeuronParams(**{k: np.concatenate([p.param(k) for p in lif_pops]) for k in LIF_DEFAULTS})
    lif_nodes = np.concatenate([ip.nodes for p, ip in by_name.values()
                                if isinstance(p, LIFPopulation)]).astype(np.int32)

    # projections
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("pre", "post", "weight", "receptor", "delay", "projection")}
    ir_projs: list[IRProjection] = []
    seen_names: dict[str, int] = {}
    n_syn = 0
    for i, proj in enumerate(net.projections):
        name = proj.name or f"{proj.pre}->{proj.post}"
        if name in seen_names:
            seen_names[name] += 1
            name = f"{name}#{seen_names[name]}"
        else:
            seen_names[name] = 1
        where = f"projection '{name}'"
        for role, pname in (("pre", proj.pre), ("post", proj.post)):
            if pname not in by_name:
                raise NetworkError(f"{where}: unknown {role} population '{pname}' (known: {', '.join(names)})")
        pre_pop, pre_ir = by_name[proj.pre]
        post_pop, post_ir = by_name[proj.post]
        if not isinstance(post_pop, LIFPopulation):
            raise NetworkError(f"{where}: post population '{proj.post}' is a spike source; only LIF neurons receive "
                               "synapses")
        if proj.receptor not in ("exc", "inh", "auto"):
            raise NetworkError(f"{where}: receptor must be exc, inh or auto, got {proj.receptor!r}")
        pre, post = _expand_connector(proj, name, pre_ir.size, post_ir.size, proj.pre == proj.post)
        w = _weights(proj, name, pre, post, pre_ir.size, post_ir.size)
        bad = np.flatnonzero(~np.isfinite(w))
        if bad.size:
            raise NetworkError(f"{where}: weight {w[bad[0]]} at synapse {bad[0]} (pre {pre[bad[0]]} -> post "
                               f"{post[bad[0]]})")
        if proj.receptor == "exc":
            bad = np.flatnonzero(w < 0)
            if bad.size:
                raise NetworkError(
                    f"{where}: receptor exc needs weights >= 0, synapse {bad[0]} (pre {pre[bad[0]]} -> post "
                    f"{post[bad[0]]}) has {w[bad[0]]} nA; use receptor inh or auto"
                )
            receptor = np.full(len(w), EXC, np.int8)
        elif proj.receptor == "inh":
            bad = np.flatnonzero(w > 0)
            if bad.size:
                raise NetworkError(
                    f"{where}: receptor inh needs weights <= 0 (as PyNN does for current-based synapses), synapse "
                    f"{bad[0]} (pre {pre[bad[0]]} -> post {post[bad[0]]}) has {w[bad[0]]} nA; use receptor exc or auto"
                )
            receptor = np.full(len(w), INH, np.int8)
        else:
            receptor = np.where(w < 0, INH, EXC).astype(np.int8)
        delay = np.zeros(len(w)) if proj.delay is None else np.asarray(proj.delay, dtype=np.float64)
        if delay.ndim == 0:
            delay = np.full(len(w), float(delay))
        if delay.shape != (len(w),):
            raise NetworkError(f"{where}: delays must be a scalar or {len(w)} values (one per synapse), got shape "
                               f"{delay.shape}")
        bad = np.flatnonzero(~np.isfinite(delay) | (delay < 0))
        if bad.size:
            raise NetworkError(f"{where}: delay must be >= 0 ms, got {delay[bad[0]]} at synapse {bad[0]}")
        parts["pre"].append((pre + pre_ir.first).astype(np.int32))
        parts["post"].append((post + post_ir.first).astype(np.int32))
        parts["weight"].append(w.astype(np.float64))
        parts["receptor"].append(receptor)
        parts["delay"].append(delay)
        parts["projection"].append(np.full(len(w), i, np.int32))
        ir_projs.append(IRProjection(name, proj.pre, proj.post, proj.receptor, n_syn, len(w)))
        n_syn += len(w)
    dtypes = {"pre": np.int32, "post": np.int32, "weight": np.float64, "receptor": np.int8, "delay": np.float64,
              "projection": np.int32}
    synapses = Synapses(**{k: (np.concatenate(v) if v else np.zeros(0, dtypes[k])).astype(dtypes[k])
                           for k, v in parts.items()})

    # recording
    record_spikes = net.record.spikes if net.record.spikes is not None else [p.name for p in lif_pops]
    for name in record_spikes:
        if name not in by_name:
            raise NetworkError(f"record.spikes: unknown population '{name}' (known: {', '.join(names)})")
    record_v: list[int] = []
    for name, idx in net.record.v.items():
        if name not in by_name:
            raise NetworkError(f"record.v: unknown population '{name}' (known: {', '.join(names)})")
        pop, ip = by_name[name]
        if not isinstance(pop, LIFPopulation):
            raise NetworkError(f"record.v: '{name}' is a spike source and has no membrane")
        for j in idx:
            if not 0 <= j < ip.size:
                raise NetworkError(f"record.v: neuron {j} of '{name}' out of range (size {ip.size})")
            record_v.append(ip.first + int(j))
    defaults = {p.name: p.spike_times for p in net.populations
                if isinstance(p, SpikeSourcePopulation) and p.spike_times is not None}
    return LogicalNetwork(
        name=net.name,
        populations=populations,
        params=params,
        lif_nodes=lif_nodes,
        projections=ir_projs,
        synapses=synapses,
        record_spikes=list(record_spikes),
        record_v=np.asarray(record_v, np.int32),
        default_inputs=defaults,
    )
