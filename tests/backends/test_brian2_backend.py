"""The Brian2 backend: equal time constants, duplicate spikes in one step, trial batches through one
network, chip-replay imperfections (dead circuits, injected noise, refusals), numpy fallback.

Brian2 compiles its Cython code once per machine into the per-user cache (see
``neuroemu.backends.brian2.codegen``); later sessions only load it."""
from __future__ import annotations

import os

import numpy as np
import pytest

from neuroemu.backends import get_backend
from neuroemu.backends.brian2 import Brian2Backend, brian2_cache_dir
from neuroemu.backends.emulator import EmulatorBackend, Imperfections
from neuroemu.compiler import compile_network
from neuroemu.errors import BackendError
from neuroemu.network import Network
from neuroemu.spikes import SpikeTrains

from conftest import TTFS_PARAMS

QUIET = Imperfections(membrane_noise_scale=0.0, threshold_jitter_scale=0.0, timestamp_quantization=False)


def _layer(n_in: int, n_out: int, w, tau_syn: float = 10.0, tau_refrac: float = 30.0, record_v=None) -> Network:
    net = Network("layer")
    net.add_spike_source("in", n_in)
    net.add_lif("out", n_out, **{**TTFS_PARAMS, "tau_syn_exc": tau_syn, "tau_syn_inh": tau_syn,
                                 "tau_refrac": tau_refrac})
    net.connect("in", "out", weight=np.asarray(w, float))
    if record_v is not None:
        net.record.v = {"out": record_v}
    return net


@pytest.fixture(scope="module")
def layer_ir():
    """4 inputs -> 6 neurons, tau_mem = tau_syn = 10 ms, ideal config; membrane of neuron 0 recorded."""
    w = np.random.default_rng(7).uniform(-0.3, 2.2, (4, 6))
    return compile_network(_layer(4, 6, w, record_v=[0]), "ideal")


def test_equal_taus_match_closed_form(layer_ir):
    """tau_mem == tau_syn (where Brian2's exact integrator divides by zero): first spikes of 12 trials
    within 1e-3 ms of the Lambert-W closed form."""
    from neuroemu.learning.ttfs import LIFParams, first_spike_times

    rng = np.random.default_rng(3)
    t_in = rng.uniform(0.0, 12.0, (12, 4))
    res = Brian2Backend().run(layer_ir, {"in": SpikeTrains.from_first_spike_times(t_in)}, duration=50.0, trials=12)
    w = layer_ir.network.synapses.weight.reshape(4, 6)
    ref = first_spike_times(w, t_in, LIFParams(tau_mem=10.0, tau_syn=10.0, v_rest=-65.0, v_thresh=-50.0, cm=1.0))
    ref = np.where(ref <= 50.0, ref, np.inf)
    got = res.first_spike_times("out")
    spiking = np.isfinite(ref)
    assert 0.2 < spiking.mean() < 0.95
    np.testing.assert_array_equal(np.isfinite(got), spiking)
    assert np.max(np.abs(got[spiking] - ref[spiking])) < 1e-3


def test_duplicate_spikes_in_one_step_each_count(layer_ir):
    """Three spikes of one source within 0.006 ms (one 0.01 ms step) and one more: no crash, every
    spike arrives with its full weight at its own time (trace = sum of analytic PSPs)."""
    times = [5.0, 5.003, 5.006, 20.0]
    inp = {"in": SpikeTrains(np.array(times), np.zeros(4, np.int32), np.zeros(4, np.int32), 4, 1)}
    be = Brian2Backend()
    res = be.run(layer_ir, inp, duration=40.0)
    assert res.info["duplicate_spikes_split"] == 2 and res.info["input_channels_per_trial"] == 6
    w = float(layer_ir.network.synapses.weight.reshape(4, 6)[0, 0])
    t = res.traces.times_ms
    expect = np.full_like(t, -65.0)
    for s in times:  # tau_m = tau_s = 10 ms: PSP = w/C * u e^{-u/tau}
        u = np.clip(t - s, 0.0, None)
        expect += w / 1.0 * u * np.exp(-u / 10.0)
    assert w > 0.5  # the four PSPs drive the neuron: the trace test is not trivial
    first = res.first_spike_times("out")[0, 0]
    before = t < min(first, 40.0)
    np.testing.assert_allclose(res.traces.v_mV[0, 0, before], expect[before], atol=1e-6)


