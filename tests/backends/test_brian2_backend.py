"""The Brian2 backend against closed forms written here (PSP peak and time for tau_mem/tau_syn = 1
and 2, first-spike times, duplicate spikes in one step, trial batches), each at two step sizes
with the tolerances the backend states as functions of its ``dt`` (``backends/brian2/network.py``):

* v at the grid points: within ``(dt/tau_min)^4`` x the synaptic deflection (Brian2's ``rk4``);
* an input at s acts at ``ceil(s/dt) dt``; the threshold is checked on the grid, so a spike time
  t_b lies in [t*, t* + dt) where t* is the exact crossing of the model with the inputs at those
  times (= the inputs' own times when they are on the grid), and within 2 dt of the crossing with
  the inputs' own times otherwise.

Then chip-replay imperfections (dead circuits, injected noise, refusals) and the numpy fallback.
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
DTS = (0.01, 0.1)  # ms: the backend's default step and Brian2's
V_REST, V_THRESH, CM = -65.0, -50.0, 1.0  # TTFS_PARAMS


# --- the model's exact solution, written here --------------------------------------------------
def psp(u, w: float, tau_m: float, tau_s: float) -> np.ndarray:
    """Membrane deflection (mV) u ms after one spike of weight w (nA), C = 1 nF, no reset:
    C dv/dt = -C v/tau_m + I, dI/dt = -I/tau_s, I(0) = w."""
    u = np.maximum(np.asarray(u, float), 0.0)
    if tau_m == tau_s:
        return w / CM * u * np.exp(-u / tau_m)
    return w / CM * tau_m * tau_s / (tau_m - tau_s) * (np.exp(-u / tau_m) - np.exp(-u / tau_s))


def v_exact(t, times, weights, tau_m: float, tau_s: float) -> np.ndarray:
    """v(t) (mV) before the first spike: rest plus the PSPs of spikes at ``times``."""
    t = np.asarray(t, float)
    return V_REST + sum(psp(t - s, w, tau_m, tau_s) for s, w in zip(times, weights))


def first_crossing(times, weights, tau_m: float, tau_s: float, t_max: float) -> float:
    """The first t with v(t) = threshold (bisection on a 1 µs scan), inf if none before t_max."""
    grid = np.arange(0.0, t_max, 1e-3)
    above = np.flatnonzero(v_exact(grid, times, weights, tau_m, tau_s) >= V_THRESH)
    if len(above) == 0:
        return np.inf
    lo, hi = grid[above[0] - 1], grid[above[0]]
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if v_exact(mid, times, weights, tau_m, tau_s) < V_THRESH else (lo, mid)
    return hi


def on_grid(times, dt: float) -> np.ndarray:
    """Where the backend's inputs act: the first grid point at or after each time."""
    return np.ceil(np.asarray(times, float) / dt - 1e-6) * dt


def v_tol(dt: float, tau_min: float, deflection: float) -> float:
    """The stated bound on v at the grid points (rk4 on the linear model), plus float rounding."""
    return (dt / tau_min) ** 4 * deflection + 1e-9


def assert_spike_law(got: np.ndarray, exact: np.ndarray, dt: float) -> None:
    """Threshold on the grid: the same neurons spike, each seen in [t*, t* + dt)."""
    np.testing.assert_array_equal(np.isfinite(got), np.isfinite(exact))
    late = got[np.isfinite(exact)] - exact[np.isfinite(exact)]
    assert np.all(late > -1e-6) and np.all(late < dt + 1e-6), late


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


def _exact_first_spikes(ir, t_in: np.ndarray, tau_s: float, t_max: float) -> np.ndarray:
    w = ir.network.synapses.weight.reshape(t_in.shape[1], -1)
    return np.array([[first_crossing(row, w[:, j], 10.0, tau_s, t_max) for j in range(w.shape[1])] for row in t_in])


