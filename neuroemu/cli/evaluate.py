"""``neuroemu evaluate MODEL.h5``: accuracy of a trained TTFS model on a backend (or the closed form)."""
from __future__ import annotations

from typing import Any

import click
import numpy as np

from neuroemu.cli import main
from neuroemu.cli.options import nir_kwargs, nir_options, readout_options, refuse_without_data
from neuroemu.cli.output import emit, json_option
from neuroemu.errors import NeuroemuError


def _render(rep: dict[str, Any]) -> str:
    where = rep["backend"] if rep["backend"] == "software" else (
        f"{rep['backend']} ({rep['hardware']}, chip {rep['chip']}, "
        f"{'calibrated' if rep['calibration'] else 'uncalibrated'})")
    lines = [f"{rep['model']}: {rep['dataset']} {rep['split']} set, {rep['samples']} samples on {where}",
             f"  accuracy {100 * rep['accuracy']:.2f} %   loss {rep['loss']:.4f}   no label spike: "
             f"{rep['no_label_spike']}"
             f"   ({rep['seconds']:.2f} s)"]
    for key in ("plot", "raster"):
        if rep.get(key):
            lines.append(f"wrote {rep[key]}")
    return "\n".join(lines)


def _model_summary(path: str) -> dict[str, Any]:
    from neuroemu.learning.model import load_model

    return load_model(path).summary()


def _model_render(rep: dict[str, Any]) -> str:
    acc = rep["final_validation_accuracy"]
    return (f"TTFS model: {rep['dataset']} {'-'.join(map(str, rep['layers']))}, training {rep['training_phases']} "
            f"epochs {rep['epochs']}" + ("" if acc is None else f", final validation accuracy {100 * acc:.2f} %"))


def _register_inspect() -> None:
    from neuroemu.cli.inspect import SUMMARIES

    SUMMARIES["model"] = (_model_summary, _model_render)


_register_inspect()


def _network_render(rep: dict[str, Any]) -> str:
    where = f"{rep['backend']} ({rep['hardware']}, chip {rep['chip']})"
    lines = [f"{rep['network']}: {rep['samples']} samples of {rep['data']} on {where}, readout {rep['readout']} of "
             f"'{rep['output']}'",
             f"  accuracy {100 * rep['accuracy']:.2f} %   no answer: {rep['no_answer']}   ({rep['seconds']:.2f} s)"]
    if rep.get("plot"):
        lines.append(f"wrote {rep['plot']}")
    return "\n".join(lines)


def _evaluate_network(target, data_path, backend, chip, hardware, calibration, mode, samples, seed, plot, readout,
                      output, duration, nir_kw, as_json, hardware_given: bool = True) -> None:
    """``evaluate NET --data DATA.h5``: a network classifier (NIR graph, description or IR)."""
    import time

    from neuroemu.cli.run import make_backend
    from neuroemu.nir.data import read_labeled_inputs
    from neuroemu.plotting.figure import check_path
    from neuroemu.studies.classify import evaluate_network, load_classifier, target_kind

    if backend == "software":
        raise NeuroemuError("--backend software evaluates TTFS models (their closed form); a network runs on emulator "
                            "or brian2")
    if plot:
        check_path(plot)  # before the runs, not after them
    is_ir = target_kind(target) == "ir"
    if is_ir and (calibration or hardware_given):
        raise NeuroemuError(f"{target} is a compiled IR: --hardware and --calibration apply when compiling a NIR graph "
                            "or a description")
    cal = None
    if calibration:
        from neuroemu.calibration import load_calibration

        cal = load_calibration(calibration)
    data = read_labeled_inputs(data_path, float(nir_kw.get("time_scale", 1.0)))
    if samples is not None:
        data = data.head(samples)
    clf, report = load_classifier(target, hardware, nir_kw, output, readout, calibration=cal)
    if is_ir:
        hardware = clf.ir.hardware().name  # what it was compiled for

    start = time.perf_counter()
    ev = evaluate_network(clf, make_backend(backend, chip, mode), data, duration, seed=seed)
    seconds = time.perf_counter() - start
    if plot:
        from neuroemu.plotting.learning import plot_confusion

        names = [str(k) for k in range(clf.n_classes)]
        plot_confusion(ev["confusion"][:, :clf.n_classes], names, plot,
                       title=f"{target}: {100 * ev['accuracy']:.1f} % ({backend}, chip {chip})")
    rep = {"network": target, "data": data_path, "samples": len(data), "backend": backend, "hardware": hardware,
           "chip": chip, "calibration": calibration, "seed": seed, "readout": clf.readout, "output": clf.output,
           "accuracy": ev["accuracy"], "no_answer": ev["no_answer"], "confusion": ev["confusion"],
           "seconds": seconds, "plot": plot, "nir_import": report.to_dict() if report is not None else None}
    emit(rep, as_json, _network_render)


@main.command("evaluate")
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
@click.option("--backend", "-b", default="emulator", show_default=True,
              help="emulator, brian2, or software (closed form).")
