"""Runs that continue from a state (``Backend.run(..., state=...)``), initial membrane
potentials, and synaptic delays, on both backends. References are closed-form LIF solutions
written here, or the same simulation in one piece."""
from __future__ import annotations

import numpy as np
import pytest

from neuroemu.backends.brian2 import Brian2Backend
from neuroemu.backends.emulator import EmulatorBackend, Imperfections
from neuroemu.compiler import compile_network
from neuroemu.errors import BackendError
from neuroemu.network import FixedProbability, Network
from neuroemu.spikes import SpikeTrains

from conftest import feedforward

P = dict(tau_mem=10.0, tau_syn_exc=5.0, tau_syn_inh=8.0, v_rest=-65.0, v_reset=-70.0, v_thresh=-50.0, tau_refrac=2.0,
         cm=1.0)


def _recurrent() -> Network:
    net = Network("rec")
    net.add_spike_source("in", 15)
    net.add_lif("exc", 40, **{**P, "i_offset": np.linspace(0.0, 1.2, 40)})
    net.connect("in", "exc", FixedProbability(0.3, 1), weight=2.0, receptor="exc")
    net.connect("exc", "exc", FixedProbability(0.15, 2), weight=0.8, receptor="exc")
    net.connect("exc", "exc", FixedProbability(0.15, 3), weight=-1.0, receptor="inh")
    net.record.v = {"exc": [0, 39]}
    return net


def _pieces(backend, ir, inputs, cuts, trials, seed):
    """Spikes (time, neuron, trial) and traces of consecutive runs from each other's states."""
    state, t, n, k, v = None, [], [], [], []
    for d in cuts:
        r = backend.run(ir, inputs, duration=d, trials=trials, seed=seed, state=state)
        state = r.state
        s = r.spikes("exc" if "exc" in r.populations else "output")
        t.append(s.times), n.append(s.neuron), k.append(s.trial), v.append(r.traces.v_mV if r.traces else None)
    t, n, k = np.concatenate(t), np.concatenate(n), np.concatenate(k)
    o = np.lexsort((n, t, k))
    return t[o], n[o], k[o], (np.concatenate(v, axis=2) if v[0] is not None else None)


@pytest.mark.parametrize("hardware", ["bss2", "ideal"])
def test_emulator_continues_bit_identically(hardware):
    ir = compile_network(_recurrent(), hardware)
    inputs = {"in": SpikeTrains.poisson(15, 40.0, 150.0, 3, seed=5)}
    be = EmulatorBackend(chip=2)
    one = be.run(ir, inputs, duration=150.0, trials=3, seed=9)
    t, n, k, v = _pieces(be, ir, inputs, [40.0, 70.0, 40.0], trials=3, seed=9)
    s = one.spikes("exc")
    assert len(s) > 50
    assert np.array_equal(s.times, t) and np.array_equal(s.neuron, n) and np.array_equal(s.trial, k)
    assert np.array_equal(one.traces.v_mV, v)


def test_emulator_continues_layered_networks_bit_identically():
    net = feedforward(12, 30, 5, seed=4)
    ir = compile_network(net, "bss2")
    inputs = {"input": SpikeTrains.poisson(12, 60.0, 80.0, 2, seed=1)}
    be = EmulatorBackend(chip=0)
    one = be.run(ir, inputs, duration=80.0, trials=2, seed=3)
    t, n, k, _ = _pieces(be, ir, inputs, [30.0, 50.0], trials=2, seed=3)
    s = one.spikes("output")
    assert len(s) > 10 and np.array_equal(s.times, t) and np.array_equal(s.neuron, n)


def test_off_grid_cuts_lose_no_spike():
    ir = compile_network(_recurrent(), "bss2")  # dt 0.5 µs: 40.3 ms is inside a step
    inputs = {"in": SpikeTrains.poisson(15, 40.0, 100.0, 1, seed=5)}
    be = EmulatorBackend(chip=2, imperfections=Imperfections().without_noise())
    one = be.run(ir, inputs, duration=100.0).spikes("exc")
    t, n, _, _ = _pieces(be, ir, inputs, [40.3, 59.7], trials=1, seed=0)
    # the step holding the cut runs once, to its end, in the first run; input spikes inside it
    # but after the cut arrive at the start of the next step (the chip's FPGA plays a run's
    # inputs only): the same spikes, their times within 0.01 ms
    assert len(t) == len(one) > 20 and np.array_equal(n, one.neuron)
    np.testing.assert_allclose(t, one.times, atol=0.01)


