"""The chip at its limits (issue 13), each part against a reference written here from the
equations: the transport latency of input and on-chip events.

Biological units (ms, mV, nA, nF); the ``ideal`` config with one part of ``realism`` switched
on, at bss2's integration step (0.5 µs chip = 0.5 ms biological). A single input of weight w
at t_i gives V(t) - v_rest = w/C K(t - t_i - latency),
K(s) = tau_s tau_m / (tau_m - tau_s) (e^{-s/tau_m} - e^{-s/tau_s}).
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq

from neuroemu.backends.emulator import EmulatorBackend, Imperfections
from neuroemu.compiler import compile_network
from neuroemu.hardware.config import Latency
from neuroemu.network import Network
from neuroemu.spikes import SpikeTrains

from conftest import ideal_with, inhibited

V_REST, V_THRESH, CM, TAU_M, TAU_S = -65.0, -50.0, 1.0, 10.0, 5.0
THETA = V_THRESH - V_REST
DT_US = 0.5
TOL_MS = 1e-5


def kernel(s: float) -> float:
    if s <= 0:
        return 0.0
    return TAU_S * TAU_M / (TAU_M - TAU_S) * (np.exp(-s / TAU_M) - np.exp(-s / TAU_S))


def crossing_after(w: float, bias: float = 0.0) -> float:
    """Time from an input's arrival until V (starting at v_rest + bias, held there by a constant
    current) reaches threshold."""
    t_peak = np.log(TAU_M / TAU_S) * TAU_M * TAU_S / (TAU_M - TAU_S)
    assert bias + w / CM * kernel(t_peak) > THETA
    return brentq(lambda s: bias + w / CM * kernel(s) - THETA, 1e-9, t_peak, xtol=1e-14)


PARAMS = dict(tau_mem=TAU_M, tau_syn_exc=TAU_S, tau_syn_inh=TAU_S, v_rest=V_REST, v_reset=-70.0,
              v_thresh=V_THRESH, tau_refrac=30.0, cm=CM)
W_IN = 1.3 * THETA / (TAU_S * TAU_M / (TAU_M - TAU_S) * ((TAU_S / TAU_M) ** (TAU_S / (TAU_M - TAU_S))
                                                         - (TAU_S / TAU_M) ** (TAU_M / (TAU_M - TAU_S))))


@pytest.mark.parametrize("latency_us", [0.4, 0.73, 1.6])
def test_an_input_reaches_the_membrane_exactly_the_latency_later(latency_us):
    net = Network("latency")
    net.add_spike_source("in", 1)
    net.add_lif("n", 1, **PARAMS)
    net.connect("in", "n", weight=W_IN)
    t_in = 3.21
    ir = compile_network(net, ideal_with(latency=Latency(input_us=latency_us, recurrent_us=0.0)))
    res = EmulatorBackend(dt_us=DT_US).run(ir, {"in": SpikeTrains.from_first_spike_times([[t_in]])}, duration=20.0)
    # 1 µs chip = 1 ms biological (speed-up 1000)
    assert res.first_spike_times("n")[0, 0] == pytest.approx(t_in + latency_us + crossing_after(W_IN), abs=TOL_MS)
    off = EmulatorBackend(dt_us=DT_US, imperfections=Imperfections(latency=False)).run(
        ir, {"in": SpikeTrains.from_first_spike_times([[t_in]])}, duration=20.0)
    assert off.first_spike_times("n")[0, 0] == pytest.approx(t_in + crossing_after(W_IN), abs=TOL_MS)


def chain(n: int, recurrent: bool) -> Network:
    """in -> n0 -> n1 -> ... : each neuron fires once, driven by the one before; with
    ``recurrent`` a weak back connection makes it one pass (not layers)."""
    net = Network("chain")
    net.add_spike_source("in", 1)
    for i in range(n):
        net.add_lif(f"n{i}", 1, **PARAMS)
    net.connect("in", "n0", weight=W_IN)
    for i in range(n - 1):
        net.connect(f"n{i}", f"n{i + 1}", weight=W_IN)
    if recurrent:
        net.connect(f"n{n - 1}", "n0", weight=0.01)
    return net


@pytest.mark.parametrize("recurrent", [True, False])
@pytest.mark.parametrize("latency_us", [0.4, 0.13, 1.1])
def test_on_chip_spikes_reach_their_targets_the_latency_later(recurrent, latency_us):
    """A chain of 8: spike i+1 = spike i + latency + the single-input crossing delay, whether the
    arrival falls in the spike's step or a later one, in one pass or layer by layer."""
    n = 8
    ir = compile_network(chain(n, recurrent), ideal_with(latency=Latency(input_us=0.0, recurrent_us=latency_us)))
    be = EmulatorBackend(dt_us=DT_US)
    assert (len(be._plan(ir).knet.levels) == 1) == recurrent
    res = be.run(ir, {"in": SpikeTrains.from_first_spike_times([[1.0]])}, duration=60.0)
    got = np.array([res.first_spike_times(f"n{i}")[0, 0] for i in range(n)])
    d = crossing_after(W_IN)
    ref = 1.0 + d + np.arange(n) * (latency_us + d)
    np.testing.assert_allclose(got, ref, atol=TOL_MS * n, rtol=0)


