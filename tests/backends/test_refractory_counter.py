"""The refractory time as BrainScaleS-2 makes it: a digital counter on one of two selectable clocks.

On bss2 (``realism.refractory``) every neuron's refractory time is counter x clock period,
clock period 2^(scale + 1) / 250 MHz (haldls ``CommonNeuronBackendConfig.ClockScale`` 0..15),
counter 1..255 (8 bit), chosen as calix's ``refractory_period.calculate_settings`` does; no DAC
mismatch, no spread. On ``ideal`` the refractory time is the target, continuous.

The references here are written from those rules directly (periods from the haldls formula,
counters worked out by hand), not from :mod:`neuroemu.models.refractory`."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from neuroemu.backends.brian2 import Brian2Backend
from neuroemu.backends.emulator import EmulatorBackend, Imperfections
from neuroemu.compiler import compile_network, resource_report
from neuroemu.compiler.report import format_resource_report
from neuroemu.errors import RangeError
from neuroemu.hardware import load_hardware
from neuroemu.hardware.config import Realism, Refractory
from neuroemu.models.refractory import refractory_settings
from neuroemu.network import Network

BSS2 = load_hardware("bss2")
IDEAL = load_hardware("ideal")


def period_us(scale: int) -> float:
    """haldls: f = 250 MHz / 2^(scale + 1)."""
    return 2.0 ** (scale + 1) / 250.0


def clock_of(value_us: float) -> set[int]:
    """The clock scales on which ``value_us`` is a whole counter value 1..255."""
    out = set()
    for s in range(16):
        k = value_us / period_us(s)
        if abs(k - round(k)) < 1e-9 and 1 <= round(k) <= 255:
            out.add(s)
    return out


@pytest.mark.parametrize(("targets", "scales", "counters"), [
    # one target: all on the fast clock; 2 µs needs 2/255 µs per cycle < 8 ns -> scale 0; 2 x 125 + 1
    ([2.0], (0, None), [251]),
    # the shortest target of the range: floor(0.04 x 125) + 1 = 6 cycles = 48 ns
    ([0.04], (0, None), [6]),
    # 20 > mean 10.5: slow clock; 20/255 µs per cycle = 9.8 base half-cycles -> scale ceil(log2 9.8) = 4
    # (128 ns); floor(20 / 0.128) + 1 = 157 -> 20.096 µs; 1 µs: scale 0, 126 cycles -> 1.008 µs
    ([1.0, 20.0], (0, 4), [126, 157]),
    # the longest target of the range: 32/255 µs = 15.7 half-cycles -> scale 4; floor(250) + 1
    ([32.0], (4, None), [251]),
])
def test_settings_follow_calix(targets, scales, counters):
    s = refractory_settings(BSS2.realism.refractory, targets)
    assert s.scale_fast == scales[0]
    if scales[1] is not None:
        assert s.scale_slow == scales[1]
    assert s.counter.tolist() == counters
    periods = [period_us(scales[1] if slow else scales[0]) for slow in s.slow]
    np.testing.assert_allclose(s.time_us, np.array(counters) * periods, rtol=1e-12)
    # never below the target, at most one clock period above it
    excess = s.time_us - np.array(targets)
    assert np.all(excess > 0) and np.all(excess <= np.array(periods) * (1 + 1e-9))


def test_target_beyond_the_slowest_clock_is_refused():
    r = Refractory(clock_base_MHz=250.0, counter_bits=8)
    longest = 255 * period_us(15)  # 66.8 ms chip
    assert refractory_settings(r, [longest]).counter.tolist() == [255]
    with pytest.raises(ValueError, match="longer than the counter makes"):
        refractory_settings(r, [1.01 * longest])
    # a config whose counter cannot reach the top of the target range: compile names it
    fast = dataclasses.replace(BSS2, realism=Realism(refractory=Refractory(clock_base_MHz=1.0e6, counter_bits=8)))
    net = Network("long")
    net.add_lif("p", 2, tau_refrac=30.0)
    with pytest.raises(RangeError, match="tau_refrac on bss2"):
        compile_network(net, fast)


def _mixed_network(seed: int = 0) -> tuple[Network, np.ndarray]:
    """Three populations: random refractory targets over the whole range, one shared target, and
    per-neuron targets repeated in pairs (biological ms = chip µs at 1000x)."""
    rng = np.random.default_rng(seed)
    net = Network("refractory")
    spread = rng.uniform(0.04, 32.0, 40)
    pairs = np.repeat(rng.uniform(0.04, 5.0, 10), 2)
    net.add_lif("spread", 40, tau_refrac=spread)
    net.add_lif("same", 30, tau_refrac=3.3)
    net.add_lif("pairs", 20, tau_refrac=pairs)
    return net, np.concatenate([spread, np.full(30, 3.3), pairs])


@pytest.mark.parametrize("chip", [0, 5])
def test_bss2_refractory_times_take_only_counter_values(chip):
    net, target = _mixed_network()
    ir = compile_network(net, BSS2)
    eff = EmulatorBackend(chip=chip).effective(ir)
    tau = eff.tau_refrac
    # every value is a whole counter value 1..255 on some clock, and two clocks cover all neurons
    options = [clock_of(v) for v in tau]
    assert all(options), [v for v, o in zip(tau, options) if not o]
    used = {s for s in range(16) if any(s in o for o in options)}
    assert any(all(a in o or b in o for o in options) for a in used for b in used)
    # the calix rule: at most one period of the neuron's clock above its target, never below
    fast = target <= target.mean()
    s_fast = int(np.ceil(np.log2(target[fast].max() / 255 * 125)))
    s_slow = int(np.ceil(np.log2(target[~fast].max() / 255 * 125)))
    per = np.where(fast, period_us(s_fast), period_us(s_slow))
    np.testing.assert_allclose(tau / per, np.rint(tau / per), atol=1e-9)
    np.testing.assert_array_equal(np.rint(tau / per), np.floor(target / per + 1e-9) + 1)
    # no spread: equal targets give equal times, bit for bit, on any chip
    assert np.ptp(tau[40:70]) == 0.0
    np.testing.assert_array_equal(tau[70::2], tau[71::2])
    np.testing.assert_array_equal(tau, EmulatorBackend(chip=chip + 1).effective(ir).tau_refrac)


def test_bss2_refractory_time_has_no_dac_mismatch_and_ignores_codes():
    """Scaling the config's tau_refrac mismatch, or handing over any DAC codes for it (as a
    calibration would), leaves the refractory time alone: no DAC sets it."""
    net, _ = _mixed_network(1)
    ir = compile_network(net, BSS2)
    base = EmulatorBackend(chip=2).effective(ir).tau_refrac
    loud = EmulatorBackend(chip=2, imperfections=Imperfections(parameter_mismatch_scale={"tau_refrac": 10.0}))
    np.testing.assert_array_equal(loud.effective(ir).tau_refrac, base)

    class Codes:
        def codes_for(self, chip):  # noqa: ARG002
            return {"tau_refrac": np.linspace(0, 1022, BSS2.neurons.circuits)}

    np.testing.assert_array_equal(EmulatorBackend(chip=2, calibration=Codes()).effective(ir).tau_refrac, base)
    # where the refractory time is analog (no counter), the same codes do move it
    analog = dataclasses.replace(BSS2, realism=dataclasses.replace(BSS2.realism, refractory=None))
    ir_a = compile_network(net, analog)
    a0 = EmulatorBackend(chip=2).effective(ir_a).tau_refrac
    a1 = EmulatorBackend(chip=2, calibration=Codes()).effective(ir_a).tau_refrac
    assert not np.array_equal(a0, a1)
    assert np.ptp(a0[40:70]) > 0  # and spreads across circuits with equal targets


def test_ideal_refractory_times_are_continuous():
    net, target = _mixed_network(2)
    ir = compile_network(net, IDEAL)
    np.testing.assert_allclose(EmulatorBackend(chip=0).effective(ir).tau_refrac, target, rtol=1e-12)


def _driven(hw, refr_ms: tuple[float, float]) -> tuple[Network, object]:
    """Neurons whose leak potential lies far above threshold: they fire regularly on their own."""
    net = Network("driven")
    kw = dict(v_rest=-40.0, v_thresh=-50.0, v_reset=-70.0, tau_mem=10.0)
    net.add_lif("fast", 4, tau_refrac=refr_ms[0], **kw)
    net.add_lif("slow", 4, tau_refrac=refr_ms[1], **kw)
    net.record.spikes = ["fast", "slow"]
    return net, compile_network(net, hw)


def test_spike_gap_of_a_driven_neuron_is_the_counter_time_plus_the_climb():
    """On bss2 the interval between spikes of a neuron driven by its leak is the counter's time
    (1 µs -> 126 x 8 ns = 1.008 µs; 20 µs -> 157 x 128 ns = 20.096 µs) plus the climb from the
    reset to the threshold, tau_mem ln((v_leak - v_reset) / (v_leak - v_thresh)) with the
    circuit's own analog values. The reset is made instant (its finite conductance, a separate
    part of the config, would add to the climb); no noise, exact timestamps."""
    counter = dataclasses.replace(BSS2.realism.refractory, reset_tau_us=0.0)
    hw = dataclasses.replace(BSS2, realism=dataclasses.replace(BSS2.realism, refractory=counter))
    _, ir = _driven(hw, (1.0, 20.0))
    imp = Imperfections().without_noise().replace(timestamp_quantization=False)
    backend = EmulatorBackend(chip=1, imperfections=imp)
    eff = backend.effective(ir)
    res = backend.run(ir, duration=300.0)
    climb = eff.tau_mem * np.log((eff.v_leak - eff.v_reset) / (eff.v_leak - eff.v_thresh))
    for pop, first, realised, target in (("fast", 0, 1.008, 1.0), ("slow", 4, 20.096, 20.0)):
        ps = res.populations[pop]
        t, n = np.asarray(ps.times_us), np.asarray(ps.spikes.neuron)
        for i in range(4):
            gaps = np.diff(t[n == i])
            assert len(gaps) >= 3
            refractory = gaps - climb[first + i]
            np.testing.assert_allclose(refractory, realised, atol=1e-9)
            assert np.all(np.abs(refractory - target) > 0.9 * (realised - target))  # the quantization shows


def test_brian2_chip_replay_uses_the_counter_times():
    """Brian2's chip replay reads the effective network as data: the quantized refractory times
    (in biological ms) reach it, not the targets."""
    _, ir = _driven(BSS2, (1.0, 20.0))
    params, _, _ = Brian2Backend(mode="chip-replay", chip=3).parameters(ir)
    np.testing.assert_allclose(params.tau_refrac, [1.008] * 4 + [20.096] * 4, rtol=1e-12)
    ideal_params, _, _ = Brian2Backend(mode="ideal").parameters(ir)
    np.testing.assert_allclose(ideal_params.tau_refrac, [1.0] * 4 + [20.0] * 4)


def test_resource_report_names_the_clocks():
    net, target = _mixed_network()
    rep = resource_report(compile_network(net, BSS2))
    rc = rep["refractory_counter"]
    fast = target <= target.mean()
    assert rc["clock_base_MHz"] == 250.0 and rc["counter_bits"] == 8
    assert (rc["neurons_fast"], rc["neurons_slow"]) == (int(fast.sum()), int((~fast).sum()))
    assert rc["period_fast_us"] == period_us(rc["clock_scale_fast"])
    assert rc["period_slow_us"] == period_us(rc["clock_scale_slow"])
    assert 0 < rc["max_quantization_error_us"] <= rc["period_slow_us"]
    text = format_resource_report(rep)
    assert f"refractory counter: fast clock scale {rc['clock_scale_fast']}" in text
    assert resource_report(compile_network(net, IDEAL))["refractory_counter"] is None


def test_study_bases():
    """Robustness studies: the ``ideal`` base has none of the chip's limits (continuous refractory
    times, as on ``ideal``); the ``chip`` base keeps the counter, on which no mismatch knob moves it."""
    from neuroemu.studies.knobs import apply_knobs

    net, target = _mixed_network(3)
    ideal = apply_knobs(BSS2, "ideal", {"mismatch": 0.0})
    assert ideal.hardware.realism.refractory is None
    ir = compile_network(net, ideal.hardware)
    np.testing.assert_allclose(EmulatorBackend(chip=0, imperfections=ideal.imperfections).effective(ir).tau_refrac,
                               target, rtol=1e-12)
    chip = apply_knobs(BSS2, "chip", {"mismatch": 3.0, "mismatch.tau_refrac": 3.0})
    assert chip.hardware.realism.refractory == BSS2.realism.refractory
    ir = compile_network(net, chip.hardware)
    tau = EmulatorBackend(chip=0, imperfections=chip.imperfections).effective(ir).tau_refrac
    np.testing.assert_array_equal(tau, refractory_settings(BSS2.realism.refractory, target).time_us)
