"""CLI of the foundation: hardware list/show, compile, inspect; --json; exit code 2 for user errors."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from neuroemu.cli import main

from conftest import EXAMPLES


@pytest.fixture
def runner():
    return CliRunner()


def test_hardware_list_and_show(runner):
    r = runner.invoke(main, ["hardware", "list", "--json"])
    assert r.exit_code == 0
    names = [h["name"] for h in json.loads(r.output)["hardware"]]
    assert {"bss2", "ideal", "small"} <= set(names)
    r = runner.invoke(main, ["hardware", "show", "bss2"])
    assert r.exit_code == 0 and "512 circuits" in r.output
    r = runner.invoke(main, ["hardware", "show", "bss2", "--json"])
    assert json.loads(r.output)["config"]["synapses"]["weight_bits"] == 6


@pytest.mark.parametrize("example", ["yinyang", "full_chip", "ffn_256_246_10"])
def test_compile_examples(runner, tmp_path, example):
    out = tmp_path / "net.h5"
    r = runner.invoke(main, ["compile", str(EXAMPLES / f"{example}.yaml"), "--hardware", "bss2", "-o", str(out),
                             "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    assert rep["circuits"]["used"] <= 512 and rep["synapses"]["used"] > 0
    assert all("rms_error_nA" in p for p in rep["projections"])
    r = runner.invoke(main, ["inspect", str(out), "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["kind"] == "ir"
    r = runner.invoke(main, ["inspect", str(out)])
    assert "circuits" in r.output and "quantization" in r.output


def test_oversized_network_exits_2_without_traceback(tmp_path):
    """Run as a real process: message on stderr, exit code 2, no traceback, no file."""
    out = tmp_path / "x.h5"
    p = subprocess.run([sys.executable, "-m", "neuroemu", "compile", str(EXAMPLES / "too_big.yaml"), "-o", str(out)],
                       capture_output=True, text=True)
    assert p.returncode == 2
    assert "population 'hidden' needs 600 neuron circuits; bss2 has 512" in p.stderr
    assert "Traceback" not in p.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    "args, words",
    [
        (["hardware", "show", "nonexistent"], "unknown hardware config"),
        (["compile", "missing.yaml", "-o", "x.h5"], "file not found"),
        (["inspect", "missing.h5"], "file not found"),
    ],
)
def test_user_errors_exit_2(runner, args, words):
    r = runner.invoke(main, args)
    assert r.exit_code == 2 and words in r.output
    assert r.exc_info is None or r.exc_info[0] is SystemExit


def test_bad_network_file_exit_2(runner, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("populations: {n: {kind: lif, size: 2, params: {tau_mem: -1.0}}}\n")
    r = runner.invoke(main, ["compile", str(bad), "-o", str(tmp_path / "o.h5")])
    assert r.exit_code == 2 and "tau_mem must be positive" in r.output
