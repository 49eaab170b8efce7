"""``neuroemu run`` and ``neuroemu chip show`` through click."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from neuroemu.backends import load_result, save_spikes
from neuroemu.cli import main
from neuroemu.spikes import SpikeTrains

from conftest import EXAMPLES


@pytest.fixture(scope="module")
def net_h5(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "yy.h5"
    r = CliRunner().invoke(main, ["compile", str(EXAMPLES / "yinyang.yaml"), "-o", str(out)])
    assert r.exit_code == 0, r.output
    return out


def test_run_default_inputs_writes_result_and_plot(net_h5, tmp_path):
    out, png = tmp_path / "r.h5", tmp_path / "raster.png"
    r = CliRunner().invoke(main, ["run", str(net_h5), "--chip", "2", "--duration", "60", "--trials", "3",
                                  "-o", str(out), "--plot", str(png), "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    assert rep["trials"] == 3 and rep["info"]["chip_seed"] == 2 and rep["populations"]["hidden"]["spikes"] > 0
    res = load_result(out)
    assert res.n_trials == 3 and png.stat().st_size > 5000
    np.testing.assert_allclose(res.populations["hidden"].times_us, res.spikes("hidden").times)  # 1000x: ms = µs


def test_run_with_input_file_and_poisson(net_h5, tmp_path):
    spikes = tmp_path / "in.h5"
    save_spikes({"input": SpikeTrains.from_first_spike_times(np.array([[1.0, 2.0, 3.0, 4.0, 5.0], [5.0, 4.0, 3.0, 2.0,
                                                                                                   1.0]]))}, spikes)
    r = CliRunner().invoke(main, ["run", str(net_h5), "--input", str(spikes), "--trials", "2", "--json"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["run", str(net_h5), "--poisson", "50", "--duration", "200", "--json", "--no-noise"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["info"]["imperfections_on"]["membrane_noise"] is False


@pytest.mark.parametrize("args, words", [
    (["--input", "x.h5", "--poisson", "10"], "either --input or --poisson"),
    (["--duration", "-5"], "duration must be a positive"),
    (["--input", "missing.h5"], "file not found"),
    (["--backend", "loihi"], "unknown backend 'loihi'"),
    (["--plot", "raster.jpg"], ".png, .pdf or .svg"),
])
def test_run_user_errors_exit_2(net_h5, args, words):
    r = CliRunner().invoke(main, ["run", str(net_h5), *args])
    assert r.exit_code == 2 and words in r.output, r.output


def test_run_refuses_ir_of_other_chip_file(tmp_path):
    r = CliRunner().invoke(main, ["run", str(tmp_path / "nothing.h5")])
    assert r.exit_code == 2


def test_chip_show(tmp_path):
    r = CliRunner().invoke(main, ["chip", "show", "--hardware", "bss2", "--chip", "4", "--json", "-o",
                                  str(tmp_path / "c.h5")])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    assert rep["chip_seed"] == 4 and 0.1 < rep["parameters"]["tau_mem"]["relative_std"] < 0.2
    r = CliRunner().invoke(main, ["inspect", str(tmp_path / "c.h5")])
    assert r.exit_code == 0 and "chip" in r.output
    r2 = CliRunner().invoke(main, ["chip", "show", "--chip", "4"])
    assert "tau_mem" in r2.output
