"""Deploying a TTFS model on a backend: compile, run samples as trials, evaluate, train in the loop.

The model becomes a normal network (:meth:`TTFSModel.to_network`), is compiled with
:func:`neuroemu.compiler.compile_network` for a hardware config (optionally with a calibration)
and run through the backend interface: every sample is one trial, and one ``backend.run`` call
takes a whole batch of trials. First spike times per layer are read from the result.

Hardware in the loop (Göltz et al. 2021): :func:`train_in_the_loop` passes a forward function to
:func:`neuroemu.learning.training.train` that compiles the current weights once per weight update
and runs the whole batch on the backend; the backward pass is the closed form
(:mod:`neuroemu.learning.ttfs`) evaluated at the measured spike times.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from neuroemu.compiler import compile_network
from neuroemu.errors import NeuroemuError
from neuroemu.hardware import HardwareConfig, load_hardware
from neuroemu.ir.model import IR
from neuroemu.models.lif import CIRCUIT_PARAMETERS, DESCRIPTION_OF
from neuroemu.spikes import SpikeTrains

from .datasets import DatasetSplits, LabeledData
from .model import TTFSModel
from .training import Evaluation, TrainingRecord, train
from .ttfs import classify, ttfs_loss

__all__ = ["compile_model", "run_model", "evaluate_on_backend", "train_in_the_loop", "calibration_targets",
           "weight_limit", "DEFAULT_BATCH_TRIALS"]

#: trials per backend.run call when not given (bounds memory; a run of this size takes ~1 s)
DEFAULT_BATCH_TRIALS = 1000


def _hardware(hardware: HardwareConfig | str) -> HardwareConfig:
    return load_hardware(hardware) if isinstance(hardware, str) else hardware


def compile_model(model: TTFSModel, hardware: HardwareConfig | str = "bss2", calibration=None,
                  weights: Sequence[np.ndarray] | None = None) -> IR:
    """Compile ``model`` (or its layout with other ``weights``, nA) for ``hardware``.

    calibration: a :class:`neuroemu.calibration.Calibration` of the target chip (its codes are
    embedded in the IR and its input gains fix the weight scales) or None.
    """
    net = model.to_network(None if weights is None else list(weights))
    return compile_network(net, _hardware(hardware), source=f"ttfs model ({model.dataset})", calibration=calibration)


def run_model(model: TTFSModel, backend, ir: IR, input_times: np.ndarray, seed: int = 0,
              batch_trials: int | None = None) -> list[np.ndarray]:
    """First spike times (ms) of every layer for a batch of samples run on ``backend``.

    Args:
        model: the model ``ir`` was compiled from (gives population names and the duration).
        backend: any :class:`neuroemu.backends.Backend`.
        ir: the compiled model (:func:`compile_model`).
        input_times: (n, n_inputs) input spike times in ms (``inf`` = no spike).
        seed: noise seed; the k-th ``backend.run`` call uses ``seed + k``.
        batch_trials: samples per ``backend.run`` call (None: :data:`DEFAULT_BATCH_TRIALS`).

    Returns:
        one (n, layer_size) array per layer, ``inf`` where a neuron did not spike within
        ``model.duration``.
    """
    x = np.asarray(input_times, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != model.network.n_inputs:
        raise NeuroemuError(f"input times must have shape (samples, {model.network.n_inputs}), got {x.shape}")
    n = len(x)
    step = DEFAULT_BATCH_TRIALS if batch_trials is None else int(batch_trials)
    if step < 1:
        raise NeuroemuError(f"batch_trials must be >= 1, got {batch_trials}")
    names = model.layer_names
    out = [np.full((n, size), np.inf) for size in model.network.layer_sizes]
    for k, start in enumerate(range(0, n, step)):
        chunk = x[start:start + step]
        res = backend.run(ir, {"input": SpikeTrains.from_first_spike_times(chunk)}, duration=model.duration,
                          trials=len(chunk), seed=int(seed) + k)
        for l, name in enumerate(names):
            out[l][start:start + len(chunk)] = res.first_spike_times(name)
    return out


def _resolve_data(model: TTFSModel, data: LabeledData) -> LabeledData:
    if not data.time_coded:
        raise NeuroemuError("the data are features, not spike times: use TTFSModel.dataset_splits() or "
                            "neuroemu.learning.datasets.encode_splits")
    if data.x.shape[1] != model.network.n_inputs:
        raise NeuroemuError(f"the data have {data.x.shape[1]} inputs, the model expects {model.network.n_inputs}")
    return data


def evaluate_on_backend(model: TTFSModel, backend, data: LabeledData, hardware: HardwareConfig | str = "bss2",
                        calibration=None, seed: int = 0, batch_trials: int | None = None) -> Evaluation:
    """Accuracy and loss of ``model`` run on ``backend`` (each sample one trial).

    The model is compiled once for ``hardware`` (name or config) with the optional
    ``calibration``; a sample whose label neurons all stay silent counts as wrong.
    Returns an :class:`Evaluation` (``accuracy``, ``loss``, ``label_times`` in ms, and
    ``layer_times``).
    """
    data = _resolve_data(model, data)
    ir = compile_model(model, hardware, calibration)
    times = run_model(model, backend, ir, data.x, seed=seed, batch_trials=batch_trials)
    p = model.network.params
    loss, _ = ttfs_loss(times[-1], data.y, 0.2 * p.tau_syn, 0.005, p.tau_syn)
    n = len(data)
    acc = float(np.mean(classify(times[-1]) == data.y)) if n else float("nan")
    return Evaluation(float(loss.mean()) if n else float("nan"), acc, times[-1], layer_times=times)


def calibration_targets(model: TTFSModel, hardware: HardwareConfig | str = "bss2",
                        weight_percentile: float = 99.5) -> dict[str, Any]:
    """Calibration targets (a mapping for :func:`neuroemu.calibration.calibrate`) for ``model``.

    Potentials, time constants and the refractory time are the model's neuron parameters; the
    synaptic input gain (one per receptor, chip units V/µs per weight code) is chosen so that the
    ``weight_percentile`` percentile of all |weights| is the largest weight code. Larger weights
    saturate on the chip (in-the-loop training keeps them inside, see :func:`weight_limit`).
    """
    hw = _hardware(hardware)
    lif = model.lif_parameters()
    w = np.concatenate([np.abs(np.asarray(x)).ravel() for x in model.network.weights])
    w_top = float(np.percentile(w, weight_percentile)) if w.size else 1.0
    n_codes = float(hw.synapses.max_weight_code)
    gain = float(hw.chip_current_V_per_us(w_top / n_codes, lif["cm"]))
    lo, hi = hw.parameters["input_gain_exc"].range
    gain = float(np.clip(gain, lo, hi))
    targets: dict[str, Any] = {}
    for p in CIRCUIT_PARAMETERS:
        if p.kind == "gain":
            targets[p.name] = gain
        else:
            bio = lif[DESCRIPTION_OF[p.name]]
            targets[p.name] = {"mV": bio} if p.kind == "potential" else float(hw.chip_time_us(bio))
    return targets


def weight_limit(model: TTFSModel, hardware: HardwareConfig | str = "bss2", calibration=None) -> float | None:
    """Largest |weight| (nA) the compiled model can realise on ``hardware``, or None (no limit).

    The value is 1e-9 below the exact limit so that clipped weights never trip the compiler's check.

    Without a calibration: the largest weight code times the largest weight scale the synaptic
    input gain range allows (one circuit per neuron, the model's C_m); larger weights make the
    compiler refuse the network. With a calibration the scales are fixed by its input gains (the
    smallest compiled scale counts); larger weights saturate at the largest code.
    """
    from neuroemu.compiler.quantize import levels

    hw = _hardware(hardware)
    codes = levels(hw)  # 63 for 6-bit weights; continuous weights share the 6-bit gain reference
    if calibration is None:
        hi = min(hw.parameters[f"input_gain_{r}"].range[1] for r in ("exc", "inh"))
        return float(codes * hw.bio_current_nA(hi, model.network.params.cm)) * (1 - 1e-9)
    ir = compile_model(model, hw, calibration)
    scales = np.asarray(ir.weights.group_scale, float)
    scales = scales[scales > 0]
    return float(codes * scales.min()) * (1 - 1e-9) if scales.size else None


def train_in_the_loop(model: TTFSModel, backend, data: DatasetSplits, hardware: HardwareConfig | str = "bss2",
                      calibration=None, epochs: int = 20, seed: int = 0, progress: bool = False,
                      **train_options: Any) -> tuple[TTFSModel, TrainingRecord]:
    """Retrain ``model`` with the forward pass measured on ``backend`` (hardware in the loop).

    Every weight update compiles the current weights once for ``hardware`` (with the optional
    ``calibration``) and runs the whole batch as trials of one ``backend.run`` call; the backward
    pass is the closed form at the measured spike times. The weights are kept within what the
    chip can realise (:func:`weight_limit`).

    Args:
        model: the starting point (not modified).
        backend: e.g. ``EmulatorBackend(chip=3)``.
        data: encoded splits (``model.dataset_splits()``); validation, if any, is measured on
            ``backend`` after every epoch.
        hardware, calibration: as in :func:`evaluate_on_backend`.
        epochs: passes over the training set.
        seed: shuffling seed; backend noise seeds are derived from it.
        progress: tqdm progress bar.
        train_options: passed to :func:`neuroemu.learning.training.train` (e.g. ``lr``,
            ``batch_size``); defaults (fastAndDeep's hardware config): lr 0.002 c (c =
            ``params.weight_unit``), bumping only above 30 % silent hidden / 5 % silent label
            neurons, learning rate halved every 4 epochs, keep the
            weights of the best validation epoch (measured on the backend) when there is validation data.

    Returns:
        (the retrained model with the new record appended, the record).
    """
    hw = _hardware(hardware)
    trained = model.copy()
    net = trained.network
    calls = [0]

    def forward(weights: Sequence[np.ndarray], x: np.ndarray) -> list[np.ndarray]:
        ir = compile_model(trained, hw, calibration, weights=[np.asarray(w) for w in weights])
        calls[0] += 1
        run_seed = int(np.random.SeedSequence([int(seed), calls[0]]).generate_state(1)[0] % (2**31))
        return run_model(trained, backend, ir, x, seed=run_seed)

    # fastAndDeep yin_yang_hx.yaml: lr 0.002, up to 5 % silent label neurons before bumping
    options = dict(lr=0.002 * net.params.weight_unit, lr_step=4, lr_gamma=0.5, eval_batch_size=DEFAULT_BATCH_TRIALS,
                   keep_best=data.validation is not None, max_missing=[0.3] * (net.n_layers - 1) + [0.05])
    limit = weight_limit(trained, hw, calibration)
    if limit is not None:
        options["weight_limit"] = limit
        for w in net.weights:
            np.clip(w, -limit, limit, out=w)
    options.update(train_options)
    record = train(net, data, epochs=epochs, seed=seed, forward=forward, progress=progress, **options)
    record.hyperparameters.update(mode="in-the-loop", backend=getattr(backend, "name", type(backend).__name__),
                                  hardware=hw.name, calibration=None if calibration is None else calibration.id,
                                  chip=_chip_seed(backend))
    trained.records.append(record)
    return trained, record


def _chip_seed(backend) -> int | None:
    chip = getattr(backend, "chip", None)
    if chip is None:
        return None
    return int(getattr(chip, "seed", chip))
