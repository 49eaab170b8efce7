"""A trained TTFS model and its HDF5 file (kind ``model``).

A :class:`TTFSModel` bundles everything needed to deploy and re-evaluate a trained
time-to-first-spike network:

* the network (:class:`~neuroemu.learning.ttfs.TTFSNetwork`: layer sizes, weights in nA, bias
  spike times in ms, neuron parameters);
* the data set it was trained on (``yinyang``, ``digits`` or ``mnist-idx:DIR``) and the input
  spike-time encoding, so :meth:`TTFSModel.dataset_splits` regenerates the encoded data;
* deployment settings that the closed form does not need but a chip does (reset potential,
  refractory time, run duration);
* the training records (one per training phase, e.g. software then in-the-loop).

:meth:`TTFSModel.to_network` turns it into a normal :class:`~neuroemu.network.Network`
(spike-source input and bias populations, LIF layers, :class:`FromMatrix` projections with
``receptor="auto"``, so the compiler splits each signed matrix into excitatory and inhibitory
synapses) that compiles with :func:`neuroemu.compiler.compile_network` for any hardware config.

File layout (``h5dump``-readable; root header from :mod:`neuroemu.hdf5.files`)::

    /model               attrs: dataset, n_inputs, layer_sizes, class_names, v_reset, tau_refrac,
                                duration (ms), description
    /model/neuron        attrs: tau_mem, tau_syn (ms), v_rest, v_thresh (mV), cm (nF)
    /model/encoding      attrs: t_early, t_late (ms), invert
    /model/layers/<l>    datasets: weights_nA (n_prev + n_bias, n_l), bias_times_ms (n_bias,)
    /model/training/<k>  attrs: mode, hyperparameters (JSON), initial_validation_accuracy, best_epoch;
                         datasets: one per :class:`TrainingRecord` list field
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neuroemu.errors import FileFormatError, NeuroemuError
from neuroemu.hdf5 import create, open_checked
from neuroemu.network import Network
from neuroemu.network.model import FromMatrix

from .datasets import (
    T_EARLY,
    T_LATE,
    DatasetSplits,
    encode_splits,
    load_digits,
    load_mnist_splits,
    load_yin_yang,
    read_idx,
)
from .training import TrainingRecord
from .ttfs import LIFParams, TTFSNetwork

__all__ = ["TTFSModel", "save_model", "load_model", "load_dataset", "DATASETS", "layer_names", "training_defaults"]

#: data set names understood by :func:`load_dataset` (``mnist-idx:DIR`` takes a directory)
DATASETS = ("yinyang", "digits", "mnist-idx:DIR")

_MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte",
}
_RECORD_LISTS = ("train_loss", "train_accuracy", "validation_loss", "validation_accuracy", "learning_rate",
                 "epoch_seconds", "bumped_batches", "guarded_pairs")


def _mnist_paths(directory: Path) -> dict[str, Path]:
    out = {}
    for key, stem in _MNIST_FILES.items():
        for candidate in (directory / stem, directory / f"{stem}.gz"):
            if candidate.exists():
                out[key] = candidate
                break
        else:
            raise NeuroemuError(f"mnist-idx:{directory}: missing {stem} (or {stem}.gz); the directory must hold "
                                f"the four MNIST IDX files ({', '.join(_MNIST_FILES.values())})")
    return out


def default_encoding(dataset: str) -> dict[str, Any]:
    """Spike-time encoding per data set: Yin-Yang as in the paper (value -> later spike); images
    inverted so that bright pixels spike early (fastAndDeep does this for MNIST)."""
    return {"t_early": T_EARLY, "t_late": T_LATE, "invert": not dataset.startswith("yinyang")}


def load_dataset(dataset: str, encoding: dict[str, Any] | None = None, *, mnist_downscale: int | None = 16
                 ) -> DatasetSplits:
    """Encoded splits (spike times in ms) of ``yinyang``, ``digits`` or ``mnist-idx:DIR``.

    MNIST: the directory holds the four IDX files (optionally .gz); validation = the last sixth
    of the training file (10,000 of 60,000, as fastAndDeep); images downscaled to 16x16.

    Raises:
        NeuroemuError: unknown data set name, or an MNIST directory without the IDX files.
    """
    enc = default_encoding(dataset) if encoding is None else encoding
    if dataset == "yinyang":
        raw = load_yin_yang()
    elif dataset == "digits":
        raw = load_digits()
    elif dataset.startswith("mnist-idx:"):
        directory = Path(dataset.split(":", 1)[1]).expanduser()
        if not directory.is_dir():
            raise NeuroemuError(f"{dataset}: '{directory}' is not a directory with MNIST IDX files")
        p = _mnist_paths(directory)
        try:
            raw = load_mnist_splits(p["train_images"], p["train_labels"], p["test_images"], p["test_labels"],
                                    downscale=mnist_downscale,
                                    n_validation=min(10000, len(read_idx(p["train_labels"])) // 6))
        except ValueError as err:
            raise NeuroemuError(f"{dataset}: {err}") from None
    else:
        raise NeuroemuError(f"unknown data set '{dataset}' (choose one of: {', '.join(DATASETS)})")
    return encode_splits(raw, float(enc["t_early"]), float(enc["t_late"]), bool(enc["invert"]))


def training_defaults(dataset: str, params: LIFParams = LIFParams()) -> dict[str, Any]:
    """Software training settings per data set (:func:`~neuroemu.learning.training.train` keywords).

    Yin-Yang: fastAndDeep ``yin_yang.yaml`` (the ``train`` defaults) except batch size 50, which
    reaches 95 % in fewer epochs here. Images: fastAndDeep ``16x16_mnist.yaml`` (batch 50, Adam
    lr 0.003 c, StepLR(10, 0.9), up to 50 % silent neurons before bumping), c = ``params.weight_unit``.
    """
    if dataset == "yinyang":
        return {"batch_size": 50}
    return {"batch_size": 50, "lr": 0.003 * params.weight_unit, "lr_step": 10, "lr_gamma": 0.9,
            "max_missing": [0.5, 0.5]}


def layer_names(n_layers: int) -> list[str]:
    """Population names of the LIF layers: ``hidden`` (or ``hidden1``, ``hidden2``, ...) and ``output``."""
    if n_layers == 1:
        return ["output"]
    if n_layers == 2:
        return ["hidden", "output"]
    return [f"hidden{i + 1}" for i in range(n_layers - 1)] + ["output"]


@dataclass
class TTFSModel:
    """A TTFS network plus its data set, encoding, deployment settings and training history.

    Attributes:
        network: layer sizes, weights (nA), bias times (ms) and neuron parameters.
        dataset: ``yinyang``, ``digits`` or ``mnist-idx:DIR``.
        class_names: label names, index = class.
        encoding: ``t_early``, ``t_late`` (ms) and ``invert`` of the latency code.
        v_reset: reset potential on a chip (mV); irrelevant to the closed form (first spike only).
        tau_refrac: refractory time on a chip (ms); long, so that each neuron spikes about once.
        duration: run length per sample on a backend (ms); later spikes count as missing.
        records: training records, oldest first; ``record.hyperparameters['mode']`` says which.
        description: free text.
    """

    network: TTFSNetwork
    dataset: str
    class_names: tuple[str, ...]
    encoding: dict[str, Any] = field(default_factory=lambda: dict(t_early=T_EARLY, t_late=T_LATE, invert=False))
    v_reset: float = -70.0
    tau_refrac: float = 30.0
    duration: float = 60.0
    records: list[TrainingRecord] = field(default_factory=list)
    description: str = ""

    # --- construction ---------------------------------------------------------------------------
    @classmethod
    def for_dataset(cls, dataset: str, splits: DatasetSplits, hidden: tuple[int, ...] | None = None,
                    params: LIFParams = LIFParams(), seed: int = 0, **kwargs: Any) -> "TTFSModel":
        """A freshly initialised model sized for ``splits`` (hidden default: 120 for Yin-Yang, 100 else).

        Init: fastAndDeep's Yin-Yang values for ``yinyang``, its 16x16-MNIST values for images."""
        if hidden is None:
            hidden = (120,) if dataset == "yinyang" else (100,)
        sizes = tuple(hidden) + (splits.n_classes,)
        init: dict[str, Any] = {}
        if dataset != "yinyang":  # fastAndDeep 16x16 MNIST init (units of c): hidden N(0.1, 0.4), label N(0.6, 0.8)
            c = params.weight_unit
            init = {"weight_mean": [0.1 * c] * len(hidden) + [0.6 * c],
                    "weight_std": [0.4 * c] * len(hidden) + [0.8 * c]}
        net = TTFSNetwork(splits.n_features, sizes, params=params, seed=seed, **init)
        kwargs.setdefault("encoding", default_encoding(dataset))
        return cls(net, dataset, tuple(splits.train.class_names), **kwargs)

    def copy(self) -> "TTFSModel":
        return dataclasses.replace(self, network=self.network.copy(), encoding=dict(self.encoding),
                                   records=list(self.records))

    # --- views ----------------------------------------------------------------------------------
    @property
    def layer_names(self) -> list[str]:
        return layer_names(self.network.n_layers)

    def dataset_splits(self) -> DatasetSplits:
        """The encoded splits (spike times in ms) regenerated from the stored data set name."""
        return load_dataset(self.dataset, self.encoding)

    def lif_parameters(self) -> dict[str, float]:
        """LIF parameters of every layer in the network description's names (ms, mV, nF)."""
        p = self.network.params
        return dict(tau_mem=p.tau_mem, tau_syn_exc=p.tau_syn, tau_syn_inh=p.tau_syn, v_rest=p.v_rest,
                    v_reset=self.v_reset, v_thresh=p.v_thresh, tau_refrac=self.tau_refrac, cm=p.cm)

    def to_network(self, weights: list[np.ndarray] | None = None) -> Network:
        """The model as a :class:`~neuroemu.network.Network` (biological units).

        Populations: ``input`` (spike sources, one per feature; a run supplies the samples),
        ``bias<l>`` (spike sources firing at layer l's bias times in every trial), one LIF
        population per layer (:func:`layer_names`). Projections are dense :class:`FromMatrix`
        weights with ``receptor="auto"`` (sign -> exc/inh). All LIF populations are recorded.
        """
        net_w = self.network.weights if weights is None else weights
        net = Network(self.description or f"ttfs-{self.dataset.split(':')[0]}")
        net.add_spike_source("input", self.network.n_inputs)
        names = self.layer_names
        prev, n_prev = "input", self.network.n_inputs
        for l, name in enumerate(names):
            bias = self.network.bias_times[l]
            w = np.asarray(net_w[l], float)
            if len(bias):
                net.add_spike_source(f"bias{l}", len(bias), [[float(t)] for t in bias])
            net.add_lif(name, self.network.layer_sizes[l], **self.lif_parameters())
            net.connect(prev, name, FromMatrix(w[:n_prev].copy()), receptor="auto")
            if len(bias):
                net.connect(f"bias{l}", name, FromMatrix(w[n_prev:].copy()), receptor="auto")
            prev, n_prev = name, self.network.layer_sizes[l]
        net.record.spikes = list(names)
        return net

    def summary(self) -> dict[str, Any]:
        last = self.records[-1] if self.records else None
        return {
            "dataset": self.dataset, "layers": [self.network.n_inputs, *self.network.layer_sizes],
            "bias_times_ms": [bt.tolist() for bt in self.network.bias_times],
            "neuron": dataclasses.asdict(self.network.params), "encoding": dict(self.encoding),
            "training_phases": [r.hyperparameters.get("mode", "software") for r in self.records],
            "epochs": [r.epochs for r in self.records],
            "final_validation_accuracy": (last.validation_accuracy[-1] if last and last.validation_accuracy else None),
        }


