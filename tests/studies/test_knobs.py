"""Imperfection knobs: each changes only what it names; all at 0 on the ideal base is the ideal run;
unknown knobs and knobs a backend cannot express are refused with a clear message."""
from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import numpy as np
import pytest

from neuroemu.backends.brian2 import Brian2Backend
from neuroemu.backends.emulator import Chip, EmulatorBackend, Imperfections
from neuroemu.backends.emulator.effective import effective_network
from neuroemu.compiler import compile_network
from neuroemu.errors import BackendError, NeuroemuError
from neuroemu.hardware import load_hardware
from neuroemu.hardware.config import EventBuses, Latency, Rails, Realism, SynapticSaturation
from neuroemu.network import Network
from neuroemu.spikes import SpikeTrains
from neuroemu.studies import knobs as knobs_module
from neuroemu.studies.knobs import KNOBS, apply_knobs, check_backend, check_points

from conftest import TTFS_PARAMS, fan, feedforward

FIELDS = ("v_leak", "v_reset", "v_thresh", "tau_mem", "tau_syn_exc", "tau_syn_inh", "tau_refrac", "dead", "weight")


def _effective(point: dict[str, float], chip: int = 3, base: str = "ideal"):
    s = apply_knobs(load_hardware("bss2"), base, point)
    ir = compile_network(feedforward(8, 40, 5, seed=1), s.hardware)
    chip_ = Chip(s.hardware, chip)
    return effective_network(ir, chip_, s.imperfections), s


def _changed(a, b) -> set[str]:
    """Fields that differ beyond float rounding (the leak of a neuron is a conductance-weighted mean)."""
    return {f for f in FIELDS if not np.allclose(getattr(a, f), getattr(b, f), rtol=1e-12, atol=0)}


@pytest.fixture(scope="module")
def zero():
    return _effective({})[0]


@pytest.mark.parametrize("knob, expect", [
    ("mismatch", {"v_leak", "v_reset", "v_thresh", "tau_mem", "tau_syn_exc", "tau_syn_inh", "tau_refrac", "weight"}),
    ("mismatch.tau_mem", {"tau_mem"}),
    ("mismatch.v_thresh", {"v_thresh"}),
    ("mismatch.input_gain_exc", {"weight"}),
    ("weight_mismatch", {"weight"}),
    ("weight_bits", {"weight"}),
    ("dead_fraction", {"dead"}),
])
def test_knob_changes_only_what_it_names(zero, knob, expect):
    value = {"weight_bits": 4, "dead_fraction": 0.2}.get(knob, 1.0)
    eff, _ = _effective({knob: value})
    assert _changed(zero, eff) == expect


@pytest.mark.parametrize("knob", ["membrane_noise", "threshold_jitter", "spike_jitter"])
def test_temporal_knobs_leave_the_chip_alone(zero, knob):
    eff, s = _effective({knob: 1.0})
    assert _changed(zero, eff) == set()
    switches = s.imperfections.switches(s.hardware)
    on = {"membrane_noise": "membrane_noise", "threshold_jitter": "threshold_jitter",
          "spike_jitter": "spike_time_jitter"}[knob]
    assert [k for k, v in switches.items() if v] == [on]


def _run(hw, imp, trials=4):
    net = feedforward(16, 20, 4, seed=2)
    ir = compile_network(net, hw)
    rng = np.random.default_rng(0)
    inputs = {"input": SpikeTrains.from_first_spike_times(rng.uniform(0, 10, (trials, 16)))}
    return EmulatorBackend(chip=5, imperfections=imp).run(ir, inputs, duration=60.0, trials=trials, seed=1)


