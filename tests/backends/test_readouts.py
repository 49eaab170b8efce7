"""Membrane readouts (``run(..., readout=...)``): the MADC (at most 2 neurons, interleaved, its
sampling interval, 10-bit), the CADC (all neurons, its interval, 8-bit), and ``probe`` (every
step, exact). Reference values are written here: the closed-form PSP and the converter's
formula code = clip(round((V - V_at_code_0) / V_per_lsb), 0, 2**bits - 1)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from neuroemu.backends import load_result, save_result
from neuroemu.backends.emulator import EmulatorBackend
from neuroemu.cli import main
from neuroemu.compiler import compile_network
from neuroemu.errors import BackendError
from neuroemu.hardware import load_hardware
from neuroemu.ir import save_ir
from neuroemu.network import Network
from neuroemu.spikes import SpikeTrains

from conftest import TTFS_PARAMS

CONFIGS = Path(__file__).resolve().parents[2] / "hardware_configs"
T_IN, W, TAU_M, TAU_S = 5.0, 0.8, 10.0, 5.0  # one input spike (ms), its weight (nA), time constants (ms)


def psp_mV(t_ms: np.ndarray, w: float = W) -> np.ndarray:
    """v(t) (mV) of a neuron at rest (-65 mV, C = 1 nF) after one input of weight ``w`` at T_IN."""
    u = np.clip(np.asarray(t_ms, float) - T_IN, 0.0, None)
    return -65.0 + w * TAU_S * TAU_M / (TAU_M - TAU_S) * (np.exp(-u / TAU_M) - np.exp(-u / TAU_S))


def single_input_net(n: int, record: list[int], weights: list[float] | None = None,
                     times: tuple[float, ...] = (T_IN,)) -> Network:
    """``n`` neurons driven by one input spiking at ``times`` (weights nA; negative: inhibitory)."""
    net = Network("readout")
    net.add_spike_source("in", 1, [list(times)])
    net.add_lif("n", n, **{**TTFS_PARAMS, "tau_mem": TAU_M, "tau_syn_exc": TAU_S, "tau_syn_inh": TAU_S})
    net.connect("in", "n", weight=np.array([weights or [W] * n]))
    net.record.v = {"n": record}
    return net


@pytest.fixture(scope="module")
def ideal_ir():
    return compile_network(single_input_net(3, [0, 1]), "ideal")


def test_configs_state_the_converters_sampling():
    """bss2: MADC 10-bit, 0.034 µs (29.4 MS/s), 2 interleaved channels; CADC 8-bit, every neuron,
    2 µs. ideal: the same sampling with exact converters (and so it is ideal)."""
    bss2, ideal = load_hardware("bss2"), load_hardware("ideal")
    m, c = bss2.voltage.madc, bss2.voltage.cadc
    assert (m.bits, m.sample_interval_us, m.channels, m.interleaved) == (10, 0.034, 2, True)
    assert (c.bits, c.sample_interval_us, c.channels, c.interleaved) == (8, 2.0, None, False)
    assert 1.0 / m.sample_interval_us == pytest.approx(29.41, abs=0.01)  # MS/s: 500 MHz / 17
    assert ideal.voltage.madc.bits is None and ideal.voltage.cadc.bits is None and ideal.is_ideal
    assert ideal.voltage.madc.sample_interval_us == 0.034 and ideal.voltage.cadc.sample_interval_us == 2.0
    with pytest.raises(ValueError, match="channels must be >= 1"):
        dataclasses.replace(m, channels=0)
    with pytest.raises(ValueError, match="sample_interval_us must be a positive"):
        dataclasses.replace(c, sample_interval_us=-1.0)


def test_madc_refuses_a_third_neuron_naming_the_limit():
    ir = compile_network(single_input_net(3, [0, 1, 2]), "bss2")
    with pytest.raises(BackendError, match=r"MADC of 'bss2' records at most 2 neuron\(s\).*records the membrane of 3"):
        EmulatorBackend().run(ir, duration=10.0, readout="madc")
    with pytest.raises(BackendError, match="readout must be one of probe, madc, cadc, got 'adc'"):
        EmulatorBackend().run(ir, duration=10.0, readout="adc")
    assert EmulatorBackend().run(ir, duration=10.0, readout="cadc").traces.v_mV.shape[1] == 3  # the CADC reads all


def test_madc_on_ideal_samples_the_exact_membrane_at_its_interleaved_instants(ideal_ir):
    """Two neurons share the MADC in turn: each is read every 2 x 0.034 µs, the second 0.034 µs
    after the first; the ideal converter reads the closed-form membrane at those instants (off
    the ideal config's 0.1 µs step: the run integrates on a step dividing 0.034 µs)."""
    res = EmulatorBackend().run(ideal_ir, duration=40.0, readout="madc")
    tr = res.traces
    assert tr.readout == "madc" and res.info["readout"]["mode"] == "madc"
    np.testing.assert_allclose(np.diff(tr.times_ms), 0.068, rtol=1e-9)  # 1000x: 0.068 µs chip = 0.068 ms
    np.testing.assert_allclose(tr.offsets_ms, [0.0, 0.034], atol=1e-12)
    assert tr.times_ms[0] == 0.0 and tr.sample_times_ms(1)[-1] <= 40.0 and len(tr.times_ms) == 588
    for j in range(2):
        np.testing.assert_allclose(tr.v_mV[0, j], psp_mV(tr.sample_times_ms(j)), atol=1e-6)
    hw = ideal_ir.hardware()  # exact fractional codes of the ideal converter: V = V_at_code_0 + code x V_per_lsb
    np.testing.assert_allclose(0.06 + tr.codes * 0.001, tr.v_chip_V, atol=1e-12)
    np.testing.assert_allclose(tr.v_chip_V, hw.chip_voltage_V(tr.v_mV), atol=1e-12)
    assert res.info["dt_us"] == pytest.approx(0.034)


def test_one_madc_neuron_gets_the_full_rate(ideal_ir):
    res = EmulatorBackend().run(ideal_ir, duration=10.0, record_v=[2], readout="madc")
    tr = res.traces
    np.testing.assert_allclose(np.diff(tr.times_ms), 0.034, rtol=1e-9)
    assert tr.offsets_ms is None and res.info["readout"]["neuron_sample_interval_us"] == pytest.approx(0.034)
    np.testing.assert_allclose(tr.v_mV[0, 0], psp_mV(tr.times_ms), atol=1e-6)


def test_madc_on_bss2_is_10_bit_codes_of_the_membrane():
    """bss2's MADC: integer codes 0..1023 of 1 mV; every reading within half a code of the
    membrane the same run integrates (noise included: the probe of a run on the same 0.034 µs step)."""
    ir = compile_network(single_input_net(2, [0, 1], [W, 3.0]), "bss2")
    res = EmulatorBackend(chip=2).run(ir, duration=30.0, seed=4, readout="madc")
    ref = EmulatorBackend(chip=2, dt_us=0.034).run(ir, duration=30.0, seed=4)  # the same run, every 0.034 µs
    tr = res.traces
    assert res.info["readout"]["bits"] == 10 and res.info["readout"]["code_range"] == [0, 1023]
    np.testing.assert_array_equal(tr.codes, np.round(tr.codes))
    assert tr.codes.min() >= 0 and tr.codes.max() <= 1023
    np.testing.assert_allclose(tr.v_chip_V, 0.06 + tr.codes * 0.001, atol=1e-12)
    for j in range(2):
        idx = np.rint(tr.sample_times_ms(j) / 0.034).astype(int)  # the probe's steps at the MADC's instants
        exact = ref.traces.v_chip_V[0, j, idx]
        np.testing.assert_array_equal(tr.codes[0, j], np.clip(np.floor((exact - 0.06) / 0.001 + 0.5), 0, 1023))
        assert np.max(np.abs(tr.v_chip_V[0, j] - exact)) <= 0.0005 + 1e-12
    assert np.ptp(tr.codes[0, 1]) > 50  # the trace moves: the comparison covers many codes


def test_cadc_is_8_bit_reads_of_the_probe_every_2_us_with_noise():
    """bss2's CADC every 2 µs: its 0.5 µs step divides 2 µs, so the run is the probe run (noise
    included) and each reading is the CADC code of the probe's membrane at every 4th step:
    multiples of 4.5 mV above 0.06 V; strong inhibition (three -11 nA inputs, ~80 mV) takes neuron
    1 below the CADC's range (0.06 V = -91.7 mV), where it reads code 0."""
    ir = compile_network(single_input_net(3, [0, 1, 2], [W, -11.0, 11.0], times=(5.0, 5.5, 6.0)), "bss2")
    be = EmulatorBackend(chip=1)
    res = be.run(ir, duration=60.0, trials=2, seed=3, readout="cadc")
    probe = be.run(ir, duration=60.0, trials=2, seed=3)
    tr = res.traces
    assert tr.readout == "cadc" and probe.traces.readout == "probe" and res.info["dt_us"] == 0.5
    np.testing.assert_allclose(tr.times_ms, np.arange(30) * 2.0)
    exact = probe.traces.v_chip_V[:, :, ::4]
    np.testing.assert_array_equal(tr.codes, np.clip(np.floor((exact - 0.06) / 0.0045 + 0.5), 0, 255))
    np.testing.assert_array_equal(tr.codes, np.round(tr.codes))
    lsbs = (tr.v_chip_V - 0.06) / 0.0045
    np.testing.assert_allclose(lsbs, np.round(lsbs), atol=1e-9)
    assert exact[:, 1].min() < 0.06 and np.any(tr.codes[:, 1] == 0)  # below the range: clipped to code 0
    np.testing.assert_allclose(tr.v_chip_V[tr.codes == 0], 0.06)
    assert len(probe.spikes("n")) > 0  # neuron 2 fires: the spikes are the probe run's
    np.testing.assert_array_equal(res.spikes("n").times, probe.spikes("n").times)


def test_cadc_clips_at_the_top_of_its_range(tmp_path):
    """A CADC whose range ends below the resting potential reads its top code, 255."""
    text = (CONFIGS / "ideal.yaml").read_text().replace("name: ideal", "name: low_cadc")
    low = text.replace("  cadc:                    # an ideal parallel readout: exact values (bss2: 8-bit, reads "
                       "20..220 over ~0.15..1.05 V, 4.5 mV per LSB)\n    bits: null\n    V_at_code_0: 0.06",
                       "  cadc:\n    bits: 8\n    V_at_code_0: -0.9")
    assert low != text
    text = low
    path = tmp_path / "low_cadc.yaml"
    path.write_text(text)
    hw = load_hardware(path)
    assert hw.voltage.cadc.top_V == pytest.approx(-0.9 + 255 * 0.0045) and hw.voltage.cadc.top_V < 0.42
    tr = EmulatorBackend().run(compile_network(single_input_net(1, [0]), hw), duration=20.0, readout="cadc").traces
    np.testing.assert_array_equal(tr.codes, 255.0)
    np.testing.assert_allclose(tr.v_chip_V, hw.voltage.cadc.top_V)


def test_sampling_interval_and_channels_come_from_the_config(tmp_path, ideal_ir):
    """A CADC every 0.75 µs (the ideal 0.1 µs step does not divide it) and a one-channel MADC
    every 0.05 µs: samples follow them, exactly; a second MADC neuron is refused."""
    text = (CONFIGS / "ideal.yaml").read_text().replace("name: ideal", "name: slow_adcs")
    changed = (text.replace("    sample_interval_us: 2.0\n", "    sample_interval_us: 0.75\n")
               .replace("    sample_interval_us: 0.034\n", "    sample_interval_us: 0.05\n")
               .replace("    channels: 2 ", "    channels: 1 "))
    assert all(changed.count(key) == 1 for key in ("interval_us: 0.75\n", "interval_us: 0.05\n", "channels: 1 "))
    text = changed
    path = tmp_path / "slow_adcs.yaml"
    path.write_text(text)
    ir = compile_network(single_input_net(2, [0, 1]), load_hardware(path))
    res = EmulatorBackend().run(ir, duration=20.0, readout="cadc")
    np.testing.assert_allclose(res.traces.times_ms, np.arange(27) * 0.75, atol=1e-9)
    assert res.info["dt_us"] == pytest.approx(0.09375)  # the ideal 0.1 µs shortened to divide 0.75 µs (8 steps)
    np.testing.assert_allclose(res.traces.v_mV[0, 0], psp_mV(res.traces.times_ms), atol=1e-6)
    with pytest.raises(BackendError, match="records at most 1 neuron"):
        EmulatorBackend().run(ir, duration=20.0, readout="madc")
    one = EmulatorBackend().run(ir, duration=20.0, record_v=[1], readout="madc").traces
    np.testing.assert_allclose(np.diff(one.times_ms), 0.05, rtol=1e-9)
    with pytest.raises(BackendError, match="dt_us 0.1 µs does not divide the readout's sampling interval of 0.75"):
        EmulatorBackend(dt_us=0.1).run(ir, duration=20.0, readout="cadc")


def test_config_without_sampling_keys_loads_and_refuses_the_readout(tmp_path):
    text = (CONFIGS / "small.yaml").read_text().replace("name: small", "name: old")
    kept = [ln for ln in text.splitlines() if not ln.strip().startswith(("sample_interval_us", "channels",
                                                                        "interleaved"))]
    path = tmp_path / "old.yaml"
    path.write_text("\n".join(kept) + "\n")
    hw = load_hardware(path)
    assert hw.voltage.madc.sample_interval_us is None and hw.voltage.madc.channels is None
    assert not hw.voltage.madc.interleaved
    ir = compile_network(single_input_net(1, [0]), hw)
    with pytest.raises(BackendError, match="states no sample_interval_us for its MADC"):
        EmulatorBackend().run(ir, duration=5.0, readout="madc")
    assert EmulatorBackend().run(ir, duration=5.0).traces.readout == "probe"


def test_probe_is_every_step_exact_and_the_default(ideal_ir):
    be = EmulatorBackend()
    default, probe = be.run(ideal_ir, duration=30.0), be.run(ideal_ir, duration=30.0, readout="probe")
    for tr in (default.traces, probe.traces):
        assert tr.readout == "probe" and tr.codes is None and tr.offsets_ms is None
        np.testing.assert_allclose(tr.times_ms, np.arange(300) * 0.1, atol=1e-12)  # every 0.1 µs step
        np.testing.assert_allclose(tr.v_mV[0], psp_mV(tr.times_ms)[None, :].repeat(2, 0), atol=1e-6)
    np.testing.assert_array_equal(default.traces.v_chip_V, probe.traces.v_chip_V)
    assert probe.info["readout"] == default.info["readout"]
    assert probe.info["readout"]["mode"] == "probe" and probe.info["readout"]["quantized"] is False


def test_readout_survives_the_result_file(ideal_ir, tmp_path):
    res = EmulatorBackend().run(ideal_ir, duration=10.0, readout="madc")
    save_result(res, tmp_path / "r.h5")
    back = load_result(tmp_path / "r.h5")
    assert back.traces.readout == "madc" and back.info["readout"]["converter"] == "MADC"
    np.testing.assert_array_equal(back.traces.codes, res.traces.codes)
    np.testing.assert_array_equal(back.traces.offsets_ms, res.traces.offsets_ms)
    probe = EmulatorBackend().run(ideal_ir, duration=10.0)
    save_result(probe, tmp_path / "p.h5")
    back = load_result(tmp_path / "p.h5")
    assert back.traces.readout == "probe" and back.traces.codes is None and back.traces.offsets_ms is None


def test_continued_madc_run_samples_as_one_run(ideal_ir):
    """Instants lie on an absolute grid: two runs of 17 ms (500 MADC intervals) give the samples
    of one 34 ms run."""
    be = EmulatorBackend()
    one = be.run(ideal_ir, duration=34.0, readout="madc").traces
    a = be.run(ideal_ir, duration=17.0, readout="madc")
    b = be.run(ideal_ir, duration=17.0, readout="madc", state=a.state).traces
    np.testing.assert_allclose(np.concatenate([a.traces.times_ms, b.times_ms]), one.times_ms, atol=1e-9)
    np.testing.assert_allclose(np.concatenate([a.traces.v_mV, b.v_mV], axis=2), one.v_mV, atol=1e-9)


def _cli_net(tmp_path, record: list[int]) -> Path:
    path = tmp_path / f"net{len(record)}.h5"
    save_ir(compile_network(single_input_net(3, record), "bss2"), path)
    return path


def test_cli_readout_option(tmp_path):
    import json

    three = _cli_net(tmp_path, [0, 1, 2])
    r = CliRunner().invoke(main, ["run", str(three), "--readout", "madc", "--duration", "10"])
    assert r.exit_code == 2, r.output
    assert "records at most 2 neuron(s)" in r.output and "readout 'cadc'" in r.output
    r = CliRunner().invoke(main, ["run", str(three), "--readout", "cadc", "--duration", "10", "--json",
                                  "-o", str(tmp_path / "c.h5")])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    assert rep["info"]["readout"]["mode"] == "cadc" and rep["info"]["readout"]["bits"] == 8
    assert load_result(tmp_path / "c.h5").traces.readout == "cadc"
    r = CliRunner().invoke(main, ["run", str(_cli_net(tmp_path, [1, 2])), "--readout", "madc", "--duration", "10"])
    assert r.exit_code == 0 and "membrane read by the MADC: 10-bit, a sample every 0.068 µs per neuron" in r.output
    r = CliRunner().invoke(main, ["run", str(three), "--readout", "scope"])
    assert r.exit_code == 2 and "'scope' is not one of 'probe', 'madc', 'cadc'" in r.output


def test_input_spike_train_is_unaffected_by_the_readout():
    """Inputs and spikes: a readout only reads (no noise: equal spike times on the finer step)."""
    ir = compile_network(single_input_net(2, [0], [8.0, 10.0]), "ideal")
    inputs = {"in": SpikeTrains.from_first_spike_times(np.array([[T_IN]]))}
    probe = EmulatorBackend().run(ir, inputs, duration=30.0)
    madc = EmulatorBackend().run(ir, inputs, duration=30.0, readout="madc")
    assert len(probe.spikes("n")) == 2
    np.testing.assert_allclose(madc.spikes("n").times, probe.spikes("n").times, atol=1e-6)


def test_brian2_reads_through_the_same_converters(ideal_ir):
    """Brian2 (ideal mode, dt 0.01 ms) has the membrane on its grid: MADC instants between grid
    points are linear interpolations, within dt^2/8 x max |v''| of the closed form; CADC instants
    (every 2 ms) are grid points. The MADC's channel limit holds there too."""
    from neuroemu.backends.brian2 import Brian2Backend

    be = Brian2Backend(mode="ideal")
    res = be.run(ideal_ir, duration=40.0, readout="madc")
    tr = res.traces
    assert tr.readout == "madc" and "interpolated" in res.info["readout"]["sampling"]
    np.testing.assert_allclose(np.diff(tr.times_ms), 0.068, rtol=1e-9)
    np.testing.assert_allclose(tr.offsets_ms, [0.0, 0.034], atol=1e-12)
    u = np.linspace(0.0, 35.0, 100001)  # v'' of the PSP, its largest magnitude
    curvature = np.max(np.abs(W * TAU_S * TAU_M / (TAU_M - TAU_S) * (np.exp(-u / TAU_M) / TAU_M**2
                                                                     - np.exp(-u / TAU_S) / TAU_S**2)))
    bound = 0.01**2 / 8 * curvature
    for j in range(2):
        err = np.max(np.abs(tr.v_mV[0, j] - psp_mV(tr.sample_times_ms(j))))
        assert 0.0 < err <= bound * 1.01 + 1e-9
    cadc = be.run(ideal_ir, duration=40.0, readout="cadc").traces
    np.testing.assert_allclose(cadc.times_ms, np.arange(20) * 2.0, atol=1e-12)
    np.testing.assert_allclose(cadc.v_mV[0], psp_mV(cadc.times_ms)[None, :].repeat(2, 0), atol=1e-6)
    with pytest.raises(BackendError, match="records at most 2 neuron"):
        be.run(ideal_ir, duration=5.0, record_v=[1, 2, 3], readout="madc")
