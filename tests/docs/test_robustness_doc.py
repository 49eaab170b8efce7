"""The documented robustness study (docs/robustness.md) reproduces from its command: one grid
point on one chip, run with the documented command, gives the documented per-chip accuracy."""
from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from neuroemu.cli import main

DOCS = Path(__file__).resolve().parents[2] / "docs"
STUDY = DOCS / "robustness"


def _commands() -> list[list[str]]:
    text = (DOCS / "robustness.md").read_text()
    block = text.split("<!-- study-commands -->", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [shlex.split(line) for line in block.strip().splitlines() if line.startswith("neuroemu ")]


def _option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def test_documented_files_exist():
    text = (DOCS / "robustness.md").read_text()
    commands = _commands()
    assert commands[0][:2] == ["neuroemu", "train"] and len(commands) >= 5
    for args in commands[1:]:
        assert args[1] == "robustness"
        assert (DOCS.parent / _option(args, "--plot")).stat().st_size > 1000
        assert _option(args, "--plot").split("/")[-1] in text  # the figure is shown


@pytest.mark.parametrize("knob", ["membrane_noise", "weight_bits"])
def test_documented_point_reproduces(tmp_path, monkeypatch, knob):
    args = next(a for a in _commands()[1:] if any(v.startswith(knob + "=") for v in a))
    table = json.loads((DOCS.parent / args[-1]).read_text())["table"]  # `... --json > FILE`
    row = table[1]
    vary = f"{knob}={row[knob]:g}"
    cli = args[1:-2]  # drop `> FILE`
    cli[cli.index(next(v for v in cli if v.startswith(knob + "=")))] = vary
    cli[cli.index("--chips") + 1] = "1"
    cli[cli.index("-o") + 1] = str(tmp_path / "study.h5")
    cli[cli.index("--plot") + 1] = str(tmp_path / "study.png")
    monkeypatch.chdir(DOCS.parent)
    res = CliRunner().invoke(main, [*cli, "--workers", "1"])
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)["table"][0]
    assert got["accuracy_per_chip"] == [row["accuracy_per_chip"][0]]
