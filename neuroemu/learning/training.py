"""Training loop for TTFS networks (Göltz et al. 2021; hyperparameters from fastAndDeep).

Defaults reproduce fastAndDeep's ``experiment_configs/yin_yang.yaml``, converted from its
normalised units (tau_syn = g_leak = threshold = 1) to ms / nA with the default neuron
(tau_syn = 10 ms, c = C_m theta / tau_mem = 1.5 nA):

==================  ===========================  ======================================
quantity            fastAndDeep (normalised)     here
==================  ===========================  ======================================
batch size          150                          150
optimiser           Adam, lr 0.005               Adam, lr 0.005 c = 0.0075 nA
lr schedule         StepLR(20 epochs, 0.95)      same
loss                xi = 0.2, alpha = 0.005,     tau0 = 0.2 tau_syn = 2 ms, alpha = 0.005,
                    beta = 1                     tau1 = tau_syn = 10 ms
weight bumping      0.0005, exp., targeted,      0.0005 c = 0.00075 nA, same rules
                    max missing [0.3, 0.0]
grazing guard       max_dw_norm 0.2 on the       30 / c = 20 per nA on the per-sample
                    batch-mean gradient, B=150   gradient (0.2 * 150, batch-size free)
epochs              300                          300 (``epochs`` argument)
==================  ===========================  ======================================

Hardware in the loop: pass ``forward`` to replace the closed-form forward pass (e.g. by spike
times measured on a chip or the emulator); the backward pass always uses the closed form at the
times that ``forward`` returned.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
from tqdm.auto import tqdm

from .datasets import DatasetSplits, LabeledData
from .ttfs import Adam, TTFSNetwork, WeightBumper, classify, step_lr, ttfs_loss

__all__ = ["TrainingRecord", "Evaluation", "evaluate", "train", "ForwardFn"]

#: ``(weights_list, input_times) -> per-layer spike times``. ``input_times`` is (batch, n_inputs)
#: in ms WITHOUT bias spikes; layer l's bias spikes (``network.bias_times[l]``) belong to the last
#: rows of ``weights_list[l]``.
ForwardFn = Callable[[Sequence[np.ndarray], np.ndarray], Sequence[np.ndarray]]


@dataclass
class TrainingRecord:
    """Per-epoch history of :func:`train` (index e = after epoch e + 1).

    Attributes:
        hyperparameters: every setting used, in ms / nA.
        initial_validation_accuracy: before the first update (None without validation data).
        train_loss: mean loss of the batches that made a gradient step (nan if none did).
        train_accuracy: fraction of training samples classified correctly during the epoch.
        validation_loss, validation_accuracy: after the epoch (nan without validation data).
        learning_rate: learning rate used in the epoch (nA).
        epoch_seconds: wall time of the epoch including validation.
        bumped_batches: batches that bumped weights instead of stepping.
        guarded_pairs: (sample, neuron) pairs dropped by the grazing guards.
        best_epoch: with ``keep_best``, the 1-based epoch whose weights were kept.
    """

    hyperparameters: dict
    initial_validation_accuracy: float | None = None
    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    validation_loss: list[float] = field(default_factory=list)
    validation_accuracy: list[float] = field(default_factory=list)
    learning_rate: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    bumped_batches: list[int] = field(default_factory=list)
    guarded_pairs: list[int] = field(default_factory=list)
    best_epoch: int | None = None

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    def first_epoch_reaching(self, accuracy: float) -> int | None:
        """1-based epoch after which validation accuracy first reached ``accuracy``, or None."""
        hits = np.flatnonzero(np.asarray(self.validation_accuracy) >= accuracy)
        return int(hits[0]) + 1 if hits.size else None


@dataclass(frozen=True)
class Evaluation:
    """Loss (mean), accuracy, label-layer spike times (ms) and every layer's spike times (ms)."""

    loss: float
    accuracy: float
    label_times: np.ndarray
    layer_times: list[np.ndarray] | None = None


def _check_time_coded(data: LabeledData, network: TTFSNetwork, what: str) -> None:
    if not data.time_coded:
        raise ValueError(f"{what} data are features, not spike times: encode them first "
                         "(neuroemu.learning.datasets.encode_splits)")
    if data.x.shape[1] != network.n_inputs:
        raise ValueError(f"{what} data have {data.x.shape[1]} inputs, the network expects {network.n_inputs}")
    if data.y.max(initial=0) >= network.layer_sizes[-1]:
        raise ValueError(f"{what} data have label {data.y.max()} but the network has "
                         f"{network.layer_sizes[-1]} label neurons")