@click.option("--chip", type=click.IntRange(min=0), default=0, show_default=True, help="Emulated chip seed.")
@click.option("--hardware", "-H", default="bss2", show_default=True, help="Hardware config to compile for.")
@click.option("--calibration", type=click.Path(dir_okay=False), default=None,
              help="Calibration file (CAL.h5); it must be made for the model's neuron parameters.")
@click.option("--calibrate", "calibrate_chip", is_flag=True,
              help="Calibrate the emulated chip for the model's neuron parameters first (cached).")
@click.option("--mode", type=click.Choice(["ideal", "as-deployed", "chip-replay"]), default=None,
              help="Brian2 only: what to simulate (default ideal).")
@click.option("--split", type=click.Choice(["test", "validation", "train"]), default="test", show_default=True)
@click.option("--samples", type=click.IntRange(min=1), default=None, help="Use only the first N samples of the split.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Noise seed of the runs.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="Confusion matrix plot (.png/.pdf).")
@click.option("--raster", type=click.Path(dir_okay=False), default=None, help="Spike rasters of example samples.")
@readout_options
@nir_options
@json_option
def evaluate_cmd(model_path, backend, chip, hardware, calibration, calibrate_chip, mode, split, samples, seed, plot,
                 raster, data_path, readout, output_layer, duration, time_scale, dt, v_scale, v_offset,
                 as_json) -> None:
    """Accuracy of the trained model MODEL (from `neuroemu train`) on a backend; with --data, of a
    network classifier MODEL (a NIR graph, network description or IR) on labelled inputs."""
    import dataclasses
    import time

    if data_path is None:
        refuse_without_data(readout=readout, output_layer=output_layer, duration=duration, time_scale=time_scale,
                            dt=dt, v_scale=v_scale, v_offset=v_offset)
    else:
        if calibrate_chip:
            raise NeuroemuError("--calibrate applies to TTFS models; give a calibration file with --calibration")
        if raster or split != "test":
            raise NeuroemuError("--raster and --split apply to TTFS models, not to --data")
        nir_kw = nir_kwargs(model_path, time_scale, dt, v_scale, v_offset)
        hardware_given = click.get_current_context().get_parameter_source("hardware").name != "DEFAULT"
        _evaluate_network(model_path, data_path, backend, chip, hardware, calibration, mode, samples, seed, plot,
                          readout, output_layer, duration, nir_kw, as_json, hardware_given)
        return

    from neuroemu.learning.model import load_model
    from neuroemu.learning.training import evaluate
    from neuroemu.learning.ttfs import classify
    from neuroemu.plotting.figure import check_path

    if calibration and calibrate_chip:
        raise NeuroemuError("give either --calibration or --calibrate, not both")
    if backend == "software" and (calibration or calibrate_chip):
        raise NeuroemuError("--calibration/--calibrate apply to a chip backend, not to --backend software")
    if backend == "software" and mode is not None:
        raise NeuroemuError("--mode applies to the brian2 backend only")
    for path in (plot, raster):
        if path:
            check_path(path)  # before the runs, not after them
    model = load_model(model_path)
    data = getattr(model.dataset_splits(), split)
    if data is None:
        raise NeuroemuError(f"data set '{model.dataset}' has no {split} split")
    if samples is not None:
        data = dataclasses.replace(data, x=data.x[:samples], y=data.y[:samples])
    start = time.perf_counter()
    if backend == "software":
        ev = evaluate(model.network, data)
    else:
        from neuroemu.cli.run import make_backend
        from neuroemu.learning.deploy import evaluate_on_backend

        cal = None
        if calibration:
            from neuroemu.calibration import load_calibration

            cal = load_calibration(calibration)
        elif calibrate_chip:
            from neuroemu.calibration import calibrate
            from neuroemu.hardware import load_hardware
            from neuroemu.learning.deploy import calibration_targets

            hw = load_hardware(hardware)
            cal = calibrate(hw, chip, calibration_targets(model, hw))
            calibration = f"chip {chip} calibrated for the model ({cal.id})"
        be = make_backend(backend, chip, mode)
        ev = evaluate_on_backend(model, be, data, hardware, cal, seed=seed)
    seconds = time.perf_counter() - start
    pred = classify(ev.label_times)
    from neuroemu.plotting.learning import confusion_matrix

    conf = confusion_matrix(data.y, pred, len(model.class_names))
    if plot:
        from neuroemu.plotting.learning import plot_confusion

        plot_confusion(conf, model.class_names, plot,
                       title=f"{model.dataset} {split}: {100 * ev.accuracy:.1f} % ({backend})")
    if raster:
        from neuroemu.plotting.learning import plot_example_rasters

        plot_example_rasters(data.x, ev.layer_times, model.layer_names, data.y, model.class_names, raster)
    rep = {
        "model": model_path, "dataset": model.dataset, "split": split, "samples": len(data), "backend": backend,
        "hardware": hardware, "chip": chip, "calibration": calibration, "seed": seed, "accuracy": ev.accuracy,
        "loss": ev.loss, "no_label_spike": int(np.sum(pred < 0)), "confusion": conf,
        "class_names": list(model.class_names),
        "seconds": seconds, "plot": plot, "raster": raster,
    }
    emit(rep, as_json, _render)
