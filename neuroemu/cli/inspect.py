"""``neuroemu inspect FILE.h5``: a summary of any neuroemu file."""
from __future__ import annotations

from typing import Any, Callable

import click

from neuroemu.cli import main
from neuroemu.cli.output import emit, json_option, to_json
from neuroemu.hdf5 import file_kind

#: kind -> (summary(path) -> dict, render(dict) -> str); other modules add their kinds.
SUMMARIES: dict[str, tuple[Callable[[str], dict[str, Any]], Callable[[dict[str, Any]], str]]] = {}


def _ir_summary(path: str) -> dict[str, Any]:
    from neuroemu.compiler import resource_report
    from neuroemu.ir import load_ir

    ir = load_ir(path)
    rep = resource_report(ir)
    rep["provenance"] = {k: v for k, v in vars(ir.provenance).items() if k != "hardware_json"}
    return rep


def _ir_render(rep: dict[str, Any]) -> str:
    from neuroemu.compiler.report import format_resource_report

    prov = rep["provenance"]
    return (format_resource_report(rep) + f"\n  compiled {prov['created']} by neuroemu {prov['neuroemu_version']}"
            + (f" with calibration {prov['calibration_id']}" if prov.get("calibration_id") else ""))


def _result_summary(path: str) -> dict[str, Any]:
    from neuroemu.backends import load_result

    return load_result(path).summary()


def _result_render(rep: dict[str, Any]) -> str:
    lines = [f"result of backend '{rep['backend']}' on {rep['hardware']}: {rep['trials']} trial(s) x "
             f"{rep['duration_ms']:g} ms, seed {rep['seed']}"]
    for name, p in rep["populations"].items():
        lines.append(f"  {name:<16} {p['neurons']:>5} neurons {p['spikes']:>8} spikes  {p['mean_rate_hz']:.3g} Hz mean")
    ro = rep.get("info", {}).get("readout")
    if ro and ro.get("mode", "probe") != "probe":
        bits = f"{ro['bits']}-bit" if ro.get("bits") is not None else "exact (ideal converter)"
        lines.append(f"  membrane read by the {ro['converter']}: {bits}, a sample every "
                     f"{ro['neuron_sample_interval_us']:g} µs per neuron ({ro['V_per_lsb'] * 1e3:g} mV per code, chip)")
    elif ro:
        lines.append(f"  membrane read by probe: exact, every {ro['sample_interval_us']:g} µs (integration step)")
    if "event_buses" in rep.get("info", {}):  # emulator, brian2 chip-replay
        from neuroemu.hardware.buses import format_traffic

        lines.append("  " + format_traffic(rep["info"]["event_buses"]))
    lines.append(f"  wall {rep['wall_time_s']:.3g} s, {rep['bio_seconds_per_wall_second']:.4g} biological s per wall s")
    return "\n".join(lines)


def _spikes_summary(path: str) -> dict[str, Any]:
    from neuroemu.backends import load_spikes

    return {name: {"neurons": s.n_neurons, "trials": s.n_trials, "spikes": len(s)}
            for name, s in load_spikes(path).items()}


def _sweep_summary(path: str) -> dict[str, Any]:
    from pathlib import Path

    from neuroemu.sweeps import aggregate, read_store

    spec, records = read_store(Path(path))
    if spec is None:
        return {"tasks_done": len(records)}
    return {"sweep_kind": spec.kind, "task": spec.task, "points": len(spec.grid), "chips": spec.chips,
            "tasks": len(spec.keys()), "tasks_done": len(records), "settings": spec.settings, "seed": spec.seed,
            "table": aggregate(spec, records)}


def _sweep_render(rep: dict[str, Any]) -> str:
    if "sweep_kind" not in rep:
        return f"  {rep['tasks_done']} finished task(s)"
    lines = [f"{rep['sweep_kind']} sweep ({rep['task']}): {rep['points']} point(s) x {len(rep['chips'])} chip(s), "
             f"{rep['tasks_done']}/{rep['tasks']} tasks done, seed {rep['seed']}"]
    for row in rep["table"]:
        cells = [f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                 for k, v in row.items() if not k.endswith("_std")]
        lines.append("  " + "  ".join(cells))
    return "\n".join(lines)


SUMMARIES["ir"] = (_ir_summary, _ir_render)
SUMMARIES["sweep"] = (_sweep_summary, _sweep_render)
SUMMARIES["result"] = (_result_summary, _result_render)
SUMMARIES["spikes"] = (_spikes_summary, lambda r: "input spikes:\n" + "\n".join(
    f"  {k:<16} {v['neurons']:>5} sources, {v['trials']} trial(s), {v['spikes']} spikes" for k, v in r.items()))


@main.command("inspect")
@click.argument("path", type=click.Path(dir_okay=False))
@json_option
def inspect_cmd(path: str, as_json: bool) -> None:
    """Summarise any neuroemu file (IR, result, chip, calibration, model, study)."""
    kind, schema, version = file_kind(path)
    summary, render = SUMMARIES.get(kind, (lambda p: {}, lambda r: to_json(r)))
    rep = {"file": path, "kind": kind, "schema": schema, "written_by": version, **summary(path)}
    header = f"{path}: neuroemu {kind} file (schema {schema}, written by neuroemu {version})\n"
    emit(rep, as_json, lambda r: header + render(r))