def _run_forward(network: TTFSNetwork, x: np.ndarray, forward: ForwardFn | None) -> list[np.ndarray]:
    if forward is None:
        return network.forward(x)
    times = [np.asarray(t, dtype=np.float64) for t in forward(network.weights, x)]
    expected = [(len(x), n) for n in network.layer_sizes]
    if [t.shape for t in times] != expected:
        raise ValueError(f"forward returned shapes {[t.shape for t in times]}, expected {expected}")
    return times


def evaluate(network: TTFSNetwork, data: LabeledData, batch_size: int | None = None,
             forward: ForwardFn | None = None, tau0: float | None = None, alpha: float = 0.005,
             tau1: float | None = None) -> Evaluation:
    """Mean loss, accuracy and label times of ``network`` on time-coded ``data``.

    ``batch_size`` None evaluates everything at once; ``forward`` as in :func:`train`.
    """
    _check_time_coded(data, network, "evaluation")
    tau0 = 0.2 * network.params.tau_syn if tau0 is None else tau0
    tau1 = network.params.tau_syn if tau1 is None else tau1
    n = len(data)
    step = n if batch_size is None else int(batch_size)
    layer_times = [np.empty((n, size)) for size in network.layer_sizes]
    for start in range(0, n, max(step, 1)):
        for l, t in enumerate(_run_forward(network, data.x[start:start + step], forward)):
            layer_times[l][start:start + step] = t
    label_times = layer_times[-1]
    loss, _ = ttfs_loss(label_times, data.y, tau0, alpha, tau1)
    acc = float(np.mean(classify(label_times) == data.y)) if n else float("nan")
    return Evaluation(float(loss.mean()) if n else float("nan"), acc, label_times, layer_times)


