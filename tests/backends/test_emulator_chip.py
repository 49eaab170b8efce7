"""Chip instances: the fixed pattern is a pure function of (config, seed), its statistics match the
configured spreads, and it round-trips through HDF5."""
from __future__ import annotations

import numpy as np
import pytest

from neuroemu.backends.emulator import Chip, Imperfections
from neuroemu.calibration.targets import default_targets
from neuroemu.errors import BackendError
from neuroemu.hardware import PARAMETERS, load_hardware
from neuroemu.models.dac import nominal_code

BSS2 = load_hardware("bss2")


def test_same_seed_same_chip_other_seed_other_chip():
    a, b, c = Chip(BSS2, 7), Chip(BSS2, 7), Chip(BSS2, 8)
    for f in ("offset_z", "gain_z", "row_gain_z", "synapse_z", "dead_u"):
        np.testing.assert_array_equal(getattr(a.pattern, f), getattr(b.pattern, f))
        assert not np.array_equal(getattr(a.pattern, f), getattr(c.pattern, f))


def test_save_load_bit_identical(tmp_path):
    chip = Chip(BSS2, 11)
    chip.save(tmp_path / "chip.h5")
    back = Chip.load(tmp_path / "chip.h5")
    assert back.seed == 11 and back.hardware.content_hash == BSS2.content_hash
    for f in ("offset_z", "gain_z", "row_gain_z", "synapse_z", "dead_u"):
        np.testing.assert_array_equal(getattr(back.pattern, f), getattr(chip.pattern, f))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spreads_match_config(seed):
    """At the nominal code, std over 512 circuits = sqrt(offset^2 + (gain * slope * code)^2) (in the map's domain)."""
    chip = Chip(BSS2, seed)
    targets = default_targets(BSS2)
    for name in PARAMETERS:
        spec = BSS2.parameters[name]
        code = nominal_code(spec, BSS2.dac, targets[name])
        values = chip.analog(name, np.full(512, code))
        y = np.log(values) if spec.map == "log" else values
        y0, y1 = (np.log(spec.at_code_0), np.log(spec.at_code_max)) if spec.map == "log" else (spec.at_code_0,
                                                                                               spec.at_code_max)
        slope = (y1 - y0) / BSS2.dac.max_code
        expected = np.hypot(spec.mismatch_offset, spec.mismatch_gain * slope * code)
        # sampling error of a std from 512 draws ~ 3 %
        assert y.std() == pytest.approx(expected, rel=0.12), name
    row, syn = chip.weight_factor()
    assert row.std() == pytest.approx(BSS2.synapse_mismatch.row_gain, rel=0.12)
    assert syn.std() == pytest.approx(BSS2.synapse_mismatch.synapse, rel=0.02)


def test_imperfection_scales():
    chip = Chip(BSS2, 3)
    code = np.full(512, 400.0)
    base = chip.analog("tau_mem", code)
    half = chip.analog("tau_mem", code, Imperfections(mismatch_scale=0.5))
    off = chip.analog("tau_mem", code, Imperfections(parameter_mismatch_scale={"tau_mem": 0.0}))
    nominal = chip.analog("tau_mem", code, Imperfections.none())
    assert np.allclose(off, nominal) and np.ptp(nominal) == 0
    np.testing.assert_allclose(np.log(half / nominal), 0.5 * np.log(base / nominal), rtol=1e-9, atol=1e-12)
    # other parameters untouched by a per-parameter knob
    np.testing.assert_array_equal(chip.analog("v_leak", code, Imperfections(parameter_mismatch_scale={"tau_mem": 0.0})),
                                  chip.analog("v_leak", code))


def test_dead_fraction_is_nested_and_seeded():
    chip = Chip(BSS2, 5)
    d1 = chip.dead(Imperfections(dead_fraction=0.05))
    d2 = chip.dead(Imperfections(dead_fraction=0.2))
    assert np.all(d2[d1]) and 10 < d1.sum() < 45 and 70 < d2.sum() < 140
    assert chip.dead(Imperfections(dead_circuits=(3, 9))).nonzero()[0].tolist() == [3, 9]
    with pytest.raises(BackendError):
        chip.dead(Imperfections(dead_circuits=(600,)))


def test_bad_seed_refused():
    with pytest.raises(BackendError, match="non-negative integer"):
        Chip(BSS2, -1)


def test_vectorizable_noise_hash_equals_approx_normal():
    """The 32-bit SIMD form of the membrane-noise draw is bit for bit approx_normal."""
    import numba as nb

    from neuroemu.backends.emulator.random import _GOLD, approx_normal, approx_normal_hashed, mix32

    @nb.njit
    def both(key, counter):
        return approx_normal_hashed(np.uint32(key), np.uint32(mix32(counter * _GOLD))), approx_normal(key, counter)

    for key in (0, 1, 0xDEADBEEF, 2**32 - 1):
        for counter in (0, 1, 17, 511, 10**6):
            a, b = both(key, counter)
            assert a == b