@pytest.mark.parametrize("dt", DTS)
@pytest.mark.parametrize("tau_s", [10.0, 5.0])
def test_psp_peak_and_time_match_closed_form(dt, tau_s):
    """One input at 1 ms (on both grids): the trace follows the closed form within the rk4 bound,
    its largest sample lies within dt of the PSP's peak time (tau_m ln(tau_m/tau_s) tau_s /
    (tau_m - tau_s), tau_m for equal taus) and is below the peak by at most |v''| dt^2 / 2."""
    w = 1.5
    ir = compile_network(_layer(1, 1, [[w]], tau_syn=tau_s, record_v=[0]), "ideal")
    inp = {"in": SpikeTrains.from_first_spike_times(np.array([[1.0]]))}
    res = Brian2Backend(dt=dt).run(ir, inp, duration=40.0)
    t, v = res.traces.times_ms, res.traces.v_mV[0, 0]
    assert len(res.spikes("out")) == 0
    t_peak = 10.0 if tau_s == 10.0 else 10.0 * tau_s / (10.0 - tau_s) * np.log(10.0 / tau_s)
    v_peak = float(v_exact(1.0 + t_peak, [1.0], [w], 10.0, tau_s))
    tol = v_tol(dt, tau_s, v_peak - V_REST)
    np.testing.assert_allclose(v, v_exact(t, [1.0], [w], 10.0, tau_s), rtol=0, atol=tol)
    k = int(np.argmax(v))
    assert abs(t[k] - (1.0 + t_peak)) < dt
    h = 1e-3
    curv = abs(float(v_exact(1.0 + t_peak + h, [1.0], [w], 10.0, tau_s) - 2 * v_peak
                     + v_exact(1.0 + t_peak - h, [1.0], [w], 10.0, tau_s))) / h ** 2
    assert -tol <= v_peak - v[k] <= 0.5 * curv * dt ** 2 + tol


@pytest.mark.parametrize("dt", DTS)
@pytest.mark.parametrize("tau_s", [10.0, 5.0])
def test_first_spike_times_match_closed_form(dt, tau_s):
    """12 trials of 4 inputs onto 6 neurons (tau_mem/tau_syn = 1, where Brian2's exact updater
    divides by zero, and 2). Inputs on the grid: every first spike in [t*, t* + dt). Inputs off
    the grid: the same law against the crossing with the inputs where they act, and within 2 dt
    of the crossing with their own times."""
    w = np.random.default_rng(7).uniform(-0.3, 2.2, (4, 6)) * (1.0 if tau_s == 10.0 else 1.6)
    ir = compile_network(_layer(4, 6, w, tau_syn=tau_s), "ideal")
    t_raw = np.random.default_rng(3).uniform(0.0, 12.0, (12, 4))
    be = Brian2Backend(dt=dt)
    for t_in in (np.round(t_raw / dt) * dt, t_raw):
        got = be.run(ir, {"in": SpikeTrains.from_first_spike_times(t_in)}, duration=50.0, trials=12) \
            .first_spike_times("out")
        exact = _exact_first_spikes(ir, on_grid(t_in, dt), tau_s, 50.0)
        assert 0.2 < np.isfinite(exact).mean() < 0.95
        assert_spike_law(got, exact, dt)
    own = _exact_first_spikes(ir, t_raw, tau_s, 50.0)
    both = np.isfinite(own) & np.isfinite(got)
    assert both.sum() >= 0.9 * np.isfinite(own).sum()
    assert np.max(np.abs(got[both] - own[both])) < 2 * dt


@pytest.mark.parametrize("dt", DTS)
def test_duplicate_spikes_in_one_step_each_count(layer_ir, dt):
    """Three spikes of one source in one step and one more: no crash, every spike arrives with
    its full weight where the grid rule puts it (trace = sum of closed-form PSPs)."""
    times = [5.001, 5.004, 5.007, 20.0]
    inp = {"in": SpikeTrains(np.array(times), np.zeros(4, np.int32), np.zeros(4, np.int32), 4, 1)}
    res = Brian2Backend(dt=dt).run(layer_ir, inp, duration=40.0)
    assert res.info["duplicate_spikes_split"] == 2 and res.info["input_channels_per_trial"] == 6
    w = float(layer_ir.network.synapses.weight.reshape(4, 6)[0, 0])
    assert w > 0.5  # the four PSPs drive the neuron: the trace test is not trivial
    t = res.traces.times_ms
    expect = v_exact(t, on_grid(times, dt), [w] * 4, 10.0, 10.0)
    first = res.first_spike_times("out")[0, 0]
    before = t < min(first, 40.0)
    np.testing.assert_allclose(res.traces.v_mV[0, 0, before], expect[before], rtol=0,
                               atol=v_tol(dt, 10.0, 4 * w * 10.0))


