"""Network descriptions as YAML: the same content as the Python API, key for key.

```yaml
name: example
populations:
  input:  {kind: spike_source, size: 2, spike_times: [[1.0, 5.0], [2.0]]}   # ms, one list per neuron
  hidden: {kind: lif, size: 3, params: {tau_mem: 10.0, v_thresh: [-50.0, -51.0, -52.0]}}
projections:
  - {pre: input, post: hidden, connector: all_to_all, weight: 0.5, receptor: exc}
  - {pre: hidden, post: hidden, connector: {fixed_probability: {p: 0.2, seed: 1}},
     weight: {normal: {mean: 0.0, std: 0.3, seed: 2}}}
record: {spikes: [hidden], v: {hidden: [0]}}
```
Connectors: ``all_to_all`` / ``one_to_one`` / ``{all_to_all: {allow_self: false}}`` /
``{fixed_probability: {p, seed, allow_self}}`` / ``{from_list: [[pre, post], ...]}`` /
``{from_matrix: [[w, ...], ...]}``. Weights: number, list (per synapse), nested list
(n_pre x n_post matrix), ``{normal: {mean, std, seed}}`` or ``{uniform: {low, high, seed}}``.
Spike sources may give ``spike_times_per_trial: [[[t, ...], ...], ...]`` instead.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from neuroemu.errors import NetworkError, NeuroemuError
from neuroemu.network.model import (
    LIF_DEFAULTS,
    AllToAll,
    FixedProbability,
    FromList,
    FromMatrix,
    LIFPopulation,
    Network,
    OneToOne,
    Projection,
    RandomWeights,
    Record,
    SpikeSourcePopulation,
)
from neuroemu.spikes import SpikeTrains
from neuroemu.yaml_schema import read_yaml_mapping


class _Ctx:
    """Names the place in the file for error messages."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, where: str, msg: str) -> NetworkError:
        return NetworkError(f"{self.source}: {where}: {msg}")


def _keys(ctx: _Ctx, where: str, data: Any, allowed: set[str], required: set[str] = frozenset()) -> dict:
    if not isinstance(data, dict):
        raise ctx.fail(where, f"expected a mapping, got {data!r}")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ctx.fail(where, f"unknown key '{unknown[0]}' (allowed: {', '.join(sorted(allowed))})")
    missing = sorted(required - set(data))
    if missing:
        raise ctx.fail(where, f"missing key '{missing[0]}'")
    return data


def _number_array(ctx: _Ctx, where: str, value: Any) -> np.ndarray | float:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ctx.fail(where, f"expected a number or a (nested) list of numbers, got {value!r}") from None
    return float(arr) if arr.ndim == 0 else arr


def _connector(ctx: _Ctx, where: str, data: Any):
    if data is None or data == "all_to_all":
        return AllToAll()
    if data == "one_to_one":
        return OneToOne()
    if isinstance(data, dict) and len(data) == 1:
        (kind, args), = data.items()
        w = f"{where}.{kind}"
        if kind == "all_to_all":
            args = _keys(ctx, w, args or {}, {"allow_self"})
            return AllToAll(bool(args.get("allow_self", True)))
        if kind == "one_to_one":
            return OneToOne()
        if kind == "fixed_probability":
            args = _keys(ctx, w, args, {"p", "seed", "allow_self"}, {"p", "seed"})
            if not isinstance(args["seed"], int):
                raise ctx.fail(w, f"seed must be an integer, got {args['seed']!r}")
            return FixedProbability(float(args["p"]), int(args["seed"]), bool(args.get("allow_self", True)))
        if kind == "from_list":
            pairs = np.asarray(args)
            if pairs.ndim != 2 or pairs.shape[1] != 2 or not np.issubdtype(pairs.dtype, np.integer):
                raise ctx.fail(w, "expected a list of [pre, post] integer pairs")
            return FromList(pairs.astype(np.int64))
        if kind == "from_matrix":
            return FromMatrix(np.asarray(_number_array(ctx, w, args), dtype=np.float64))
    raise ctx.fail(
        where,
        f"unknown connector {data!r} (all_to_all, one_to_one, fixed_probability, from_list, from_matrix)",
    )


