"""``neuroemu train``: train a TTFS network in software or with the chip in the loop."""
from __future__ import annotations

import sys
from typing import Any

import click

from neuroemu.cli import main
from neuroemu.cli.output import emit, json_option
from neuroemu.errors import NeuroemuError


def _render(rep: dict[str, Any]) -> str:
    lines = [f"trained {rep['dataset']} {'-'.join(map(str, rep['layers']))} ({rep['mode']}, {rep['epochs']} epochs, "
             f"{rep['seconds']:.1f} s, {rep['seconds_per_epoch']:.2f} s/epoch)"]
    if rep.get("validation_accuracy") is not None:
        lines.append(f"  validation accuracy {100 * rep['validation_accuracy']:.2f} %")
    lines.append(f"  test accuracy       {100 * rep['test_accuracy']:.2f} % ({rep['test_on']})")
    lines.append(f"wrote {rep['output']}" + (f" and {rep['plot']}" if rep.get("plot") else ""))
    return "\n".join(lines)


@main.command("train")
@click.option("--dataset", "-d", default="yinyang", show_default=True,
              help="yinyang, digits or mnist-idx:DIR (a directory with the four MNIST IDX files).")
@click.option("--mode", type=click.Choice(["software", "in-the-loop"]), default="software", show_default=True,
              help="software: closed form; in-the-loop: forward pass on the backend, backward pass closed form.")
@click.option("--init", "init_path", type=click.Path(dir_okay=False), default=None,
              help="Start from this model (e.g. software-trained) instead of a random init.")
@click.option("--backend", "-b", default="emulator", show_default=True, help="In-the-loop backend: emulator or brian2.")
@click.option("--chip", type=click.IntRange(min=0), default=0, show_default=True,
              help="Emulated chip seed (in-the-loop).")
@click.option("--hardware", "-H", default="bss2", show_default=True,
              help="Hardware config: in-the-loop target; in software the weights stay within what it can realise.")
@click.option("--calibration", type=click.Path(dir_okay=False), default=None, help="Calibration file (in-the-loop).")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="Epochs [default: 300 software, 10 in-the-loop].")
@click.option("--hidden", type=click.IntRange(min=1), multiple=True,
              help="Hidden layer size (repeat for more layers) [default: 120 yinyang, 100 else].")
@click.option("--lr", type=float, default=None,
              help="Adam learning rate in nA [default: 0.005 c software, 0.002 c in-the-loop].")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Samples per update [default: 50].")
@click.option("--train-samples", type=click.IntRange(min=1), default=None,
              help="Use only the first N training samples.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Init, shuffling and noise seed.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="Model file to write (HDF5).")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="Training curves, .png or .pdf.")
@click.option("--keep-best/--keep-last", default=True, show_default=True,
              help="Keep the weights of the epoch with the best validation accuracy, or the last ones.")
@click.option("--progress/--no-progress", default=True, help="Progress bar on stderr.")
@json_option
def train_cmd(dataset, mode, init_path, backend, chip, hardware, calibration, epochs, hidden, lr, batch_size,
              train_samples, seed, output, plot, keep_best, progress, as_json) -> None:
    """Train a time-to-first-spike network (Göltz et al. 2021) and save it as a model file."""
    import dataclasses
    import time

    from neuroemu.learning.datasets import DatasetSplits
    from neuroemu.learning.model import TTFSModel, load_dataset, load_model, save_model, training_defaults
    from neuroemu.learning.training import evaluate, train
    from neuroemu.plotting.figure import check_path

    if plot:
        check_path(plot)  # before training, not after it
    if init_path:
        model = load_model(init_path)
        explicit = click.get_current_context().get_parameter_source("dataset") != click.core.ParameterSource.DEFAULT
        if explicit and model.dataset != dataset:
            raise NeuroemuError(f"--init model was trained on '{model.dataset}', not '{dataset}'")
        dataset = model.dataset
        data = model.dataset_splits()
        if hidden:
            raise NeuroemuError("--hidden cannot change the layout of an --init model")
    else:
        data = load_dataset(dataset)
        model = TTFSModel.for_dataset(dataset, data, hidden=tuple(hidden) or None, seed=seed)
    if train_samples is not None:
        data = DatasetSplits(data.name, dataclasses.replace(data.train, x=data.train.x[:train_samples],
                                                             y=data.train.y[:train_samples]), data.validation,
                                                             data.test)
    n_epochs = epochs or (300 if mode == "software" else 10)

    def per_epoch(epoch, record, _net) -> None:
        from tqdm.auto import tqdm

        tqdm.write(f"epoch {epoch:4d}  loss {record.train_loss[-1]:.4f}  train {100 * record.train_accuracy[-1]:6.2f} "
                   f"%  validation {100 * record.validation_accuracy[-1]:6.2f} %  ({record.epoch_seconds[-1]:.2f} s)",
                   file=sys.stderr)

    options: dict[str, Any] = training_defaults(dataset, model.network.params) if mode == "software" else {}
    options["callback"] = per_epoch if progress else None
    options["keep_best"] = keep_best and data.validation is not None
    if batch_size is not None:
        options["batch_size"] = batch_size
    if lr is not None:
        options["lr"] = lr
    start = time.perf_counter()
    if mode == "software":
        from neuroemu.learning.deploy import weight_limit

        options["weight_limit"] = weight_limit(model, hardware)
        record = train(model.network, data, epochs=n_epochs, seed=seed, progress=progress, **options)
        record.hyperparameters["mode"] = "software"
        model.records.append(record)
        test_acc = evaluate(model.network, data.test).accuracy
        test_on = "closed form"
    else:
        from neuroemu.cli.run import make_backend
        from neuroemu.learning.deploy import evaluate_on_backend, train_in_the_loop

        cal = None
        if calibration:
            from neuroemu.calibration import load_calibration

            cal = load_calibration(calibration)
        be = make_backend(backend, chip)
        model, record = train_in_the_loop(model, be, data, hardware, cal, epochs=n_epochs, seed=seed,
                                          progress=progress, **options)
        test_acc = evaluate_on_backend(model, be, data.test, hardware, cal, seed=seed).accuracy
        test_on = f"{backend}, chip {chip}" + (", calibrated" if cal is not None else "")
    seconds = time.perf_counter() - start
    save_model(model, output)
    if plot:
        from neuroemu.plotting.learning import plot_training_curves

        plot_training_curves(model.records, plot)
    rep = {
        "dataset": dataset, "mode": mode, "layers": [model.network.n_inputs, *model.network.layer_sizes],
        "epochs": record.epochs, "seconds": seconds, "seconds_per_epoch": seconds / max(record.epochs, 1),
        "train_accuracy": record.train_accuracy, "validation_accuracy_per_epoch": record.validation_accuracy,
        "train_loss": record.train_loss, "best_epoch": record.best_epoch,
        "validation_accuracy": record.validation_accuracy[-1] if data.validation is not None else None,
        "test_accuracy": test_acc, "test_on": test_on, "output": output, "plot": plot,
    }
    emit(rep, as_json, _render)
