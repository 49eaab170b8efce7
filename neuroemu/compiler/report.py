"""The resource report of a compiled IR: what it uses of the chip and what quantization cost."""
from __future__ import annotations

from typing import Any

import numpy as np

from neuroemu.hardware.buses import peak_load
from neuroemu.ir.model import IR
from neuroemu.models.refractory import refractory_settings


def resource_report(ir: IR) -> dict[str, Any]:
    """Plain dict (JSON-ready): circuits, rows per hemisphere, drivers, labels, synapses, quantization,
    the spike sources' load on the shared event buses (``event_buses``, None when the config has
    none: :func:`neuroemu.hardware.buses.peak_load`) and ``warnings`` (sentences)."""
    hw = ir.hardware()
    net, pl, wq = ir.network, ir.placement, ir.weights
    H, R = hw.neurons.hemispheres, hw.synapses.rows_per_hemisphere
    rows_used = [int(np.sum(pl.row_receptor[h] >= 0)) for h in range(H)]
    drivers = {}
    for h in range(H):
        sel = pl.route_hemisphere == h
        d, counts = np.unique(pl.route_driver[sel], return_counts=True)
        drivers[h] = (len(d), int(counts.max(initial=0)))
    pops = []
    for p in net.populations:
        entry: dict[str, Any] = {"name": p.name, "kind": p.kind, "size": p.size}
        if p.kind == "lif":
            idx = np.arange(p.lif_first, p.lif_first + p.size)
            entry["circuits_per_neuron"] = int(pl.size[idx].max())
            entry["circuits"] = int(pl.size[idx].sum())
            entry["hemispheres"] = sorted({int(h) for h in pl.hemisphere[idx]})
        pops.append(entry)
    projs = []
    for i, pr in enumerate(net.projections):
        projs.append({
            "name": pr.name, "pre": pr.pre, "post": pr.post, "synapses": pr.count,
            "rms_error_nA": float(wq.rms_error[i]), "max_error_nA": float(wq.max_error[i]),
            "relative_rms_error": float(wq.relative_rms_error[i]),
            "zeroed": int(wq.zeroed[i]), "saturated": int(wq.saturated[i]),
        })
    buses = peak_load(ir, hw)
    return {
        "network": net.name,
        "hardware": {"name": hw.name, "hash": hw.short_hash},
        "circuits": {"used": int(pl.size.sum()), "total": hw.neurons.circuits},
        "rows_per_hemisphere": {"used": rows_used, "total": R},
        "drivers_per_hemisphere": {"used": [drivers[h][0] for h in range(H)],
                                   "total": hw.synapses.drivers_per_hemisphere},
        "max_labels_per_driver": {"used": max(drivers[h][1] for h in range(H)), "total": hw.synapses.labels_per_driver},
        "synapses": {"used": len(net.synapses), "total": H * R * hw.neurons.circuits_per_hemisphere},
        "weight_bits": hw.synapses.weight_bits,
        "populations": pops,
        "projections": projs,
        "weight_scales": [
            {"population": wq.group_population[g], "receptor": ("exc", "inh")[int(wq.group_receptor[g])],
             "nA_per_code": float(wq.group_scale[g])}
            for g in range(len(wq.group_scale))
        ],
        "calibration": ir.provenance.calibration_id,
        "event_buses": buses,
        "warnings": [] if buses is None else list(buses["warnings"]),
        "refractory_counter": refractory_report(ir),
    }


def refractory_report(ir: IR) -> dict[str, Any] | None:
    """The refractory counter's settings for ``ir``'s neurons (clock scales and periods, neurons per
    clock, counter range, largest quantization error against the targets; chip µs), or None on a
    config where the refractory time is an analog parameter."""
    counter = ir.hardware().realism.refractory
    if counter is None:
        return None
    target = np.asarray(ir.targets.tau_refrac, float)
    return {"clock_base_MHz": counter.clock_base_MHz, "counter_bits": counter.counter_bits,
            **refractory_settings(counter, target).describe(target)}


def format_resource_report(rep: dict[str, Any]) -> str:
    """Human-readable rendering of :func:`resource_report`."""
    lines = [
        f"network '{rep['network']}' on {rep['hardware']['name']} (config {rep['hardware']['hash']})",
        f"  circuits            {rep['circuits']['used']:>7} / {rep['circuits']['total']}",
        f"  rows per hemisphere {' + '.join(str(r) for r in rep['rows_per_hemisphere']['used']):>7} / "
        f"{rep['rows_per_hemisphere']['total']} each",
        f"  drivers             {' + '.join(str(r) for r in rep['drivers_per_hemisphere']['used']):>7} / "
        f"{rep['drivers_per_hemisphere']['total']} each",
        f"  labels per driver   {rep['max_labels_per_driver']['used']:>7} / {rep['max_labels_per_driver']['total']} "
        "(most used)",
        f"  synapses            {rep['synapses']['used']:>7} / {rep['synapses']['total']}",
        "  populations:",
    ]
    for p in rep["populations"]:
        extra = (f", {p['circuits']} circuits ({p['circuits_per_neuron']} per neuron), hemisphere(s) {p['hemispheres']}"
                 if p["kind"] == "lif" else "")
        lines.append(f"    {p['name']:<16} {p['kind']:<12} {p['size']:>5} neurons{extra}")
    bits = rep["weight_bits"]
    lines.append(f"  quantization ({bits}-bit weights):" if bits else "  quantization: none (continuous weights)")
    for pr in rep["projections"]:
        lines.append(
            f"    {pr['name']:<24} {pr['synapses']:>7} synapses  rms error {pr['rms_error_nA']:.3g} nA "
            f"({100 * pr['relative_rms_error']:.2f} %), max {pr['max_error_nA']:.3g} nA, "
            f"{pr['zeroed']} zeroed, {pr['saturated']} saturated"
        )
    eb = rep.get("event_buses")
    if eb is not None:
        depth = "unbounded" if eb["queue_depth"] is None else f"{eb['queue_depth']} events"
        di = eb["default_inputs"]
        lines.append(f"  event buses ({eb['per_hemisphere']} per hemisphere, one event per {eb['event_interval_us']:g} "
                     f"µs, queue {depth}): {len(eb['buses'])} used by spike sources, at most "
                     f"{eb['max_sources_per_bus']} sources on one")
        if di["events"]:
            lines.append(f"    default inputs: {di['events']} bus events, {di['delayed']} delayed (max "
                         f"{di['max_delay_us']:.4g} µs), {di['dropped']} dropped")
    for w in rep.get("warnings", []):
        lines.append(f"  warning: {w}")
    rc = rep.get("refractory_counter")
    if rc and rc["counter_max"] is not None:
        clocks = [f"fast clock scale {rc['clock_scale_fast']} ({1000 * rc['period_fast_us']:g} ns, "
                  f"{rc['neurons_fast']} neurons)"]
        if rc["neurons_slow"]:
            clocks.append(f"slow clock scale {rc['clock_scale_slow']} ({1000 * rc['period_slow_us']:g} ns, "
                          f"{rc['neurons_slow']} neurons)")
        lines.append(f"  refractory counter: {', '.join(clocks)}; counters {rc['counter_min']}..{rc['counter_max']}; "
                     f"quantization error up to {1000 * rc['max_quantization_error_us']:.3g} ns "
                     f"({100 * rc['max_relative_error']:.2f} % of the target)")
    return "\n".join(lines)
