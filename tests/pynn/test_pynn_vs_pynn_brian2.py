"""The same PyNN script on pyNN.brian2 and on neuroemu.pynn (hardware "ideal").

Connections: PyNN's own connectors fill both backends, so the same script with the same
NumpyRNG seeds must give the same connections, weights and delays. Dynamics: pyNN.brian2
integrates on its time-step grid -- it delivers a spike ``delay + one time step`` after it is
sent and stamps a spike with the start of the step in which the threshold was crossed
(measured: 0.2 ms late at timestep 0.1 ms with the default delay) -- while neuroemu's emulator
delivers at the exact time (the chip's latency, 0 ms) and locates crossings exactly. The
comparison therefore runs at timestep 0.01 ms, where the spike times agreed within 0.010 ms and
the membrane within 0.07 mV (asserted: 0.05 ms and the issue's 0.3 mV; 0.1 ms around each spike
excluded, where one backend has reset and the other not yet), and the spike counts are
identical, also after reset() and set().
"""
from __future__ import annotations

import numpy as np
import pytest
from pyNN.core import IndexBasedExpression
from pyNN.random import NumpyRNG, RandomDistribution

import neuroemu.pynn


@pytest.fixture()
def pynn_brian2():
    """pyNN.brian2 on Brian2's numpy target (no compilation for these small networks)."""
    import brian2
    import pyNN.brian2

    old = brian2.prefs.codegen.target
    brian2.prefs.codegen.target = "numpy"
    yield pyNN.brian2
    brian2.prefs.codegen.target = old


CONNECTORS = {
    "all_to_all": lambda sim, rng: sim.AllToAllConnector(allow_self_connections=False),
    "one_to_one": lambda sim, rng: sim.OneToOneConnector(),
    "fixed_probability": lambda sim, rng: sim.FixedProbabilityConnector(0.3, rng=rng),
    "fixed_number_pre": lambda sim, rng: sim.FixedNumberPreConnector(3, rng=rng),
    "fixed_number_post": lambda sim, rng: sim.FixedNumberPostConnector(2, with_replacement=True, rng=rng),
    "fixed_total_number": lambda sim, rng: sim.FixedTotalNumberConnector(17, rng=rng),
    "from_list": lambda sim, rng: sim.FromListConnector([(0, 1, 0.7, 0.3), (3, 2, 1.1, 0.5), (4, 4, 0.2, 0.2)],
                                                        column_names=["weight", "delay"]),
    "array": lambda sim, rng: sim.ArrayConnector(np.eye(6, dtype=bool)[:, ::-1]),
    "distance_dependent": lambda sim, rng: sim.DistanceDependentProbabilityConnector("exp(-d/3)", rng=rng),
    "index_based": lambda sim, rng: sim.IndexBasedProbabilityConnector(_Closeness(), rng=rng),
}


class _Closeness(IndexBasedExpression):
    """Connection probability falling with |i - j|."""

    def __call__(self, i, j):
        return np.exp(-np.abs(i - j) / 2.0)


def _projection(sim, name):
    rng = NumpyRNG(seed=1234)
    pre = sim.Population(6, sim.SpikeSourceArray(spike_times=[1.0]), label="pre")
    post = sim.Population(6, sim.IF_curr_exp(), label="post")
    syn = sim.StaticSynapse(weight=RandomDistribution("uniform", (0.1, 1.0), rng=rng),
                            delay=RandomDistribution("uniform", (0.2, 1.0), rng=rng))
    return sim.Projection(pre, post, CONNECTORS[name](sim, rng), syn, receptor_type="excitatory")


