"""``neuroemu compile NET.yaml|GRAPH.nir --hardware NAME -o NET.h5``."""
from __future__ import annotations

from pathlib import Path

import click

from neuroemu.cli import main
from neuroemu.cli.options import nir_kwargs, nir_options
from neuroemu.cli.output import emit, json_option
from neuroemu.compiler import compile_network, resource_report
from neuroemu.compiler.report import format_resource_report
from neuroemu.hardware import load_hardware
from neuroemu.ir import save_ir
from neuroemu.network import load_network


@main.command("compile")
@click.argument("network", type=click.Path(dir_okay=False))
@click.option("--hardware", "-H", default=None,
              help="Hardware config name or YAML path [default: the calibration's config with --calibration, else "
                   "bss2].")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="IR file to write (HDF5).")
@click.option("--calibration", type=click.Path(dir_okay=False), default=None,
              help="Calibration file (CAL.h5, from `neuroemu calibrate`): weight scales from its input gains, its "
                   "codes embedded (the IR then runs on that chip instance only).")
@nir_options
@json_option
def compile_cmd(network: str, hardware: str | None, output: str, calibration: str | None, time_scale, dt, v_scale,
                v_offset, as_json: bool) -> None:
    """Compile the network description NETWORK (YAML, or a NIR graph) for a chip; print the
    resource report (and for a NIR graph the import report).

    With --calibration the IR carries that chip's per-circuit DAC codes (the emulator applies
    them when it runs the IR on that chip seed) and the weight scales follow from the calibrated
    synaptic input gains; the network's neuron parameters must equal the calibration targets."""
    cal = None
    if calibration:
        from neuroemu.calibration import load_calibration

        cal = load_calibration(calibration)
    hw = load_hardware(hardware or (cal.hardware_name if cal is not None else "bss2"))
    nir_kw = nir_kwargs(network, time_scale, dt, v_scale, v_offset)
    imported = None
    if nir_kw:
        from neuroemu.nir import compile_nir

        ir, imported = compile_nir(network, hw, calibration=cal, **nir_kw)
    else:
        ir = compile_network(load_network(network), hw, source=str(Path(network)), calibration=cal)
    save_ir(ir, output)
    rep = resource_report(ir)
    rep["output"] = output
    if imported is not None:
        rep["nir_import"] = imported.to_dict()
    emit(rep, as_json, lambda r: (imported.format() + "\n" if imported is not None else "")
         + format_resource_report(r) + f"\nwrote {output}")