# --- files ------------------------------------------------------------------------------------------

def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def save_model(model: TTFSModel, path: str | Path) -> None:
    """Write ``model`` to an HDF5 file of kind ``model`` (atomic: the file appears complete or not at all)."""
    net = model.network
    with create(path, "model") as f:
        g = f.create_group("model")
        g.attrs["dataset"] = model.dataset
        g.attrs["description"] = model.description
        g.attrs["n_inputs"] = np.int64(net.n_inputs)
        g.attrs["layer_sizes"] = np.asarray(net.layer_sizes, np.int64)
        g.attrs["class_names"] = json.dumps(list(model.class_names))
        g.attrs["v_reset"] = float(model.v_reset)
        g.attrs["tau_refrac"] = float(model.tau_refrac)
        g.attrs["duration"] = float(model.duration)
        neuron = g.create_group("neuron")
        for key, value in dataclasses.asdict(net.params).items():
            neuron.attrs[key] = float(value)
        enc = g.create_group("encoding")
        enc.attrs["t_early"] = float(model.encoding["t_early"])
        enc.attrs["t_late"] = float(model.encoding["t_late"])
        enc.attrs["invert"] = bool(model.encoding["invert"])
        layers = g.create_group("layers")
        for l, (w, bt) in enumerate(zip(net.weights, net.bias_times)):
            lg = layers.create_group(str(l))
            lg.create_dataset("weights_nA", data=np.asarray(w, np.float64))
            lg.create_dataset("bias_times_ms", data=np.asarray(bt, np.float64))
        tr = g.create_group("training")
        tr.attrs["count"] = len(model.records)
        for k, rec in enumerate(model.records):
            rg = tr.create_group(str(k))
            rg.attrs["mode"] = str(rec.hyperparameters.get("mode", "software"))
            rg.attrs["hyperparameters"] = json.dumps(rec.hyperparameters, default=_json_default)
            rg.attrs["initial_validation_accuracy"] = (np.nan if rec.initial_validation_accuracy is None
                                                       else float(rec.initial_validation_accuracy))
            rg.attrs["best_epoch"] = np.int64(-1 if rec.best_epoch is None else rec.best_epoch)
            for name in _RECORD_LISTS:
                rg.create_dataset(name, data=np.asarray(getattr(rec, name), np.float64))