def _weight(ctx: _Ctx, where: str, data: Any):
    if data is None:
        return None
    if isinstance(data, dict):
        if len(data) != 1:
            raise ctx.fail(where, "expected {normal: {...}} or {uniform: {...}}")
        (kind, args), = data.items()
        w = f"{where}.{kind}"
        if kind == "normal":
            args = _keys(ctx, w, args, {"mean", "std", "seed"}, {"mean", "std", "seed"})
            return RandomWeights("normal", float(args["mean"]), float(args["std"]), int(args["seed"]))
        if kind == "uniform":
            args = _keys(ctx, w, args, {"low", "high", "seed"}, {"low", "high", "seed"})
            return RandomWeights("uniform", float(args["low"]), float(args["high"]), int(args["seed"]))
        raise ctx.fail(where, f"unknown weight distribution '{kind}' (normal, uniform)")
    return _number_array(ctx, where, data)


def network_from_dict(data: dict, source: str = "network") -> Network:
    """Build a :class:`Network` from a parsed YAML mapping; errors name the file and the place."""
    ctx = _Ctx(source)
    data = _keys(ctx, "top level", data, {"name", "populations", "projections", "record"}, {"populations"})
    net = Network(name=str(data.get("name", Path(source).stem)))
    pops = data["populations"]
    if not isinstance(pops, dict) or not pops:
        raise ctx.fail("populations", "expected a non-empty mapping of name -> population")
    for name, spec in pops.items():
        where = f"populations.{name}"
        spec = _keys(ctx, where, spec, {"kind", "size", "params", "spike_times", "spike_times_per_trial"},
                     {"kind", "size"})
        size = spec["size"]
        if isinstance(size, bool) or not isinstance(size, int):
            raise ctx.fail(where, f"size must be an integer, got {size!r}")
        if spec["kind"] == "lif":
            params = _keys(ctx, f"{where}.params", spec.get("params") or {}, set(LIF_DEFAULTS))
            values = {k: _number_array(ctx, f"{where}.params.{k}", v) for k, v in params.items()}
            net._add(LIFPopulation(str(name), size, values))
        elif spec["kind"] == "spike_source":
            trains = None
            try:
                if "spike_times" in spec:
                    trains = SpikeTrains.from_lists([np.atleast_1d(np.asarray(t, float)) for t in spec["spike_times"]],
                                                    n_neurons=size)
                elif "spike_times_per_trial" in spec:
                    trains = SpikeTrains.from_trials(
                        [[np.atleast_1d(np.asarray(t, float)) for t in trial]
                         for trial in spec["spike_times_per_trial"]],
                        n_neurons=size,
                    )
            except (TypeError, ValueError) as exc:
                raise ctx.fail(where, f"spike times must be lists of numbers (ms): {exc}") from None
            except NeuroemuError as exc:  # SpikeTrains validation
                raise ctx.fail(where, str(exc)) from None
            net._add(SpikeSourcePopulation(str(name), size, trains))
        else:
            raise ctx.fail(where, f"unknown kind {spec['kind']!r} (lif, spike_source)")
    projs = data.get("projections") or []
    if not isinstance(projs, list):
        raise ctx.fail("projections", "expected a list")
    for i, spec in enumerate(projs):
        where = f"projections[{i}]"
        spec = _keys(ctx, where, spec, {"pre", "post", "connector", "weight", "receptor", "delay", "name"},
                     {"pre", "post"})
        receptor = spec.get("receptor", "auto")
        if receptor not in ("exc", "inh", "auto"):
            raise ctx.fail(where, f"receptor must be exc, inh or auto, got {receptor!r}")
        delay = spec.get("delay")
        if isinstance(delay, list):
            delay = _number_array(ctx, f"{where}.delay", delay)
        elif delay is not None and (isinstance(delay, bool) or not isinstance(delay, (int, float))):
            raise ctx.fail(where, f"delay must be a number (ms), a list (one per synapse) or null, got {delay!r}")
        net.projections.append(
            Projection(
                pre=str(spec["pre"]), post=str(spec["post"]),
                connector=_connector(ctx, f"{where}.connector", spec.get("connector")),
                weight=_weight(ctx, f"{where}.weight", spec.get("weight")),
                receptor=receptor, delay=None if delay is None else (float(delay) if np.ndim(delay) == 0 else delay),
                name=str(spec.get("name", "")),
            )
        )
    rec = _keys(ctx, "record", data.get("record") or {}, {"spikes", "v"})
    spikes = rec.get("spikes")
    if spikes is not None and (not isinstance(spikes, list) or not all(isinstance(s, str) for s in spikes)):
        raise ctx.fail("record.spikes", "expected a list of population names")
    v = rec.get("v") or {}
    if not isinstance(v, dict) or not all(isinstance(ix, list) for ix in v.values()):
        raise ctx.fail("record.v", "expected a mapping population -> list of neuron indices")
    net.record = Record(spikes=spikes, v={str(k): [int(i) for i in ix] for k, ix in v.items()})
    return net


