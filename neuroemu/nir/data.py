"""Labelled input data for imported classifiers: NIR's own event data or neuroemu's spikes file,
with the labels beside them.

Two layouts of ``DATA.h5`` are read:

* NIR's (``nir.write_data``): a :class:`nir.NIRGraphData` whose nodes are named like the
  network's inputs, each with one :class:`nir.EventData` observable (``idx``, ``time`` of shape
  (samples, events): the input neuron and the time in seconds of NIR time; ``-1`` / ``inf`` pad);
  times become biological ms with the import's ``time_scale``.
* neuroemu's spikes file (``neuroemu.backends.save_spikes``): per input population a
  :class:`~neuroemu.spikes.SpikeTrains` whose trials are the samples, biological ms (it has no
  sample length: give the run's duration).

Either has a dataset ``labels`` (int, one per sample) at the top level.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neuroemu.errors import FileFormatError
from neuroemu.spikes import SpikeTrains


@dataclass
class LabeledInputs:
    """Input spike trains per input population (trial k = sample k, biological ms), the labels,
    and the length of a sample (ms; None: not in the file)."""

    inputs: dict[str, SpikeTrains]
    labels: np.ndarray
    duration_ms: float | None

    def __len__(self) -> int:
        return len(self.labels)

    def head(self, n: int) -> "LabeledInputs":
        """The first ``n`` samples."""
        n = min(int(n), len(self))
        return LabeledInputs({k: v.trials(0, n) for k, v in self.inputs.items()}, self.labels[:n].copy(),
                             self.duration_ms)


def _labels(path: Path, f) -> np.ndarray:
    if "labels" not in f:
        raise FileFormatError(f"{path}: no 'labels' dataset (one integer class per sample) beside the inputs")
    labels = np.asarray(f["labels"][()])
    if labels.ndim != 1 or len(labels) == 0 or not np.issubdtype(labels.dtype, np.integer) or np.any(labels < 0):
        raise FileFormatError(f"{path}: 'labels' must be one non-negative integer per sample (at least one), got "
                              f"{labels.dtype} shape {labels.shape}")
    return labels.astype(np.int64)


def read_labeled_inputs(path: str | Path, time_scale: float = 1.0) -> LabeledInputs:
    """Read ``DATA.h5`` in either layout (see the module docstring)."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileFormatError(f"{path}: file not found")
    try:
        with h5py.File(path, "r") as f:
            labels = _labels(path, f)
            nir_layout = "nodes" in f and "neuroemu_kind" not in f.attrs
    except OSError:
        raise FileFormatError(f"{path}: not a readable HDF5 file") from None
    if not nir_layout:
        from neuroemu.backends import load_spikes

        inputs = load_spikes(path)
        if not inputs:
            raise FileFormatError(f"{path}: no input spike trains")
        for name, s in inputs.items():
            if s.n_trials != len(labels):
                raise FileFormatError(f"{path}: input '{name}' has {s.n_trials} trials but there are {len(labels)} "
                                      "labels")
        return LabeledInputs(inputs, labels, None)  # a spikes file has no sample length: the run gives it
    import nir

    try:
        data = nir.read_data(str(path))
    except (KeyError, ValueError, TypeError, OSError) as exc:
        raise FileFormatError(f"{path}: not readable as NIR graph data ({type(exc).__name__}: {exc})") from None
    inputs: dict[str, SpikeTrains] = {}
    t_max = 0.0
    for name, node in data.nodes.items():
        events = [o for o in getattr(node, "observables", {}).values() if isinstance(o, nir.EventData)]
        if len(events) != 1:
            raise FileFormatError(f"{path}: node '{name}' needs exactly one EventData observable, has {len(events)}")
        ev = events[0]
        idx, t = np.asarray(ev.idx), np.asarray(ev.time, float)
        if idx.shape != t.shape or idx.ndim != 2 or idx.shape[0] != len(labels):
            raise FileFormatError(f"{path}: node '{name}': idx {idx.shape} and time {t.shape} must both be "
                                  f"(samples={len(labels)}, events)")
        ok = (idx >= 0) & np.isfinite(t)
        if np.any(idx[ok] >= ev.n_neurons):
            raise FileFormatError(f"{path}: node '{name}': an event index reaches {int(idx[ok].max())}, but n_neurons "
                                  f"is {ev.n_neurons}")
        trial = np.broadcast_to(np.arange(len(labels))[:, None], idx.shape)[ok]
        if np.any(t[ok] < 0):
            raise FileFormatError(f"{path}: node '{name}' has an event at {float(t[ok].min()):g} s: times must be >= 0")
        inputs[name] = SpikeTrains(1000.0 * time_scale * t[ok], idx[ok], trial, int(ev.n_neurons), len(labels))
        t_max = max(t_max, float(ev.t_max))
    return LabeledInputs(inputs, labels, 1000.0 * time_scale * t_max)


def write_labeled_events(path: str | Path, events: dict[str, tuple[np.ndarray, np.ndarray, int]], labels: np.ndarray,
                         t_max: float) -> None:
    """Write NIR event data with labels (atomically): ``events`` maps an input name to (idx, time
    in s, n_neurons), idx/time of shape (samples, events) padded with -1 / inf."""
    import h5py
    import nir

    from neuroemu.hdf5.atomic import atomic_path

    nodes = {name: nir.NIRNodeData(observables={"spikes": nir.EventData(np.asarray(idx), np.asarray(t, float),
                                                                         int(n), float(t_max))})
             for name, (idx, t, n) in events.items()}
    with atomic_path(path) as tmp:
        nir.write_data(str(tmp), nir.NIRGraphData(nodes=nodes))
        with h5py.File(tmp, "a") as f:
            f.create_dataset("labels", data=np.asarray(labels, np.int64))
