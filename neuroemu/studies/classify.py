"""Accuracy of a network classifier (an imported NIR graph, a network description or a compiled
IR) on labelled input spikes, on a backend; and the robustness-study task for such networks.

Readouts of the output population's neurons (one per class):

| readout | class | no answer when |
|---|---|---|
| ``count`` | most spikes | no neuron spiked, or a tie for the most |
| ``first-spike`` | earliest spike | no neuron spiked, or a tie for the earliest |
| ``max-v`` | highest membrane maximum (a CubaLI / LI readout layer) | a tie |

A sample without an answer counts as wrong.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from neuroemu.errors import NeuroemuError
from neuroemu.ir.model import IR
from neuroemu.nir.data import LabeledInputs, read_labeled_inputs
from neuroemu.studies.robustness import file_digest

READOUTS = ("count", "first-spike", "max-v")
TASK = "neuroemu.studies.classify:run_point"
_BATCH = 200  # samples per backend call


@dataclass
class NetworkClassifier:
    """A compiled network read out by ``readout`` on population ``output``."""

    ir: IR
    output: str
    readout: str

    def __post_init__(self) -> None:
        _check_output(self.ir, self.output)
        if self.readout not in READOUTS:
            raise NeuroemuError(f"unknown readout '{self.readout}' (known: {', '.join(READOUTS)})")

    @property
    def n_classes(self) -> int:
        return self.ir.network.population(self.output).size


def _check_output(ir: IR, output: str) -> None:
    lif = [p.name for p in ir.network.lif_populations()]
    if output not in lif:
        raise NeuroemuError(f"output layer '{output}' is not a LIF population of the network (LIF populations: "
                            f"{', '.join(lif)})")


def default_output(ir: IR, outputs: Sequence[str] = ()) -> str:
    """The output layer: the only population feeding a NIR Output node, else the last LIF population."""
    if len(outputs) == 1:
        return outputs[0]
    return ir.network.lif_populations()[-1].name


def default_readout(ir: IR, output: str) -> str:
    """``max-v`` for a readout layer that never spikes (its threshold above its membrane's reach:
    the population's membrane is recorded and it has no outgoing synapses), else ``count``."""
    net = ir.network
    pop = net.population(output)
    recorded = np.isin(pop.nodes, net.record_v).all()
    spiking_recorded = output in (net.record_spikes or [])
    return "max-v" if recorded and not spiking_recorded else "count"


def class_scores(result, clf: NetworkClassifier, trials: int) -> np.ndarray:
    """(trials, classes) scores, higher = that class (see the module docstring)."""
    n = clf.n_classes
    if clf.readout == "max-v":
        tr = result.traces
        sel = np.flatnonzero(np.asarray(tr.population) == clf.output)
        scores = np.full((trials, n), -np.inf)
        scores[:, tr.index[sel]] = tr.v_mV[:, sel, :].max(axis=2)
        return scores
    s = result.spikes(clf.output)
    if clf.readout == "count":
        scores = np.zeros((trials, n))
        np.add.at(scores, (s.trial, s.neuron), 1.0)
        scores[scores.sum(axis=1) == 0] = np.nan  # no spike: no answer
        return scores
    first = s.first_spike_times()
    return np.where(np.isfinite(first), -first, np.nan)


def predictions(scores: np.ndarray) -> np.ndarray:
    """Class per row, -1 where there is no answer (no information or a tie for the best)."""
    s = np.where(np.isnan(scores), -np.inf, np.asarray(scores, float))
    top = s.max(axis=1, initial=-np.inf)
    unique = np.sum(s == top[:, None], axis=1) == 1
    return np.where(unique & np.isfinite(top), np.argmax(s, axis=1), -1).astype(np.int64)


def _inputs_for(ir: IR, data: LabeledInputs) -> dict[str, Any]:
    sources = [p.name for p in ir.network.source_populations()]
    if set(data.inputs) <= set(sources):
        return dict(data.inputs)
    if len(data.inputs) == 1 and len(sources) == 1:  # one input each: names need not match
        return {sources[0]: next(iter(data.inputs.values()))}
    raise NeuroemuError(f"the data's inputs ({', '.join(data.inputs)}) are not spike sources of the network "
                        f"(spike sources: {', '.join(sources)})")


def evaluate_network(clf: NetworkClassifier, backend, data: LabeledInputs, duration_ms: float | None = None,
                     seed: int = 0) -> dict[str, Any]:
    """Accuracy of ``clf`` on ``data`` run on ``backend``: {accuracy, predictions, no_answer, confusion}."""
    inputs = _inputs_for(clf.ir, data)
    n = len(data)
    duration = float(duration_ms or data.duration_ms or 0.0)
    if not duration > 0:
        raise NeuroemuError("the samples have no length (a spikes file carries no t_max): give --duration (ms)")
    labels = data.labels
    if labels.max(initial=0) >= clf.n_classes:
        raise NeuroemuError(f"label {int(labels.max())} but the output layer '{clf.output}' has {clf.n_classes} "
                            "neurons (one per class)")
    record = clf.ir.network.population(clf.output).nodes if clf.readout == "max-v" else np.zeros(0, np.int64)
    pred = np.full(n, -1, np.int64)
    for start in range(0, n, _BATCH):
        stop = min(n, start + _BATCH)
        batch = {k: v if v.n_trials == 1 else v.trials(start, stop) for k, v in inputs.items()}
        res = backend.run(clf.ir, batch, duration=duration, trials=stop - start,
                          seed=int(np.random.SeedSequence([seed, start]).generate_state(1)[0] & 0x7FFFFFFF),
                          record_v=record)
        pred[start:stop] = predictions(class_scores(res, clf, stop - start))
    conf = np.zeros((clf.n_classes, clf.n_classes + 1), np.int64)  # last column: no answer
    np.add.at(conf, (labels, np.where(pred < 0, clf.n_classes, pred)), 1)
    return {"accuracy": float(np.mean(pred == labels)), "predictions": pred, "no_answer": int(np.sum(pred < 0)),
            "confusion": conf}


# --- loading what the CLI and the study tasks name -------------------------------------------------
def target_kind(path: str | Path) -> str:
    """``nir``, ``yaml`` or ``ir`` (a compiled network)."""
    from neuroemu.nir.graph import is_nir_file

    if is_nir_file(path):
        return "nir"
    if Path(path).suffix in (".yaml", ".yml"):
        return "yaml"
    from neuroemu.hdf5.files import file_kind

    kind = file_kind(path)[0]
    if kind != "ir":
        raise NeuroemuError(f"{path} is a neuroemu '{kind}' file; a network classifier is a NIR graph, a network "
                            "description (YAML) or a compiled IR")
    return "ir"


def load_classifier(path: str | Path, hardware, nir_options: dict[str, Any], output: str | None = None,
                    readout: str | None = None, calibration=None) -> tuple[NetworkClassifier, Any]:
    """(classifier, import report or None) of a NIR graph / description / IR file, compiled for
    ``hardware`` (an IR file is used as compiled)."""
    kind = target_kind(path)
    report = None
    outputs: list[str] = []
    if kind == "nir":
        from neuroemu.nir import compile_nir

        ir, report = compile_nir(path, hardware, calibration=calibration, **nir_options)
        outputs = report.outputs
    elif kind == "yaml":
        from neuroemu.compiler import compile_network
        from neuroemu.network import load_network

        ir = compile_network(load_network(path), hardware, source=str(path), calibration=calibration)
    else:
        from neuroemu.ir import load_ir

        ir = load_ir(path)
    out = output or default_output(ir, outputs)
    _check_output(ir, out)  # before the default readout looks at it
    return NetworkClassifier(ir, out, readout or default_readout(ir, out)), report


# --- robustness studies of network classifiers --------------------------------------------------
def study_settings(target: str | Path, data: str | Path, nir_options: dict[str, Any], output: str | None,
                   readout: str | None, samples: int, duration_ms: float | None) -> dict[str, Any]:
    """The settings of a robustness study of a network classifier (checked: the data reads; the
    caller checks that the target compiles for the study's hardware)."""
    kind = target_kind(target)
    if kind == "ir":
        raise NeuroemuError(f"{target} is a compiled IR; a robustness study recompiles the network for every grid "
                            "point (weight_bits, ...): give its NIR graph or network description")
    n = len(read_labeled_inputs(data, float(nir_options.get("time_scale", 1.0))))
    return {"target": str(Path(target).resolve()), "target_digest": file_digest(target), "target_kind": kind,
            "nir": {k: v for k, v in nir_options.items() if v is not None}, "data": str(Path(data).resolve()),
            "data_digest": file_digest(data), "output": output, "readout": readout, "samples": min(int(samples), n),
            "duration_ms": duration_ms}


@lru_cache(maxsize=4)
def _data(path: str, digest: str, time_scale: float, samples: int) -> LabeledInputs:
    if file_digest(path) != digest:
        raise NeuroemuError(f"data file {path} changed since the study started; start a new study")
    return read_labeled_inputs(path, time_scale).head(samples)


_COMPILED: dict[tuple, NetworkClassifier] = {}


def _classifier(settings: dict[str, Any], hw) -> NetworkClassifier:
    key = (settings["target_digest"], hw.content_hash, repr(sorted(settings["nir"].items())))
    if key not in _COMPILED:
        if len(_COMPILED) >= 4:  # a worker keeps the few settings it is working through
            _COMPILED.pop(next(iter(_COMPILED)))
        if file_digest(settings["target"]) != settings["target_digest"]:
            raise NeuroemuError(f"{settings['target']} changed since the study started; start a new study")
        _COMPILED[key] = load_classifier(settings["target"], hw, settings["nir"], settings["output"],
                                         settings["readout"])[0]
    return _COMPILED[key]


def run_point(point: dict[str, Any], chip: int, settings: dict[str, Any], seed: int) -> dict[str, Any]:
    """One task of a network-classifier study: accuracy on chip ``chip`` with the knobs of ``point``."""
    from neuroemu.studies.knobs import apply_knobs
    from neuroemu.studies.robustness import _hardware, make_backend, run_seed

    setting = apply_knobs(_hardware(settings["hardware"], settings["hardware_hash"]), settings["base"],
                          {k: float(v) for k, v in point.items()})
    clf = _classifier(settings, setting.hardware)
    data = _data(settings["data"], settings["data_digest"], float(settings["nir"].get("time_scale", 1.0)),
                 int(settings["samples"]))
    backend = make_backend(settings["backend"], chip, setting.imperfections, None)
    ev = evaluate_network(clf, backend, data, settings.get("duration_ms"), seed=run_seed(seed, chip))
    return {"accuracy": ev["accuracy"], "no_answer": float(ev["no_answer"]), "samples": float(len(data))}


def build_spec(target: str | Path, data: str | Path, axes: Sequence[tuple[str, Sequence[float]]], chips: Sequence[int],
               *, backend: str = "emulator", base: str = "chip", hardware: str = "bss2",
               nir_options: dict[str, Any] | None = None, output: str | None = None, readout: str | None = None,
               samples: int = 1000, duration_ms: float | None = None, seed: int = 0):
    """The sweep of a robustness study of a network classifier (knobs x chips, see
    :mod:`neuroemu.studies.knobs`); the same engine, store and table as TTFS studies."""
    from neuroemu.hardware import load_hardware
    from neuroemu.studies.knobs import BASES, check_backend, check_points
    from neuroemu.studies.robustness import BACKENDS, STUDY_SWITCHES, grid_from_axes
    from neuroemu.sweeps.spec import SweepSpec

    if backend not in BACKENDS:
        raise NeuroemuError(f"unknown backend '{backend}' for a robustness study (known: {', '.join(BACKENDS)})")
    if base not in BASES:
        raise NeuroemuError(f"unknown base '{base}' (known: {', '.join(BASES)})")
    switches = [name for name, _ in axes if name in STUDY_SWITCHES]
    if switches:
        raise NeuroemuError(f"{switches[0]} applies to TTFS models (calibration targets from the model); a network "
                            "classifier is studied on the chip as configured")
    if samples < 1:
        raise NeuroemuError(f"samples must be >= 1, got {samples}")
    grid = grid_from_axes(axes)
    check_backend(backend, [name for name, _ in axes])
    hw = load_hardware(hardware)
    check_points(hw, base, grid)
    settings = study_settings(target, data, dict(nir_options or {}), output, readout, samples, duration_ms)
    load_classifier(target, hw, settings["nir"], output, readout)  # fits this chip? (names it if not)
    settings.update({"backend": backend, "base": base, "hardware": hardware, "hardware_hash": hw.content_hash,
                     "axes": [name for name, _ in axes], "model": settings["target"]})
    return SweepSpec(kind="robustness", task=TASK, grid=grid, chips=[int(c) for c in chips], settings=settings,
                     seed=int(seed))


def ideal_accuracy(settings: dict[str, Any]) -> float:
    """Accuracy of the study's network on the ideal chip (no mismatch, no noise, continuous
    weights): the reference line of a network study."""
    from neuroemu.backends.emulator import EmulatorBackend
    from neuroemu.hardware import load_hardware

    hw = load_hardware("ideal")
    clf = load_classifier(settings["target"], hw, settings["nir"], settings["output"], settings["readout"])[0]
    data = _data(settings["data"], settings["data_digest"], float(settings["nir"].get("time_scale", 1.0)),
                 int(settings["samples"]))
    return float(evaluate_network(clf, EmulatorBackend(), data, settings.get("duration_ms"))["accuracy"])
