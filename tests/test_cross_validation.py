"""Cross-validation emulator vs Brian2 (issue 4, item 5).

Ideal config: spike times matched per neuron within 0.1 ms (biological) and spike counts within
1 % on a single neuron with known input (also against the closed form of
``neuroemu.learning.ttfs``), a three-layer feed-forward network and a short recurrent network.
Chip-replay: Brian2 replaying a mismatched ``small`` chip (noise off) agrees with the emulator
on that chip.

Brian2 checks its threshold on its grid (``backends/brian2/network.py``): each spike is seen
late by less than its dt (0.01 ms by default), and through a chain of k neurons those lags add
(about (k + 1) dt / 2 on average, inputs off the grid included), well inside 0.1 ms here. A crossing during
which v stays above threshold for less than dt can be missed on the grid; such grazing spikes
are allowed up to 1 % of the spikes (the count criterion) and vanish with a finer dt.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq

from neuroemu.backends.brian2 import Brian2Backend
from neuroemu.backends.emulator import EmulatorBackend, Imperfections
from neuroemu.comparison import agrees, compare_results
from neuroemu.compiler import compile_network
from neuroemu.network import Network
from neuroemu.spikes import SpikeTrains

from conftest import TTFS_PARAMS, feedforward

MAX_DT_MS, MAX_COUNT_REL = 0.1, 0.01


def _check(emu, b2, min_spikes: int) -> dict:
    rep = compare_results(emu, b2, window_ms=1.0)
    o = rep["overall"]
    assert o["spikes"][0] >= min_spikes  # the comparison has something to compare
    assert agrees(rep, MAX_DT_MS, MAX_COUNT_REL), o
    assert max(o["unmatched"]) <= MAX_COUNT_REL * o["spikes"][0], o  # grazing crossings missed on the grid
    return rep


def test_single_neuron_known_input():
    """One neuron, five inputs at known times (tau_mem = tau_syn = 10 ms); several output spikes."""
    net = Network("single")
    t_in = [2.0, 4.5, 5.0, 9.0, 30.0]
    net.add_spike_source("in", 5, [[t] for t in t_in])
    net.add_lif("n", 1, **{**TTFS_PARAMS, "tau_refrac": 2.0})
    w = np.array([[2.5], [1.5], [-1.0], [3.0], [6.0]])
    net.connect("in", "n", weight=w)
    ir = compile_network(net, "ideal")
    emu = EmulatorBackend().run(ir, duration=80.0)
    b2 = Brian2Backend().run(ir, duration=80.0)
    _check(emu, b2, min_spikes=2)

    # the reference, written here (no neuroemu code): V - v_rest = sum_i w_i/C s_i e^{-s_i/tau}, s_i = t - t_i > 0
    # (tau_mem = tau_syn = 10 ms, C = 1 nF); its first root of V = v_thresh, bracketed on a fine grid
    def v_rel(t):
        s = np.maximum(np.asarray(t, float)[..., None] - np.asarray(t_in), 0.0)
        return (s * np.exp(-s / 10.0)) @ w[:, 0]

    grid = np.arange(0.0, 80.0, 0.001)
    j = int(np.argmax(v_rel(grid) >= 15.0))
    assert j > 0
    ref = brentq(lambda t: float(v_rel(t)) - 15.0, grid[j - 1], grid[j], xtol=1e-13)
    assert 0.0 <= b2.first_spike_times("n")[0, 0] - ref < 0.01  # Brian2: inputs on its grid, seen within one dt
    assert abs(emu.first_spike_times("n")[0, 0] - ref) <= 1e-5  # README: exact crossings, ~1e-5 ms


def test_three_layer_feedforward():
    """input -> hidden -> output (signed random weights), 8 trials of random input times, refractory
    2 ms so neurons spike repeatedly; tau_syn 5 ms != tau_mem 10 ms."""
    net = feedforward(n_in=8, n_hidden=30, n_out=6, seed=2, tau_refrac=2.0, tau_syn_exc=5.0, tau_syn_inh=5.0)
    ir = compile_network(net, "ideal")
    rng = np.random.default_rng(4)
    trials = 8
    inp = {"input": SpikeTrains.from_trials(
        [[np.sort(rng.uniform(0.0, 40.0, 4)) for _ in range(8)] for _ in range(trials)], n_neurons=8)}
    emu = EmulatorBackend().run(ir, inp, duration=60.0, trials=trials)
    b2 = Brian2Backend().run(ir, inp, duration=60.0, trials=trials)
    rep = _check(emu, b2, min_spikes=100)
    assert rep["populations"]["output"]["spikes"][0] >= 10
    # one output crossing grazes the threshold for less than 0.01 ms: Brian2 at its default dt
    # misses it, at dt 0.001 ms it sees it, and then every spike matches
    assert max(rep["overall"]["unmatched"]) <= 1
    fine = compare_results(emu, Brian2Backend(dt=0.001).run(ir, inp, duration=60.0, trials=trials), window_ms=1.0)
    assert fine["overall"]["unmatched"] == [0, 0] and agrees(fine, MAX_DT_MS, MAX_COUNT_REL)


def test_short_recurrent_network():
    """30 neurons with signed sparse recurrent weights driven by 10 Poisson sources, 3 trials x 80 ms.

    Recurrent dynamics amplify small timing differences, so the emulator runs with a fine step
    (0.005 µs: it is then exact to ~1e-7 ms) and Brian2 at two fine steps. Each Brian2 spike is
    late by less than dt and the recurrence propagates those delays: the mean |difference|
    scales with dt (measured 2.3 dt at 0.001 and 0.0005 ms, 4.7 dt at 0.002 ms; its maximum
    14-18 dt), asserted below 4 dt at both steps. At Brian2's default 0.01 ms the amplification
    reaches 0.84 ms for one spike of 356 (and one grazing spike is missed); at its default step
    in the ideal config (0.1 µs) the emulator finds a crossing caused by a LIF spike of the same
    step only in the next step, which grows to ~1 ms differences and 40 unmatched spikes."""
    rng = np.random.default_rng(9)
    net = Network("rec")
    net.add_spike_source("in", 10)
    net.add_lif("rec", 30, **{**TTFS_PARAMS, "tau_syn_exc": 5.0, "tau_syn_inh": 5.0, "tau_refrac": 2.0})
    net.connect("in", "rec", weight=rng.uniform(0.0, 1.2, (10, 30)))
    w_rec = rng.normal(0.0, 0.8, (30, 30)) * (rng.random((30, 30)) < 0.3)
    np.fill_diagonal(w_rec, 0.0)
    net.connect("rec", "rec", weight=w_rec)
    ir = compile_network(net, "ideal")
    inp = {"in": SpikeTrains.poisson(10, 60.0, 80.0, 3, seed=1)}
    emu = EmulatorBackend(dt_us=0.005).run(ir, inp, duration=80.0, trials=3)
    for dt in (0.001, 0.0005):
        b2 = Brian2Backend(dt=dt).run(ir, inp, duration=80.0, trials=3)
        rep = _check(emu, b2, min_spikes=100)
        assert rep["overall"]["unmatched"] == [0, 0]
        assert rep["overall"]["mean_abs_dt_ms"] < 4 * dt, (dt, rep["overall"])


def test_chip_replay_matches_emulator_on_mismatched_chip():
    """Chip 5 of ``small`` (uncalibrated: large mismatch), noise off, timestamps on the 8 ns clock in
    both. The emulator runs with a 0.1 µs step: at its default 0.5 µs step a crossing caused by a
    LIF spike of the same step is found up to ~0.14 ms late (a limit of the emulator's step, not
    of the replay)."""
    net = feedforward(n_in=8, n_hidden=20, n_out=5, seed=3)
    ir = compile_network(net, "small")
    rng = np.random.default_rng(1)
    inp = {"input": SpikeTrains.from_first_spike_times(rng.uniform(0.0, 10.0, (10, 8)))}
    quiet = Imperfections(membrane_noise_scale=0.0, threshold_jitter_scale=0.0)
    emu = EmulatorBackend(chip=5, imperfections=quiet, dt_us=0.1).run(ir, inp, duration=50.0, trials=10)
    b2 = Brian2Backend("chip-replay", chip=5, imperfections=quiet).run(ir, inp, duration=50.0, trials=10)
    _check(emu, b2, min_spikes=50)
    # the replayed chip differs from the description: the ideal Brian2 run does not agree
    ideal = Brian2Backend("ideal").run(ir, inp, duration=50.0, trials=10)
    assert not agrees(compare_results(emu, ideal), MAX_DT_MS, MAX_COUNT_REL)


def test_agreement_metrics_on_known_trains():
    """The metrics themselves: greedy nearest matching within the window, van Rossum distance
    D^2 = 1 - e^{-d/tau} for one spike shifted by d, 1/sqrt(2) for a lone spike."""
    from neuroemu.comparison import compare_spikes, match_spikes, van_rossum

    a = SpikeTrains(np.array([1.0, 5.0, 9.0, 2.0]), np.array([0, 0, 0, 1]), np.zeros(4, np.int32), 2, 1)
    b = SpikeTrains(np.array([1.05, 5.3, 4.0]), np.array([0, 0, 1]), np.zeros(3, np.int32), 2, 1)
    dt, ua, ub = match_spikes(a, b, window_ms=1.0)
    np.testing.assert_allclose(np.sort(dt), [0.05, 0.3])
    assert (ua, ub) == (2, 1)  # 9.0 and 2.0 unmatched (4.0 is 2 ms from 2.0)
    one = SpikeTrains(np.array([3.0]), np.array([0]), np.array([0]), 1, 1)
    shifted = SpikeTrains(np.array([3.5]), np.array([0]), np.array([0]), 1, 1)
    none = SpikeTrains.empty(1, 1)
    assert van_rossum(one, shifted, 5.0)[0, 0] == pytest.approx(np.sqrt(1 - np.exp(-0.5 / 5.0)))
    assert van_rossum(one, none, 5.0)[0, 0] == pytest.approx(np.sqrt(0.5))
    assert van_rossum(one, one, 5.0)[0, 0] == pytest.approx(0.0, abs=1e-12)
    rep = compare_spikes(a, b)
    assert rep["count_diff"] == -1 and rep["matched"] == 2 and rep["max_abs_dt_ms"] == pytest.approx(0.3)