def test_state_refuses_other_trials_seed_and_backend():
    ir = compile_network(_recurrent(), "ideal")
    st = EmulatorBackend().run(ir, duration=10.0, trials=2, seed=1).state
    with pytest.raises(BackendError, match="2 trial.* and seed 1"):
        EmulatorBackend().run(ir, duration=10.0, trials=3, seed=1, state=st)
    with pytest.raises(BackendError, match="'emulator' state cannot be continued on the 'brian2' backend"):
        Brian2Backend().run(ir, duration=10.0, trials=2, seed=1, state=st)


@pytest.mark.parametrize("make", [lambda: EmulatorBackend(), lambda: Brian2Backend(dt=0.01)])
def test_initial_membrane_relaxes_exactly(make):
    net = Network("one")
    net.add_lif("n", 2, **{**P, "i_offset": [0.0, 0.5]})
    net.record.v = {"n": [0, 1]}
    ir = compile_network(net, "ideal")
    be = make()
    res = be.run(ir, duration=30.0, state=be.initial_state(ir, v_mV=[-55.0, -75.0]))
    t = res.traces.times_ms
    for k, (v0, v_inf) in enumerate([(-55.0, -65.0), (-75.0, -65.0 + 0.5 * 10.0)]):
        want = v_inf + (v0 - v_inf) * np.exp(-t / 10.0)  # tau_mem dV/dt = -(V - v_inf)
        np.testing.assert_allclose(res.traces.v_mV[0, k], want, atol=1e-9)


@pytest.mark.parametrize("make", [lambda: EmulatorBackend(), lambda: Brian2Backend(dt=0.01)])
def test_continuation_with_new_values_starts_from_the_state(make):
    """A run continued with a reconfigured network (a bias current switched on, as a PyNN
    DCSource does) starts from where the last run stopped and relaxes to the new rest."""
    def one(i_offset):
        net = Network("one")
        net.add_lif("n", 2, **{**P, "i_offset": i_offset})
        net.record.v = {"n": [0, 1]}
        return compile_network(net, "ideal")

    be = make()
    first = be.run(one(0.0), duration=20.0, state=be.initial_state(one(0.0), v_mV=[-55.0, -75.0]))
    second = be.run(one([0.8, 0.3]), duration=20.0, state=first.state)
    t = second.traces.times_ms - 20.0
    for k, (v0, i_offset) in enumerate([(-55.0, 0.8), (-75.0, 0.3)]):
        v20 = -65.0 + (v0 + 65.0) * np.exp(-20.0 / 10.0)  # end of the first run
        v_inf = -65.0 + i_offset * 10.0  # tau_mem dV/dt = -(V - v_rest) + i_offset tau_mem / cm
        np.testing.assert_allclose(second.traces.v_mV[0, k], v_inf + (v20 - v_inf) * np.exp(-t / 10.0), atol=1e-9)


@pytest.mark.parametrize("mode", ["ideal", "chip-replay"])
def test_brian2_continues(mode):
    ir = compile_network(_recurrent(), "ideal")
    inputs = {"in": SpikeTrains.poisson(15, 40.0, 100.0, 2, seed=5)}
    be = Brian2Backend(mode=mode, dt=0.1)
    one = be.run(ir, inputs, duration=100.0, trials=2, seed=4)
    t, n, k, v = _pieces(be, ir, inputs, [30.0, 70.0], trials=2, seed=4)
    s = one.spikes("exc")
    assert len(s) > 50 and np.array_equal(s.neuron, n) and np.array_equal(s.trial, k)
    np.testing.assert_allclose(s.times, t, atol=1e-9)
    np.testing.assert_allclose(one.traces.v_mV, v, atol=1e-9)


def _psp(t, t0, w, tau_m=10.0, tau_s=5.0, c=1.0):
    x = np.maximum(np.asarray(t, float) - t0, 0.0)
    return w / c * tau_m * tau_s / (tau_m - tau_s) * (np.exp(-x / tau_m) - np.exp(-x / tau_s))


