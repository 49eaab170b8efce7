"""Brian2's chip-replay of the chip's limits (issue 13, ``realism`` of the hardware config), each
on a copy of ``ideal`` with that part on: the fixed latency and the voltage rails against the
emulator and closed forms, the saturating synaptic input and the finite reset conductance (the
emulator refuses both so far) against closed forms written here. Every part switched off (a
knob, or the part absent) gives the replay without it.

Biological units (ms, mV, nA, nF); speed-up 1000, so 1 chip µs = 1 biological ms. Tolerances as
functions of Brian2's ``dt`` (``backends/brian2/network.py``): v at the grid points within
``(dt/tau_min)^4`` x the deflection (rk4); a spike seen at the first grid point at or after the
crossing; a delay acts as ``round(d/dt)`` steps; the rails clip v after each step (a membrane
released from the lower rail is low by at most ``|v_inf - v_lo| dt^2 / (8 tau_m tau_syn)``).
A single input of weight w at t_i gives V(t) - v_rest = w/C K(t - t_i),
K(s) = tau_s tau_m / (tau_m - tau_s) (e^{-s/tau_m} - e^{-s/tau_s}).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.optimize import brentq

from neuroemu.backends.brian2 import Brian2Backend
from neuroemu.backends.brian2.backend import ReplayLimits
from neuroemu.backends.brian2.network import LIF_EQUATIONS, lif_equations
from neuroemu.backends.emulator import EmulatorBackend, Imperfections
from neuroemu.compiler import compile_network
from neuroemu.hardware import load_hardware
from neuroemu.hardware.config import Latency, Rails, Refractory, SynapticSaturation
from neuroemu.network import Network
from neuroemu.spikes import SpikeTrains

from conftest import ideal_with, inhibited

V_REST, V_RESET, V_THRESH, CM, TAU_M, TAU_S = -65.0, -70.0, -50.0, 1.0, 10.0, 5.0
THETA = V_THRESH - V_REST
DTS = (0.01, 0.1)  # ms: the backend's default step and Brian2's
EMU_DT_US = 0.5
EMU_TOL_MS = 1e-5  # the emulator's spike times against their closed forms (test_emulator_realism.py)
PARAMS = dict(tau_mem=TAU_M, tau_syn_exc=TAU_S, tau_syn_inh=TAU_S, v_rest=V_REST, v_reset=V_RESET,
              v_thresh=V_THRESH, tau_refrac=30.0, cm=CM)
#: the ideal config's voltage map: 0.42 V chip <-> -65 mV, 13.5 mV chip per mV biological
CHIP_V_PER_MV, CHIP_V_AT_REST, SPEEDUP = 0.0135, 0.42, 1000.0


def kernel(s):
    """K(s) (ms): the PSP of a unit current jump over C, zero before the jump."""
    s = np.maximum(np.asarray(s, float), 0.0)
    return TAU_S * TAU_M / (TAU_M - TAU_S) * (np.exp(-s / TAU_M) - np.exp(-s / TAU_S))


def v_tol(dt: float, tau_min: float, deflection: float) -> float:
    """The stated bound on v at the grid points (rk4 on a linear system), plus float rounding."""
    return (dt / tau_min) ** 4 * deflection + 1e-9


def on_grid(t: float, dt: float) -> float:
    """Where an input at t acts: the first grid point at or after it."""
    return float(np.ceil(t / dt - 1e-6) * dt)


# --- latency -----------------------------------------------------------------------------------
def chain(n: int) -> Network:
    """in -> n0 -> n1 -> ...: each neuron fires once, driven by the one before only."""
    net = Network("chain")
    net.add_spike_source("in", 1)
    for i in range(n):
        net.add_lif(f"n{i}", 1, **PARAMS)
    net.connect("in", "n0", weight=10.0)
    for i in range(n - 1):
        net.connect(f"n{i}", f"n{i + 1}", weight=10.0)
    return net


def _firsts(res, n: int) -> np.ndarray:
    return np.array([res.first_spike_times(f"n{i}")[0, 0] for i in range(n)])


@pytest.mark.parametrize("dt", DTS)
@pytest.mark.parametrize("latency", [0.4, 0.73])
def test_latency_replays_the_emulator(dt, latency):
    """A chain of 3 on ideal with input and recurrent latency. Brian2's grid rules make its
    spikes the latency-free replay's shifted by exactly a + k d, a = ceil-to-grid(t_in + l) - t_in
    (the input's shift), d = round(l/dt) dt (the delay Brian2 realises; |d - l| <= dt/2). Against
    the emulator (exact): neuron k is driven by one input only, so its spike lags the exact one by
    the input's grid lag, k rounding errors d - l and k + 1 threshold lags in [0, dt)."""
    n, t_in = 3, 1.0
    ir = compile_network(chain(n), ideal_with(latency=Latency(input_us=latency, recurrent_us=latency)))
    inp = {"in": SpikeTrains.from_first_spike_times([[t_in]])}
    res = Brian2Backend("chip-replay", dt=dt).run(ir, inp, duration=30.0)
    assert res.info["realism"]["latency_input_ms"] == pytest.approx(latency)
    got = _firsts(res, n)
    off = _firsts(Brian2Backend("chip-replay", dt=dt, imperfections=Imperfections(latency=False).without_noise())
                  .run(ir, inp, duration=30.0), n)
    a = on_grid(t_in + latency, dt) - on_grid(t_in, dt)
    d = np.rint(latency / dt) * dt
    np.testing.assert_allclose(got - off, a + np.arange(n) * d, atol=1e-9, rtol=0)

    emu = _firsts(EmulatorBackend(dt_us=EMU_DT_US).run(ir, inp, duration=30.0), n)
    lag = got - emu - (on_grid(t_in + latency, dt) - (t_in + latency)) - np.arange(n) * (d - latency)
    assert np.all(lag > -EMU_TOL_MS) and np.all(lag < (np.arange(n) + 1) * dt + EMU_TOL_MS), lag


def test_latency_off_equals_the_replay_without_it():
    """``Imperfections(latency=False)`` replays the network as on a config without latency."""
    inp = {"in": SpikeTrains.from_first_spike_times([[1.0]])}
    ir = compile_network(chain(3), ideal_with(latency=Latency(input_us=0.4, recurrent_us=0.4)))
    off = Brian2Backend("chip-replay", imperfections=Imperfections(latency=False).without_noise())
    assert off.limits(ir) == ReplayLimits()
    plain = Brian2Backend("chip-replay").run(compile_network(chain(3), "ideal"), inp, duration=30.0)
    np.testing.assert_array_equal(_firsts(off.run(ir, inp, duration=30.0), 3), _firsts(plain, 3))


def test_latency_in_flight_carries_over_to_a_continued_run():
    """Split once while the input event and once while an on-chip spike is on its way: the
    continuing run delivers them (Brian2State's carry), spikes equal one long run's."""
    dt, n = 0.1, 4
    ir = compile_network(chain(n), ideal_with(latency=Latency(input_us=0.7, recurrent_us=1.1)))
    be = Brian2Backend("chip-replay", dt=dt)
    inp = {"in": SpikeTrains.from_first_spike_times([[1.0]])}
    whole = _firsts(be.run(ir, inp, duration=40.0), n)
    t1 = whole[1]
    for split in (1.3, float(np.round((t1 + 0.5) / dt) * dt)):  # input in flight; n1's spike in flight
        first = be.run(ir, inp, duration=split)
        assert len(first.state.carry_ms) == 1
        second = be.run(ir, inp, duration=40.0 - split, state=first.state)
        for i in range(n):
            t = np.concatenate([first.spikes(f"n{i}").times, second.spikes(f"n{i}").times])
            np.testing.assert_allclose(t, [whole[i]], atol=1e-9)


# --- rails -------------------------------------------------------------------------------------
RAIL_MV = V_REST + (0.0 - CHIP_V_AT_REST) / CHIP_V_PER_MV  # the lower rail, 0 V chip
RAILS = Rails(low_V=0.0, high_V=1.2)


def rail_network() -> Network:
    """Four inhibitory sources of -10 nA and two excitatory of 8 nA onto one neuron."""
    net = Network("rail")
    net.add_spike_source("in", 6)
    net.add_lif("n", 1, **PARAMS)
    net.connect("in", "n", weight=[[-10.0]] * 4 + [[8.0]] * 2, receptor="auto")
    net.record.v = {"n": [0]}
    return net


@pytest.mark.parametrize("dt", DTS)
def test_rails_replay_the_emulator(dt):
    """Inhibition at 2 ms drives V into the lower rail; it is held there until the decaying
    current lifts it (I/C = (v_lo - v_rest)/tau_m at t_rel), then evolves freely from the rail;
    excitation at 30 ms fires it. Brian2's clipped trace: never below the rail, at the rail on the
    grid points in between, else the closed form within the rk4 bound, except that after the
    release it is low by curvature (t_g - t_rel)^2 / 2 <= delta = |v_lo - v_rest| dt^2 / (8 tau_m
    tau_s) (curvature: that of the free path at the release; a clipped step leaves the rail at the
    first grid point t_g >= t_rel - dt/2, the first whose free step ends above it). The spike: seen
    in [t*, t* + dt + delta/slope) of the exact crossing t*, as the emulator's (exact) is."""
    lo = RAIL_MV - V_REST
    t_i, t_e, w_i, w_e = 2.0, 30.0, -40.0, 16.0
    ir = compile_network(rail_network(), ideal_with(rails=RAILS))
    inp = {"in": SpikeTrains.from_first_spike_times([[t_i] * 4 + [t_e] * 2])}
    res = Brian2Backend("chip-replay", dt=dt).run(ir, inp, duration=60.0)
    assert res.info["realism"]["rails_mV"] == pytest.approx([RAIL_MV, V_REST + (1.2 - CHIP_V_AT_REST) / CHIP_V_PER_MV])
    t_hit = brentq(lambda t: w_i / CM * kernel(t - t_i) - lo, t_i + 1e-9, t_i + 6.9, xtol=1e-13)
    t_rel = t_i + TAU_S * np.log(w_i * TAU_M / (CM * lo))  # w_i/C e^{-(t - t_i)/tau_s} = lo/tau_m

    def v_ref(t: float) -> float:
        if t <= t_hit:
            return w_i / CM * kernel(t - t_i)
        if t <= t_rel:
            return lo
        return lo * np.exp(-(t - t_rel) / TAU_M) + lo / TAU_M * kernel(t - t_rel) + w_e / CM * kernel(t - t_e)

    t_b2 = res.first_spike_times("n")[0, 0]
    times, v = res.traces.times_ms, res.traces.v_mV[0, 0] - V_REST
    times, v = times[times < t_b2], v[times < t_b2]  # (the closed form knows no reset)
    ref = np.array([v_ref(t) for t in times])
    tol = v_tol(dt, TAU_S, abs(lo) + w_e * TAU_S)
    curvature = abs(lo) / (TAU_M * TAU_S)  # d^2V/dt^2 of the free path at the release (mV/ms^2)
    delta = curvature * dt**2 / 8
    t_g = np.ceil((t_rel - dt / 2) / dt - 1e-9) * dt  # Brian2 leaves the rail at this grid point
    assert v.min() >= lo - 1e-9
    held = (times > t_hit + dt) & (times < t_rel)
    np.testing.assert_allclose(v[held], lo, atol=1e-9, rtol=0)
    err = v - ref
    before, after = times <= t_rel, times > t_rel
    assert np.all(np.abs(err[before]) <= tol), np.abs(err[before]).max()
    assert np.all((err[after] >= -delta - tol) & (err[after] <= tol)), (err[after].min(), err[after].max(), delta)
    # the lag itself: starting free at t_g, not at t_rel, leaves V low by curvature (t_g - t_rel)^2 / 2
    lag = curvature * (t_g - t_rel) ** 2 / 2
    assert err[after].min() == pytest.approx(-lag, rel=0.05, abs=tol)

    t_star = brentq(lambda t: v_ref(t) - THETA, t_e + 1e-9, t_e + 6.9, xtol=1e-13)
    slope = (v_ref(t_star + 1e-6) - v_ref(t_star - 1e-6)) / 2e-6
    emu = EmulatorBackend(dt_us=EMU_DT_US).run(ir, inp, duration=60.0)
    t_emu = emu.first_spike_times("n")[0, 0]
    assert t_emu == pytest.approx(t_star, abs=EMU_TOL_MS)
    late = t_b2 - t_emu
    assert -EMU_TOL_MS < late < dt + delta / slope + EMU_TOL_MS
    # the emulator's trace at its own steps (on Brian2's grid too): the same bound
    te = emu.traces.times_ms
    k = np.rint(te[te < t_b2] / dt).astype(int)
    d = v[k] - (emu.traces.v_mV[0, 0, te < t_b2] - V_REST)
    emu_moments = 1.2 * abs(w_i) / CM * (EMU_DT_US / 2) ** 4 / (6 * TAU_S**3)  # the emulator's own bound
    assert np.all((d >= -delta - tol - emu_moments) & (d <= tol + emu_moments)), (d.min(), d.max())


def test_rails_off_equals_the_replay_without_them():
    """``Imperfections(rails=False)``: the replay of the same network on ``ideal`` (V goes far
    below the rail); on: the rail holds it."""
    inp = {"in": SpikeTrains.from_first_spike_times([[2.0] * 4 + [30.0] * 2])}
    ir = compile_network(rail_network(), ideal_with(rails=RAILS))
    off = Brian2Backend("chip-replay", imperfections=Imperfections(rails=False).without_noise()).run(
        ir, inp, duration=60.0)
    plain = Brian2Backend("chip-replay").run(compile_network(rail_network(), "ideal"), inp, duration=60.0)
    np.testing.assert_array_equal(off.traces.v_mV, plain.traces.v_mV)
    np.testing.assert_array_equal(off.spikes("n").times, plain.spikes("n").times)
    assert off.traces.v_mV.min() < RAIL_MV - 20.0


def test_bss2_replay_stays_within_the_rails():
    """The issue's case on bss2 (chip 0, noise off, every limit of the config on): a neuron under
    strong inhibition reaches the lower rail and never goes below it, in Brian2 as on the emulator."""
    ir = compile_network(inhibited(PARAMS), "bss2")
    times = np.sort(np.random.default_rng(1).uniform(0, 20, (1, 20)), axis=1)
    res = Brian2Backend("chip-replay", chip=0).run(ir, {"in": SpikeTrains.from_first_spike_times(times)},
                                                   duration=40.0)
    lim = res.info["realism"]
    assert lim["latency_input_ms"] == pytest.approx(0.4) and lim["rails_mV"] is not None
    assert res.traces.v_chip_V.min() >= -1e-12
    assert res.traces.v_chip_V.min() < 0.001


# --- saturating synaptic input -----------------------------------------------------------------
I_MAX_CHIP = 0.05  # V/µs


def i_max_nA() -> float:
    """The bound in biological nA: chip V/µs over (chip V per mV x speed-up / 1000) is mV/ms = nA/nF."""
    return I_MAX_CHIP / (CHIP_V_PER_MV * SPEEDUP / 1000.0) * CM


NS = (1, 2, 4, 8)
W_SAT = 2.0  # nA, below I_max (3.70 nA)


def saturation_network() -> Network:
    """8 excitatory and 8 inhibitory sources; neuron k gets the first NS[k] excitatory ones,
    neuron 4 + k the first NS[k] inhibitory ones, neuron 8 excitatory sources 8 and 9."""
    net = Network("saturation")
    net.add_spike_source("exc", 10)
    net.add_spike_source("inh", 8)
    net.add_lif("n", 9, **{**PARAMS, "v_thresh": -20.0})  # no spikes
    we, wi = np.zeros((10, 9)), np.zeros((8, 9))
    for k, n in enumerate(NS):
        we[:n, k] = W_SAT
        wi[:n, 4 + k] = -W_SAT
    we[8:, 8] = W_SAT
    net.connect("exc", "n", weight=we, receptor="exc")
    net.connect("inh", "n", weight=wi, receptor="inh")
    net.record.v = {"n": list(range(9))}
    return net


T_SYNC, T_A, T_B = 1.0, 20.0, 23.0
SAT_INPUTS = {"exc": SpikeTrains.from_first_spike_times([[T_SYNC] * 8 + [T_A, T_B]]),
              "inh": SpikeTrains.from_first_spike_times([[T_SYNC] * 8])}


@pytest.mark.parametrize("dt", DTS)
def test_saturation_against_its_closed_form(dt):
    """N synchronous inputs of weight w: the current jumps by I_max (1 - (1 - w/I_max)^N) (each
    event I <- I + w (1 - |I|/I_max)), the same for inhibition with the signs turned; two inputs
    3 ms apart: the second jumps by w (1 - w e^{-3/tau_s}/I_max) (the current decays between them).
    Brian2's traces: those PSPs within the rk4 bound. The PSP peak bends away from N x the single
    one; on ``ideal`` (no saturation) the same network is linear."""
    i_max = i_max_nA()
    ir = compile_network(saturation_network(), ideal_with(synaptic_saturation=SynapticSaturation(I_MAX_CHIP)))
    res = Brian2Backend("chip-replay", dt=dt).run(ir, SAT_INPUTS, duration=50.0)
    assert res.info["realism"]["max_current_V_per_us"] == I_MAX_CHIP
    t, v = res.traces.times_ms, res.traces.v_mV[0] - V_REST
    jumps = np.array([i_max * (1 - (1 - W_SAT / i_max) ** n) for n in NS])
    second = W_SAT * (1 - W_SAT * np.exp(-(T_B - T_A) / TAU_S) / i_max)
    ref = np.concatenate([np.outer(jumps, kernel(t - T_SYNC)), -np.outer(jumps, kernel(t - T_SYNC)),
                          [W_SAT * kernel(t - T_A) + second * kernel(t - T_B)]]) / CM
    np.testing.assert_allclose(v, ref, atol=v_tol(dt, TAU_S, jumps[-1] * TAU_S), rtol=0)
    peaks = v[:4].max(axis=1)
    assert np.all(np.diff(peaks / np.array(NS)) < -0.05 * peaks[0])  # sublinear, more so with N
    np.testing.assert_allclose(-v[4:8].min(axis=1), peaks, rtol=1e-9)

    linear = Brian2Backend("chip-replay", dt=dt).run(compile_network(saturation_network(), "ideal"), SAT_INPUTS,
                                                      duration=50.0)
    lp = linear.traces.v_mV[0, :4].max(axis=1) - V_REST
    np.testing.assert_allclose(lp, np.array(NS) * lp[0], rtol=1e-7)


# --- finite reset conductance ------------------------------------------------------------------
RESET_TAU = 0.5  # chip µs = biological ms
V_INF = THETA + 6.0  # mV above rest: the neuron fires regularly on its constant current


def reset_ir(reset_tau_us: float):
    """One neuron on a constant current from v_inf = rest + 21 mV, refractory target 2 ms (the
    counter makes 2.008 ms: 251 x 8 ns)."""
    net = Network("regular")
    net.add_lif("n", 1, **{**PARAMS, "tau_refrac": 2.0}, i_offset=V_INF * CM / TAU_M)
    net.record.v = {"n": [0]}
    return compile_network(net, ideal_with(refractory=Refractory(clock_base_MHz=250.0, counter_bits=8,
                                                                  reset_tau_us=reset_tau_us)))


@pytest.mark.parametrize("dt", (0.008, 0.001))  # divide the counter's 2.008 ms
@pytest.mark.parametrize("reset_tau_us", [RESET_TAU, 0.0])
def test_reset_conductance_against_its_closed_form(dt, reset_tau_us):
    """After each spike (seen at t_b) V relaxes from threshold to the reset, v_reset + (thr -
    v_reset) e^{-(t - t_b)/tau_reset}, for the refractory time tau_ref, and is free from
    v_free = v_reset + (thr - v_reset) e^{-tau_ref/tau_reset} (tau_reset 0: v_reset, held); the
    next crossing is tau_ref + tau_m ln((V_inf - v_free)/(V_inf - thr)) later, seen within dt."""
    ir = reset_ir(reset_tau_us)
    be = Brian2Backend("chip-replay", dt=dt)
    tau_ref = float(be.parameters(ir)[0].tau_refrac[0])
    assert tau_ref == pytest.approx(2.008)
    res = be.run(ir, None, duration=60.0)
    assert res.info["realism"]["reset_tau_ms"] == reset_tau_us
    spikes = res.spikes("n").times
    assert len(spikes) >= 4
    v_reset, theta = V_RESET - V_REST, THETA
    decay = np.exp(-tau_ref / reset_tau_us) if reset_tau_us else 0.0
    v_free = v_reset + (theta - v_reset) * decay
    isi = tau_ref + TAU_M * np.log((V_INF - v_free) / (V_INF - theta))
    late = np.diff(spikes) - isi
    assert np.all(late > -1e-9) and np.all(late < dt + 1e-9), late
    times, v = res.traces.times_ms, res.traces.v_mV[0, 0] - V_REST
    for t_b in spikes[1:-1]:
        hold = (times >= t_b - 1e-9) & (times <= t_b + tau_ref + 1e-9)
        if reset_tau_us:
            expect = v_reset + (theta - v_reset) * np.exp(-(times[hold] - t_b) / reset_tau_us)
            tol = v_tol(dt, reset_tau_us, theta - v_reset)
        else:  # held at v_reset
            expect, tol = np.full(hold.sum(), v_reset), 1e-9
        np.testing.assert_allclose(v[hold], expect, atol=tol, rtol=0)
        assert v[hold][-1] == pytest.approx(v_free, abs=tol)  # the membrane right after the refractory period
    if reset_tau_us:  # vs the instant reset: a visibly shorter interval
        assert isi < tau_ref + TAU_M * np.log((V_INF - v_reset) / (V_INF - theta)) - 0.05
        if "reset_conductance" in {f.name for f in dataclasses.fields(Imperfections)}:  # the emulator's knob
            off = Brian2Backend("chip-replay", dt=dt, imperfections=Imperfections(reset_conductance=False))
            instant = Brian2Backend("chip-replay", dt=dt).run(reset_ir(0.0), None, duration=60.0)
            np.testing.assert_array_equal(off.run(ir, None, duration=60.0).traces.v_mV, instant.traces.v_mV)


def test_limits_off_give_todays_equations():
    """Every limit off: the LIF equations of the replay without them; each one changes them."""
    assert lif_equations() == LIF_EQUATIONS
    assert "tau_reset" in lif_equations(finite_reset=True) and "(unless refractory)" not in lif_equations(True)
    assert "v_lo" in lif_equations(rails=True) and "I_max" in lif_equations(saturation=True)
    hw = load_hardware("bss2")
    net = Network("one")
    net.add_spike_source("in", 1)
    net.add_lif("n", 1, **PARAMS)
    net.connect("in", "n", weight=1.0)
    ir = compile_network(net, hw)
    assert Brian2Backend("chip-replay", imperfections=Imperfections.none()).limits(ir) == ReplayLimits()
    assert Brian2Backend("ideal").limits(ir) == ReplayLimits()
