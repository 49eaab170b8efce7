"""Network descriptions: Python API and YAML hold the same content; bad descriptions are
refused with a message that says where."""
from __future__ import annotations

import numpy as np
import pytest
import yaml

from neuroemu.compiler import validate
from neuroemu.errors import NetworkError
from neuroemu.network import (
    FixedProbability,
    FromList,
    FromMatrix,
    Network,
    RandomWeights,
    load_network,
    network_from_dict,
    network_to_dict,
    save_network_yaml,
)

from conftest import EXAMPLES, feedforward


def _same_logical(a, b):
    la, lb = validate(a), validate(b)
    for f in ("pre", "post", "weight", "receptor", "delay", "projection"):
        np.testing.assert_array_equal(getattr(la.synapses, f), getattr(lb.synapses, f))
    for f in vars(la.params):
        np.testing.assert_array_equal(getattr(la.params, f), getattr(lb.params, f))
    assert [p.name for p in la.populations] == [p.name for p in lb.populations]


def test_api_and_yaml_express_the_same(tmp_path):
    net = Network("demo")
    net.add_spike_source("in", 3, [[1.0, 4.0], [2.0], []])
    net.add_lif("a", 4, tau_mem=[10.0, 11.0, 12.0, 13.0], v_thresh=-52.0)
    net.add_lif("b", 2)
    net.connect("in", "a", FixedProbability(0.5, seed=3), weight=RandomWeights("normal", 0.0, 0.4, seed=4))
    net.connect("a", "b", FromList(np.array([[0, 0], [3, 1], [3, 1]])), weight=[0.1, -0.2, 0.3])
    net.connect("a", "a", FromMatrix(np.eye(4) * 0.2), receptor="exc")
    net.connect("b", "b", "one_to_one", weight=-0.1, receptor="inh")
    net.record.v = {"a": [0, 2]}
    path = tmp_path / "net.yaml"
    save_network_yaml(net, path)
    back = load_network(path)
    _same_logical(net, back)
    assert network_to_dict(back) == network_to_dict(net)
    assert back.record.v == {"a": [0, 2]}


def test_examples_load():
    """The example files load and validate to the sizes they describe (population: kind, size; synapses)."""
    expect = {
        "yinyang": ({"input": ("spike_source", 5), "hidden": ("lif", 120), "output": ("lif", 3)}, 960),
        "full_chip": ({"exc_sources": ("spike_source", 205), "inh_sources": ("spike_source", 51),
                       "neurons": ("lif", 512)}, 512 * 256),
        "ffn_256_246_10": ({"input": ("spike_source", 256), "hidden": ("lif", 246), "output": ("lif", 10)},
                           256 * 246 + 246 * 10),
        "too_big": ({"input": ("spike_source", 10), "hidden": ("lif", 600)}, 6000),
    }
    for name, (pops, n_synapses) in expect.items():
        logical = validate(load_network(EXAMPLES / f"{name}.yaml"))
        assert {p.name: (p.kind, p.size) for p in logical.populations} == pops, name
        assert len(logical.synapses.weight) == n_synapses, name


def test_connectors_expand_deterministically():
    a = validate(feedforward(seed=1))
    b = validate(feedforward(seed=1))
    np.testing.assert_array_equal(a.synapses.weight, b.synapses.weight)
    net = Network("p")
    net.add_spike_source("s", 50)
    net.add_lif("n", 40)
    net.connect("s", "n", FixedProbability(0.2, seed=9), weight=0.1)
    la = validate(net)
    assert 0.15 < len(la.synapses) / 2000 < 0.25
    np.testing.assert_array_equal(validate(net).synapses.pre, la.synapses.pre)
    # allow_self=False drops the diagonal
    net2 = Network("r")
    net2.add_lif("n", 5)
    net2.connect("n", "n", "all_to_all", weight=0.1)
    assert len(validate(net2).synapses) == 25
    net2.projections[0].connector = type(net2.projections[0].connector)(allow_self=False)
    assert len(validate(net2).synapses) == 20


