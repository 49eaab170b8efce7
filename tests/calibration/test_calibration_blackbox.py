"""The calibration is a black box: it measures through EmulatorBackend runs only and never
touches the chip's hidden fixed pattern or its DAC maps."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

from neuroemu.backends.emulator import Chip
from neuroemu.calibration import calibrate
from neuroemu.hardware import load_hardware

from conftest import with_refractory_counter

#: what only the emulator may read of a chip: the pattern and everything derived from it
HIDDEN = {"pattern", "analog", "weight_factor", "dead", "summary", "nominal_codes", "save"}


@pytest.mark.parametrize("counter", [False, True], ids=["analog-refractory", "refractory-counter"])
def test_calibration_never_touches_the_fixed_pattern(monkeypatch, counter):
    """Trap: any access to a hidden Chip attribute from code outside the emulator package fails
    (recorded, so a caught exception cannot hide it). Then calibrate a fresh chip (also one whose
    refractory time is a digital counter: setting it reads nothing of the chip either)."""
    violations: list[str] = []
    reads: list[str] = []
    original = Chip.__getattribute__

    def trap(self, name):
        if name in HIDDEN:
            caller = sys._getframe(1).f_globals.get("__name__", "")
            if not caller.startswith("neuroemu.backends.emulator"):
                violations.append(f"{caller} read Chip.{name}")
                raise AssertionError(f"{caller} read Chip.{name}")
            reads.append(name)
        return original(self, name)

    monkeypatch.setattr(Chip, "__getattribute__", trap)
    import neuroemu.backends.emulator.chip as chip_mod
    import neuroemu.models.dac as dac

    # the mismatched DAC map is the hidden truth too: only the chip may evaluate it
    real_value_at_code = dac.value_at_code

    def guarded_value_at_code(*args, **kwargs):
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller != "neuroemu.backends.emulator.chip":
            violations.append(f"{caller} called value_at_code")
        return real_value_at_code(*args, **kwargs)

    monkeypatch.setattr(chip_mod, "value_at_code", guarded_value_at_code)
    monkeypatch.setattr(dac, "value_at_code", guarded_value_at_code)
    hw = load_hardware("small")
    cal = calibrate(with_refractory_counter(hw) if counter else hw, 7, cache=False)
    assert violations == []
    assert "analog" in reads  # the trap was live: the emulator itself read the pattern
    assert cal.ok and cal.runs > 90


def test_calibration_sources_do_not_name_the_pattern():
    """Code inspection: no calibration module mentions the pattern's fields or the DAC maps'
    mismatch (``mismatch_offset``/``mismatch_gain`` are the config's spreads)."""
    import neuroemu.calibration as pkg

    forbidden = re.compile(r"\.pattern\b|offset_z|gain_z|row_gain_z|synapse_z|dead_u|FixedPattern|value_at_code|"
                           r"\.analog\(|mismatch_offset|mismatch_gain|weight_factor|synapse_mismatch|\.noise\.")
    files = sorted(Path(pkg.__file__).parent.glob("*.py"))
    assert len(files) >= 10
    hits = [f"{f.name}: {m.group(0)}" for f in files for m in forbidden.finditer(f.read_text())]
    assert hits == []


def test_same_chip_same_calibration_other_chip_other_codes():
    a = calibrate("small", 3, cache=False)
    b = calibrate("small", 3, cache=False)
    c = calibrate("small", 3, cache=False, seed=1)  # other noise: slightly other codes
    assert a.id == b.id and np.array_equal(a.codes, b.codes) and np.array_equal(a.achieved, b.achieved, equal_nan=True)
    assert a.id != c.id
    assert np.abs(a.codes - c.codes).max() <= 3  # noise moves a code by a few LSB at most
    assert not np.array_equal(a.codes, c.codes)
