"""Emulator dynamics: ideal config vs the closed-form LIF solution, traces vs the analytic PSP,
determinism and noise, dead circuits, timestamps, weight sign and quantization, refusals."""
from __future__ import annotations

import numpy as np
import pytest

from neuroemu.backends import get_backend
from neuroemu.backends.emulator import EmulatorBackend, Imperfections
from neuroemu.compiler import compile_network
from neuroemu.errors import BackendError, NeuroemuError
from neuroemu.network import Network
from neuroemu.spikes import SpikeTrains

from conftest import TTFS_PARAMS, feedforward


def _layer(n_in: int, n_out: int, tau_mem: float, tau_syn: float, w: np.ndarray) -> Network:
    net = Network("layer")
    net.add_spike_source("in", n_in)
    net.add_lif("out", n_out, **{**TTFS_PARAMS, "tau_mem": tau_mem, "tau_syn_exc": tau_syn, "tau_syn_inh": tau_syn,
                                  "tau_refrac": 30.0})
    net.connect("in", "out", weight=w)
    return net


@pytest.mark.parametrize("tau_mem, tau_syn", [(10.0, 10.0), (10.0, 5.0)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ideal_matches_closed_form(tau_mem, tau_syn, seed):
    """Spike times within 1e-5 ms of the closed form (Lambert W / square root): the README's claim
    for the ideal config (exact threshold crossings)."""
    from neuroemu.learning.ttfs import LIFParams, first_spike_times

    rng = np.random.default_rng(seed)
    n_in, n_out, trials = 12, 25, 20
    # PSP peaks scale with tau_syn: larger weights for the short synapse keep ~half the neurons spiking
    w = rng.uniform(-0.6, 1.6, (n_in, n_out)) * (10.0 / tau_syn)
    t_in = rng.uniform(0.0, 15.0, (trials, n_in))
    t_in[rng.random((trials, n_in)) < 0.15] = np.inf  # some inputs silent
    ir = compile_network(_layer(n_in, n_out, tau_mem, tau_syn, w), "ideal")
    res = EmulatorBackend().run(ir, {"in": SpikeTrains.from_first_spike_times(t_in)}, duration=60.0, trials=trials)
    emu = res.first_spike_times("out")
    ref = first_spike_times(w, t_in, LIFParams(tau_mem=tau_mem, tau_syn=tau_syn, v_rest=-65.0, v_thresh=-50.0, cm=1.0))
    ref = np.where(ref <= 60.0, ref, np.inf)
    spiking = np.isfinite(ref)
    assert 0.2 < spiking.mean() < 0.95  # the test exercises both outcomes
    np.testing.assert_array_equal(np.isfinite(emu), spiking)
    assert np.max(np.abs(emu[spiking] - ref[spiking])) <= 1e-5


def test_membrane_trace_matches_analytic_psp():
    """A single input into a neuron: V(t) - v_rest = w/C * tau_s tau_m/(tau_m - tau_s) (e^-t/tau_m - e^-t/tau_s)."""
    net = Network()
    net.add_spike_source("in", 1, [[5.0]])
    net.add_lif("n", 1, **{**TTFS_PARAMS, "tau_syn_exc": 5.0})
    net.connect("in", "n", weight=0.8)
    net.record.v = {"n": [0]}
    ir = compile_network(net, "ideal")
    res = EmulatorBackend().run(ir, duration=40.0)
    t = res.traces.times_ms
    s = np.clip(t - 5.0, 0, None)
    tm, ts = 10.0, 5.0
    expect = -65.0 + 0.8 / 1.0 * ts * tm / (tm - ts) * (np.exp(-s / tm) - np.exp(-s / ts))
    np.testing.assert_allclose(res.traces.v_mV[0, 0], expect, atol=1e-6)  # event moments: O((dt/2 tau)^4)
    assert res.traces.v_chip_V[0, 0, 0] == pytest.approx(0.42)


def test_merged_neuron_acts_as_one():
    """300 inputs need 2 merged circuits; in the ideal config the neuron still follows the closed form."""
    from neuroemu.learning.ttfs import LIFParams, first_spike_times

    rng = np.random.default_rng(4)
    n_in = 300
    w = rng.uniform(0.0, 0.08, (n_in, 3))
    t_in = rng.uniform(0.0, 10.0, (4, n_in))
    ir = compile_network(_layer(n_in, 3, 10.0, 10.0, w), "ideal")
    assert np.all(ir.placement.size == 2)
    res = EmulatorBackend().run(ir, {"in": SpikeTrains.from_first_spike_times(t_in)}, duration=40.0, trials=4)
    ref = first_spike_times(w, t_in, LIFParams(10.0, 10.0, -65.0, -50.0, 1.0))
    assert np.all(np.isfinite(ref))
    np.testing.assert_allclose(res.first_spike_times("out"), ref, rtol=0, atol=1e-5)  # README: ~1e-5 ms on ideal


def _bss2_run(imp=None, seed=0, chip=0, trials=3, net=None):
    net = net or feedforward(n_in=8, n_hidden=20, n_out=4, seed=1)
    ir = compile_network(net, "bss2")
    be = EmulatorBackend(chip=chip, imperfections=imp or Imperfections())
    t = np.random.default_rng(0).uniform(0, 10, (trials, 8))
    return ir, be.run(ir, {"input": SpikeTrains.from_first_spike_times(t)}, duration=50.0, trials=trials, seed=seed)


def _spikes(res):
    return {k: (v.spikes.times.copy(), v.spikes.neuron.copy(), v.spikes.trial.copy()) for k,
            v in res.populations.items()}


def _same(a, b):
    return all(all(np.array_equal(x, y) for x, y in zip(a[k], b[k])) for k in a)


def test_same_seed_identical_other_chip_differs():
    _, a = _bss2_run(chip=3, seed=1)
    _, b = _bss2_run(chip=3, seed=1)
    _, c = _bss2_run(chip=4, seed=1)
    assert _same(_spikes(a), _spikes(b))
    assert not _same(_spikes(a), _spikes(c))


def test_noise_varies_with_run_seed_only():
    quiet = Imperfections(membrane_noise_scale=0.0, threshold_jitter_scale=0.0)
    _, a = _bss2_run(quiet, seed=1)
    _, b = _bss2_run(quiet, seed=2)
    assert _same(_spikes(a), _spikes(b)), "noise off: the run seed must not matter"
    _, c = _bss2_run(seed=1)
    _, d = _bss2_run(seed=1)
    _, e = _bss2_run(seed=2)
    assert _same(_spikes(c), _spikes(d))
    assert not _same(_spikes(c), _spikes(e))
    assert a.info["imperfections_on"]["membrane_noise"] is False
    assert c.info["imperfections_on"]["membrane_noise"] is True


def test_trials_independent_of_thread_count_and_batching():
    import numba

    n = numba.get_num_threads()
    try:  # two distinct thread counts (conftest makes numba start >= 2 threads)
        numba.set_num_threads(1)
        _, one = _bss2_run(trials=6, seed=3)
        numba.set_num_threads(max(2, n))
        ir, ref = _bss2_run(trials=6, seed=3)
    finally:
        numba.set_num_threads(n)
    assert len(ref.spikes("hidden")) > 0
    assert _same(_spikes(ref), _spikes(one))
    # forcing tiny spike buffers makes trials rerun alone: same result
    import neuroemu.backends.emulator.backend as B

    old = B._SPIKE_BUFFER
    B._SPIKE_BUFFER = 1
    try:
        _, small = _bss2_run(trials=6, seed=3)
    finally:
        B._SPIKE_BUFFER = old
    assert _same(_spikes(ref), _spikes(small))


def test_dead_circuits_never_spike():
    net = feedforward(n_in=8, n_hidden=20, n_out=4, seed=1)
    ir, alive = _bss2_run(Imperfections(membrane_noise_scale=0.0), net=net)
    k = int(alive.spikes("hidden").neuron[0])  # a hidden neuron that spikes (hidden LIF index = neuron)
    circuits = ir.placement.circuits_of(k, 256)
    _, dead = _bss2_run(Imperfections(membrane_noise_scale=0.0, dead_circuits=tuple(int(c) for c in circuits)), net=net)
    assert not np.any(dead.spikes("hidden").neuron == k)
    assert len(dead.spikes("hidden")) > 0
    _, many = _bss2_run(Imperfections(dead_fraction=0.5), net=net)
    assert len(many.spikes("hidden")) < len(alive.spikes("hidden"))


def test_timestamps_on_the_8ns_grid():
    _, res = _bss2_run()
    t_us = res.populations["hidden"].times_us
    assert len(t_us) > 10
    ticks = t_us / 0.008
    np.testing.assert_allclose(ticks, np.round(ticks), atol=1e-6)
    _, exact = _bss2_run(Imperfections(timestamp_quantization=False))
    ticks = exact.populations["hidden"].times_us / 0.008
    assert np.max(np.abs(ticks - np.round(ticks))) > 0.01


def test_weight_sign_and_quantization_honoured():
    """Without mismatch, the chip's weight is code x scale: an inhibitory input lowers V by the
    quantized amount, an excitatory one raises it."""
    from neuroemu.models.dac import nominal_code, value_at_code

    net = Network()
    net.add_spike_source("in", 3, [[2.0], [20.0], [60.0]])
    net.add_lif("n", 1, **TTFS_PARAMS)
    net.connect("in", "n", weight=np.array([[0.5], [-0.37], [0.2]]))
    net.record.v = {"n": [0]}
    ir = compile_network(net, "bss2")
    be = EmulatorBackend(chip=0, imperfections=Imperfections.none())
    eff = be.effective(ir)
    hw = ir.hardware()
    deployed = ir.weights.deployed_weight(ir.network.synapses.receptor)
    assert deployed[2] != 0.2 and abs(deployed[2] - 0.2) <= 0.5 * 0.5 / 63  # 6-bit step of the exc scale
    assert deployed[1] < 0
    # the chip realises code x (input gain at its 10-bit DAC code): the gain's DAC rounding on top
    for rec, name in ((0, "input_gain_exc"), (1, "input_gain_inh")):
        spec = hw.parameters[name]
        target = ir.targets.get(name)[0]
        ratio = value_at_code(spec, hw.dac, nominal_code(spec, hw.dac, target)) / target
        sel = ir.network.synapses.receptor == rec
        np.testing.assert_allclose(hw.bio_current_nA(eff.weight[sel], 1.0), deployed[sel] * ratio, rtol=1e-9)
    res = be.run(ir, duration=40.0)
    v = res.traces.v_mV[0, 0]
    t = res.traces.times_ms
    assert v[(t > 5) & (t < 18)].max() > -64.0  # excitatory bump
    assert v[(t > 25) & (t < 40)].min() < -65.5  # inhibitory dip


def test_other_hardware_refused():
    from neuroemu.backends.emulator import Chip

    ir = compile_network(feedforward(), "small")
    with pytest.raises(BackendError,
                       match="compiled for hardware 'small'.*this chip is 'bss2'.*compile the network for 'bss2'"):
        EmulatorBackend(chip=Chip("bss2", 0)).run(ir, duration=10.0)


def test_bad_run_arguments():
    ir = compile_network(feedforward(), "small")
    be = get_backend("emulator", chip=1)
    with pytest.raises(NeuroemuError, match="duration"):
        be.run(ir, duration=-1.0)
    with pytest.raises(NeuroemuError, match="trials"):
        be.run(ir, trials=0)
    with pytest.raises(NeuroemuError, match="not a spike-source population"):
        be.run(ir, {"hidden": SpikeTrains.empty(6)})
    with pytest.raises(NeuroemuError, match="has 3 sources, the population has 4"):
        be.run(ir, {"input": SpikeTrains.empty(3)})
    with pytest.raises(NeuroemuError, match="2 trials; the run has 3"):
        be.run(ir, {"input": SpikeTrains.empty(4, 2)}, trials=3)


def test_result_roundtrip_and_speed_fields(tmp_path):
    from neuroemu.backends import load_result, save_result

    _, res = _bss2_run()
    save_result(res, tmp_path / "r.h5")
    back = load_result(tmp_path / "r.h5")
    assert _same(_spikes(res), _spikes(back))
    np.testing.assert_array_equal(back.populations["hidden"].times_us, res.populations["hidden"].times_us)
    assert back.info == res.info
    assert res.chip_time_us == pytest.approx(3 * 50.0)
    assert res.bio_seconds_per_wall_second > 0


def test_single_trial_split_by_neurons_is_identical():
    """One trial of a single-layer network runs as neuron ranges on several threads: same spikes and traces."""
    import numba

    net = Network()
    net.add_spike_source("in", 20)
    net.add_lif("n", 80, **{**TTFS_PARAMS, "tau_refrac": 2.0})
    net.connect("in", "n", weight=np.random.default_rng(2).uniform(0, 0.6, (20, 80)), receptor="exc")
    net.record.v = {"n": [0, 41, 79]}
    ir = compile_network(net, "bss2")
    inp = {"in": SpikeTrains.poisson(20, 80.0, 200.0, 1, seed=3)}
    be = EmulatorBackend(chip=1, imperfections=Imperfections(spike_time_jitter_us=0.05))
    n = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = be.run(ir, inp, duration=200.0, seed=4)
        numba.set_num_threads(max(2, n))
        split = be.run(ir, inp, duration=200.0, seed=4)
    finally:
        numba.set_num_threads(n)
    assert len(one.spikes("n")) > 50
    assert _same(_spikes(one), _spikes(split))
    np.testing.assert_array_equal(one.traces.v_chip_V, split.traces.v_chip_V)


def test_layers_receive_spikes_at_their_exact_times():
    """Two TTFS layers on bss2's 0.5 µs step (ideal base): the output layer, driven by on-chip
    spikes of the hidden layer, still follows the closed form chained layer by layer."""
    import dataclasses

    from neuroemu.hardware import load_hardware
    from neuroemu.learning.ttfs import LIFParams, first_spike_times

    rng = np.random.default_rng(7)
    n_in, n_hid, n_out, trials = 10, 30, 6, 20
    w1 = rng.uniform(-0.3, 1.2, (n_in, n_hid))
    w2 = rng.uniform(-0.5, 0.9, (n_hid, n_out))
    t_in = rng.uniform(0.0, 10.0, (trials, n_in))
    net = Network("two layers")
    net.add_spike_source("in", n_in)
    p = {**TTFS_PARAMS, "tau_refrac": 30.0}
    net.add_lif("hidden", n_hid, **p)
    net.add_lif("out", n_out, **p)
    net.connect("in", "hidden", weight=w1)
    net.connect("hidden", "out", weight=w2)
    bss2 = load_hardware("bss2")
    hw = bss2.with_overrides(synapses=dataclasses.replace(bss2.synapses, weight_bits=None),
                             dac=dataclasses.replace(bss2.dac, bits=None),
                             timing=dataclasses.replace(bss2.timing, timestamp_resolution_us=None))
    ir = compile_network(net, hw)
    be = EmulatorBackend(imperfections=Imperfections.none())
    assert be._plan(ir).knet.levels == [(0, n_hid), (n_hid, n_hid + n_out)]
    res = be.run(ir, {"in": SpikeTrains.from_first_spike_times(t_in)}, duration=80.0, trials=trials)
    lif = LIFParams(10.0, 10.0, -65.0, -50.0, 1.0)
    hid = first_spike_times(w1, t_in, lif)
    out = first_spike_times(w2, hid, lif)
    emu = res.first_spike_times("out")
    spiking = np.isfinite(out) & (out < 80.0)
    assert 0.2 < spiking.mean() < 0.95
    np.testing.assert_array_equal(np.isfinite(emu), spiking)
    assert np.max(np.abs(emu[spiking] - out[spiking])) < 1e-2  # 0.1 % of tau_syn


def test_levels_of_feedforward_recurrent_and_unordered_networks():
    from neuroemu.backends.emulator.lowering import _levels

    assert _levels(5, np.array([-1, -1, 0, 1]), np.array([0, 1, 3, 4])) == [(0, 3), (3, 5)]
    assert _levels(4, np.array([-1, 0, 1, 2]), np.array([0, 1, 2, 3])) == [(0, 1), (1, 2), (2, 3), (3, 4)]
    assert _levels(4, np.array([0, 1]), np.array([1, 2])) == [(0, 4)]  # level-0 neuron 3 after level 2: one pass
    assert _levels(3, np.array([0, 1]), np.array([1, 0])) == [(0, 3)]  # recurrent: one pass
    assert _levels(3, np.array([2]), np.array([0])) == [(0, 3)]  # layers out of index order: one pass
    assert _levels(3, np.array([-1]), np.array([0])) == [(0, 3)]  # no LIF -> LIF synapses
