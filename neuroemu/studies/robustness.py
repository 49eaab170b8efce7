"""Robustness studies: accuracy of a trained model over a grid of imperfection knobs x chip seeds.

A study is a :class:`~neuroemu.sweeps.SweepSpec` of kind ``robustness`` whose task,
:func:`run_point`, deploys the model on one emulated chip instance with the knobs of one grid
point (see :mod:`neuroemu.studies.knobs`), optionally recalibrates the chip and retrains in the
loop, and measures the test accuracy. The sweep engine runs the tasks on Dask, journals each
record atomically and resumes interrupted studies.

Randomness: a task's run seed depends only on (study seed, chip), so every grid point of one
chip sees the same noise draws and the same test samples (paired comparison), and the table does
not depend on the number of workers or the order tasks finish in.
"""
from __future__ import annotations

import dataclasses
import hashlib
import itertools
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from neuroemu.errors import NeuroemuError
from neuroemu.hardware import load_hardware
from neuroemu.studies.knobs import BASES, apply_knobs, check_backend, check_knob, check_points
from neuroemu.sweeps.spec import SweepSpec

TASK = "neuroemu.studies.robustness:run_point"
BACKENDS = ("emulator", "brian2")
#: grid keys that are not imperfection knobs: whether each chip is recalibrated (0/1)
STUDY_SWITCHES = ("recalibrate",)


def file_digest(path: str | Path) -> str:
    """SHA-256 (16 hex digits) of a file's bytes: a study is bound to the exact model file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def grid_from_axes(axes: Sequence[tuple[str, Sequence[float]]]) -> list[dict[str, float]]:
    """The full grid (Cartesian product, first axis slowest) of ``[(knob, values), ...]``."""
    names = [name for name, _ in axes]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise NeuroemuError(f"knob {dup[0]} is varied twice; give all its values in one --vary")
    for name, values in axes:
        if not values:
            raise NeuroemuError(f"knob {name}: no values given")
        for v in values:
            check_point_value(name, float(v))
    return [dict(zip(names, map(float, combo))) for combo in itertools.product(*(v for _, v in axes))]


def check_point_value(name: str, value: float) -> None:
    if name in STUDY_SWITCHES:
        if value not in (0.0, 1.0):
            raise NeuroemuError(f"{name} takes 0 (off) or 1 (on), got {value:g}")
        return
    check_knob(name, value)


def build_spec(model_path: str | Path, axes: Sequence[tuple[str, Sequence[float]]], chips: Sequence[int], *,
               backend: str = "emulator", base: str = "chip", hardware: str = "bss2", recalibrate: bool = False,
               retrain_epochs: int = 0, samples: int = 1000, seed: int = 0) -> SweepSpec:
    """The sweep of a robustness study of the model file ``model_path``.

    axes: ``[(knob, values), ...]``; chips: chip seeds; backend: ``emulator`` or ``brian2``
    (chip-replay of the emulator's effective chip); base: ``chip`` (the config's imperfections,
    knobs override) or ``ideal`` (everything off, knobs switch on); recalibrate: calibrate every
    chip (``--vary recalibrate=0,1`` compares both); retrain_epochs: epochs of in-the-loop
    training on each chip before testing (0 = none); samples: test samples per task.
    """
    if backend not in BACKENDS:
        raise NeuroemuError(f"unknown backend '{backend}' for a robustness study (known: {', '.join(BACKENDS)})")
    if base not in BASES:
        raise NeuroemuError(f"unknown base '{base}' (known: {', '.join(BASES)})")
    if samples < 1:
        raise NeuroemuError(f"samples must be >= 1, got {samples}")
    if retrain_epochs < 0:
        raise NeuroemuError(f"retrain epochs must be >= 0, got {retrain_epochs}")
    grid = grid_from_axes(axes)
    check_backend(backend, [name for name, _ in axes if name not in STUDY_SWITCHES])
    hw = load_hardware(hardware)
    check_points(hw, base, [{k: v for k, v in point.items() if k not in STUDY_SWITCHES} for point in grid])
    if not Path(model_path).is_file():
        raise NeuroemuError(f"model file {model_path} does not exist")
    settings = {
        "model": str(Path(model_path).resolve()), "model_digest": file_digest(model_path), "backend": backend,
        "base": base, "hardware": hardware, "hardware_hash": hw.content_hash, "recalibrate": bool(recalibrate),
        "retrain_epochs": int(retrain_epochs), "samples": int(samples),
        "axes": [name for name, _ in axes],
    }
    return SweepSpec(kind="robustness", task=TASK, grid=grid, chips=[int(c) for c in chips], settings=settings,
                     seed=int(seed))


def software_accuracy(model_path: str | Path, samples: int) -> float:
    """Accuracy of the model's closed-form (software) forward pass on the study's test samples."""
    from neuroemu.learning.training import evaluate

    if not Path(model_path).is_file():
        raise NeuroemuError(f"model file {model_path} does not exist")
    digest = file_digest(model_path)
    return float(evaluate(_model(str(Path(model_path).resolve()), digest).network,
                          _test_data(str(Path(model_path).resolve()), digest, samples)).accuracy)


# --------------------------------------------------------------------------- worker side
# Workers keep what does not change between tasks: the model, its data set, the hardware config,
# calibrations per (chip, setting). Keys include the model file's digest.

@lru_cache(maxsize=4)
def _model(path: str, digest: str):
    from neuroemu.learning.model import load_model

    if file_digest(path) != digest:
        raise NeuroemuError(f"model file {path} changed since the study started (digest {digest}); start a new study")
    return load_model(path)


@lru_cache(maxsize=4)
def _splits(path: str, digest: str):
    return _model(path, digest).dataset_splits()


@lru_cache(maxsize=4)
def _test_data(path: str, digest: str, samples: int):
    data = _splits(path, digest).test
    n = min(samples, len(data))
    return dataclasses.replace(data, x=data.x[:n], y=data.y[:n])


@lru_cache(maxsize=8)
def _hardware(name: str, content_hash: str):
    hw = load_hardware(name)
    if hw.content_hash != content_hash:
        raise NeuroemuError(f"hardware config {name} changed since the study started; start a new study")
    return hw


_CALIBRATIONS: dict[tuple[str, str, int, str], Any] = {}


def _calibration(model, digest: str, hw, chip: int, imperfections):
    """Calibration of (setting, chip) to the model's neuron parameters, once per worker (the
    calibration's own disk cache is shared between workers and studies)."""
    from neuroemu.calibration import calibrate
    from neuroemu.learning.deploy import calibration_targets

    key = (digest, hw.content_hash, chip, repr(imperfections))
    if key not in _CALIBRATIONS:
        _CALIBRATIONS[key] = calibrate(hw, chip, target=calibration_targets(model, hw), imperfections=imperfections,
                                       progress=False, cache=True)
    return _CALIBRATIONS[key]


