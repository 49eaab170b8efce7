"""Spike trains of a population over many trials, in biological ms.

One container for input spikes (spike sources, per trial) and recorded output spikes.
Stored flat and sorted by (trial, time, neuron): ``times[i]`` of ``neuron[i]`` in ``trial[i]``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from neuroemu.errors import NeuroemuError


@dataclass
class SpikeTrains:
    """Spikes of ``n_neurons`` neurons in ``n_trials`` trials. Times in biological ms."""

    times: np.ndarray  # float64, ms
    neuron: np.ndarray  # int32
    trial: np.ndarray  # int32
    n_neurons: int
    n_trials: int

    def __post_init__(self) -> None:
        self.times = np.asarray(self.times, dtype=np.float64).reshape(-1)
        self.neuron = np.asarray(self.neuron, dtype=np.int32).reshape(-1)
        self.trial = np.asarray(self.trial, dtype=np.int32).reshape(-1)
        if not (len(self.times) == len(self.neuron) == len(self.trial)):
            raise NeuroemuError("spike trains: times, neuron and trial arrays differ in length")
        if self.n_neurons < 0 or self.n_trials < 1:
            raise NeuroemuError("spike trains: need n_neurons >= 0 and n_trials >= 1")
        if len(self.times):
            if not np.all(np.isfinite(self.times)):
                raise NeuroemuError("spike trains: spike times must be finite (no NaN or inf)")
            if self.times.min() < 0:
                raise NeuroemuError(f"spike trains: negative spike time {self.times.min()} ms")
            if self.neuron.min() < 0 or self.neuron.max() >= self.n_neurons:
                raise NeuroemuError(
                    f"spike trains: neuron index {int(self.neuron.max())} out of range for {self.n_neurons} neurons"
                )
            if self.trial.min() < 0 or self.trial.max() >= self.n_trials:
                raise NeuroemuError(f"spike trains: trial index out of range for {self.n_trials} trials")
        if not self._is_sorted():
            order = np.lexsort((self.neuron, self.times, self.trial))
            self.times, self.neuron, self.trial = self.times[order], self.neuron[order], self.trial[order]

    def _is_sorted(self) -> bool:
        """Sorted by (trial, time, neuron)? (O(n), avoids an O(n log n) sort for kernel output)"""
        if len(self.times) < 2:
            return True
        dtr = np.diff(self.trial)
        dt = np.diff(self.times)
        dn = np.diff(self.neuron)
        return bool(np.all((dtr > 0) | ((dtr == 0) & ((dt > 0) | ((dt == 0) & (dn >= 0))))))

    # --- construction ---------------------------------------------------------------------
    @classmethod
    def empty(cls, n_neurons: int, n_trials: int = 1) -> "SpikeTrains":
        return cls(np.zeros(0), np.zeros(0, np.int32), np.zeros(0, np.int32), n_neurons, n_trials)

    @classmethod
    def from_lists(cls, per_neuron: Sequence[Sequence[float]], n_neurons: int | None = None) -> "SpikeTrains":
        """One trial: ``per_neuron[i]`` is the list of spike times (ms) of neuron i."""
        return cls.from_trials([per_neuron], n_neurons)

    @classmethod
    def from_trials(cls, per_trial: Sequence[Sequence[Sequence[float]]], n_neurons: int | None = None) -> "SpikeTrains":
        """``per_trial[k][i]`` is the list of spike times (ms) of neuron i in trial k."""
        times, neuron, trial = [], [], []
        n = 0
        for k, neurons in enumerate(per_trial):
            n = max(n, len(neurons))
            for i, ts in enumerate(neurons):
                ts = np.atleast_1d(np.asarray(ts, dtype=np.float64))
                times.append(ts)
                neuron.append(np.full(len(ts), i, np.int32))
                trial.append(np.full(len(ts), k, np.int32))
        n_neurons = n if n_neurons is None else n_neurons
        if n > n_neurons:
            raise NeuroemuError(f"spike trains: {n} neurons given, population has {n_neurons}")
        cat = lambda parts, dt: np.concatenate(parts) if parts else np.zeros(0, dt)  # noqa: E731
        return cls(cat(times, np.float64), cat(neuron, np.int32), cat(trial, np.int32), n_neurons,
                   max(1, len(per_trial)))

    @classmethod
    def from_first_spike_times(cls, t: np.ndarray) -> "SpikeTrains":
        """(trials, neurons) array of single spike times (ms); ``inf`` or NaN means no spike."""
        t = np.asarray(t, dtype=np.float64)
        if t.ndim != 2:
            raise NeuroemuError(f"first spike times must be a 2-D (trials, neurons) array, got shape {t.shape}")
        t = np.where(np.isnan(t), np.inf, t)
        order = np.argsort(t, axis=1, kind="stable")  # per trial by time, ties by neuron: already sorted
        ts = np.take_along_axis(t, order, axis=1)
        keep = np.isfinite(ts)
        trial = np.broadcast_to(np.arange(t.shape[0])[:, None], t.shape)[keep]
        return cls(ts[keep], order[keep], trial, t.shape[1], max(1, t.shape[0]))

    @classmethod
    def poisson(cls, n_neurons: int, rate_hz: float, duration_ms: float, n_trials: int, seed: int) -> "SpikeTrains":
        """Independent Poisson trains (rate in Hz, biological), drawn from ``seed``."""
        if rate_hz < 0 or duration_ms < 0:
            raise NeuroemuError("poisson input: rate and duration must be >= 0")
        rng = np.random.default_rng(seed)
        counts = rng.poisson(rate_hz * duration_ms / 1000.0, size=(n_trials, n_neurons))
        total = int(counts.sum())
        times = rng.uniform(0.0, duration_ms, size=total)
        trial = np.repeat(np.repeat(np.arange(n_trials), n_neurons), counts.reshape(-1))
        neuron = np.repeat(np.tile(np.arange(n_neurons), n_trials), counts.reshape(-1))
        return cls(times, neuron, trial, n_neurons, n_trials)

    # --- access ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.times)

    def trial_bounds(self) -> np.ndarray:
        """Start index of each trial in the flat arrays, plus the end: shape (n_trials + 1,)."""
        return np.searchsorted(self.trial, np.arange(self.n_trials + 1)).astype(np.int64)

    def select_trial(self, k: int) -> "SpikeTrains":
        b = self.trial_bounds()
        s = slice(b[k], b[k + 1])
        return SpikeTrains(self.times[s], self.neuron[s], np.zeros(b[k + 1] - b[k], np.int32), self.n_neurons, 1)

    def trials(self, start: int, stop: int) -> "SpikeTrains":
        """Trials ``start .. stop - 1`` as trials ``0 .. stop - start - 1``."""
        b = self.trial_bounds()
        s = slice(b[start], b[min(stop, self.n_trials)])
        return SpikeTrains(self.times[s], self.neuron[s], self.trial[s] - start, self.n_neurons, stop - start)

    def repeat_trials(self, n_trials: int) -> "SpikeTrains":
        """Broadcast a single-trial train to ``n_trials`` identical trials."""
        if self.n_trials == n_trials:
            return self
        if self.n_trials != 1:
            raise NeuroemuError(f"input has {self.n_trials} trials, the run asks for {n_trials}")
        m = len(self.times)
        return SpikeTrains(
            np.tile(self.times, n_trials), np.tile(self.neuron, n_trials),
            np.repeat(np.arange(n_trials, dtype=np.int32), m), self.n_neurons, n_trials,
        )

    def counts(self) -> np.ndarray:
        """Spike counts, shape (n_trials, n_neurons)."""
        c = np.zeros((self.n_trials, self.n_neurons), np.int64)
        np.add.at(c, (self.trial, self.neuron), 1)
        return c

    def first_spike_times(self) -> np.ndarray:
        """First spike time per trial and neuron (ms), ``inf`` where silent: shape (n_trials, n_neurons)."""
        t = np.full((self.n_trials, self.n_neurons), np.inf)
        np.minimum.at(t, (self.trial, self.neuron), self.times)
        return t

    def per_neuron(self, trial: int = 0) -> list[np.ndarray]:
        """List of spike-time arrays (ms), one per neuron, for one trial."""
        b = self.trial_bounds()
        t, n = self.times[b[trial]:b[trial + 1]], self.neuron[b[trial]:b[trial + 1]]
        return [t[n == i] for i in range(self.n_neurons)]

    def between(self, t_from: float, t_to: float) -> "SpikeTrains":
        """The spikes at times ``t_from <= t < t_to`` (ms)."""
        keep = (self.times >= t_from) & (self.times < t_to)
        if keep.all():
            return self
        return SpikeTrains(self.times[keep], self.neuron[keep], self.trial[keep], self.n_neurons, self.n_trials)

    def shifted(self, offset_ms: float) -> "SpikeTrains":
        return SpikeTrains(self.times + offset_ms, self.neuron, self.trial, self.n_neurons, self.n_trials)

    def equals(self, other: "SpikeTrains") -> bool:
        return (
            self.n_neurons == other.n_neurons and self.n_trials == other.n_trials
            and np.array_equal(self.times, other.times) and np.array_equal(self.neuron, other.neuron)
            and np.array_equal(self.trial, other.trial)
        )
