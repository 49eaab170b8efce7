"""``neuroemu robustness MODEL.h5 --vary KNOB=V1,V2 ... --chips N -o STUDY.h5``."""
from __future__ import annotations

from typing import Any

import click

from neuroemu.cli import main
from neuroemu.cli.options import nir_kwargs, nir_options, parse_vary, readout_options, refuse_without_data
from neuroemu.cli.output import emit, json_option
from neuroemu.errors import NeuroemuError
from neuroemu.studies.knobs import KNOBS


def _knob_help() -> str:
    lines = [f"{k}: {what} ({unit})" for k, (what, unit) in KNOBS.items() if not k.startswith("mismatch.")]
    lines += ["mismatch.<parameter>: one parameter's mismatch (scale), e.g. mismatch.tau_mem",
              "recalibrate: 0 or 1 (compare uncalibrated and calibrated chips in one study)"]
    return "\n".join(lines)


def _render(rep: dict[str, Any]) -> str:
    axes = rep["axes"]
    head = [*axes, "chips", "accuracy (%)"]
    lines = [f"robustness study of {rep['model']} on {rep['backend']} ({rep['hardware']}, base {rep['base']}), "
             f"{rep['samples']} test samples per chip"]
    if rep.get("software_accuracy") is not None:
        lines.append(f"{rep.get('reference', 'software')} accuracy: {100 * rep['software_accuracy']:.2f} %")
    widths = [max(len(h), 8) for h in head]
    lines.append("  ".join(h.rjust(w) for h, w in zip(head, widths)))
    for row in rep["table"]:
        cells = [f"{row[a]:g}" for a in axes] + [str(row["chips_done"]),
                                                 f"{100 * row['accuracy_mean']:.2f} ± {100 * row['accuracy_std']:.2f}"]
        lines.append("  ".join(c.rjust(w) for c, w in zip(cells, widths)))
    for key in ("output", "plot"):
        if rep.get(key):
            lines.append(f"wrote {rep[key]}")
    return "\n".join(lines)


@main.command("robustness", help="Accuracy of a trained MODEL (HDF5, from `neuroemu train`), or with --data of a "
              "network classifier MODEL (a NIR graph or network description), over a grid of "
              "imperfection knobs x chip instances, on the sweep engine (Dask), resumable.\n\n"
              "\b\nKnobs: " + _knob_help())
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--backend", "-b", type=click.Choice(["emulator", "brian2"]), default="emulator", show_default=True,
              help="emulator, or brian2 replaying the emulated chip (supports a subset of the knobs).")
@click.option("--vary", "vary", multiple=True, required=True, metavar="KNOB=V1,V2,...",
              help="A knob and its values; repeat for a grid (Cartesian product).")
@click.option("--chips", type=click.IntRange(min=1), default=10, show_default=True,
              help="Number of chip instances (seeds first-chip .. first-chip+N-1).")
@click.option("--first-chip", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--base", type=click.Choice(["chip", "ideal"]), default="chip", show_default=True,
              help="chip: the config's imperfections, knobs override them; ideal: everything off, knobs switch on.")
@click.option("--hardware", "-H", default="bss2", show_default=True, help="Hardware config name or YAML path.")
@click.option("--recalibrate", is_flag=True, help="Calibrate every chip (per grid point) before testing.")
@click.option("--retrain-in-the-loop", "retrain", is_flag=True,
              help="Retrain in the loop on every chip before testing.")
@click.option("--retrain-epochs", type=click.IntRange(min=1), default=3, show_default=True,
              help="Epochs of in-the-loop training with --retrain-in-the-loop.")
@click.option("--samples", type=click.IntRange(min=1), default=1000, show_default=True, help="Test samples per task.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Study seed (noise, samples).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="Study store (HDF5).")
@click.option("--resume", is_flag=True, help="Continue an interrupted study in OUTPUT (same arguments).")
@click.option("--scheduler", default=None, help="Address of an existing Dask scheduler (default: a LocalCluster).")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="LocalCluster workers (default: cores).")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="Accuracy vs knob plot (.png/.pdf).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@readout_options
@nir_options
@json_option
def robustness_cmd(model, backend, vary, chips, first_chip, base, hardware, recalibrate, retrain, retrain_epochs,
                   samples, seed, output, resume, scheduler, workers, plot, no_progress, data_path, readout,
                   output_layer, duration, time_scale, dt, v_scale, v_offset, as_json) -> None:
    from neuroemu.studies.robustness import build_spec, software_accuracy
    from neuroemu.sweeps import aggregate, run_sweep

    if plot:
        from neuroemu.plotting.figure import check_path

        check_path(plot)  # before the study, not after it
    axes = parse_vary(vary, example="mismatch=0,0.5,1")
    chip_list = list(range(first_chip, first_chip + chips))
    reference = "software"
    if data_path is not None:
        nir_kw = nir_kwargs(model, time_scale, dt, v_scale, v_offset)
        if recalibrate or retrain:
            raise NeuroemuError("--recalibrate and --retrain-in-the-loop apply to TTFS models, not to --data")
        from neuroemu.studies.classify import build_spec as network_spec
        from neuroemu.studies.classify import ideal_accuracy

        spec = network_spec(model, data_path, axes, chip_list, backend=backend, base=base, hardware=hardware,
                            nir_options=nir_kw, output=output_layer, readout=readout, samples=samples,
                            duration_ms=duration, seed=seed)
        soft = spec.settings["software_accuracy"] = ideal_accuracy(spec.settings)
        reference = "ideal chip"
    else:
        refuse_without_data(readout=readout, output_layer=output_layer, duration=duration, time_scale=time_scale,
                            dt=dt, v_scale=v_scale, v_offset=v_offset)
        spec = build_spec(model, axes, chip_list, backend=backend, base=base,
                          hardware=hardware, recalibrate=recalibrate, retrain_epochs=retrain_epochs if retrain else 0,
                          samples=samples, seed=seed)
        soft = spec.settings["software_accuracy"] = software_accuracy(model, samples)
    records = run_sweep(spec, output, scheduler=scheduler, workers=workers, resume=resume, progress=not no_progress)
    rows = aggregate(spec, records, fields=["accuracy"])
    for p, row in enumerate(rows):
        row["accuracy_per_chip"] = [records[(p, c)]["accuracy"] for c in spec.chips if (p, c) in records]
    rep = {"model": model, "backend": backend, "hardware": hardware, "base": base,
           "samples": int(spec.settings["samples"]),
           "reference": reference,
           "chips": spec.chips, "axes": [a for a, _ in axes], "software_accuracy": soft, "table": rows,
           "output": output}
    if plot:
        from neuroemu.plotting.robustness import plot_study

        plot_study(rows, rep["axes"], plot, software_accuracy=soft, reference_label=reference,
                   title=f"{model} on {backend} ({hardware}, {len(spec.chips)} chips)")
        rep["plot"] = plot
    emit(rep, as_json, _render)