def test_trials_run_in_batches_through_one_network(layer_ir):
    """7 trials, 2 per batch (4 batches) through one built network; the next run reuses it; every trial
    (including the last, padded batch) follows the closed form of its own inputs."""
    rng = np.random.default_rng(11)
    t_in = np.round(rng.uniform(0.0, 12.0, (7, 4)), 2)  # on the 0.01 ms grid
    be = Brian2Backend(max_synapses_per_batch=48)  # 24 synapses per trial -> 2 trials per batch
    inp = {"in": SpikeTrains.from_first_spike_times(t_in)}
    res = be.run(layer_ir, inp, duration=50.0, trials=7)
    assert res.info["trials_per_batch"] == 2 and res.info["batches"] == 4 and res.info["network_built"]
    again = be.run(layer_ir, inp, duration=50.0, trials=7)
    assert not again.info["network_built"]
    assert again.spikes("out").equals(res.spikes("out"))
    got = res.first_spike_times("out")
    exact = _exact_first_spikes(layer_ir, t_in, 10.0, 50.0)
    assert np.isfinite(exact).sum() >= 7
    assert_spike_law(got, exact, be.dt)
    # one trial: the 2-copy network is reused, the second copy runs silent
    one = be.run(layer_ir, {"in": SpikeTrains.from_first_spike_times(t_in[6:7])}, duration=50.0)
    assert not one.info["network_built"] and one.info["trials_per_batch"] == 2 and one.n_trials == 1
    np.testing.assert_allclose(one.first_spike_times("out")[0], got[6], atol=1e-9)


def test_exact_updater_fails_for_equal_taus_rk4_does_not():
    """Why the backend integrates with rk4: Brian2's ``exact`` updater on the backend's equations
    gives NaN when tau_mem == tau_syn (its closed form divides by their difference)."""
    import brian2 as b2

    from neuroemu.backends.brian2.network import LIF_EQUATIONS, METHOD

    old = b2.prefs.codegen.target
    b2.prefs.codegen.target = "numpy"
    try:
        out = {}
        for method in ("exact", METHOD):
            g = b2.NeuronGroup(1, LIF_EQUATIONS, method=method, refractory="tau_refrac + dt", namespace={})
            g.C, g.tau_mem, g.tau_syn_exc, g.tau_syn_inh = 1 * b2.nF, 10 * b2.ms, 10 * b2.ms, 5 * b2.ms
            g.I_exc = 1 * b2.nA
            b2.Network(g).run(1 * b2.ms, namespace={})
            out[method] = float(g.v_[0]) * 1e3
    finally:
        b2.prefs.codegen.target = old
    assert np.isnan(out["exact"])
    assert out[METHOD] == pytest.approx(1.0 * np.exp(-0.1), abs=1e-8)  # w/C u e^{-u/tau} at u = 1 ms


def test_no_emulator_code_in_the_brian2_backend():
    """The backend imports no emulator module at module level and names none of its functions:
    chip-replay takes the effective network as data (``EmulatorBackend.effective``) only."""
    import ast
    from pathlib import Path

    import neuroemu.backends.brian2 as b2pkg

    for path in Path(b2pkg.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and "emulator" in node.module:
                names = {a.name for a in node.names}
                assert names <= {"EmulatorBackend", "Imperfections", "Chip"}, (path.name, names)
                assert path.name == "backend.py", path.name
        text = path.read_text()
        for physics in ("kernel_p", "emulator.kernel", "emulator.crossing", "emulator.events", "effective_network",
                        "to_bio"):
            assert physics not in text, (path.name, physics)


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
    # same equations and updater: the targets differ in floating-point rounding only
    np.testing.assert_allclose(npy.spikes("out").times, cy.spikes("out").times, atol=1e-9)
    np.testing.assert_allclose(npy.traces.v_mV, cy.traces.v_mV, atol=1e-6)


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROEMU_BRIAN2_CACHE", str(tmp_path / "b2cache"))
    assert brian2_cache_dir() == tmp_path / "b2cache" and (tmp_path / "b2cache").is_dir()
    monkeypatch.setenv("NEUROEMU_BRIAN2_CACHE", str(tmp_path / "b2-{pid}"))  # opt-in: one directory per process
    assert brian2_cache_dir() == tmp_path / f"b2-{os.getpid()}"