def test_emulator_refuses_delays_the_compiler_kept_for_software_modes():
    net = Network("d")
    net.add_spike_source("s", 1, [[1.0]])
    net.add_lif("n", 1, **P)
    net.connect("s", "n", weight=1.0, receptor="exc", delay=1.5, name="slow")
    ir = compile_network(net, "ideal", software_delays=True)
    with pytest.raises(BackendError, match="projection 'slow': delay 1.5 ms, but the emulated chip has no"):
        EmulatorBackend().run(ir, duration=10.0)
    with pytest.raises(BackendError, match="projection 'slow': delay 1.5 ms, but the emulated chip that chip-replay"):
        Brian2Backend(mode="chip-replay").run(ir, duration=10.0)


@pytest.mark.parametrize("dt", [0.01, 0.1])
def test_brian2_realises_input_and_lif_delays_on_its_grid(dt):
    """Source spikes at 5 and 5.05 ms, delay 1.5 ms onto neuron a; a fires once and reaches b after
    2.37 ms. On Brian2's grid (backends/brian2/network.py): an input acts at the first grid point
    at or after its time, a spike is seen at the first grid point at or after the crossing t*
    (t_a in [t*, t* + dt)), a delay acts as round(d/dt) steps; v at the grid points follows the
    closed form of those times within (dt/tau_min)^4 of the deflection."""
    net = Network("chain")
    net.add_spike_source("s", 1, [[5.0, 5.05]])
    net.add_lif("a", 1, **{**P, "tau_syn_inh": 5.0})
    net.add_lif("b", 1, **{**P, "tau_syn_inh": 5.0})
    net.connect("s", "a", weight=5.0, receptor="exc", delay=1.5)
    net.connect("a", "b", weight=11.0, receptor="exc", delay=2.37)
    net.record.v = {"a": [0], "b": [0]}
    ir = compile_network(net, "ideal", software_delays=True)
    res = Brian2Backend(dt=dt).run(ir, duration=30.0)
    t = res.traces.times_ms
    tol = (dt / 5.0) ** 4 * 20.0 + 1e-9
    arrive = np.ceil(np.array([6.5, 6.55]) / dt - 1e-6) * dt
    ta = res.spikes("a").times
    assert len(ta) == 1
    va = -65.0 + _psp(t, arrive[0], 5.0) + _psp(t, arrive[1], 5.0)
    before = t <= ta[0] - dt / 2
    np.testing.assert_allclose(res.traces.v_mV[0, 0][before], va[before], atol=tol)
    # the crossing of a, from the same closed form
    f = lambda x: -65.0 + _psp(x, arrive[0], 5.0) + _psp(x, arrive[1], 5.0) + 50.0  # noqa: E731
    lo, hi = 6.6, float(ta[0]) + 0.5
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if f(mid) < 0 else (lo, mid)
    assert lo - 1e-9 <= ta[0] < lo + dt
    t_b_in = ta[0] + np.rint(2.37 / dt) * dt
    vb = -65.0 + _psp(t, t_b_in, 11.0)
    tb = res.spikes("b").times
    upto = t <= (tb[0] - dt / 2 if len(tb) else 30.0)
    np.testing.assert_allclose(res.traces.v_mV[0, 1][upto], vb[upto], atol=tol)
    assert len(tb) == 1 and tb[0] > t_b_in


def test_brian2_continues_recurrent_networks_with_delays():
    """Spikes sent before a cut and delivered after it (input and LIF->LIF delays) are carried
    into the continued run: the pieces equal one run."""
    net = _recurrent()
    for proj, delay in zip(net.projections, (0.7, 1.55, 2.0)):
        proj.delay = delay
    ir = compile_network(net, "ideal", software_delays=True)
    inputs = {"in": SpikeTrains.poisson(15, 40.0, 100.0, 2, seed=5)}
    be = Brian2Backend(dt=0.1)
    one = be.run(ir, inputs, duration=100.0, trials=2)
    t, n, k, v = _pieces(be, ir, inputs, [33.0, 41.0, 26.0], trials=2, seed=0)
    s = one.spikes("exc")
    assert len(s) > 50 and np.array_equal(s.neuron, n) and np.array_equal(s.trial, k)
    np.testing.assert_allclose(s.times, t, atol=1e-9)
    np.testing.assert_allclose(one.traces.v_mV, v, atol=1e-9)
