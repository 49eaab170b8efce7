"""`neuroemu train`, `neuroemu evaluate`, `neuroemu demo --quick` through click's CliRunner."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from neuroemu.cli import main
from neuroemu.learning import load_model


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("train")
    model = out / "model.h5"
    r = CliRunner().invoke(main, ["train", "--dataset", "yinyang", "--epochs", "4", "--hidden", "20", "--train-samples",
                                  "1500", "-o", str(model), "--plot", str(out / "curves.png"), "--json"])
    assert r.exit_code == 0, r.output
    return model, out, r


def test_train_software_writes_model_and_metrics(trained_model):
    model, out, r = trained_model
    rep = json.loads(r.stdout)
    assert rep["epochs"] == 4 and len(rep["validation_accuracy_per_epoch"]) == 4
    assert rep["test_accuracy"] > 0.6
    assert (out / "curves.png").stat().st_size > 1000
    m = load_model(model)
    assert m.network.layer_sizes == (20, 3) and m.records[0].hyperparameters["mode"] == "software"
    assert "epoch    4" in r.stderr  # per-epoch metrics on stderr


def test_evaluate_on_emulator_and_software(trained_model):
    model, out, _ = trained_model
    runner = CliRunner()
    r = runner.invoke(main, ["evaluate", str(model), "--backend", "emulator", "--chip", "2", "--samples", "300",
                             "--json", "--plot", str(out / "conf.png"), "--raster", str(out / "raster.png")])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["samples"] == 300 and 0.3 < rep["accuracy"] <= 1.0
    assert sum(map(sum, rep["confusion"])) == 300
    assert (out / "conf.png").stat().st_size > 1000 and (out / "raster.png").stat().st_size > 1000
    r = runner.invoke(main, ["evaluate", str(model), "--backend", "software", "--samples", "300"])
    assert r.exit_code == 0 and "accuracy" in r.output
    r = runner.invoke(main, ["inspect", str(model)])
    assert r.exit_code == 0 and "TTFS model" in r.output


def test_learning_user_errors(trained_model, tmp_path):
    model, _, _ = trained_model
    runner = CliRunner()
    r = runner.invoke(main, ["train", "--dataset", "cifar", "-o", str(tmp_path / "x.h5")])
    assert r.exit_code == 2 and "unknown data set 'cifar'" in r.output and "Traceback" not in r.output
    not_model = tmp_path / "not_model.h5"
    not_model.write_bytes(b"garbage")
    r = runner.invoke(main, ["evaluate", str(not_model)])
    assert r.exit_code == 2 and "not a readable HDF5 file" in r.output
    r = runner.invoke(main, ["evaluate", str(model), "--backend", "nest"])
    assert r.exit_code == 2 and "unknown backend" in r.output
    r = runner.invoke(main, ["evaluate", str(model), "--backend", "software", "--calibrate"])
    assert r.exit_code == 2 and "apply to a chip backend" in r.output
    r = runner.invoke(main, ["evaluate", str(model), "--calibration", str(not_model), "--calibrate"])
    assert r.exit_code == 2 and "either --calibration or --calibrate" in r.output
    r = runner.invoke(main, ["train", "--dataset", "mnist-idx:/nonexistent", "-o", str(tmp_path / "x.h5")])
    assert r.exit_code == 2 and "not a directory" in r.output
    r = runner.invoke(main, ["evaluate", str(model), "--backend", "software", "--mode", "ideal"])
    assert r.exit_code == 2 and "brian2 backend only" in r.output
    for cmd in (["evaluate", str(model), "--raster", str(tmp_path / "r.txt")],
                ["train", "--epochs", "300", "-o", str(tmp_path / "x.h5"), "--plot", str(tmp_path / "c.txt")]):
        r = runner.invoke(main, cmd)  # refused before any run or training
        assert r.exit_code == 2 and "use a .png, .pdf or .svg suffix" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "x.h5").exists()


def test_demo_quick(tmp_path, monkeypatch):
    from neuroemu.calibration.cache import CACHE_ENV

    cache = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENV, str(cache))  # a fresh calibration, as in CI (the variable the cache reads)
    r = CliRunner().invoke(main, ["demo", "--quick", "-o", str(tmp_path / "demo"), "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    acc = rep["accuracy"]
    assert list(acc) == ["software", "uncalibrated chip", "calibrated chip", "after in-the-loop"]
    assert acc["software"] > 0.7
    assert acc["after in-the-loop"] > acc["uncalibrated chip"]
    assert (tmp_path / "demo" / "demo.png").stat().st_size > 1000
    assert load_model(tmp_path / "demo" / "model.h5").records[-1].hyperparameters["mode"] == "in-the-loop"
    assert any(cache.rglob("*.h5")), "the demo's calibration did not go to the test's cache"
    # its wall time is measured by benchmarks/demo_quick.py, not asserted here


def test_train_in_the_loop_from_init(trained_model, tmp_path):
    model, _, _ = trained_model
    out = tmp_path / "itl.h5"
    r = CliRunner().invoke(main, ["train", "--mode", "in-the-loop", "--init", str(model), "--chip", "3", "--epochs",
                                  "1",
                                  "--train-samples", "300", "--no-progress", "-o", str(out), "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["mode"] == "in-the-loop" and rep["test_on"] == "emulator, chip 3" and rep["epochs"] == 1
    m = load_model(out)
    assert [rec.hyperparameters["mode"] for rec in m.records] == ["software", "in-the-loop"]
    assert m.records[-1].hyperparameters["chip"] == 3