def test_trials_run_in_batches_through_one_network(layer_ir):
    """7 trials, 2 per batch (4 batches) through one built network; the next run reuses it; every trial
    (including the last, padded batch) follows the closed form of its own inputs."""
    from neuroemu.learning.ttfs import LIFParams, first_spike_times

    rng = np.random.default_rng(11)
    t_in = rng.uniform(0.0, 12.0, (7, 4))
    be = Brian2Backend(max_synapses_per_batch=48)  # 24 synapses per trial -> 2 trials per batch
    inp = {"in": SpikeTrains.from_first_spike_times(t_in)}
    res = be.run(layer_ir, inp, duration=50.0, trials=7)
    assert res.info["trials_per_batch"] == 2 and res.info["batches"] == 4 and res.info["network_built"]
    again = be.run(layer_ir, inp, duration=50.0, trials=7)
    assert not again.info["network_built"]
    assert again.spikes("out").equals(res.spikes("out"))
    w = layer_ir.network.synapses.weight.reshape(4, 6)
    ref = first_spike_times(w, t_in, LIFParams(tau_mem=10.0, tau_syn=10.0, v_rest=-65.0, v_thresh=-50.0, cm=1.0))
    ref = np.where(ref <= 50.0, ref, np.inf)
    got = res.first_spike_times("out")
    assert np.isfinite(ref).sum() >= 7
    np.testing.assert_array_equal(np.isfinite(got), np.isfinite(ref))
    np.testing.assert_allclose(got[np.isfinite(ref)], ref[np.isfinite(ref)], atol=1e-3)
    # one trial: the 2-copy network is reused, the second copy runs silent
    one = be.run(layer_ir, {"in": SpikeTrains.from_first_spike_times(t_in[6:7])}, duration=50.0)
    assert not one.info["network_built"] and one.info["trials_per_batch"] == 2 and one.n_trials == 1
    np.testing.assert_allclose(one.first_spike_times("out")[0], got[6], atol=1e-9)


@pytest.fixture(scope="module")
def small_ir():
    w = np.random.default_rng(5).uniform(1.5, 3.0, (4, 6))
    return compile_network(_layer(4, 6, w, tau_refrac=5.0), "small")


def test_chip_replay_dead_circuits_never_spike(small_ir):
    circuits = [int(small_ir.placement.hemisphere[k]) * small_ir.hardware().neurons.circuits_per_hemisphere
                + int(small_ir.placement.column[k]) for k in (0, 3)]
    imp = QUIET.replace(dead_circuits=tuple(circuits))
    inp = {"in": SpikeTrains.from_first_spike_times(np.array([[1.0, 2.0, 3.0, 4.0]]))}
    res = Brian2Backend("chip-replay", chip=2, imperfections=imp).run(small_ir, inp, duration=60.0)
    emu = EmulatorBackend(chip=2, imperfections=imp).run(small_ir, inp, duration=60.0)
    counts = res.spikes("out").counts()[0]
    assert counts[0] == 0 and counts[3] == 0 and counts.sum() > 0
    np.testing.assert_array_equal(counts, emu.spikes("out").counts()[0])