def train(network: TTFSNetwork, dataset: DatasetSplits, epochs: int = 300, batch_size: int = 150,
          lr: float | None = None, *, lr_step: int = 20, lr_gamma: float = 0.95,
          tau0: float | None = None, alpha: float = 0.005, tau1: float | None = None,
          max_missing: Sequence[float] | None = None, bump_value: float | None = None,
          bump_exponential: bool = True, bump_targeted: bool = True,
          max_dw_norm: float | None = -1.0, weight_limit: float | None = None,
          input_noise: float = 0.0, adam_betas: tuple[float, float] = (0.9, 0.999),
          adam_eps: float = 1e-8, eval_batch_size: int | None = 1000, seed: int = 0,
          forward: ForwardFn | None = None, progress: bool = True, keep_best: bool = False,
          callback: Callable[[int, TrainingRecord, TTFSNetwork], bool | None] | None = None) -> TrainingRecord:
    """Train ``network`` in place with Adam on the TTFS loss; returns the history.

    Args:
        network: the network to train (its weights are updated in place).
        dataset: time-coded splits (:func:`~neuroemu.learning.datasets.encode_splits`); the
            validation split (if any) is evaluated after every epoch; test is not touched.
        epochs: number of passes over the training set.
        batch_size: samples per update (last batch of an epoch may be smaller).
        lr: Adam learning rate in nA; None = 0.005 c (fastAndDeep), c = ``params.weight_unit``.
        lr_step, lr_gamma: StepLR schedule, lr * gamma ** (epoch // lr_step).
        tau0, alpha, tau1: loss parameters (ms); None = 0.2 tau_syn and tau_syn.
        max_missing: allowed silent fraction per layer before weight bumping; None =
            0.3 for hidden layers and 0.0 for the label layer (fastAndDeep Yin-Yang).
        bump_value: initial weight bump in nA; None = 0.0005 c.
        bump_exponential, bump_targeted: see :class:`~neuroemu.learning.ttfs.WeightBumper`.
        max_dw_norm: grazing guard on the per-sample gradient (1/nA); -1 = 30 / c (fastAndDeep's
            0.2 at batch size 150), None = off.
        weight_limit: clip weights to [-limit, limit] nA after every step (e.g. a chip's range).
        input_noise: std (ms) of Gaussian noise added to training input times (negative times
            reflected, as fastAndDeep's ``apply_noise``); 0 = off.
        adam_betas, adam_eps: Adam constants (torch defaults).
        eval_batch_size: batch size for validation (None = all at once).
        seed: seeds the ``numpy.random.Generator`` for shuffling and noise; same seed, network and
            data give bit-identical weights.
        forward: optional :data:`ForwardFn` replacing the closed-form forward pass in training
            and validation (hardware in the loop).
        progress: show a tqdm progress bar.
        keep_best: at the end, restore the weights of the epoch with the best validation accuracy
            (early stopping; needs validation data); ``record.best_epoch`` says which.
        callback: called as ``callback(epoch, record, network)`` after every epoch (1-based);
            returning True stops training.
    """
    train_data, val_data = dataset.train, dataset.validation
    _check_time_coded(train_data, network, "training")
    if val_data is not None:
        _check_time_coded(val_data, network, "validation")
    if epochs < 0 or batch_size < 1:
        raise ValueError(f"need epochs >= 0 and batch_size >= 1, got {epochs}, {batch_size}")
    p = network.params
    c = p.weight_unit
    lr = 0.005 * c if lr is None else float(lr)
    tau0 = 0.2 * p.tau_syn if tau0 is None else float(tau0)
    tau1 = p.tau_syn if tau1 is None else float(tau1)
    if max_missing is None:
        max_missing = [0.3] * (network.n_layers - 1) + [0.0]
    bump_value = 0.0005 * c if bump_value is None else float(bump_value)
    if max_dw_norm is not None and max_dw_norm < 0:
        max_dw_norm = 30.0 / c
    hyper = dict(epochs=epochs, batch_size=batch_size, lr=lr, lr_step=lr_step, lr_gamma=lr_gamma,
                 tau0=tau0, alpha=alpha, tau1=tau1, max_missing=list(max_missing), bump_value=bump_value,
                 bump_exponential=bump_exponential, bump_targeted=bump_targeted, max_dw_norm=max_dw_norm,
                 weight_limit=weight_limit, input_noise=input_noise, adam_betas=tuple(adam_betas),
                 adam_eps=adam_eps, seed=seed, layer_sizes=network.layer_sizes,
                 hardware_forward=forward is not None, keep_best=keep_best)
    record = TrainingRecord(hyper)
    rng = np.random.default_rng(seed)
    adam = Adam([w.shape for w in network.weights], adam_betas, adam_eps)
    bumper = WeightBumper(max_missing, bump_value, bump_exponential, bump_targeted)
    loss_args = dict(tau0=tau0, alpha=alpha, tau1=tau1)
    if val_data is not None:
        record.initial_validation_accuracy = evaluate(network, val_data, eval_batch_size, forward,
                                                      **loss_args).accuracy
    n = len(train_data)
    best: tuple[float, int, list[np.ndarray]] | None = None
    bar = tqdm(range(epochs), desc="TTFS training", unit="epoch", disable=not progress)
    for epoch in bar:
        t_start = time.perf_counter()
        lr_epoch = step_lr(lr, epoch, lr_step, lr_gamma)
        order = rng.permutation(n)
        losses, n_correct, n_bumped, n_guarded = [], 0, 0, 0
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            x, y = train_data.x[idx], train_data.y[idx]
            if input_noise > 0:
                x = np.abs(x + rng.normal(0.0, input_noise, x.shape))
            times = _run_forward(network, x, forward)
            n_correct += int(np.sum(classify(times[-1]) == y))
            if bumper(network.weights, times) is not None:
                n_bumped += 1  # silent neurons: bump instead of a gradient step (fastAndDeep)
                if weight_limit is not None:
                    for w in network.weights:
                        np.clip(w, -weight_limit, weight_limit, out=w)
                continue
            loss, grad_t = ttfs_loss(times[-1], y, tau0, alpha, tau1)
            grads, guarded = network.backward(x, times, grad_t, max_dw_norm)
            n_guarded += guarded
            adam.step(network.weights, [g / len(idx) for g in grads], lr_epoch)  # batch-mean loss
            if weight_limit is not None:
                for w in network.weights:
                    np.clip(w, -weight_limit, weight_limit, out=w)
            losses.append(float(loss.mean()))
        record.train_loss.append(float(np.mean(losses)) if losses else float("nan"))
        record.train_accuracy.append(n_correct / n if n else float("nan"))
        record.learning_rate.append(lr_epoch)
        record.bumped_batches.append(n_bumped)
        record.guarded_pairs.append(n_guarded)
        if val_data is not None:
            ev = evaluate(network, val_data, eval_batch_size, forward, **loss_args)
            record.validation_loss.append(ev.loss)
            record.validation_accuracy.append(ev.accuracy)
            if keep_best and (best is None or ev.accuracy > best[0]):
                best = (ev.accuracy, epoch + 1, [w.copy() for w in network.weights])
        else:
            record.validation_loss.append(float("nan"))
            record.validation_accuracy.append(float("nan"))
        record.epoch_seconds.append(time.perf_counter() - t_start)
        bar.set_postfix(loss=f"{record.train_loss[-1]:.4f}", train=f"{record.train_accuracy[-1]:.3f}",
                        val=f"{record.validation_accuracy[-1]:.3f}")
        if callback is not None and callback(epoch + 1, record, network):
            break
    bar.close()
    if best is not None:
        for w, w_best in zip(network.weights, best[2]):
            w[...] = w_best
        record.best_epoch = best[1]
    return record