def load_model(path: str | Path) -> TTFSModel:
    """Read a model written by :func:`save_model`.

    Raises:
        FileFormatError: missing file, not HDF5, not a neuroemu file, a file of another kind, a
            newer schema version, or missing/inconsistent members.
    """
    with open_checked(path, "model") as f:
        g = f["model"]
        sizes = [int(n) for n in g.attrs["layer_sizes"]]
        params = LIFParams(**{k: float(v) for k, v in g["neuron"].attrs.items()})
        weights = [g[f"layers/{l}/weights_nA"][()] for l in range(len(sizes))]
        bias = [g[f"layers/{l}/bias_times_ms"][()] for l in range(len(sizes))]
        try:
            net = TTFSNetwork(int(g.attrs["n_inputs"]), sizes, params, bias, weights=weights)
        except ValueError as err:
            raise FileFormatError(f"{path}: inconsistent 'model' file ({err})") from None
        enc = g["encoding"].attrs
        records = []
        tr = g["training"]
        for k in range(int(tr.attrs["count"])):
            rg = tr[str(k)]
            init = float(rg.attrs["initial_validation_accuracy"])
            rec = TrainingRecord(json.loads(str(rg.attrs["hyperparameters"])),
                                 None if np.isnan(init) else init)
            for name in _RECORD_LISTS:
                values = rg[name][()].tolist()
                if name in ("bumped_batches", "guarded_pairs"):
                    values = [int(v) for v in values]
                setattr(rec, name, values)
            best = int(rg.attrs.get("best_epoch", -1))
            rec.best_epoch = None if best < 0 else best
            records.append(rec)
        return TTFSModel(
            network=net, dataset=str(g.attrs["dataset"]), class_names=tuple(json.loads(str(g.attrs["class_names"]))),
            encoding=dict(t_early=float(enc["t_early"]), t_late=float(enc["t_late"]), invert=bool(enc["invert"])),
            v_reset=float(g.attrs["v_reset"]), tau_refrac=float(g.attrs["tau_refrac"]),
            duration=float(g.attrs["duration"]), records=records, description=str(g.attrs["description"]),
        )
