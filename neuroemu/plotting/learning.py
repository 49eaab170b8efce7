"""Plots of TTFS learning: training curves, confusion matrix, example spike rasters, demo summary."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from neuroemu.plotting.figure import figure, save

__all__ = ["plot_training_curves", "confusion_matrix", "plot_confusion", "plot_example_rasters", "plot_demo"]


def plot_training_curves(records: Sequence, path: str | Path, labels: Sequence[str] | None = None) -> None:
    """Loss and accuracy per epoch of one or more training phases (concatenated along the epoch axis).

    records: :class:`~neuroemu.learning.training.TrainingRecord` objects, oldest first;
    labels: one per record (default: the record's ``mode``).
    """
    fig, (ax_loss, ax_acc) = figure(1, 2, figsize=(10, 3.8))
    offset = 0
    for k, rec in enumerate(records):
        label = labels[k] if labels else str(rec.hyperparameters.get("mode", "software"))
        ep = offset + np.arange(1, rec.epochs + 1)
        ax_loss.plot(ep, rec.train_loss, label=f"{label} train")
        ax_loss.plot(ep, rec.validation_loss, "--", label=f"{label} validation")
        ax_acc.plot(ep, 100 * np.asarray(rec.train_accuracy), label=f"{label} train")
        ax_acc.plot(ep, 100 * np.asarray(rec.validation_accuracy), "--", label=f"{label} validation")
        offset += rec.epochs
        if k and rec.epochs:
            for ax in (ax_loss, ax_acc):
                ax.axvline(offset - rec.epochs + 0.5, color="0.6", lw=0.8)
    ax_loss.set(xlabel="epoch", ylabel="loss", yscale="log", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    ax_acc.legend(fontsize=7)
    ax_loss.legend(fontsize=7)
    save(fig, path)


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes + 1) counts: row = true class, column = predicted class; the last
    column counts samples without any label spike (prediction -1)."""
    labels = np.asarray(labels, np.int64)
    pred = np.asarray(predicted, np.int64)
    col = np.where(pred < 0, n_classes, pred)
    out = np.zeros((n_classes, n_classes + 1), np.int64)
    np.add.at(out, (labels, col), 1)
    return out


def plot_confusion(matrix: np.ndarray, class_names: Sequence[str], path: str | Path, title: str = "") -> None:
    """Confusion matrix from :func:`confusion_matrix` (row-normalised colours, counts written)."""
    matrix = np.asarray(matrix)
    n = len(class_names)
    fig, ax = figure(figsize=(1.2 + 0.55 * (n + 1), 1.0 + 0.5 * n))
    norm = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xticks(range(n + 1), list(class_names) + ["none"], rotation=45)
    ax.set_yticks(range(n), list(class_names))
    ax.set(xlabel="predicted", ylabel="true", title=title or "confusion matrix")
    save(fig, path)


def plot_example_rasters(input_times: np.ndarray, layer_times: Sequence[np.ndarray], layer_names: Sequence[str],
                         labels: np.ndarray, class_names: Sequence[str], path: str | Path,
                         samples: Sequence[int] = (0, 1, 2, 3)) -> None:
    """First-spike rasters of a few samples: inputs, every layer; the label neuron is marked."""
    samples = [s for s in samples if s < len(labels)]
    fig, axes = figure(1, max(len(samples), 1), figsize=(3.2 * max(len(samples), 1), 3.6), squeeze=False)
    for ax, s in zip(axes[0], samples):
        blocks = [("input", np.asarray(input_times)[s])] + [(n, np.asarray(t)[s])
                                                             for n, t in zip(layer_names, layer_times)]
        y0 = 0
        for b, (name, t) in enumerate(blocks):
            idx = np.flatnonzero(np.isfinite(t))
            ax.scatter(t[idx], y0 + idx, s=6, color=f"C{b}", label=name)
            if name == layer_names[-1]:
                lab = int(labels[s])
                if np.isfinite(t[lab]):
                    ax.scatter([t[lab]], [y0 + lab], s=60, facecolors="none", edgecolors="k")
            y0 += len(t) + 2
        ax.set(xlabel="time (ms)", title=f"sample {s}: {class_names[int(labels[s])]}")
    axes[0][0].set_ylabel("neuron (stacked by layer)")
    axes[0][0].legend(fontsize=7, loc="upper left")
    save(fig, path)


def plot_demo(accuracies: Mapping[str, float], records: Sequence, path: str | Path) -> None:
    """Demo summary: test accuracy per stage (bars) and the training curves of all phases."""
    fig, (ax_bar, ax_acc) = figure(1, 2, figsize=(11, 4))
    names = list(accuracies)
    values = [100 * accuracies[k] for k in names]
    bars = ax_bar.bar(range(len(names)), values, color=[f"C{i}" for i in range(len(names))])
    for b, v in zip(bars, values):
        ax_bar.text(b.get_x() + b.get_width() / 2, v + 0.5, f"{v:.1f}", ha="center", fontsize=8)
    ax_bar.set_xticks(range(len(names)), names, rotation=20, fontsize=8)
    ax_bar.set(ylabel="test accuracy (%)", ylim=(0, 105), title="Yin-Yang test accuracy")
    offset = 0
    for rec in records:
        ep = offset + np.arange(1, rec.epochs + 1)
        mode = str(rec.hyperparameters.get("mode", "software"))
        ax_acc.plot(ep, 100 * np.asarray(rec.validation_accuracy), label=f"{mode} (validation)")
        offset += rec.epochs
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="training")
    ax_acc.legend(fontsize=8)
    save(fig, path)
