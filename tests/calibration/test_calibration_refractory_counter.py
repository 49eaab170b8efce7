"""Calibration on a config whose refractory time is a digital counter (``realism.refractory``):
the refractory time is set, not calibrated. Its counter and clock are reported with the
quantization error, one measurement verifies them, no DAC code is searched for it, and every
analog parameter calibrates as before (their setups set the refractory time they need through the
setup network's target)."""
from __future__ import annotations

import numpy as np
import pytest

from neuroemu.backends.emulator import Chip, EmulatorBackend, Imperfections
from neuroemu.calibration import SearchOptions, calibrate, calibration_report, load_calibration
from neuroemu.calibration.measure import trimmed_std
from neuroemu.calibration.report import render_report
from neuroemu.calibration.result import CalibrationError
from neuroemu.calibration.search import runs_per_search
from neuroemu.compiler import compile_network
from neuroemu.hardware import PARAMETERS
from neuroemu.network import Network

from conftest import with_refractory_counter

ANALOG = [name for name in PARAMETERS if name != "tau_refrac"]


@pytest.fixture(scope="module")
def counter_hw(small):
    return with_refractory_counter(small)


@pytest.fixture(scope="module")
def counter_cal(counter_hw):
    """Chip 0 calibrated for a 20 µs refractory time: 20 µs is above the mean of one target, so the
    fast clock; 20/255 µs per cycle needs scale 4 (2^5 / 250 MHz = 128 ns); floor(20 / 0.128) + 1
    = 157 cycles = 20.096 µs."""
    return calibrate(counter_hw, 0, {"tau_refrac": 20.0}, cache=False)


def test_refractory_time_is_set_not_calibrated(counter_cal, small_cals):
    cal = counter_cal
    assert cal.ok, cal.failures()
    i = cal.index("tau_refrac")
    rc = cal.refractory_counter
    assert (rc["counter"], rc["clock_scale"], rc["period_us"]) == (157, 4, 0.128)
    assert rc["set_us"] == pytest.approx(20.096) and rc["quantization_error_us"] == pytest.approx(0.096)
    # the verifying measurement sees the set time on every circuit, not the target
    assert rc["verified"] == 32 and rc["measured_max_deviation_us"] < rc["check_us"]
    assert abs(rc["measured_mean_us"] - 20.096) < abs(rc["measured_mean_us"] - 20.0)
    # nothing searched: one code (the unused nominal one), one value on every circuit, before and after
    assert np.ptp(cal.codes[i]) == 0 and cal.codes[i][0] == cal.nominal_codes[i]
    np.testing.assert_array_equal(cal.achieved[i], np.full(32, rc["set_us"]))
    np.testing.assert_array_equal(cal.uncalibrated[i], cal.achieved[i])
    # one run for it instead of a search's
    assert cal.runs == small_cals[0].runs - runs_per_search(SearchOptions()) + 1


def test_report_gives_the_quantization_error_not_a_spread_ratio(counter_cal):
    rep = calibration_report(counter_cal)
    p = rep["parameters"]["tau_refrac"]
    assert p["refractory_counter"]["counter"] == 157
    assert np.isnan(p["ratio"]) and p["before"]["trimmed_std"] == 0.0 and p["failed"] == []
    text = render_report(rep)
    line = next(ln for ln in text.splitlines() if "set digitally" in ln)
    assert "counter 157 x 128 ns (clock scale 4) = 20.1 µs" in line and "+96 ns (+0.48 %)" in line


def test_analog_parameters_still_calibrate(counter_hw, counter_cal, small, small_cals):
    """On the hidden truth (test side): every analog parameter's spread shrinks as on the config
    without a counter (same chip pattern: seed 0 of the same size): below the project's goal of
    0.10, or (the input gains, through the small chip's 30 rows) no worse than there."""
    assert counter_hw.content_hash == counter_cal.hardware_hash
    chip, analog_chip = Chip(counter_hw, 0), Chip(small, 0)

    def ratio(c, cal, name):
        i = cal.index(name)
        before = c.analog(name, np.full(32, cal.nominal_codes[i]))
        return trimmed_std(c.analog(name, cal.codes[i])) / trimmed_std(before)

    for name in ANALOG:
        r, r_analog = ratio(chip, counter_cal, name), ratio(analog_chip, small_cals[0], name)
        assert r < max(0.10, 1.2 * r_analog), (name, r, r_analog)


def test_file_round_trip_keeps_the_counter(counter_cal, tmp_path):
    counter_cal.save(tmp_path / "cal.h5")
    back = load_calibration(tmp_path / "cal.h5")
    assert back.refractory_counter == counter_cal.refractory_counter


def test_network_refractory_targets_need_not_match_the_calibration(counter_hw, counter_cal, small, small_cals):
    """The counter is set from the network's own targets: a calibration made for 20 µs serves a
    network with 5 ms (5 µs: scale 2, 32 ns; floor(156.25) + 1 = 157 cycles = 5.024 µs); where
    the refractory time is an analog parameter the mismatch is refused as before."""
    t = {name: counter_cal.targets.get(name) for name in PARAMETERS}
    net = Network("n")
    net.add_lif("p", 3, tau_mem=t["tau_mem"], tau_syn_exc=t["tau_syn_exc"], tau_syn_inh=t["tau_syn_inh"],
                v_rest=float(counter_hw.bio_voltage_mV(t["v_leak"])),
                v_reset=float(counter_hw.bio_voltage_mV(t["v_reset"])),
                v_thresh=float(counter_hw.bio_voltage_mV(t["v_thresh"])), tau_refrac=5.0)
    ir = compile_network(net, counter_hw, calibration=counter_cal)
    eff = EmulatorBackend(chip=0).effective(ir)
    np.testing.assert_allclose(eff.tau_refrac, 5.024, rtol=1e-12)
    # small_cals[0]: the same targets but tau_refrac 2 µs, on the config without a counter
    assert all(small_cals[0].targets.get(n) == t[n] for n in ANALOG)
    with pytest.raises(CalibrationError, match="tau_refrac"):
        compile_network(net, small, calibration=small_cals[0])


def test_circuit_that_never_spikes_fails_the_verification(counter_hw):
    cal = calibrate(counter_hw, 0, imperfections=Imperfections(dead_circuits=(5,)), cache=False)
    assert cal.failures().get("tau_refrac") == [5]
    assert cal.refractory_counter["verified"] == 31