def test_a_run_continued_while_spikes_are_in_flight_equals_one_run():
    """Split while an on-chip spike is on its way (latency 1.1 µs > the 0.5 µs step): the
    continuing run delivers it; spikes equal one long run's."""
    ir = compile_network(chain(6, True), ideal_with(latency=Latency(input_us=0.4, recurrent_us=1.1)))
    be = EmulatorBackend(dt_us=DT_US)
    inp = {"in": SpikeTrains.from_first_spike_times([[1.0]])}
    whole = be.run(ir, inp, duration=40.0)
    t0 = whole.first_spike_times("n2")[0, 0]
    split_at = float(np.ceil((t0 + 0.3) / DT_US) * DT_US)  # n2 has fired, its spike not yet arrived
    assert split_at < t0 + 1.1
    first = be.run(ir, inp, duration=split_at)
    assert len(first.state.in_flight_us) == 1
    second = be.run(ir, inp, duration=40.0 - split_at, state=first.state)
    for i in range(6):
        a = np.concatenate([first.spikes(f"n{i}").times, second.spikes(f"n{i}").times])
        np.testing.assert_allclose(a, whole.spikes(f"n{i}").times, atol=1e-9)


# --- rails --------------------------------------------------------------------------------------
RAIL_MV = -65.0 + (0.0 - 0.42) / 0.0135  # ideal: 0.42 V <-> -65 mV, 13.5 mV chip per mV; rail at 0 V chip


def test_inhibition_holds_the_membrane_at_the_rail_and_it_recovers_from_there():
    """A strong inhibitory input drives V into the lower rail (0 V chip): the trace stays there
    until the inhibitory current, decaying, lifts it (I(t)/C = lo/tau_m), then follows the closed
    form from the rail; a later excitatory input fires the neuron at the time that form predicts."""
    from neuroemu.hardware.config import Rails

    lo = RAIL_MV - V_REST  # relative to rest (mV)
    t_i, t_e = 2.0, 30.0
    w_i, w_e = -40.0, 16.0  # four inhibitory sources of -10 nA at t_i, two excitatory of 8 nA at t_e
    net = Network("rail")
    net.add_spike_source("in", 6)
    net.add_lif("n", 1, **PARAMS)
    net.connect("in", "n", weight=[[-10.0]] * 4 + [[8.0]] * 2, receptor="auto")
    net.record.v = {"n": [0]}
    ir = compile_network(net, ideal_with(rails=Rails(low_V=0.0, high_V=1.2)))
    inp = {"in": SpikeTrains.from_first_spike_times([[t_i] * 4 + [t_e] * 2])}
    res = EmulatorBackend(dt_us=DT_US).run(ir, inp, duration=60.0)
    t_hit = brentq(lambda t: w_i / CM * kernel(t - t_i) - lo, t_i + 1e-9, t_i + 6.9, xtol=1e-13)
    t_rel = t_i + TAU_S * np.log(w_i * TAU_M / (CM * lo))  # w_i/C e^{-(t - t_i)/tau_s} = lo/tau_m

    def v_ref(t):
        if t <= t_hit:
            return w_i / CM * kernel(t - t_i)
        if t <= t_rel:
            return lo
        return lo * np.exp(-(t - t_rel) / TAU_M) + lo / TAU_M * kernel(t - t_rel) + w_e / CM * kernel(t - t_e)

    tr = res.traces
    times = tr.times_ms
    v = tr.v_mV[0, 0] - V_REST
    assert v.min() >= lo - 1e-9  # within the rail
    assert np.sum(np.abs(v - lo) < 1e-9) >= 10  # held there for a while
    before = times < t_e
    # steps with no search are the event moments' (kernel.py: remainder (dt/2)^4 / (6 tau^3) weight x ms)
    moments = abs(w_i) / CM * (DT_US / 2) ** 4 / (6 * TAU_S**3)
    np.testing.assert_allclose(v[before], [v_ref(t) for t in times[before]], atol=1.2 * moments, rtol=0)
    t_spike = brentq(lambda t: v_ref(t) - THETA, t_e + 1e-9, t_e + 6.9, xtol=1e-13)
    assert res.first_spike_times("n")[0, 0] == pytest.approx(t_spike, abs=TOL_MS)
    # without the rail V goes far below and the spike comes later
    free = EmulatorBackend(dt_us=DT_US, imperfections=Imperfections(rails=False)).run(ir, inp, duration=60.0)
    assert free.traces.v_mV.min() < RAIL_MV - 20.0
    assert free.first_spike_times("n")[0, 0] > t_spike + 0.1