def test_chip_replay_injects_membrane_noise_and_threshold_jitter(small_ir):
    """Membrane noise: the std of a silent neuron's membrane matches the configured stationary std;
    threshold jitter: first-spike times spread over trials like on the emulator (statistically)."""
    hw = small_ir.hardware()
    sigma_mV = hw.noise.membrane_V / hw.voltage.chip_V_per_bio_mV
    noisy = QUIET.replace(membrane_noise_scale=1.0)
    be = Brian2Backend("chip-replay", chip=1, imperfections=noisy)
    res = be.run(small_ir, None, duration=300.0, trials=4, seed=3, record_v=[4])
    v = res.traces.v_mV[:, 0, res.traces.times_ms > 50.0]  # past the OU build-up from v_rest
    assert abs(v.std() / sigma_mV - 1.0) < 0.2
    again = be.run(small_ir, None, duration=300.0, trials=4, seed=3, record_v=[4])
    np.testing.assert_array_equal(again.traces.v_mV, res.traces.v_mV)  # same seed, same noise
    assert res.info["injected"]["membrane_noise_mV"] == pytest.approx(sigma_mV)

    jitter = QUIET.replace(threshold_jitter_scale=3.0)
    t_in = np.tile([[1.0, 2.0, 3.0, 4.0]], (60, 1))
    inp = {"in": SpikeTrains.from_first_spike_times(t_in)}
    b2 = Brian2Backend("chip-replay", chip=1, imperfections=jitter).run(small_ir, inp, duration=60.0, trials=60, seed=1)
    emu = EmulatorBackend(chip=1, imperfections=jitter).run(small_ir, inp, duration=60.0, trials=60, seed=1)
    sb, se = b2.first_spike_times("out"), emu.first_spike_times("out")
    both = np.all(np.isfinite(sb), axis=0) & np.all(np.isfinite(se), axis=0)
    assert both.sum() >= 2
    ratio = sb[:, both].std(axis=0) / se[:, both].std(axis=0)
    assert np.all((ratio > 0.6) & (ratio < 1.6)), ratio
    sem = np.sqrt((sb[:, both].var(axis=0) + se[:, both].var(axis=0)) / len(t_in))
    assert np.all(np.abs(sb[:, both].mean(axis=0) - se[:, both].mean(axis=0)) < 4 * sem + 0.02)


def test_refusals(small_ir):
    with pytest.raises(BackendError, match="spike-time jitter"):
        Brian2Backend("chip-replay", imperfections=QUIET.replace(spike_time_jitter_us=0.01)).run(small_ir, None, 10.0)
    with pytest.raises(BackendError, match="'chip-replay' only"):
        Brian2Backend("ideal", imperfections=QUIET)
    with pytest.raises(BackendError, match="mode must be one of"):
        Brian2Backend("replay")
    with pytest.raises(BackendError, match="dt must be"):
        Brian2Backend(dt=0.0)


def test_as_deployed_uses_quantized_weights(small_ir):
    w_ideal = Brian2Backend("ideal").parameters(small_ir)[1]
    w_dep = Brian2Backend("as-deployed").parameters(small_ir)[1]
    np.testing.assert_allclose(w_dep, small_ir.weights.deployed_weight(small_ir.network.synapses.receptor))
    assert 0 < np.max(np.abs(w_dep - w_ideal)) < 0.05 * np.max(np.abs(w_ideal))


def test_numpy_target_matches_cython(layer_ir):
    inp = {"in": SpikeTrains.from_first_spike_times(np.array([[1.0, 2.0, 4.0, 3.0]]))}
    cy = get_backend("brian2", codegen_target="cython").run(layer_ir, inp, duration=25.0)
    npy = get_backend("brian2", codegen_target="numpy").run(layer_ir, inp, duration=25.0)
    assert npy.info["codegen_target"] == "numpy" and cy.info["codegen_target"] == "cython"
    assert len(cy.spikes("out")) > 0
    # same model; the crossing search's last Newton step may differ in rounding between the targets
    np.testing.assert_allclose(npy.spikes("out").times, cy.spikes("out").times, atol=1e-4)
    np.testing.assert_allclose(npy.traces.v_mV, cy.traces.v_mV, atol=1e-6)


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROEMU_BRIAN2_CACHE", str(tmp_path / "b2cache"))
    assert brian2_cache_dir() == tmp_path / "b2cache" and (tmp_path / "b2cache").is_dir()
    monkeypatch.setenv("NEUROEMU_BRIAN2_CACHE", str(tmp_path / "b2-{pid}"))  # opt-in: one directory per process
    assert brian2_cache_dir() == tmp_path / f"b2-{os.getpid()}"
