"""``neuroemu hardware list | show NAME``."""
from __future__ import annotations

from typing import Any

import click

from neuroemu.cli import main
from neuroemu.cli.output import emit, json_option
from neuroemu.hardware import list_hardware, load_hardware
from neuroemu.yaml_schema import to_plain


@main.group()
def hardware() -> None:
    """Hardware configs (built-in names or YAML paths)."""


@hardware.command("list")
@json_option
def list_cmd(as_json: bool) -> None:
    """List the built-in hardware configs."""
    rows = []
    for name in list_hardware():
        hw = load_hardware(name)
        rows.append({"name": name, "circuits": hw.neurons.circuits, "ideal": hw.is_ideal, "hash": hw.short_hash,
                     "description": hw.description})
    emit({"hardware": rows}, as_json, lambda r: "\n".join(
        f"{h['name']:<8} {h['circuits']:>4} circuits  {h['hash']}  {h['description']}" for h in r["hardware"]))


def _render(rep: dict[str, Any]) -> str:
    c = rep["config"]
    lines = [
        f"{c['name']}: {c['description']}",
        f"  source {rep['source']}, content hash {rep['hash']}",
        f"  neurons    {c['neurons']['circuits']} circuits in {c['neurons']['hemispheres']} hemispheres, "
        f"merge up to {c['neurons']['max_merge']} adjacent circuits",
        f"  synapses   {c['synapses']['rows_per_hemisphere']} rows per hemisphere, {c['synapses']['rows_per_driver']} "
        "rows per driver, "
        f"{c['synapses']['labels_per_driver']} labels per driver, weights "
        + (f"{c['synapses']['weight_bits']}-bit" if c['synapses']['weight_bits'] else "continuous"),
        f"  timing     speed-up {c['timing']['speedup']:g}, timestamps "
        + (f"{c['timing']['timestamp_resolution_us'] * 1000:g} ns" if c['timing']['timestamp_resolution_us']
           else "exact")
        + f", emulator step {c['timing']['dt_us']:g} µs",
        f"  voltage    {c['voltage']['bio_reference_mV']:g} mV <-> {c['voltage']['chip_reference_V']:g} V, "
        f"{c['voltage']['chip_V_per_bio_mV'] * 1000:g} mV chip per mV biological",
        "  parameters (chip units)            range           mismatch offset / gain",
    ]
    for name, p in c["parameters"].items():
        lines.append(f"    {name:<16} {p['unit']:<22} {p['range'][0]:>9.4g} - {p['range'][1]:<9.4g} "
                     f"{p['mismatch_offset']:g} / {p['mismatch_gain']:g} ({p['map']} DAC)")
    sm, n = c["synapse_mismatch"], c["noise"]
    lines.append(f"  weight mismatch  row gain {sm['row_gain']:g}, synapse {sm['synapse']:g} (relative std)")
    lines.append(f"  noise      membrane {n['membrane_V'] * 1000:g} mV, threshold jitter "
                 f"{n['threshold_jitter_V'] * 1000:g} mV, "
                 f"spike-time jitter {n['spike_time_jitter_us'] * 1000:g} ns, dead fraction {n['dead_fraction']:g}")
    return "\n".join(lines)


@hardware.command("show")
@click.argument("name")
@json_option
def show_cmd(name: str, as_json: bool) -> None:
    """Show hardware config NAME (a built-in name or a YAML path)."""
    hw = load_hardware(name)
    emit({"source": hw.source, "hash": hw.content_hash, "ideal": hw.is_ideal, "config": to_plain(hw)}, as_json, _render)