def test_receptor_auto_follows_sign():
    net = feedforward(seed=2)
    la = validate(net)
    assert np.all((la.synapses.weight < 0) == (la.synapses.receptor == 1))


def _base():
    return {
        "name": "bad",
        "populations": {"in": {"kind": "spike_source", "size": 2}, "n": {"kind": "lif", "size": 3, "params": {}}},
        "projections": [{"pre": "in", "post": "n", "weight": 0.5, "receptor": "exc"}],
    }


@pytest.mark.parametrize(
    "mutate, words",
    [
        (lambda d: d["populations"]["n"]["params"].update(tau_mem=-5.0),
         ["population 'n'", "tau_mem must be positive", "-5.0"]),
        (lambda d: d["populations"]["n"]["params"].update(tau_syn_exc=0.0),
         ["population 'n'", "tau_syn_exc must be positive"]),
        (lambda d: d["populations"]["n"]["params"].update(v_thresh=float("nan")),
         ["population 'n'", "v_thresh is nan"]),
        (lambda d: d["populations"]["n"]["params"].update(tau_mem=[10.0, 10.0]),
         ["population 'n'", "tau_mem", "3 values"]),
        (lambda d: d["populations"]["n"]["params"].update(v_reset=-40.0), ["v_reset", "below v_thresh"]),
        (lambda d: d["projections"][0].update(post="hiden"),
         ["projection 'in->hiden'", "unknown post population 'hiden'"]),
        (lambda d: d["projections"][0].update(weight=[[0.1, 0.2], [0.3, 0.4]]),
         ["projection 'in->n'", "wrong shape (2, 2)", "(2, 3)"]),
        (lambda d: d["projections"][0].update(weight=float("nan")), ["projection 'in->n'", "weight nan"]),
        (lambda d: d["projections"][0].update(weight=-0.5), ["projection 'in->n'", "exc needs weights >= 0"]),
        (lambda d: d["projections"][0].update(post="in"), ["spike source"]),
        (lambda d: d["projections"][0].update(weight=None), ["no weight"]),
        (lambda d: d["projections"][0].update(connector={"fixed_probability": {"p": 1.5, "seed": 1}}),
         ["probability", "[0, 1]"]),
        (lambda d: d["projections"][0].update(connector="one_to_one"), ["one_to_one needs equal sizes"]),
        (lambda d: d["projections"][0].update(connector={"from_list": [[0, 5]]}), ["neuron 5 of 'n'"]),
        (lambda d: d["projections"][0].update(delay=-1.0), ["delay"]),
        (lambda d: d["populations"]["n"].update(size=0), ["size must be a positive integer"]),
        (lambda d: d["populations"]["n"].update(kind="izhikevich"), ["populations.n", "unknown kind"]),
        (lambda d: d["populations"]["n"]["params"].update(tau_m=10.0), ["populations.n.params", "unknown key 'tau_m'"]),
        (lambda d: d.update(record={"spikes": ["nope"]}), ["record.spikes", "unknown population 'nope'"]),
        (lambda d: d.update(record={"v": {"n": [7]}}), ["record.v", "neuron 7"]),
    ],
)
def test_invalid_descriptions_say_where(tmp_path, mutate, words):
    d = _base()
    mutate(d)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(d))
    with pytest.raises(NetworkError) as exc:
        validate(load_network(path))
    for w in words:
        assert w in str(exc.value), str(exc.value)


def test_duplicate_population_refused():
    net = Network()
    net.add_lif("a", 1)
    with pytest.raises(NetworkError, match="'a' is defined twice"):
        net.add_lif("a", 2)


def test_from_dict_roundtrip_of_examples():
    for name in ("yinyang", "ffn_256_246_10"):
        net = load_network(EXAMPLES / f"{name}.yaml")
        again = network_from_dict(network_to_dict(net), source="again")
        _same_logical(net, again)
        assert network_to_dict(again) == network_to_dict(net)