def test_all_knobs_zero_is_the_ideal_run():
    """Every knob at 0 on bss2 with the ideal base = the network on the `ideal` config."""
    point = {k: 0.0 for k in KNOBS}
    assert {"rail_span", "latency", "bus_serialization", "saturation", "spike_jitter"} <= set(point)
    s = apply_knobs(load_hardware("bss2"), "ideal", point)
    assert s.imperfections.switches(s.hardware) == {k: False for k in s.imperfections.switches(s.hardware)}
    assert s.hardware.realism == Realism()  # none of the chip's limits either
    got = _run(s.hardware, s.imperfections)
    ref = _run(load_hardware("ideal"), Imperfections.none())
    for pop in ("hidden", "output"):
        a, b = got.first_spike_times(pop), ref.first_spike_times(pop)
        np.testing.assert_array_equal(np.isfinite(a), np.isfinite(b))
        assert np.isfinite(a).any()  # the comparison has spikes to compare
        # both within 0.1 % of tau_syn of the closed form; bss2 steps 0.5 µs, ideal 0.1 µs
        np.testing.assert_allclose(a[np.isfinite(a)], b[np.isfinite(b)], atol=1e-2)


def test_mismatch_scale_scales_the_spread():
    spreads = []
    for scale in (0.5, 1.0, 2.0):
        eff, _ = _effective({"mismatch.tau_mem": scale})
        spreads.append(np.std(eff.tau_mem) / np.mean(eff.tau_mem))
    assert spreads[0] < spreads[1] < spreads[2]
    assert spreads[2] / spreads[1] == pytest.approx(2.0, rel=0.15)


def test_chip_base_keeps_config_imperfections_and_knob_overrides():
    s = apply_knobs(load_hardware("bss2"), "chip", {"membrane_noise": 0.0})
    sw = s.imperfections.switches(s.hardware)
    assert sw["mismatch"] and sw["weight_quantization"] and not sw["membrane_noise"]


@pytest.mark.parametrize("knob, value, message", [
    ("mismatch.tau_memory", 1.0, "unknown knob 'mismatch.tau_memory'"),
    ("noise", 1.0, "unknown knob 'noise'"),
    ("mismatch", -1.0, "must be >= 0"),
    ("weight_bits", 2.5, "integer"),
    ("dead_fraction", 1.0, "below 1"),
    ("latency", -0.1, "latency must be >= 0"),
    ("latency", math.nan, "latency must be a finite number"),
    ("bus_serialization", math.inf, "bus_serialization must be a finite number"),
    ("saturation", -2.0, "saturation must be >= 0"),
    # the lower rail at 1.2 - 0.5 x 1.2 = 0.6 V lies above the leak range's bottom, 0.285 V
    ("rail_span", 0.5, r"rail_span=0.5 puts the lower rail at 0.6 V, above the lowest v_leak .* rail_span >= 0.7625"),
])
def test_bad_knobs_are_refused(knob, value, message):
    for base in ("ideal", "chip"):
        with pytest.raises(NeuroemuError, match=message):
            apply_knobs(load_hardware("bss2"), base, {knob: value})


def test_brian2_refuses_knobs_it_cannot_express():
    with pytest.raises(BackendError, match="brian2 backend cannot express knob.*spike_jitter"):
        check_backend("brian2", ["mismatch", "spike_jitter"])
    # its chip-replay models the chip's limits (tests/backends/test_brian2_realism.py)
    check_backend("brian2", ["mismatch", "membrane_noise", "dead_fraction", "bus_serialization", "rail_span", "latency",
                             "saturation"])
    check_backend("emulator", list(KNOBS))


def test_weight_bits_coarsen_steps_at_the_same_strength():
    """Fewer bits: codes up to 2^bits - 1, and the largest weight stays what the network needs."""
    largest = {}
    for bits in (2, 4, 6):
        s = apply_knobs(load_hardware("bss2"), "ideal", {"weight_bits": bits})
        ir = compile_network(feedforward(8, 40, 5, seed=1), s.hardware)
        codes = np.abs(ir.weights.code)
        assert codes.max() == 2**bits - 1 and np.all(codes == np.rint(codes))
        largest[bits] = np.abs(effective_network(ir, Chip(s.hardware, 3), s.imperfections).weight).max()
    assert largest[2] == pytest.approx(largest[6], rel=1e-9)


# --- the chip's limits (realism) ----------------------------------------------------------------
BSS2_V_PER_BIO_MV = 0.0135  # bss2: chip V per biological mV; speed-up 1000 (1 bio ms = 1 chip µs)


