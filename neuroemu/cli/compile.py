"""``neuroemu compile NET.yaml --hardware NAME -o NET.h5``."""
from __future__ import annotations

from pathlib import Path

import click

from neuroemu.cli import main
from neuroemu.cli.output import emit, json_option
from neuroemu.compiler import compile_network, resource_report
from neuroemu.compiler.report import format_resource_report
from neuroemu.hardware import load_hardware
from neuroemu.ir import save_ir
from neuroemu.network import load_network


@main.command("compile")
@click.argument("network", type=click.Path(dir_okay=False))
@click.option("--hardware", "-H", default="bss2", show_default=True, help="Hardware config name or YAML path.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="IR file to write (HDF5).")
@json_option
def compile_cmd(network: str, hardware: str, output: str, as_json: bool) -> None:
    """Compile the network description NETWORK (YAML) for a chip; print the resource report."""
    hw = load_hardware(hardware)
    net = load_network(network)
    ir = compile_network(net, hw, source=str(Path(network)))
    save_ir(ir, output)
    rep = resource_report(ir)
    rep["output"] = output
    emit(rep, as_json, lambda r: format_resource_report(r) + f"\nwrote {output}")
