"""Targets (defaults, target files, range errors), the calibration file (HDF5 round trip, wrong
kind, corrupt file) and the cache (hits, keys, env-var directory)."""
from __future__ import annotations

import numpy as np
import pytest

from neuroemu.backends.emulator import Chip, Imperfections
from neuroemu.calibration import (
    CalibrationTarget,
    cache_dir,
    calibrate,
    default_targets,
    load_calibration,
    load_targets,
)
from neuroemu.calibration.result import CalibrationError
from neuroemu.errors import BackendError, ConfigError, FileFormatError
from neuroemu.hardware import load_hardware


# --- targets ------------------------------------------------------------------------------------
def test_defaults_are_calix_in_chip_units(small):
    t = default_targets(small)
    assert float(small.cadc_code(t["v_leak"])) == pytest.approx(80)
    assert float(small.cadc_code(t["v_reset"])) == pytest.approx(70)
    assert float(small.cadc_code(t["v_thresh"])) == pytest.approx(125)
    assert (t["tau_mem"], t["tau_syn_exc"], t["tau_syn_inh"], t["tau_refrac"]) == (10.0, 10.0, 10.0, 2.0)


def test_target_file_values_and_units(small, tmp_path):
    f = tmp_path / "t.yaml"
    f.write_text("v_leak: {cadc: 90}\nv_reset: {mV: -70}\nv_thresh: 0.7\ntau_mem: 5\n")
    t = load_targets(f, small)
    assert t.v_leak == pytest.approx(float(small.cadc_voltage_V(90)))
    assert t.v_reset == pytest.approx(float(small.chip_voltage_V(-70.0)))
    assert t.v_thresh == 0.7 and t.tau_mem == 5.0
    assert t.tau_syn_exc == 10.0  # the rest keep the defaults


@pytest.mark.parametrize("text, match", [
    ("tau_mem: 100\n", r"key 'tau_mem': target 100 µs is outside the calibratable range 0.5-60 µs of hardware 'small'"),
    ("v_thresh: {cadc: 260}\n", r"key 'v_thresh'.*CADC 260.0.*outside the calibratable range"),
    ("tau_refrac: 0.001\n", r"key 'tau_refrac'.*0.04-32"),
    ("tau_membrane: 10\n", r"unknown key 'tau_membrane' \(allowed: v_leak, "),
    ("tau_mem: fast\n", r"key 'tau_mem': expected a number \(µs\), got 'fast'"),
    ("v_leak: {volts: 0.4}\n", r"key 'v_leak': expected a number \(V\) or a mapping"),
    ("input_gain_exc: .nan\n", r"key 'input_gain_exc'.*finite"),
    ("- 1\n- 2\n", r"mapping"),
])
def test_target_file_errors_name_key_value_range_and_file(small, tmp_path, text, match):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=match) as info:
        load_targets(f, small)
    assert "bad.yaml" in str(info.value)


def test_calibrate_rejects_bad_targets_before_measuring(small):
    with pytest.raises(ConfigError, match="tau_syn_inh"):
        calibrate(small, 0, {"tau_syn_inh": 0.01})
    with pytest.raises(CalibrationError, match="non-negative integer"):
        calibrate(small, -1)


# --- files --------------------------------------------------------------------------------------
def test_hdf5_round_trip(small_cals, tmp_path):
    cal = small_cals[0]
    path = tmp_path / "cal.h5"
    cal.save(path)
    back = load_calibration(path)
    for field in ("codes", "achieved", "uncalibrated", "nominal_codes", "success"):
        a, b = getattr(cal, field), getattr(back, field)
        assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True), field
    assert back.targets == cal.targets and back.parameters == cal.parameters
    hw = load_hardware("small")
    assert (back.id, back.chip_seed, back.hardware_hash) == (cal.id, 0, hw.content_hash)
    assert back.neuroemu_version and back.imperfections_json == cal.imperfections_json
    assert back.codes_for(Chip(hw, 0))["tau_mem"].tolist() == cal.codes_of("tau_mem").tolist()
    with pytest.raises(BackendError, match="calibration .* is for chip 0"):
        back.codes_for(Chip(hw, 1))


def test_wrong_kind_and_corrupt_files(small, tmp_path):
    chip_file = tmp_path / "chip.h5"
    Chip(small, 0).save(chip_file)
    with pytest.raises(FileFormatError, match="'chip' file, expected 'calibration'"):
        load_calibration(chip_file)
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not an hdf5 file at all" * 10)
    with pytest.raises(FileFormatError):
        load_calibration(junk)
    with pytest.raises(FileFormatError):
        load_calibration(tmp_path / "missing.h5")


# --- cache --------------------------------------------------------------------------------------
def test_cache_hit_and_keys(small_cals, calibration_cache, monkeypatch):
    assert cache_dir() == calibration_cache / "calibration"
    cal = small_cals[1]
    assert (cache_dir() / f"{cal.id}.h5").is_file()

    import neuroemu.calibration.core as core

    def no_measuring(*a, **k):
        raise AssertionError("cache miss: the calibration ran again")

    monkeypatch.setattr(core, "_run_routines", no_measuring)
    hit = calibrate("small", 1)
    assert hit.id == cal.id and getattr(hit, "_from_cache", False)
    assert np.array_equal(hit.codes, cal.codes)
    # another target, chip or imperfection setting is another calibration
    for other in (dict(target={"tau_mem": 12.0}), dict(chip=2), dict(imperfections=Imperfections(mismatch_scale=0.5))):
        with pytest.raises(AssertionError, match="cache miss"):
            calibrate("small", **{"chip": 1, **other})
    with pytest.raises(AssertionError, match="cache miss"):
        calibrate("small", 1, cache=False)


def test_cache_dir_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv("NEUROEMU_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert cache_dir() == tmp_path / "elsewhere" / "calibration"
    monkeypatch.delenv("NEUROEMU_CACHE_DIR")
    monkeypatch.setenv("NEUROEMU_CACHE", str(tmp_path / "legacy"))  # the older name still works
    assert cache_dir() == tmp_path / "legacy" / "calibration"


def test_target_object_round_trip(small):
    t = CalibrationTarget.default(small).replace(tau_mem=20.0)
    assert CalibrationTarget.from_mapping(t.as_dict(), small) == t
