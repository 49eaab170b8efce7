"""The place pass alone: every synapse gets exactly one (row, column) slot of its neuron,
rows have one receptor, labels fit the drivers, merging and resource errors."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neuroemu.compiler import place, validate
from neuroemu.errors import ResourceError
from neuroemu.hardware import load_hardware
from neuroemu.network import FixedProbability, Network, RandomWeights, load_network

from conftest import EXAMPLES

SMALL = load_hardware("small")
BSS2 = load_hardware("bss2")


def check_placement(net, pl, hw):
    """Invariants every placement must satisfy."""
    syn = net.synapses
    cph = hw.neurons.circuits_per_hemisphere
    R = hw.synapses.rows_per_hemisphere
    lif = net.lif_index()[syn.post]
    # neurons: inside a hemisphere, no circuit shared
    assert np.all(pl.column >= 0) and np.all(pl.column + pl.size <= cph)
    owner = np.full(hw.neurons.circuits, -1)
    for i in range(net.n_lif):
        c = pl.circuits_of(i, cph)
        assert np.all(owner[c] == -1)
        owner[c] = i
    # synapses: placed once, on a column of their neuron, on a row of its hemisphere
    assert np.all(pl.syn_row >= 0) and np.all(pl.syn_row < R)
    assert np.all(pl.syn_column >= pl.column[lif]) and np.all(pl.syn_column < pl.column[lif] + pl.size[lif])
    slot = (pl.hemisphere[lif].astype(np.int64) * R + pl.syn_row) * cph + pl.syn_column
    assert len(np.unique(slot)) == len(slot), "two synapses on one slot"
    # row receptor = synapse receptor (the sign comes from the row)
    assert np.all(pl.row_receptor[pl.hemisphere[lif], pl.syn_row] == syn.receptor)
    # labels: route (pre, hemisphere, driver) -> label exists and matches; labels unique per driver
    assert np.all((pl.syn_label >= 0) & (pl.syn_label < hw.synapses.labels_per_driver))
    routes = {(n, h, d): l for n, h, d, l in zip(pl.route_node, pl.route_hemisphere, pl.route_driver, pl.route_label)}
    drv = pl.syn_row // hw.synapses.rows_per_driver
    for s in range(len(syn)):
        assert routes[(syn.pre[s], pl.hemisphere[lif[s]], drv[s])] == pl.syn_label[s]
    keys = np.stack([pl.route_hemisphere, pl.route_driver, pl.route_label], 1)
    assert len(np.unique(keys, axis=0)) == len(keys), "label used twice on a driver"


@st.composite
def random_networks(draw):
    net = Network("random")
    n_src = draw(st.integers(1, 12))
    net.add_spike_source("src", n_src)
    sizes = draw(st.lists(st.integers(1, 8), min_size=1, max_size=3))
    for i, n in enumerate(sizes):
        net.add_lif(f"p{i}", n)
    names = ["src"] + [f"p{i}" for i in range(len(sizes))]
    for _ in range(draw(st.integers(1, 4))):
        pre = draw(st.sampled_from(names))
        post = draw(st.sampled_from(names[1:]))
        p = draw(st.floats(0.1, 1.0))
        seed = draw(st.integers(0, 1000))
        net.connect(pre, post, FixedProbability(p, seed), weight=None)
        net.projections[-1].weight = RandomWeights("normal", 0.0, 0.5, seed)
    return net


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_networks())
def test_random_networks_respect_every_constraint(net):
    logical = validate(net)
    try:
        pl = place(logical, SMALL)
    except ResourceError:
        return  # refusing is fine; a wrong placement is not
    check_placement(logical, pl, SMALL)


def test_deterministic():
    net = validate(load_network(EXAMPLES / "yinyang.yaml"))
    a, b = place(net, BSS2), place(net, BSS2)
    for f in vars(a):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))


def test_full_chip_uses_every_synapse():
    net = validate(load_network(EXAMPLES / "full_chip.yaml"))
    pl = place(net, BSS2)
    check_placement(net, pl, BSS2)
    assert len(net.synapses) == 131072
    assert np.all(pl.row_receptor >= 0)  # all 2 x 256 rows in use
    assert np.all(pl.size == 1)


def test_signed_fan_in_merges_circuits_like_bss2():
    """256 signed inputs need an exc and an inh row each: 2 circuits per neuron, 256 x 2 = 512."""
    net = validate(load_network(EXAMPLES / "ffn_256_246_10.yaml"))
    pl = place(net, BSS2)
    check_placement(net, pl, BSS2)
    assert np.all(pl.size == 2) and pl.size.sum() == 512


def test_exc_and_inh_from_one_source_use_separate_rows():
    net = Network()
    net.add_spike_source("s", 1)
    net.add_lif("n", 2)
    net.connect("s", "n", weight=np.array([[0.5, -0.5]]))
    lg = validate(net)
    pl = place(lg, SMALL)
    assert pl.syn_row[0] != pl.syn_row[1]
    assert pl.row_receptor[0, pl.syn_row[0]] == 0 and pl.row_receptor[0, pl.syn_row[1]] == 1


def test_large_fan_in_merges():
    net = Network()
    net.add_spike_source("s", 70)
    net.add_lif("n", 2)
    net.connect("s", "n", weight=0.2, receptor="exc")
    lg = validate(net)
    pl = place(lg, SMALL)  # 70 inputs > 32 rows: 3 circuits per neuron
    check_placement(lg, pl, SMALL)
    assert np.all(pl.size == 3)


def test_too_many_neurons_names_resource_need_and_limit():
    with pytest.raises(ResourceError, match=r"population 'hidden' needs 600 neuron circuits; bss2 has 512"):
        place(validate(load_network(EXAMPLES / "too_big.yaml")), BSS2)
    net = Network()
    net.add_lif("a", 20)
    net.add_lif("b", 20)
    with pytest.raises(ResourceError, match=r"population 'b' needs 20 neuron circuits; with the populations before it "
                                            r"the network needs 40; small has 32"):
        place(validate(net), SMALL)


def test_fan_in_beyond_merging_is_refused():
    net = Network()
    net.add_spike_source("s", 200)
    net.add_lif("n", 1)
    net.connect("s", "n", weight=0.1, receptor="exc")
    with pytest.raises(ResourceError,
                       match=r"200 input synapses.*32 synapse rows per circuit.*at most 4 circuits \(128 inputs\)"):
        place(validate(net), SMALL)


def test_rows_exhausted_is_refused():
    # one neuron, 128 inputs = 4 merged circuits x 32 rows; 65 exc + 63 inh lines need 17 + 16 rows
    net = Network()
    net.add_spike_source("s", 128)
    net.add_lif("n", 1)
    net.connect("s", "n", weight=np.where(np.arange(128) < 65, 0.3, -0.3)[:, None])
    with pytest.raises(ResourceError, match=r"hemisphere 0: no synapse row left for the (exc|inh) inputs from 's' "
                                            r"neuron \d+ onto 'n': small has 32 rows"):
        place(validate(net), SMALL)
    # 64 + 64 fits exactly
    net.projections[0].weight = np.where(np.arange(128) < 64, 0.3, -0.3)[:, None]
    lg = validate(net)
    check_placement(lg, place(lg, SMALL), SMALL)


def test_dense_random_network_splits_lines_instead_of_merging():
    """A balanced network of 500 neurons with 16 % connectivity (Vogels-Abbott's in-degree): no
    row has all of a source's ~40 targets of a hemisphere free late in the placement, and
    first-fit whole lines would give every row to the excitatory sources. Split lines (a
    source on several rows, as the chip's routing allows) place it on 500 single circuits."""
    net = Network("balanced")
    net.add_spike_source("ext", 40)
    net.add_lif("exc", 400)
    net.add_lif("inh", 100)
    for k, (pre, post, w, rec) in enumerate([("exc", "exc", 0.1, "exc"), ("exc", "inh", 0.1, "exc"),
                                             ("inh", "exc", -0.1, "inh"), ("inh", "inh", -0.1, "inh"),
                                             ("ext", "exc", 0.1, "exc")]):
        net.connect(pre, post, FixedProbability(0.16 if pre != "ext" else 0.1, k), weight=w, receptor=rec)
    lg = validate(net)
    pl = place(lg, BSS2)
    check_placement(lg, pl, BSS2)
    assert np.all(pl.size == 1)
    lif = lg.lif_index()[lg.synapses.post]
    rows_per_line = {}
    for pre, h, rec, row in zip(lg.synapses.pre, pl.hemisphere[lif], lg.synapses.receptor, pl.syn_row):
        rows_per_line.setdefault((pre, h, rec), set()).add(row)
    assert max(len(r) for r in rows_per_line.values()) > 1  # some lines were split
    for h in range(2):  # both receptors got rows
        assert {0, 1} <= set(pl.row_receptor[h].tolist())


def test_networks_that_fit_whole_lines_keep_one_row_per_line():
    lg = validate(load_network(EXAMPLES / "yinyang.yaml"))
    pl = place(lg, BSS2)
    lif = lg.lif_index()[lg.synapses.post]
    keys = np.stack([lg.synapses.pre, pl.hemisphere[lif], lg.synapses.receptor, pl.syn_row], axis=1)
    lines = np.unique(keys[:, :3], axis=0)
    assert len(np.unique(keys, axis=0)) == len(lines)
