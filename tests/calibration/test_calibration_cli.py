"""``neuroemu calibrate``, ``neuroemu calibration-sweep`` and ``neuroemu compile --calibration``
through click's CliRunner; the compiled IR runs on the emulator with the calibrated codes."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from neuroemu.backends.emulator import Chip, EmulatorBackend
from neuroemu.calibration import CALIX_LIMITS, calibration_report, load_calibration
from neuroemu.calibration.sweep import record_of
from neuroemu.cli import main
from neuroemu.errors import BackendError
from neuroemu.hardware import load_hardware
from neuroemu.hardware.config import PARAMETERS
from neuroemu.ir import load_ir
from neuroemu.sweeps import read_store


@pytest.fixture(scope="module")
def runner():
    return CliRunner()


def test_calibrate_cli_text_json_plot(runner, small_cals, tmp_path):
    out, plot = tmp_path / "cal.h5", tmp_path / "hist.png"
    r = runner.invoke(main, ["calibrate", "--hardware", "small", "--chip", "0", "-o", str(out), "--plot", str(plot)])
    assert r.exit_code == 0, r.output
    assert "v_leak" in r.output and "tau_syn_inh" in r.output and "from the cache" in r.output
    assert plot.stat().st_size > 10_000
    cal = load_calibration(out)
    assert cal.id == small_cals[0].id and np.array_equal(cal.codes, small_cals[0].codes)
    r = runner.invoke(main, ["calibrate", "-H", "small", "--chip", "0", "-o", str(out), "--json"])
    rep = json.loads(r.output)
    assert rep["chip_seed"] == 0 and rep["circuits"] == 32 and rep["ok"] is True and rep["failures"] == {}
    for name, limit in CALIX_LIMITS.items():
        p = rep["parameters"][name]
        assert (p["ratio_below_adc_resolution"] or p["ratio"]) < limit
        assert p["before"]["trimmed_std"] > 10 * p["after"]["trimmed_std"]
    r = runner.invoke(main, ["inspect", str(out), "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["id"] == cal.id


def test_calibrate_cli_user_errors(runner, tmp_path):
    bad = tmp_path / "targets.yaml"
    bad.write_text("tau_mem: 0.1\n")
    r = runner.invoke(main, ["calibrate", "-H", "small", "--target", str(bad), "-o", str(tmp_path / "c.h5")])
    assert r.exit_code == 2 and "tau_mem" in r.output and "0.5-60" in r.output and "Traceback" not in r.output
    r = runner.invoke(main, ["calibrate", "-H", "nosuchchip", "-o", str(tmp_path / "c.h5")])
    assert r.exit_code == 2 and "unknown hardware config" in r.output and "Traceback" not in r.output
    # a bad plot name is refused before the calibration runs (nothing written)
    r = runner.invoke(main, ["calibrate", "-H", "small", "--no-cache", "-o", str(tmp_path / "c.h5"), "--plot", "p.txt"])
    assert r.exit_code == 2 and "suffix" in r.output and not (tmp_path / "c.h5").exists()


def test_calibration_sweep_cli(runner, small_cals, tmp_path):
    """2 target points x 2 chips on one Dask worker: the tau_mem=10 point equals the default
    calibrations (same task, same cache), the table reports mean spreads per point."""
    store, plot = tmp_path / "sweep.h5", tmp_path / "sweep.png"
    args = ["calibration-sweep", "--hardware", "small", "--vary", "tau_mem=10,20", "--chips", "0-1", "-o", str(store),
            "--workers", "1", "--no-progress"]
    r = runner.invoke(main, args + ["--json", "--plot", str(plot)])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    rows = rep["table"]
    assert [row["tau_mem"] for row in rows] == [10.0, 20.0] and all(row["chips_done"] == 2 for row in rows)
    for row in rows:
        for name, limit in CALIX_LIMITS.items():
            assert row[f"{name}_ratio_mean"] < limit
        assert row["tau_mem_rel_std_after_mean"] < 0.02 and row["failed_mean"] == 0
    assert plot.stat().st_size > 10_000
    spec, records = read_store(store)
    assert spec.kind == "calibration" and len(records) == 4
    for chip in (0, 1):  # the task is `neuroemu calibrate` on that chip: identical records
        assert records[(0, chip)] == record_of(calibration_report(small_cals[chip]))
    # tau_mem 20 is another calibration with its own codes (longer time constant: lower codes)
    assert records[(1, 0)]["id"] != records[(0, 0)]["id"]
    r = runner.invoke(main, args)  # an existing store needs --resume
    assert r.exit_code == 2 and "--resume" in r.output
    r = runner.invoke(main, args + ["--resume"])
    assert r.exit_code == 0 and "tau_mem" in r.output and "thresh" in r.output
    r = runner.invoke(main, ["calibration-sweep", "-H", "small", "--vary", "tau_mem=100", "--chips", "0",
                             "-o", str(tmp_path / "x.h5")])
    assert r.exit_code == 2 and "outside the calibratable range" in r.output
    r = runner.invoke(main, ["calibration-sweep", "-H", "small", "--vary", "tau_mem=5", "--chips", "3-1",
                             "-o", str(tmp_path / "x.h5")])
    assert r.exit_code == 2 and "--chips" in r.output
    r = runner.invoke(main, ["calibration-sweep", "-H", "small", "--vary", "tau_mem=5", "--chips", "0",
                             "-o", str(tmp_path / "x.h5"), "--plot", "p.txt"])
    assert r.exit_code == 2 and "suffix" in r.output and not (tmp_path / "x.h5").exists()


def _network_yaml(hw, cal, path):
    """A small network whose neuron parameters are the calibration targets (biological units)."""
    t = cal.targets
    params = dict(tau_mem=hw.bio_time_ms(t.tau_mem), tau_syn_exc=hw.bio_time_ms(t.tau_syn_exc),
                  tau_syn_inh=hw.bio_time_ms(t.tau_syn_inh), v_rest=float(hw.bio_voltage_mV(t.v_leak)),
                  v_reset=float(hw.bio_voltage_mV(t.v_reset)), v_thresh=float(hw.bio_voltage_mV(t.v_thresh)),
                  tau_refrac=hw.bio_time_ms(t.tau_refrac), cm=1.0)
    p = ", ".join(f"{k}: {float(v)!r}" for k, v in params.items())
    path.write_text(f"""name: calnet
