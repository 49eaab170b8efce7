"""Imperfection knobs: each changes only what it names; all at 0 on the ideal base is the ideal run;
unknown knobs and knobs a backend cannot express are refused with a clear message."""
from __future__ import annotations

import numpy as np
import pytest

from neuroemu.backends.emulator import Chip, EmulatorBackend, Imperfections
from neuroemu.backends.emulator.effective import effective_network
from neuroemu.compiler import compile_network
from neuroemu.errors import BackendError, NeuroemuError
from neuroemu.hardware import load_hardware
from neuroemu.spikes import SpikeTrains
from neuroemu.studies.knobs import KNOBS, apply_knobs, check_backend

from conftest import feedforward

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
    s = apply_knobs(load_hardware("bss2"), "ideal", point)
    assert s.imperfections.switches(s.hardware) == {k: False for k in s.imperfections.switches(s.hardware)}
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
])
def test_bad_knobs_are_refused(knob, value, message):
    with pytest.raises(NeuroemuError, match=message):
        apply_knobs(load_hardware("bss2"), "ideal", {knob: value})


def test_brian2_refuses_knobs_it_cannot_express():
    with pytest.raises(BackendError, match="brian2 backend cannot express knob.*spike_jitter"):
        check_backend("brian2", ["mismatch", "spike_jitter"])
    check_backend("brian2", ["mismatch", "membrane_noise", "dead_fraction"])
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
