"""The Recorder of neuroemu.pynn: what the session's runs delivered, as PyNN hands it to neo.

Spikes arrive per run as (cell id, time in biological ms). Membrane potentials arrive per run
as samples on the time-step grid, already as the chip's readout reports them (on the emulated
chip: the MADC's 10-bit codes of the membrane, in mV); the recorder keeps every
``sampling_interval`` of them from the recording's start and appends the value at the
current time, as pyNN.brian2 does (``t / sampling_interval + 1`` samples after a run to ``t``).
"""
from __future__ import annotations

import numpy as np
from pyNN import recording

from neuroemu.pynn import simulator


class Recorder(recording.Recorder):
    _simulator = simulator

    def __init__(self, population=None, file=None):
        recording.Recorder.__init__(self, population, file)
        self._clear_simulator()

    def _record(self, variable, new_ids, sampling_interval=None):
        dt = self._simulator.state.dt
        if sampling_interval is not None:
            k = sampling_interval / dt
            if sampling_interval <= 0 or abs(k - round(k)) > 1e-9:
                raise ValueError(f"sampling_interval {sampling_interval} ms must be a positive multiple of the time "
                                 f"step {dt} ms")
            self.sampling_interval = sampling_interval  # a later record("spikes") keeps it

    # --- data from the session ------------------------------------------------------------
    def store_spikes(self, ids: np.ndarray, times_ms: np.ndarray) -> None:
        if len(ids):
            self._spikes.append((np.asarray(ids, np.int64), np.asarray(times_ms, float)))

    def _grid(self) -> tuple[int, int]:
        """(time step of the recording's start, time steps per sample)."""
        dt = self._simulator.state.dt
        start = simulator.to_step(float(self._recording_start_time.rescale("ms").magnitude), dt)
        return start, max(1, simulator.to_step(self.sampling_interval, dt))

    def store_signal(self, variable: str, first_step: int, ids: np.ndarray, values: np.ndarray) -> None:
        """``values``: (steps, len(ids)) samples at the time steps ``first_step, first_step + 1, ...``;
        only those on the sampling grid are kept."""
        start, every = self._grid()
        steps = first_step + np.arange(len(values))
        on = (steps - start) % every == 0
        self._signals.setdefault(variable, []).append((steps[on], np.asarray(ids, np.int64), values[on]))

    # --- PyNN's recorder interface --------------------------------------------------------
    def _get_spiketimes(self, ids, clear=False):
        ids = np.asarray(sorted(int(i) for i in ids), np.int64)
        if self._spikes:
            all_ids = np.concatenate([s[0] for s in self._spikes])
            all_t = np.concatenate([s[1] for s in self._spikes])
        else:
            all_ids, all_t = np.zeros(0, np.int64), np.zeros(0)
        keep = np.isin(all_ids, ids)
        if clear:
            self._spikes = []
        return all_ids[keep], all_t[keep]

    def _get_all_signals(self, variable, ids, clear=False):
        state = self._simulator.state
        ids = np.asarray([int(i) for i in ids], np.int64)
        start, every = self._grid()
        n_steps = state.step - start
        values = np.full((n_steps // every + 1, len(ids)), np.nan)
        for steps, chunk_ids, chunk in self._signals.get(variable.name, []):
            cols = np.searchsorted(chunk_ids, ids)
            cols = np.clip(cols, 0, len(chunk_ids) - 1)
            present = chunk_ids[cols] == ids
            rel = steps - start
            ok = (rel >= 0) & (rel < n_steps) & (rel % every == 0)
            values[np.ix_(rel[ok] // every, np.flatnonzero(present))] = chunk[np.ix_(np.flatnonzero(ok), cols[present])]
        if n_steps % every == 0:  # the value now, as pyNN.brian2 appends it
            values[-1] = state.session.recorded_now(self.population, variable.name, ids)
        if clear:
            self._signals.pop(variable.name, None)
        return values, None

    def _local_count(self, variable, filter_ids=None):
        ids = sorted(int(i) for i in self.filter_recorded(variable, filter_ids))
        got, _ = self._get_spiketimes(ids)
        counts = dict.fromkeys(ids, 0)
        uniq, n = np.unique(got, return_counts=True)
        counts.update({int(i): int(c) for i, c in zip(uniq, n)})
        return counts

    def _clear_simulator(self):
        self._spikes: list[tuple[np.ndarray, np.ndarray]] = []
        self._signals: dict[str, list[tuple[int, np.ndarray, np.ndarray]]] = {}

    def _reset(self):
        self._clear_simulator()
