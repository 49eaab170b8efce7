"""Hardware configs: built-ins load, content hash, unit translation, and bad files are refused
with messages naming the key and the file."""
from __future__ import annotations

import numpy as np
import pytest
import yaml

from neuroemu.errors import ConfigError
from neuroemu.hardware import PARAMETERS, builtin_path, list_hardware, load_hardware
from neuroemu.models.dac import nominal_code, value_at_code


def test_builtins_present_and_typed():
    assert {"bss2", "ideal", "small"} <= set(list_hardware())
    bss2 = load_hardware("bss2")
    assert bss2.neurons.circuits == 512 and bss2.neurons.hemispheres == 2
    assert bss2.synapses.rows_per_hemisphere == 256 and bss2.synapses.drivers_per_hemisphere == 128
    assert bss2.synapses.max_weight_code == 63 and bss2.synapses.labels_per_driver == 64
    assert bss2.dac.max_code == 1022 and bss2.timing.timestamp_resolution_us == pytest.approx(0.008)
    assert bss2.timing.speedup == 1000.0
    assert set(bss2.parameters) == set(PARAMETERS)
    assert bss2.parameters["tau_mem"].range == (0.5, 60.0)
    assert not bss2.is_ideal
    assert load_hardware("ideal").is_ideal
    small = load_hardware("small")
    assert small.neurons.circuits == 32 and small.synapses.rows_per_hemisphere == 32


def test_units(bss2):
    # 10 ms biological = 10 µs on a 1000x chip; leak 80 / threshold 125 CADC <-> -65 / -50 mV
    assert bss2.chip_time_us(10.0) == pytest.approx(10.0)
    assert bss2.bio_time_ms(bss2.chip_time_us(3.7)) == pytest.approx(3.7)
    assert bss2.cadc_code(bss2.chip_voltage_V(-65.0)) == pytest.approx(80.0)
    assert bss2.cadc_code(bss2.chip_voltage_V(-50.0)) == pytest.approx(125.0)
    assert bss2.bio_voltage_mV(bss2.chip_voltage_V(-58.3)) == pytest.approx(-58.3)
    j = bss2.chip_current_V_per_us(2.0, 0.5)  # 4 mV/ms biological
    assert j == pytest.approx(4.0 * 0.0135)
    assert bss2.bio_current_nA(j, 0.5) == pytest.approx(2.0)


def test_dac_maps_roundtrip(bss2, ideal):
    for name in PARAMETERS:
        spec = bss2.parameters[name]
        lo, hi = spec.range
        values = np.linspace(lo, hi, 7)
        codes = nominal_code(spec, bss2.dac, values)
        assert np.all(codes == np.rint(codes)) and codes.min() >= 0 and codes.max() <= 1022
        back = value_at_code(spec, bss2.dac, codes)
        step = np.abs(value_at_code(spec, bss2.dac, codes + 1) - back)
        assert np.all(np.abs(back - values) <= step)  # within one DAC step
        exact = value_at_code(ideal.parameters[name], ideal.dac, nominal_code(ideal.parameters[name], ideal.dac,
                                                                              values))
        np.testing.assert_allclose(exact, values, rtol=1e-12)


def test_hash_ignores_formatting(tmp_path):
    src = yaml.safe_load(open(builtin_path("small")))
    p = tmp_path / "mine.yaml"
    p.write_text(yaml.safe_dump(src, sort_keys=True))
    assert load_hardware(p).content_hash == load_hardware("small").content_hash
    src["noise"]["membrane_V"] = 0.005
    p.write_text(yaml.safe_dump(src))
    assert load_hardware(p).content_hash != load_hardware("small").content_hash


def _write(tmp_path, mutate):
    src = yaml.safe_load(open(builtin_path("bss2")))
    mutate(src)
    p = tmp_path / "chip.yaml"
    p.write_text(yaml.safe_dump(src))
    return p


@pytest.mark.parametrize(
    "mutate, words",
    [
        (lambda d: d["neurons"].update(colour=3), ["unknown key 'neurons.colour'"]),
        (lambda d: d["timing"].pop("speedup"), ["missing key 'timing.speedup'"]),
        (lambda d: d["synapses"].update(rows_per_hemisphere="many"), ["synapses.rows_per_hemisphere", "integer"]),
        (lambda d: d["parameters"]["tau_mem"].update(range=[60.0, 0.5]), ["parameters.tau_mem", "low < high"]),
        (lambda d: d["parameters"].pop("v_reset"), ["missing v_reset"]),
        (lambda d: d["noise"].update(dead_fraction=1.5), ["dead_fraction"]),
        (lambda d: d["parameters"]["tau_mem"].update(map="cubic"), ["parameters.tau_mem.map", "linear, log"]),
        # optional sections of the chip's limits name what is wrong in them
        (lambda d: d["realism"]["rails"].update(low_V=1.5), ["realism.rails", "low_V must be below high_V"]),
        (lambda d: d["realism"]["event_buses"].update(queue_depth=0), ["realism.event_buses", "queue_depth"]),
        (lambda d: d["realism"]["latency"].update(input_us=-1), ["realism.latency", "must be >= 0"]),
    ],
)
def test_bad_config_names_key_and_file(tmp_path, mutate, words):
    p = _write(tmp_path, mutate)
    with pytest.raises(ConfigError) as exc:
        load_hardware(p)
    msg = str(exc.value)
    assert str(p) in msg
    for w in words:
        assert w in msg


def test_unknown_name_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="unknown hardware config 'bs3'.*bss2"):
        load_hardware("bs3")
    with pytest.raises(ConfigError, match="file not found"):
        load_hardware(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("neurons: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_hardware(bad)