@pytest.mark.parametrize("base, knob, value, part, expect, switch", [
    # ideal base: the part is off until the knob switches it on, with bss2's figures
    ("ideal", "rail_span", 0.8, "rails", Rails(low_V=1.2 - 0.8 * 1.2, high_V=1.2), ("rails", True)),
    ("ideal", "rail_span", 0.0, "rails", None, ("rails", False)),
    ("ideal", "latency", 0.25, "latency", Latency(input_us=0.25, recurrent_us=0.25), ("latency", True)),
    ("ideal", "latency", 0.0, "latency", Latency(), ("latency", False)),
    ("ideal", "bus_serialization", 2.0, "event_buses", EventBuses(4, 0.016, 32), ("event_buses", True)),
    ("ideal", "bus_serialization", 0.0, "event_buses", None, ("event_buses", False)),
    ("ideal", "saturation", 2.0, "synaptic_saturation", SynapticSaturation(2.0 * BSS2_V_PER_BIO_MV),
     ("saturation", True)),
    ("ideal", "saturation", 0.0, "synaptic_saturation", None, ("saturation", False)),
    # chip base: the knob overrides the config's value (bss2: rails 0..1.2 V, 0.4 µs, 4 buses of 8 ns)
    ("chip", "rail_span", 1.25, "rails", Rails(low_V=-0.3, high_V=1.2), ("rails", True)),
    ("chip", "rail_span", 0.0, "rails", None, ("rails", False)),
    ("chip", "latency", 1.5, "latency", Latency(input_us=1.5, recurrent_us=1.5), ("latency", True)),
    ("chip", "latency", 0.0, "latency", Latency(), ("latency", False)),
    ("chip", "bus_serialization", 0.5, "event_buses", EventBuses(4, 0.004, 32), ("event_buses", True)),
    ("chip", "bus_serialization", 0.0, "event_buses", None, ("event_buses", False)),
    ("chip", "saturation", 3.0, "synaptic_saturation", SynapticSaturation(3.0 * BSS2_V_PER_BIO_MV),
     ("saturation", True)),
])
def test_limit_knob_sets_exactly_its_part(base, knob, value, part, expect, switch):
    """A limit knob changes its part of ``realism`` (to the expected figures) and its emulator
    switch, nothing else of the hardware config or the imperfections."""
    hw = load_hardware("bss2")
    ref = apply_knobs(hw, base, {})
    got = apply_knobs(hw, base, {knob: value})
    value_got = getattr(got.hardware.realism, part)
    if expect is None:
        assert value_got is None
    else:
        for f in dataclasses.fields(expect):
            assert getattr(value_got, f.name) == pytest.approx(getattr(expect, f.name), rel=1e-12, abs=1e-15)
    # everything else as on the base: the config with only this part replaced, the same imperfections
    # but for this part's switch
    assert got.hardware == ref.hardware.with_overrides(realism=dataclasses.replace(ref.hardware.realism,
                                                                                   **{part: value_got}))
    assert got.imperfections == (ref.imperfections if switch is None else ref.imperfections.replace(**dict([switch])))


def test_limit_knobs_on_a_config_without_limits_take_bss2s_figures():
    """``--hardware ideal`` has no rails and no buses: the knobs take bss2's (0..1.2 V; 4 buses per
    hemisphere, 8 ns, queue 32), on both bases."""
    hw = load_hardware("ideal")
    assert hw.realism == Realism()
    for base in ("ideal", "chip"):
        r = apply_knobs(hw, base, {"rail_span": 1.0, "bus_serialization": 1.0}).hardware.realism
        assert r == Realism(rails=Rails(0.0, 1.2), event_buses=EventBuses(4, 0.008, 32))