def test_bss2_traces_stay_within_the_rails():
    """The issue's case: a neuron under strong inhibition on bss2 (mismatch, noise) read at every
    step: never below the lower rail (it reached -10.6 V chip before)."""
    ir = compile_network(inhibited(PARAMS), "bss2")
    times = np.sort(np.random.default_rng(1).uniform(0, 20, (1, 20)), axis=1)
    res = EmulatorBackend(chip=0).run(ir, {"in": SpikeTrains.from_first_spike_times(times)}, duration=40.0)
    assert res.traces.v_chip_V.min() >= 0.0 - 1e-12
    assert res.traces.v_chip_V.min() < 0.001  # it does reach the rail


# --- saturating synaptic inputs ------------------------------------------------------------------
@pytest.mark.parametrize("saturation", [True, False])
def test_summed_input_stops_growing_linearly(saturation):
    """N synchronous inputs of weight w: with saturation (I_max) the current jumps to
    I_max (1 - (1 - w/I_max)^N) (each event's jump w (1 - I/I_max) from the current the earlier
    ones left), so the PSP, that jump times K(t - t_in), bends away from N w K; without, it is
    linear. Checked on the membrane trace at every step (1e-4 of a step's moments' remainder)."""
    from neuroemu.hardware.config import SynapticSaturation

    hw = ideal_with(synaptic_saturation=SynapticSaturation(max_current_V_per_us=0.05))
    i_max = float(hw.bio_current_nA(0.05, CM)) / CM  # mV/ms (= nA/nF)
    w, t_in = 0.6, 1.0
    peaks = []
    for n in (1, 2, 4, 8, 16):
        net = Network("sync")
        net.add_spike_source("in", n)
        net.add_lif("n", 1, **{**PARAMS, "v_thresh": -20.0})  # never fires
        net.connect("in", "n", weight=w)
        net.record.v = {"n": [0]}
        imp = Imperfections(saturation=saturation)
        res = EmulatorBackend(dt_us=0.1, imperfections=imp).run(
            compile_network(net, hw), {"in": SpikeTrains.from_first_spike_times([[t_in] * n])}, duration=20.0)
        jump = i_max * (1 - (1 - w / CM / i_max) ** n) if saturation else n * w / CM
        t = res.traces.times_ms
        ref = jump * np.array([kernel(x - t_in) for x in t])
        np.testing.assert_allclose(res.traces.v_mV[0, 0] - V_REST, ref, atol=1e-4 * max(1.0, jump), rtol=0)
        peaks.append(ref.max())
    ratio = np.array(peaks) / peaks[0]
    if saturation:
        assert ratio[-1] < 0.6 * 16  # bends away from linear
    else:
        np.testing.assert_allclose(ratio, [1, 2, 4, 8, 16], rtol=1e-12)