def load_network(path: str | Path) -> Network:
    """Read a network description from a YAML file."""
    from neuroemu.errors import ConfigError

    try:
        data = read_yaml_mapping(path)
    except ConfigError as exc:
        raise NetworkError(str(exc)) from None
    return network_from_dict(data, source=str(path))


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def network_to_dict(net: Network) -> dict:
    """The YAML mapping of ``net`` (inverse of :func:`network_from_dict`)."""
    pops: dict[str, Any] = {}
    for p in net.populations:
        if isinstance(p, LIFPopulation):
            pops[p.name] = {"kind": "lif", "size": p.size, "params": {k: _plain(v) for k, v in p.params.items()}}
        else:
            entry: dict[str, Any] = {"kind": "spike_source", "size": p.size}
            if p.spike_times is not None:
                st = p.spike_times
                if st.n_trials == 1:
                    entry["spike_times"] = [t.tolist() for t in st.per_neuron(0)]
                else:
                    entry["spike_times_per_trial"] = [[t.tolist() for t in st.per_neuron(k)]
                                                      for k in range(st.n_trials)]
            pops[p.name] = entry
    projs = []
    for pr in net.projections:
        c = pr.connector
        if isinstance(c, AllToAll):
            conn: Any = "all_to_all" if c.allow_self else {"all_to_all": {"allow_self": False}}
        elif isinstance(c, OneToOne):
            conn = "one_to_one"
        elif isinstance(c, FixedProbability):
            conn = {"fixed_probability": {"p": c.p, "seed": c.seed, "allow_self": c.allow_self}}
        elif isinstance(c, FromList):
            conn = {"from_list": np.asarray(c.pairs).tolist()}
        else:
            conn = {"from_matrix": np.asarray(c.weights).tolist()}
        w = pr.weight
        if isinstance(w, RandomWeights):
            w = {"normal": {"mean": w.a, "std": w.b, "seed": w.seed}} if w.distribution == "normal" else {
                "uniform": {"low": w.a, "high": w.b, "seed": w.seed}}
        entry = {"name": pr.name, "pre": pr.pre, "post": pr.post, "connector": conn, "receptor": pr.receptor}
        if w is not None:
            entry["weight"] = _plain(w)
        if pr.delay is not None:
            entry["delay"] = _plain(pr.delay)
        projs.append(entry)
    out: dict[str, Any] = {"name": net.name, "populations": pops, "projections": projs}
    rec: dict[str, Any] = {}
    if net.record.spikes is not None:
        rec["spikes"] = list(net.record.spikes)
    if net.record.v:
        rec["v"] = {k: list(v) for k, v in net.record.v.items()}
    if rec:
        out["record"] = rec
    return out


def save_network_yaml(net: Network, path: str | Path) -> None:
    """Write ``net`` as YAML (atomically)."""
    from neuroemu.hdf5.atomic import atomic_path

    with atomic_path(path) as tmp:
        Path(tmp).write_text(yaml.safe_dump(network_to_dict(net), sort_keys=False))