def make_backend(backend: str, chip: int, imperfections, calibration):
    """The backend of one task (emulator, or Brian2 replaying the same emulated chip)."""
    if backend == "emulator":
        from neuroemu.backends.emulator import EmulatorBackend

        return EmulatorBackend(chip=chip, calibration=calibration, imperfections=imperfections)
    from neuroemu.backends.brian2 import Brian2Backend

    # Brian2 cannot jitter spike times (the knob is refused up front); the config's own jitter stays off
    imp = imperfections.replace(spike_time_jitter_us=0.0)
    return Brian2Backend(mode="chip-replay", chip=chip, calibration=calibration, imperfections=imp)


def run_seed(seed: int, chip: int) -> int:
    """Run seed of every task of one chip (same noise for every grid point: paired comparison)."""
    return int(np.random.SeedSequence([seed, chip, 4711]).generate_state(1)[0])


def run_point(point: dict[str, Any], chip: int, settings: dict[str, Any], seed: int) -> dict[str, Any]:
    """One task: accuracy of the model on chip ``chip`` with the knobs of ``point``."""
    from neuroemu.learning.deploy import evaluate_on_backend, train_in_the_loop

    model = _model(settings["model"], settings["model_digest"])
    data = _test_data(settings["model"], settings["model_digest"], int(settings["samples"]))
    knobs = {k: float(v) for k, v in point.items() if k not in STUDY_SWITCHES}
    setting = apply_knobs(_hardware(settings["hardware"], settings["hardware_hash"]), settings["base"], knobs)
    recal = bool(point.get("recalibrate", settings.get("recalibrate", False)))
    cal = None
    if recal:
        cal = _calibration(model, settings["model_digest"], setting.hardware, chip, setting.imperfections)
    rs = run_seed(seed, chip)
    backend = make_backend(settings["backend"], chip, setting.imperfections, cal)
    record: dict[str, Any] = {}
    if int(settings.get("retrain_epochs", 0)) > 0:
        before = evaluate_on_backend(model, backend, data, hardware=setting.hardware, calibration=cal, seed=rs)
        record["accuracy_before_retrain"] = float(before.accuracy)
        model, _ = train_in_the_loop(model, backend, _splits(settings["model"], settings["model_digest"]),
                                     hardware=setting.hardware,
                                     calibration=cal, epochs=int(settings["retrain_epochs"]), seed=rs)
    ev = evaluate_on_backend(model, backend, data, hardware=setting.hardware, calibration=cal, seed=rs)
    record["accuracy"] = float(ev.accuracy)
    record["samples"] = float(len(data.y))
    if cal is not None:  # (circuit, parameter) pairs that missed their target
        record["calibration_failures"] = float(sum(len(c) for c in cal.failures().values()))
    return record