def test_saturation_in_the_replay_matches_the_closed_form_first_spike():
    """The exact search sees the saturated jumps too. A constant current holds V 0.3 mV below
    threshold (V = lift); 6 inputs at once push it over within their step, and an inhibitory input
    0.02 ms after the crossing, in the same step, makes the step replayed event by event: it fires
    at the crossing of lift + I_max (1 - (1 - w/I_max)^6) K(t - t_in) (ideal, bss2's step)."""
    from neuroemu.hardware.config import SynapticSaturation

    hw = ideal_with(synaptic_saturation=SynapticSaturation(max_current_V_per_us=0.05))
    i_max = float(hw.bio_current_nA(0.05, CM)) / CM
    w, n, t_in, lift = 2.0, 6, 20.05, THETA - 0.3
    jump = i_max * (1 - (1 - w / CM / i_max) ** n)
    assert jump < 0.8 * n * w  # saturated
    t_ref = t_in + brentq(lambda s: lift + jump * kernel(s) - THETA, 1e-9, 6.9, xtol=1e-14)
    t_lin = t_in + brentq(lambda s: lift + n * w / CM * kernel(s) - THETA, 1e-9, 6.9, xtol=1e-14)
    assert t_ref - t_lin > 100 * TOL_MS
    t_late = t_ref + 0.02
    assert np.floor(t_late / DT_US) == np.floor(t_in / DT_US)  # inputs, crossing, inhibition: one step
    net = Network("sync")
    net.add_spike_source("in", n + 1)
    net.add_lif("n", 1, **PARAMS, i_offset=lift * CM / TAU_M)
    net.connect("in", "n", weight=[[w]] * n + [[-8.0]], receptor="auto")
    res = EmulatorBackend(dt_us=DT_US).run(
        compile_network(net, hw), {"in": SpikeTrains.from_first_spike_times([[t_in] * n + [t_late]])}, duration=30.0)
    assert res.first_spike_times("n")[0, 0] == pytest.approx(t_ref, abs=TOL_MS)


# --- finite reset conductance ---------------------------------------------------------------------
@pytest.mark.parametrize("reset_tau_us", [0.5, 0.0])
def test_the_reset_pulls_the_membrane_through_a_finite_conductance(reset_tau_us):
    """A neuron on a constant current (V_inf above threshold) fires regularly. During the
    refractory period V relaxes from threshold to the reset, v_reset + (thr - v_reset)
    e^{-(t - t_spike)/tau_reset}, and is released from there: every later interval is
    tau_ref + tau_m ln((V_inf - v_free) / (V_inf - thr)), v_free = that value at tau_ref."""
    from neuroemu.hardware.config import Refractory

    v_inf = THETA + 6.0  # mV above rest
    net = Network("regular")
    net.add_lif("n", 1, **{**PARAMS, "tau_refrac": 2.0}, i_offset=v_inf * CM / TAU_M)
    net.record.v = {"n": [0]}
    ir = compile_network(net, ideal_with(refractory=Refractory(clock_base_MHz=250.0, counter_bits=8,
                                                               reset_tau_us=reset_tau_us)))
    be = EmulatorBackend(dt_us=DT_US)
    tau_ref = float(be.effective(ir).tau_refrac[0])  # chip µs = biological ms: the counter's 2.008
    assert tau_ref == pytest.approx(2.008)
    res = be.run(ir, duration=80.0)
    t = res.spikes("n").times
    v_reset = -70.0 - V_REST
    v_free = v_reset + (THETA - v_reset) * (np.exp(-tau_ref / reset_tau_us) if reset_tau_us else 0.0)
    isi = tau_ref + TAU_M * np.log((v_inf - v_free) / (v_inf - THETA))
    assert len(t) >= 4
    np.testing.assert_allclose(np.diff(t), isi, atol=TOL_MS, rtol=0)
    if reset_tau_us:
        assert abs(isi - (tau_ref + TAU_M * np.log((v_inf - v_reset) / (v_inf - THETA)))) > 100 * TOL_MS
        # the trace during the hold follows the relaxation
        tr = res.traces
        j = np.flatnonzero((tr.times_ms > t[1] + 0.1) & (tr.times_ms < t[1] + tau_ref))
        expect = V_REST + v_reset + (THETA - v_reset) * np.exp(-(tr.times_ms[j] - t[1]) / reset_tau_us)
        np.testing.assert_allclose(tr.v_mV[0, 0, j], expect, atol=1e-6)
