"""``neuroemu compare`` and ``neuroemu run --backend brian2`` through click."""
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
def nets(tmp_path_factory):
    d = tmp_path_factory.mktemp("cmp")
    out = {}
    for hw in ("ideal", "bss2"):
        out[hw] = d / f"yy_{hw}.h5"
        r = CliRunner().invoke(main, ["compile", str(EXAMPLES / "yinyang.yaml"), "--hardware", hw, "-o", str(out[hw])])
        assert r.exit_code == 0, r.output
    spikes = d / "in.h5"
    rng = np.random.default_rng(0)
    save_spikes({"input": SpikeTrains.from_first_spike_times(rng.uniform(0.0, 20.0, (4, 5)))}, spikes)
    out["spikes"] = spikes
    return out


def test_compare_ideal_agrees_json_and_plot(nets, tmp_path):
    png = tmp_path / "cmp.png"
    r = CliRunner().invoke(main, ["compare", str(nets["ideal"]), "--backends", "emulator,brian2", "--input",
                                  str(nets["spikes"]), "--trials", "4", "--duration", "60", "--json", "--plot",
                                  str(png)])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    c = rep["comparisons"][0]
    assert c["labels"] == ["emulator", "brian2"] and c["agree"] is True
    o = c["overall"]
    assert o["spikes"][0] > 20 and o["spikes"][0] == o["spikes"][1]
    assert o["max_abs_dt_ms"] < 0.1 and o["unmatched"] == [0, 0]
    assert set(c["populations"]) == {"hidden", "output"}
    assert rep["backends"]["brian2"]["info"]["mode"] == "ideal"
    assert png.stat().st_size > 10000


def test_compare_chip_replay_text(nets):
    """Mismatched chip 3 of bss2 (uncalibrated), noise off (compare's default): Brian2 replays it."""
    r = CliRunner().invoke(main, ["compare", str(nets["bss2"]), "--mode", "chip-replay", "--chip", "3", "--poisson",
                                  "40", "--duration", "60", "--trials", "2"])
    assert r.exit_code == 0, r.output
    assert "brian2 vs emulator" in r.output and "hidden" in r.output and "mode chip-replay, chip 3" in r.output
    line = next(s for s in r.output.splitlines() if s.strip().startswith("overall"))
    assert "+0 (0.00 %)" in line  # the same spike counts


def test_run_brian2_modes(nets, tmp_path):
    out = tmp_path / "b2.h5"
    r = CliRunner().invoke(main, ["run", str(nets["bss2"]), "--backend", "brian2", "--mode", "chip-replay", "--chip",
                                  "3",
                                  "--input", str(nets["spikes"]), "--trials", "4", "--duration", "60", "--no-noise",
                                  "-o", str(out), "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    assert rep["backend"] == "brian2" and rep["info"]["mode"] == "chip-replay" and rep["info"]["chip_seed"] == 3
    assert rep["info"]["imperfections_on"]["membrane_noise"] is False
    res = load_result(out)
    assert res.n_trials == 4 and res.traces is not None and res.traces.v_mV.shape[:2] == (4, 3)
    r = CliRunner().invoke(main, ["run", str(nets["bss2"]), "--backend", "brian2", "--mode", "as-deployed",
                                  "--input", str(nets["spikes"]), "--trials", "4", "--duration", "60", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["info"]["mode"] == "as-deployed"


@pytest.mark.parametrize("cmd, words", [
    (["compare", "{ideal}", "--backends", "emulator"], "at least two different backends"),
    (["compare", "{ideal}", "--backends", "emulator,loihi"], "unknown backend 'loihi'"),
    (["compare", "{ideal}", "--input", "{spikes}", "--poisson", "5"], "either --input or --poisson"),
    (["compare", "{ideal}", "--window", "0"], "--window and --tau must be > 0"),
    (["compare", "{ideal}", "--plot", "x.jpg", "--duration", "5"], ".png, .pdf or .svg"),
    (["run", "{ideal}", "--backend", "brian2", "--no-noise"], "brian2 --mode ideal has no noise"),
    (["run", "{ideal}", "--mode", "ideal"], "--mode applies to the brian2 backend only"),
])
def test_user_errors_exit_2(nets, cmd, words):
    args = [a.format(ideal=nets["ideal"], spikes=nets["spikes"]) for a in cmd]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2 and words in r.output, r.output