populations:
  input: {{kind: spike_source, size: 4, spike_times: [[1.0], [2.0], [3.0], [4.0]]}}
  out: {{kind: lif, size: 6, params: {{{p}}}}}
projections:
  - {{name: in->out, pre: input, post: out, connector: all_to_all, weight: 1.5, receptor: exc}}
record:
  spikes: [out]
""")
    return params


def test_compile_with_calibration_runs_on_calibrated_codes(runner, small_cals, tmp_path):
    cal = small_cals[1]
    cal_file = tmp_path / "cal.h5"
    cal.save(cal_file)
    hw = load_hardware("small")
    net = tmp_path / "net.yaml"
    params = _network_yaml(hw, cal, net)
    ir_file, plain_file = tmp_path / "net.h5", tmp_path / "plain.h5"
    r = runner.invoke(main, ["compile", str(net), "--calibration", str(cal_file), "-o", str(ir_file)])
    assert r.exit_code == 0, r.output
    assert runner.invoke(main, ["compile", str(net), "-H", "small", "-o", str(plain_file)]).exit_code == 0
    ir, plain = load_ir(ir_file), load_ir(plain_file)
    assert ir.provenance.calibration_id == cal.id and ir.calibration.chip_seed == 1
    assert np.array_equal(ir.calibration.codes, cal.codes)
    # the emulator on chip 1 applies the codes: every used circuit at the calibrated values
    chip = Chip(hw, 1)
    eff, eff_plain = EmulatorBackend(chip=1).effective(ir), EmulatorBackend(chip=1).effective(plain)
    circuits = ir.placement.hemisphere.astype(int) * hw.neurons.circuits_per_hemisphere + ir.placement.column
    for name in ("v_leak", "v_thresh", "tau_mem", "tau_syn_exc"):
        i = cal.index(name)
        expect = chip.analog(name, cal.codes[i])[circuits]
        assert np.allclose(getattr(eff, name), expect)
        target = cal.targets.get(name)
        spread_cal = np.abs(getattr(eff, name) - target).max()
        spread_plain = np.abs(getattr(eff_plain, name) - target).max()
        assert spread_cal < 0.2 * spread_plain, name
    res = EmulatorBackend(chip=1).run(ir, duration=30.0, seed=0)
    assert json.loads(res.info_json)["calibrated"] is True
    with pytest.raises(BackendError, match="is for chip 1"):
        EmulatorBackend(chip=0).run(ir, duration=10.0)
    # a network whose targets differ from the calibration's is refused with a clear message
    other = tmp_path / "other.yaml"
    other.write_text(net.read_text().replace(f"tau_mem: {float(params['tau_mem'])!r}", "tau_mem: 20.0"))
    r = runner.invoke(main, ["compile", str(other), "--calibration", str(cal_file), "-o", str(tmp_path / "o.h5")])
    assert r.exit_code == 2 and "tau_mem" in r.output and "calibrat" in r.output


def test_every_parameter_in_a_sweep_record(small_cals):
    rec = record_of(calibration_report(small_cals[0]))
    assert all(f"{p}_ratio" in rec and f"{p}_failed" in rec for p in PARAMETERS)
    assert rec["failed"] == 0.0 and isinstance(rec["id"], str)
