"""The TTFS closed form against numerical integration, its gradients against finite differences,
and the network / loss / optimiser pieces."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.special import lambertw

from neuroemu.learning.ttfs import (
    Adam,
    LIFParams,
    TTFSNetwork,
    WeightBumper,
    backward,
    classify,
    first_spike_times,
    lambertw0,
    step_lr,
    ttfs_loss,
)

EQUAL = LIFParams(tau_mem=10.0, tau_syn=10.0, v_rest=-65.0, v_thresh=-50.0, cm=1.0)
DOUBLE = LIFParams(tau_mem=10.0, tau_syn=5.0, v_rest=-65.0, v_thresh=-50.0, cm=0.8)


def _integrate(w: np.ndarray, t_in: np.ndarray, p: LIFParams, t_end: float = 120.0) -> float:
    """First threshold crossing of one neuron by ODE integration (RK45 between input spikes)."""
    order = np.argsort(t_in)
    t_sorted, w_sorted = t_in[order], w[order]
    state = np.zeros(2)  # u (mV above rest), I (nA)

    def rhs(_t, y):
        return [-y[0] / p.tau_mem + y[1] / p.cm, -y[1] / p.tau_syn]

    def crossing(_t, y):
        return y[0] - p.theta

    crossing.terminal, crossing.direction = True, 1
    t_now = 0.0
    edges = [t for t in t_sorted if np.isfinite(t)] + [t_end]
    k = 0
    for edge in edges:
        if edge > t_now:
            sol = solve_ivp(rhs, (t_now, edge), state, events=crossing, rtol=1e-10, atol=1e-12, max_step=2.0)
            if sol.t_events[0].size:
                return float(sol.t_events[0][0])
            state = sol.y[:, -1]
            t_now = edge
        while k < len(t_sorted) and t_sorted[k] == edge:
            state = state + np.array([0.0, w_sorted[k]])
            k += 1
    return math.inf


def _random_layer(rng, p: LIFParams, n_in: int, n_out: int, batch: int, w_low: float, t_max: float):
    """Weights uniform in [w_low, 2.5) nA (scaled to p's tau_syn and C_m) and input times in [0, t_max) ms."""
    w = rng.uniform(w_low, 2.5, (n_in, n_out)) * (10.0 / p.tau_syn) * p.cm
    return w, rng.uniform(0.0, t_max, (batch, n_in))


@pytest.mark.parametrize("params", [EQUAL, DOUBLE], ids=["tau_m=tau_s", "tau_m=2tau_s"])
def test_closed_form_matches_numerical_integration(params):
    rng = np.random.default_rng(11)
    n_in, n_out, batch = 6, 5, 6
    w, t_in = _random_layer(rng, params, n_in, n_out, batch, w_low=-1.0, t_max=20.0)
    t_in[rng.random(t_in.shape) < 0.15] = np.inf
    got = first_spike_times(w, t_in, params)
    ref = np.array([[_integrate(w[:, j], t_in[b], params) for j in range(n_out)] for b in range(batch)])
    assert 0.25 < np.isfinite(ref).mean() < 0.95  # both outcomes are exercised
    np.testing.assert_array_equal(np.isfinite(got), np.isfinite(ref))
    fin = np.isfinite(ref)
    assert np.max(np.abs(got[fin] - ref[fin])) < 1e-6


def test_closed_form_formula_single_input_and_lambertw():
    """One input, equal taus: t* = t_0 + tau (-W0(-c/w)) (Göltz et al.); W0 vs scipy."""
    p = EQUAL
    w = 6.0  # nA; c = C theta / tau = 1.5 nA
    t = first_spike_times(np.array([[w]]), np.array([[2.0]]), p)[0, 0]
    # u(s) = w s/C e^{-s/tau} = theta  ->  s/tau e^{-s/tau} = c/w  ->  s = -tau W0(-c/w)
    expect = 2.0 - p.tau_syn * lambertw(-p.weight_unit / w, 0).real
    assert t == pytest.approx(expect, abs=1e-9)
    z = -np.exp(np.linspace(-40, -1 - 1e-12, 200))
    np.testing.assert_allclose(lambertw0(z), lambertw(z, 0).real, rtol=1e-9, atol=1e-15)
    assert np.isnan(lambertw0(-0.5))


def test_silent_cases():
    p = EQUAL
    w = np.array([[0.5, -2.0], [0.5, -1.0]])
    t = first_spike_times(w, np.array([[1.0, 2.0], [np.inf, np.inf]]), p)
    assert np.all(np.isinf(t))  # too weak, inhibitory, or no input at all
    assert first_spike_times(np.array([[10.0]]), np.array([1.0]), p).shape == (1,)
    with pytest.raises(ValueError, match="closed-form"):
        LIFParams(tau_mem=10.0, tau_syn=3.0)
    with pytest.raises(ValueError, match="NaN"):
        first_spike_times(w, np.array([[np.nan, 1.0]]), p)


@pytest.mark.parametrize("params", [EQUAL, DOUBLE], ids=["tau_m=tau_s", "tau_m=2tau_s"])
def test_gradients_match_finite_differences(params):
    rng = np.random.default_rng(5)
    n_in, n_out, batch = 5, 4, 6
    w, t_in = _random_layer(rng, params, n_in, n_out, batch, w_low=-0.5, t_max=15.0)
    t_out = first_spike_times(w, t_in, params)
    g = rng.normal(size=t_out.shape)  # dL/dt_out; L = sum g * t_out over spiking neurons
    g[~np.isfinite(t_out)] = 0.0
    dw, dt_in = backward(w, t_in, t_out, g, params)

    def loss(w_, t_):
        t = first_spike_times(w_, t_, params)
        return float(np.sum(np.where(np.isfinite(t_out), g * np.where(np.isfinite(t), t, 0.0), 0.0)))

    h = 1e-6
    num_w = np.zeros_like(w)
    for i in range(n_in):
        for j in range(n_out):
            e = np.zeros_like(w)
            e[i, j] = h
            num_w[i, j] = (loss(w + e, t_in) - loss(w - e, t_in)) / (2 * h)
    num_t = np.zeros_like(t_in)
    for b in range(batch):
        for i in range(n_in):
            e = np.zeros_like(t_in)
            e[b, i] = h
            num_t[b, i] = (loss(w, t_in + e) - loss(w, t_in - e)) / (2 * h)
    assert np.isfinite(t_out).sum() >= 8
    assert np.abs(dw).max() > 0.1
    np.testing.assert_allclose(dw, num_w, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(dt_in, num_t, rtol=1e-4, atol=1e-6)


def test_network_gradient_matches_finite_differences_of_the_loss():
    net = TTFSNetwork(3, (6, 2), params=EQUAL, weight_mean=(3.0, 2.5), weight_std=(1.0, 0.5), seed=3)
    rng = np.random.default_rng(2)
    x = rng.uniform(1.5, 20.0, (10, 3))
    y = rng.integers(0, 2, 10)
    times = net.forward(x)
    assert np.all(np.isfinite(times[-1]))
    loss, g = ttfs_loss(times[-1], y, tau0=2.0, alpha=0.005, tau1=10.0)
    grads, guarded = net.backward(x, times, g, max_dw_norm=None)
    assert guarded == 0

    def total(weights):
        return ttfs_loss(net.forward(x, weights)[-1], y, 2.0, 0.005, 10.0)[0].sum()

    h = 1e-6
    for l, (w, gw) in enumerate(zip(net.weights, grads)):
        for (i, j) in [(0, 0), (1, 1), (w.shape[0] - 1, 0), (2, w.shape[1] - 1)]:
            plus = [v.copy() for v in net.weights]
            minus = [v.copy() for v in net.weights]
            plus[l][i, j] += h
            minus[l][i, j] -= h
            num = (total(plus) - total(minus)) / (2 * h)
            assert gw[i, j] == pytest.approx(num, rel=1e-4, abs=1e-7), (l, i, j)


def test_grazing_guard_drops_huge_gradients():
    p = EQUAL
    # a neuron that only just reaches threshold: weight barely above the critical e c
    w = np.array([[p.weight_unit * math.e * (1 + 1e-9)]])
    t_in = np.array([[1.0]])
    t = first_spike_times(w, t_in, p)
    assert np.isfinite(t).all()
    dw, _ = backward(w, t_in, t, np.ones_like(t), p)
    assert abs(dw[0, 0]) > 1e3  # diverging near the grazing point
    dw_guarded, d_in = backward(w, t_in, t, np.ones_like(t), p, max_dw_norm=20.0)
    assert dw_guarded[0, 0] == 0.0 and d_in[0, 0] == 0.0


def test_loss_gradient_and_classification():
    t = np.array([[10.0, 12.0, np.inf], [np.inf, 9.0, 11.0]])
    y = np.array([0, 0])
    loss, g = ttfs_loss(t, y, tau0=2.0, alpha=0.005, tau1=10.0)
    assert loss[1] == 100.0 and np.all(g[1] == 0)  # label neuron silent
    h = 1e-6
    for j in range(2):
        tp, tm = t.copy(), t.copy()
        tp[0, j] += h
        tm[0, j] -= h
        num = (ttfs_loss(tp, y, 2.0, 0.005, 10.0)[0][0] - ttfs_loss(tm, y, 2.0, 0.005, 10.0)[0][0]) / (2 * h)
        assert g[0, j] == pytest.approx(num, rel=1e-6)
    np.testing.assert_array_equal(classify(np.array([[3.0, 1.0], [np.inf, np.inf]])), [1, -1])


def test_adam_step_lr_and_bumper():
    # Adam's first step moves every parameter by lr against the gradient sign (bias-corrected)
    p = [np.array([1.0, -2.0])]
    Adam([(2,)]).step(p, [np.array([0.3, -4.0])], lr=0.1)
    np.testing.assert_allclose(p[0], [0.9, -1.9], atol=1e-6)
    assert step_lr(1.0, 19) == 1.0 and step_lr(1.0, 20) == pytest.approx(0.95)
    assert step_lr(1.0, 45) == pytest.approx(0.95**2)
    bumper = WeightBumper([0.3, 0.0], value=0.1)
    weights = [np.zeros((3, 2)), np.zeros((3, 2))]
    times = [np.array([[1.0, np.inf], [2.0, np.inf]]), np.ones((2, 2))]
    assert bumper(weights, times) == 0  # half the hidden pairs are silent > 0.3
    np.testing.assert_array_equal(weights[0][:, 1], 0.1)
    np.testing.assert_array_equal(weights[0][:, 0], 0.0)  # targeted: only the silent neuron
    assert bumper(weights, times) == 0
    np.testing.assert_allclose(weights[0][:, 1], 0.3, rtol=1e-12)  # exponential: 0.1 + 0.2


def test_kernels_independent_of_thread_count_and_batching():
    import numba

    rng = np.random.default_rng(8)
    w = rng.normal(1.0, 1.5, (9, 30))
    x = rng.uniform(0.0, 20.0, (2500, 9))  # >= 2048 samples: the threaded forward kernel
    g = rng.normal(size=(2500, 30))
    results = []
    before = numba.get_num_threads()
    try:
        for n in (1, max(2, numba.config.NUMBA_NUM_THREADS)):  # two distinct counts (conftest: >= 2 threads)
            numba.set_num_threads(n)
            t = first_spike_times(w, x, EQUAL)
            results.append((t, *backward(w, x, t, np.where(np.isfinite(t), g, 0.0), EQUAL)))
    finally:
        numba.set_num_threads(before)
    assert len(results) == 2
    for a, b in zip(results[0], results[1]):
        np.testing.assert_array_equal(a, b)
    serial = np.concatenate([first_spike_times(w, x[k:k + 100], EQUAL) for k in range(0, len(x), 100)])
    np.testing.assert_array_equal(serial, results[0][0])
