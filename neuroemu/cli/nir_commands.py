"""``neuroemu import GRAPH.nir -o NET.yaml`` and ``neuroemu export NET_OR_MODEL -o GRAPH.nir``."""
from __future__ import annotations

from pathlib import Path

import click

from neuroemu.cli import main
from neuroemu.cli.options import nir_kwargs, nir_options
from neuroemu.cli.output import emit, json_option
from neuroemu.errors import NeuroemuError
from neuroemu.nir.graph import is_nir_file


@main.command("import")
@click.argument("graph", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True,
              help="Network description to write (YAML).")
@click.option("--hardware", "-H", default="bss2", show_default=True,
              help="Config whose extremes stand in for what NIR leaves out (synaptic filter of LIF/IF, leak of IF, "
                   "refractory time, readout thresholds) and whose ranges the auto voltage scale fits.")
@nir_options
@json_option
def import_cmd(graph, output, hardware, time_scale, dt, v_scale, v_offset, as_json) -> None:
    """Import the NIR graph GRAPH as a network description; print the import report (nodes,
    mapping, approximations)."""
    from neuroemu.network.yaml_io import save_network_yaml
    from neuroemu.nir import import_nir

    if not is_nir_file(graph):
        raise NeuroemuError(f"{graph} is not a NIR graph (a .nir file, HDF5 with NIR's 'node' group)")
    kw = nir_kwargs(graph, time_scale, dt, v_scale, v_offset)
    net, report = import_nir(graph, hardware=hardware, **kw)
    save_network_yaml(net, output)
    rep = {**report.to_dict(), "output": output}
    emit(rep, as_json, lambda r: report.format() + f"\nwrote {output}")


@main.command("export")
@click.argument("source", metavar="NET_OR_MODEL", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="NIR graph to write.")
@click.option("--weights", type=click.Choice(["described", "deployed"]), default="described", show_default=True,
              help="For a compiled IR: the weights as described, or as the chip realises them (6-bit).")
@json_option
def export_cmd(source, output, weights, as_json) -> None:
    """Export a network description (YAML), a compiled IR or a trained TTFS model (HDF5) as a NIR
    graph that nir.read(..., type_check=True) accepts."""
    from neuroemu.hdf5.files import file_kind
    from neuroemu.nir import write_nir

    if Path(source).suffix in (".yaml", ".yml"):
        from neuroemu.network import load_network

        obj, what = load_network(source), "network description"
    else:
        kind = file_kind(source)[0]
        if kind == "ir":
            from neuroemu.ir import load_ir

            obj, what = load_ir(source), "compiled IR"
        elif kind == "model":
            from neuroemu.learning.model import load_model

            obj, what = load_model(source), "TTFS model"
        else:
            raise NeuroemuError(f"{source} is a neuroemu '{kind}' file; export takes a network description (YAML), "
                                "an IR or a TTFS model")
    if weights == "deployed" and what != "compiled IR":
        raise NeuroemuError(f"--weights deployed needs a compiled IR; {source} is a {what}")
    graph = write_nir(obj, output, weights=weights)
    kinds: dict[str, int] = {}
    for node in graph.nodes.values():
        kinds[type(node).__name__] = kinds.get(type(node).__name__, 0) + 1
    rep = {"source": source, "what": what, "output": output, "weights": weights, "nodes": kinds,
           "warnings": list(graph.metadata.get("neuroemu", {}).get("warnings", []))}
    emit(rep, as_json, lambda r: (f"{what} {source} -> NIR graph {output}: "
                                  + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
                                  + "".join(f"\n  note: {w}" for w in r["warnings"])))