def test_latency_knob_delays_each_layer_by_the_latency():
    """On the ideal base (no noise, exact times) the latency knob delays the hidden layer's spikes by
    one latency (input -> membrane) and the output layer's by two (input, then neuron -> neuron)."""
    hw = load_hardware("bss2")
    lat_ms = 0.35
    free = apply_knobs(hw, "ideal", {})
    late = apply_knobs(hw, "ideal", {"latency": lat_ms})
    a, b = _run(free.hardware, free.imperfections), _run(late.hardware, late.imperfections)
    for pop, n_lat in (("hidden", 1), ("output", 2)):
        ta, tb = a.first_spike_times(pop), b.first_spike_times(pop)
        np.testing.assert_array_equal(np.isfinite(ta), np.isfinite(tb))
        assert np.isfinite(ta).any()
        np.testing.assert_allclose(tb[np.isfinite(tb)] - ta[np.isfinite(ta)], n_lat * lat_ms, rtol=0, atol=1e-6)


def test_bus_serialization_knob_scales_the_interval_on_emulator_and_brian2():
    """``bus_serialization`` = 3 on the ideal base: n simultaneous events on one bus leave k x 24 ns
    late (k = 0..n-1), on the emulator and in Brian2's chip-replay alike (the knob Brian2 expresses)."""
    n, scale = 6, 3.0
    s = apply_knobs(load_hardware("bss2"), "ideal", {"bus_serialization": scale})
    ir = compile_network(fan(n), s.hardware)
    inputs = {"src": SpikeTrains.from_first_spike_times(np.full((1, n), 5.0))}
    emu = EmulatorBackend(imperfections=s.imperfections).run(ir, inputs, duration=30.0)
    off = EmulatorBackend(imperfections=s.imperfections.replace(event_buses=False)).run(ir, inputs, duration=30.0)
    slot_ms = 0.008 * scale  # 8 ns x 3 chip = 0.024 ms biological
    # (crossings exact to ~1e-5 ms at bss2's step, README; a slot is 0.024 ms)
    np.testing.assert_allclose(np.sort(emu.first_spike_times("out")[0] - off.first_spike_times("out")[0]),
                               slot_ms * np.arange(n), rtol=0, atol=1e-5)
    bus = emu.info["event_buses"]
    assert bus["delayed"] == n - 1 and bus["max_delay_us"] == pytest.approx((n - 1) * 0.008 * scale, abs=1e-12)
    b2 = Brian2Backend(mode="chip-replay", dt=0.001, imperfections=s.imperfections).run(ir, inputs, duration=30.0)
    assert b2.info["event_buses"] == bus


def _table_knobs(text: str) -> set[str]:
    """The knob names in the first column of a markdown knob table (``name`` or ``name``)."""
    return {m for m in re.findall(r"^\| `+([a-z_.<>]+)`+ \|", text, flags=re.M)}


def test_every_knob_is_in_the_knob_tables():
    """The knob table of the module docstring and that of docs/robustness.md list exactly the knobs
    (``mismatch.<parameter>`` standing for the per-parameter ones)."""
    names = {k for k in KNOBS if not k.startswith("mismatch.")} | {"mismatch.<parameter>"}
    docs = Path(__file__).resolve().parents[2] / "docs" / "robustness.md"
    assert _table_knobs(knobs_module.__doc__) == names
    assert _table_knobs(docs.read_text()) == names


def test_the_saturation_knob_saturates_the_emulated_inputs():
    """``saturation`` (biological nA/nF) sets the emulator's I_max: with it, 8 synchronous inputs
    build a smaller PSP than without (the emulator's saturation is tested against its closed form
    in tests/backends/test_emulator_realism.py); 0 is off."""
    hw = load_hardware("bss2")
    net = Network("sync")
    net.add_spike_source("src", 8, [[1.0]] * 8)
    net.add_lif("n", 1, **{**TTFS_PARAMS, "v_thresh": -20.0})
    net.connect("src", "n", weight=1.0)
    net.record.v = {"n": [0]}
    peaks = {}
    for value in (0.0, 4.0):
        s = apply_knobs(hw, "ideal", {"saturation": value})
        imp = s.imperfections.effective(s.hardware)
        assert (imp["saturation_V_per_us"] is None) == (value == 0.0)
        res = EmulatorBackend(imperfections=s.imperfections).run(compile_network(net, s.hardware), duration=10.0)
        peaks[value] = float(res.traces.v_mV.max())
    assert peaks[4.0] < peaks[0.0] - 1.0
    check_points(hw, "ideal", [{"saturation": 0.0}, {"saturation": 4.0}])
