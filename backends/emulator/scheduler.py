"""The scheduler: one run of a kernel network as parallel jobs.

Trials run in parallel; with few trials and no LIF neuron feeding another within a level, a
trial is split into neuron ranges. Feed-forward levels run one after another, each receiving
the spikes of the levels below at their exact times. A job whose spike buffer overflows is run
again (from its start state) with a larger buffer.
"""
from __future__ import annotations

import numba
import numpy as np

from neuroemu.backends.emulator.kernel import Events, Jobs, Noise, Output, Recording, State, Steps, simulate
from neuroemu.backends.emulator.lowering import KernelNetwork

#: the per-neuron arrays of the state dicts (the others, "fly_*", are per trial: spikes in flight)
_NEURON_STATE = ("v", "ie", "ii", "refr")


def level_events(feeds: np.ndarray, inputs: tuple, parts_t: list, parts_n: list, parts_trial: list,
                 lif_nodes: np.ndarray, trials: int,
                 latency_us: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Events reaching one level (times µs, global nodes, per-trial start index), sorted by
    (trial, time, node): the input events and the spikes of lower levels from nodes in ``feeds``,
    which arrive ``latency_us`` after they were emitted. Each source is sorted already; only
    several sources need a merge."""
    sources = []
    lower_levels = ((t + latency_us, lif_nodes[n].astype(np.int32), tr)
                    for t, n, tr in zip(parts_t, parts_n, parts_trial))
    for t, n, tr in [inputs, *lower_levels]:
        keep = feeds[n]
        if keep.any():
            sources.append((t[keep], n[keep], tr[keep]))
    if not sources:
        return np.zeros(0), np.zeros(0, np.int32), np.zeros(trials + 1, np.int64)
    if len(sources) == 1:
        t, n, tr = sources[0]
    else:
        t, n, tr = (np.concatenate(x) for x in zip(*sources))
        order = np.lexsort((n, t, tr))
        t, n, tr = t[order], n[order], tr[order]
    return t, n.astype(np.int32), np.searchsorted(tr, np.arange(trials + 1)).astype(np.int64)


def event_order(trial: np.ndarray, t: np.ndarray, ticks: np.ndarray | None, idx: np.ndarray, n_idx: int,
           trials: int) -> np.ndarray:
    """Permutation sorting events by (trial, time, idx). With clock ticks (time = tick x clock
    period) one int64 key (trial, tick, idx) and a single argsort when it fits, else lexsort."""
    if ticks is not None:
        n_ticks = float(ticks.max(initial=0.0)) + 1.0
        if trials * n_ticks * n_idx < 2.0**62:
            return np.argsort((trial.astype(np.int64) * int(n_ticks) + ticks.astype(np.int64)) * n_idx + idx)
    return np.lexsort((idx, t, trial))


def simulate_range(knet: KernelNetwork, noise: Noise, ev: Events, ev_ptr: np.ndarray, steps: Steps, rec: Recording,
                   lo: int, hi: int, trials: int, cap: int, traces: np.ndarray, st: dict[str, np.ndarray],
                   fresh: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spikes (µs, LIF indices, trials; sorted by trial, time, neuron) of LIF neurons [lo, hi)
    for all trials (input events ``ev``, trial i's from ``ev_ptr[i]``); adds their membrane traces
    to ``traces`` and advances the state arrays ``st`` ("v", "ie", "ii", "refr": (trials, n_lif)) of
    those neurons to the end of the run (from rest when ``fresh``), writing the spikes still in
    flight at its end into ``st["fly_*"]`` (see kernel.State)."""
    # few trials and no LIF -> LIF synapses inside the range: split trials into neuron ranges
    chunks = 1
    threads = numba.get_num_threads()
    if trials < threads and knet.splittable:
        chunks = max(1, min(threads // trials, (hi - lo) // 32))
    bounds = np.linspace(lo, hi, chunks + 1).astype(np.int64)
    todo = np.arange(trials, dtype=np.int64)
    got_t: list[np.ndarray] = []  # spikes of finished trials: times (µs), LIF indices, trials
    got_n: list[np.ndarray] = []
    got_trial: list[np.ndarray] = []
    while len(todo):
        job_trial = np.repeat(todo, chunks)
        job_lo = np.tile(bounds[:-1], len(todo))
        job_hi = np.tile(bounds[1:], len(todo))
        n_jobs = len(job_trial)
        out_time = np.empty((n_jobs, cap))  # the kernel writes the first out_count entries
        out_neuron = np.empty((n_jobs, cap), np.int32)
        out_count = np.zeros(n_jobs, np.int64)
        tr = np.zeros((n_jobs,) + traces.shape[1:])
        # the kernel advances st in place; a trial that overflows its spike buffer reruns from
        # its start: from rest (fresh runs) or from a copy of its rows
        backup = None if fresh else {name: st[name][todo, lo:hi].copy() for name in _NEURON_STATE}
        jobs = Jobs(job_trial, job_lo, job_hi, ev_ptr[job_trial], ev_ptr[job_trial + 1])
        simulate(knet.neurons, knet.synapses, noise, jobs, ev, steps, rec, Output(out_time, out_neuron, out_count, tr),
                 State(st["v"], st["ie"], st["ii"], st["refr"], st["fly_time"], st["fly_node"], st["fly_n"]), fresh)
        ok_job = (out_count <= cap).reshape(len(todo), chunks)
        ok = ok_job.all(axis=1)
        if not fresh and not ok.all():
            for name in _NEURON_STATE:
                st[name][todo[~ok], lo:hi] = backup[name][~ok]
        if chunks == 1:  # whole trials: each job's spikes are sorted, gather them at once
            sel = np.flatnonzero(ok)
            counts = out_count[sel]
            width = int(counts.max(initial=0))  # (the buffers' unused columns are never touched)
            filled = np.arange(width)[None, :] < counts[:, None]
            if len(sel) == n_jobs:
                got_t.append(out_time[:, :width][filled])
                got_n.append(out_neuron[:, :width][filled])
            else:
                got_t.append(out_time[sel, :width][filled])
                got_n.append(out_neuron[sel, :width][filled])
            got_trial.append(np.repeat(todo[sel].astype(np.int32), counts))
            traces[todo[sel]] += tr[sel]  # levels fill disjoint neuron rows
        else:
            for i in np.flatnonzero(ok):
                jobs = range(i * chunks, (i + 1) * chunks)
                t_ = np.concatenate([out_time[j, :out_count[j]] for j in jobs])
                n_ = np.concatenate([out_neuron[j, :out_count[j]] for j in jobs])
                order = np.lexsort((n_, t_))
                got_t.append(t_[order])
                got_n.append(n_[order])
                got_trial.append(np.full(len(t_), todo[i], np.int32))
                traces[todo[i]] += tr[i * chunks:(i + 1) * chunks].sum(axis=0)  # disjoint neuron rows
        todo = todo[~ok]
        cap = int(out_count.max(initial=0)) + 16
    t_us = np.concatenate(got_t) if got_t else np.zeros(0)
    nrn = np.concatenate(got_n) if got_n else np.zeros(0, np.int32)
    trial = np.concatenate(got_trial) if got_trial else np.zeros(0, np.int32)
    if len(got_t) > 1:  # trials finished in several passes: order by trial
        order = np.argsort(trial, kind="stable")
        t_us, nrn, trial = t_us[order], nrn[order], trial[order]
    return t_us, nrn, trial

