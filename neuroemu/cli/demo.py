"""``neuroemu demo``: the main job end to end (Yin-Yang, train, calibrate, deploy, retrain in the loop)."""
from __future__ import annotations

from typing import Any

import click

from neuroemu.cli import main
from neuroemu.cli.output import emit, json_option


def _render(rep: dict[str, Any]) -> str:
    lines = ["", "Yin-Yang test accuracy"]
    for stage, acc in rep["accuracy"].items():
        lines.append(f"  {stage:<20} {100 * acc:6.1f} %")
    lines.append(f"total {rep['seconds']['total']:.0f} s; wrote {rep['files']['plot']}, {rep['files']['curves']}, "
                 f"{rep['files']['model']}")
    return "\n".join(lines)


@main.command("demo")
@click.option("--quick", is_flag=True, help="CI-size budget (smaller network, data and epochs; well under a minute).")
@click.option("-o", "--outdir", type=click.Path(file_okay=False), default="neuroemu-demo", show_default=True,
              help="Directory for model.h5, demo.png and curves.png.")
@click.option("--chip", type=click.IntRange(min=0), default=3, show_default=True, help="Emulated chip seed.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Init, shuffling and noise seed.")
@click.option("--software-epochs", type=click.IntRange(min=1), default=None, help="Override the software epochs.")
@click.option("--loop-epochs", type=click.IntRange(min=1), default=None, help="Override the in-the-loop epochs.")
@json_option
def demo_cmd(quick, outdir, chip, seed, software_epochs, loop_epochs, as_json) -> None:
    """Generate Yin-Yang, train in software, calibrate an emulated bss2 chip, deploy, retrain in the
    loop, and print the accuracy at every stage (about 5 minutes; --quick for CI)."""
    from neuroemu.learning.demo import DemoSettings, run_demo

    changes: dict[str, Any] = {"chip": chip, "seed": seed}
    if software_epochs:
        changes["software_epochs"] = software_epochs
    if loop_epochs:
        changes["in_the_loop_epochs"] = loop_epochs
    settings = DemoSettings.quick(**changes) if quick else DemoSettings.full(**changes)
    log = (lambda line: click.echo(line, err=True)) if as_json else click.echo
    rep = run_demo(settings, outdir, log=log)
    emit(rep.as_dict(), as_json, _render)