@pytest.mark.parametrize("name", sorted(CONNECTORS))
def test_same_connections_weights_and_delays_as_pyNN_brian2(pynn_brian2, name):
    pynn_brian2.setup(timestep=0.1)
    ref = sorted(_projection(pynn_brian2, name).get(["weight", "delay"], format="list"))
    neuroemu.pynn.setup(timestep=0.1, hardware="ideal", backend="brian2", mode="ideal")  # delays as set
    got = sorted(_projection(neuroemu.pynn, name).get(["weight", "delay"], format="list"))
    got, ref = np.array(got), np.array(ref)
    assert len(got) == len(ref) > 0
    np.testing.assert_array_equal(got[:, :2], ref[:, :2])
    # pyNN.brian2 gives every synapse of a multapse the last one's values: compare single synapses
    _, first, count = np.unique(ref[:, :2], axis=0, return_index=True, return_counts=True)
    single = np.sort(first[count == 1])
    np.testing.assert_allclose(got[single, 2], ref[single, 2], rtol=1e-14)  # (Brian2 stores amperes)
    # pyNN.brian2 rounds delays to the time step (its Synapses deliver on the grid)
    np.testing.assert_allclose(np.round(got[single, 3], 1), ref[single, 3], atol=1e-9)


def _by_index(counts: dict) -> list[int]:
    return [counts[k] for k in sorted(counts)]


def script(sim, **setup):
    """A small network with every feature the comparison covers; returns per run phase
    (spike trains, v, spike counts)."""
    sim.setup(timestep=0.01, **setup)
    rng = NumpyRNG(seed=42)
    src = sim.Population(5, sim.SpikeSourceArray(spike_times=[[5.0, 12.0], [7.0, 31.0], [9.5, 20.0], [11.0],
                                                               [15.0, 16.0, 33.0]]), label="src")
    cells = sim.Population(4, sim.IF_curr_exp(tau_m=10.0, tau_syn_E=5.0, tau_syn_I=8.0, cm=1.0, v_rest=-65.0,
                                              v_thresh=-52.0, v_reset=-70.0, tau_refrac=2.0,
                                              i_offset=[0.0, 0.2, 0.0, 0.4]), label="cells")
    prj = sim.Projection(src, cells, sim.FixedProbabilityConnector(0.7, rng=rng),
                         sim.StaticSynapse(weight=RandomDistribution("uniform", (1.0, 3.0), rng=rng)),
                         receptor_type="excitatory")
    sim.Projection(cells, cells, sim.FixedProbabilityConnector(0.5, rng=rng), sim.StaticSynapse(weight=-0.5),
                   receptor_type="inhibitory")
    cells.record(["spikes", "v"])
    sim.run(20.0)
    sim.run(25.0)  # continues
    phases = [_by_index(cells.get_spike_counts())]
    sim.reset()
    cells.set(i_offset=[0.3, 0.0, 0.5, 0.0])
    prj.set(weight=2.5)
    sim.run(45.0)
    phases.append(_by_index(cells.get_spike_counts()))
    block = cells.get_data()
    out = [([st.magnitude.copy() for st in seg.spiketrains], np.asarray(seg.filter(name="v")[0]).copy(),
            np.asarray(seg.filter(name="v")[0].times.rescale("ms")), counts)
           for seg, counts in zip(block.segments, phases)]
    sim.end()
    return out


def test_same_script_same_spikes_and_membrane_as_pyNN_brian2(pynn_brian2):
    ref = script(pynn_brian2)
    got = script(neuroemu.pynn, hardware="ideal")
    for (r_trains, r_v, r_t, r_counts), (g_trains, g_v, g_t, g_counts) in zip(ref, got):
        assert g_counts == r_counts  # identical, also after reset() and set()
        assert sum(r_counts) >= 6
        near_spike = np.zeros(g_v.shape, bool)
        for k, (a, b) in enumerate(zip(r_trains, g_trains)):
            assert len(a) == len(b)
            assert np.abs(a - b).max(initial=0.0) <= 0.05
            for s in np.concatenate([a, b]):
                near_spike[np.abs(g_t - s) <= 0.1, k] = True
        np.testing.assert_allclose(g_t, r_t)
        assert np.abs(g_v - r_v)[~near_spike].max() <= 0.3
