"""Lowering: an IR and the effective network a chip realises for it -> the kernel's network.

The kernel (kernel.py) sees typed tuples of arrays in chip units: :class:`Neurons` (per LIF
neuron, with everything that depends only on the step dt precomputed: propagators, PSP kernel
values, event coefficients, the membrane-noise increment) and :class:`Synapses` (the synapse table
in CSR form by presynaptic node). :class:`KernelNetwork` adds how the scheduler may split a run
(feed-forward levels, neuron ranges).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from neuroemu.backends.emulator.effective import EffectiveNetwork
from neuroemu.backends.emulator.events import event_coefficients
from neuroemu.ir.model import IR
from neuroemu.models.psp import kernel_p_array


class Neurons(NamedTuple):
    """Per LIF neuron, chip units (V relative to the leak, µs), for the step dt: leak, reset and
    threshold (relative), refractory time, dead circuits, inverse time constants, one-step
    propagators e^{-dt/tau} (pmm, pe, pi) and PSP kernel values P(dt) (p_e, p_i), the event
    coefficients (16, n) (events.event_coefficients), the membrane-noise increment's std, and the
    rails V cannot leave (relative to the leak; -inf/inf: none), the inverse time constant of the
    reset conductance (0: instant reset), the inverse of the synaptic inputs' saturation current
    (V/µs; 0: linear)."""

    v_leak: np.ndarray
    v_reset_rel: np.ndarray
    thr_rel: np.ndarray
    tau_ref: np.ndarray
    dead: np.ndarray
    inv_tm: np.ndarray
    inv_te: np.ndarray
    inv_ti: np.ndarray
    pmm: np.ndarray
    pe: np.ndarray
    pi: np.ndarray
    p_e: np.ndarray
    p_i: np.ndarray
    co: np.ndarray
    noise_step: np.ndarray
    v_lo_rel: np.ndarray
    v_hi_rel: np.ndarray
    inv_t_reset: np.ndarray
    inv_i_max: np.ndarray


class Synapses(NamedTuple):
    """The synapse table in CSR form by presynaptic global node: rows ``ptr[node]:ptr[node + 1]``
    sorted by target LIF index ``tgt``, receptor ``rec`` (0 exc, 1 inh), signed weight ``w`` (V/µs);
    ``dense_first``: first target of rows whose targets are one contiguous range and whose weights'
    signs match their receptors, else -1; ``dense_rec``: such a row's receptor (0 exc, 1 inh) when
    all its synapses share it, 2 when mixed, -1 for other rows; ``lif_node``: global node of each LIF index;
    ``max_row``: the longest row."""

    ptr: np.ndarray
    tgt: np.ndarray
    rec: np.ndarray
    w: np.ndarray
    dense_first: np.ndarray
    dense_rec: np.ndarray
    lif_node: np.ndarray
    max_row: int


@dataclass
class KernelNetwork:
    """What the kernel runs, and how the scheduler may split it."""

    neurons: Neurons
    synapses: Synapses
    dt: float
    levels: list[tuple[int, int]]  # LIF index ranges run one after another (see _levels)
    splittable: bool  # no LIF neuron feeds another of its level: a trial may be split by neurons
    feeds: np.ndarray  # (levels, nodes) bool: the node has synapses onto the level (layered runs only)


def lower(ir: IR, eff: EffectiveNetwork, dt: float, sigma_mem: float,
          rails_V: tuple[float, float] | None = None, reset_tau_us: float = 0.0,
          saturation_V_per_us: float | None = None) -> KernelNetwork:
    """The kernel network for ``ir`` as ``eff`` realises it, integrated with step ``dt`` (µs), with
    membrane noise of stationary std ``sigma_mem`` (V): an Ornstein-Uhlenbeck process through the
    leak, increment std sigma_mem sqrt(1 - e^{-2 dt/tau_mem}) per step; ``rails_V``: the chip
    potentials (V) the membrane cannot leave (None: unbounded); ``reset_tau_us``: the time constant
    of the reset conductance (0: instant reset); ``saturation_V_per_us``: the synaptic inputs'
    saturation current I_max (None: linear)."""
    net = ir.network
    syn = net.synapses
    post = net.lif_index()[syn.post].astype(np.int32)
    pre_lif = net.lif_index()[syn.pre]
    by_pre = np.lexsort((post, syn.pre))  # CSR by presynaptic node, rows sorted by target
    ptr = np.zeros(net.n_nodes + 1, np.int64)
    np.add.at(ptr, syn.pre.astype(np.int64) + 1, 1)
    ptr = np.cumsum(ptr)
    tgt = post[by_pre]
    w = eff.weight[by_pre]
    rec = syn.receptor[by_pre].astype(np.int8)
    inv_tm, inv_te, inv_ti = 1.0 / eff.tau_mem, 1.0 / eff.tau_syn_exc, 1.0 / eff.tau_syn_inh
    pmm = np.exp(-dt * inv_tm)
    neurons = Neurons(
        v_leak=eff.v_leak, v_reset_rel=eff.v_reset - eff.v_leak, thr_rel=eff.v_thresh - eff.v_leak,
        tau_ref=eff.tau_refrac, dead=eff.dead, inv_tm=inv_tm, inv_te=inv_te, inv_ti=inv_ti, pmm=pmm,
        pe=np.exp(-dt * inv_te), pi=np.exp(-dt * inv_ti), p_e=kernel_p_array(dt, eff.tau_mem, eff.tau_syn_exc),
        p_i=kernel_p_array(dt, eff.tau_mem, eff.tau_syn_inh), co=event_coefficients(dt, inv_tm, inv_te, inv_ti),
        noise_step=sigma_mem * np.sqrt(1.0 - pmm * pmm),
        v_lo_rel=(rails_V[0] if rails_V else -np.inf) - eff.v_leak,
        v_hi_rel=(rails_V[1] if rails_V else np.inf) - eff.v_leak,
        inv_t_reset=np.full(len(eff.v_leak), 1.0 / reset_tau_us if reset_tau_us > 0 else 0.0),
        inv_i_max=np.full(len(eff.v_leak), 1.0 / saturation_V_per_us if saturation_V_per_us else 0.0))
    dense_first = _dense_rows(ptr, tgt, w, rec)
    synapses = Synapses(ptr=ptr, tgt=tgt, rec=rec, w=w, dense_first=dense_first,
                        dense_rec=_row_receptors(ptr, rec, dense_first),
                        lif_node=net.lif_nodes.astype(np.int64), max_row=int(max(1, np.diff(ptr).max(initial=1))))
    levels = _levels(net.n_lif, pre_lif, post)
    feeds = (np.array([np.isin(np.arange(net.n_nodes), syn.pre[(post >= lo) & (post < hi)]) for lo, hi in levels])
             if len(levels) > 1 else np.ones((1, net.n_nodes), bool))
    return KernelNetwork(neurons=neurons, synapses=synapses, dt=dt, levels=levels,
                         splittable=len(levels) > 1 or not np.any(pre_lif >= 0), feeds=feeds)


def _dense_rows(ptr: np.ndarray, tgt: np.ndarray, w: np.ndarray, rec: np.ndarray) -> np.ndarray:
    """First target of every CSR row whose targets are one contiguous ascending range and whose
    weights carry their receptor in their sign (exc >= 0, inh <= 0), else -1. The kernel
    delivers such rows as one SIMD pass over the signed weights (see events.py)."""
    n_rows = len(ptr) - 1
    first = np.full(n_rows, -1, np.int64)
    lengths = np.diff(ptr)
    rows = np.flatnonzero(lengths > 0)
    if len(rows) == 0:
        return first
    step_ok = np.ones(len(tgt), bool)
    step_ok[1:] = np.diff(tgt) == 1
    step_ok[ptr[rows]] = True  # the first synapse of a row starts its range
    step_ok &= np.where(rec == 0, w >= 0.0, w <= 0.0)
    bad = np.add.reduceat(~step_ok, ptr[rows]) > 0
    first[rows[~bad]] = tgt[ptr[rows[~bad]]]
    return first


def _row_receptors(ptr: np.ndarray, rec: np.ndarray, dense_first: np.ndarray) -> np.ndarray:
    """Per CSR row: the receptor of all its synapses (0 exc, 1 inh), 2 if they differ, for the
    rows with ``dense_first >= 0``; -1 for the others."""
    out = np.full(len(ptr) - 1, -1, np.int64)
    rows = np.flatnonzero(dense_first >= 0)
    if len(rows):
        cum = np.concatenate(([0], np.cumsum(rec, dtype=np.int64)))
        n_inh = cum[ptr[rows + 1]] - cum[ptr[rows]]
        length = ptr[rows + 1] - ptr[rows]
        out[rows] = np.where(n_inh == 0, 0, np.where(n_inh == length, 1, 2))
    return out


def _levels(n_lif: int, pre_lif: np.ndarray, post_lif: np.ndarray) -> list[tuple[int, int]]:
    """Feed-forward levels of the LIF neurons as contiguous index ranges, in the order they run.

    A neuron's level is 0 without LIF inputs, else one more than its highest LIF input. When
    every level is a contiguous range of LIF indices in increasing order (layers added in
    order), the levels run one after another and a level receives the spikes of the levels
    below at their exact times. Otherwise (recurrent connections, or layers out of order) the
    whole network runs at once and the kernel delivers on-chip spikes within their step (exactly).
    """
    from_lif = pre_lif >= 0
    src, dst = pre_lif[from_lif].astype(np.int64), post_lif[from_lif].astype(np.int64)
    if len(src) == 0 or np.any(src >= dst):  # levels ascending with the index need src < dst
        return [(0, n_lif)]
    level = np.zeros(n_lif, np.int64)
    while True:  # longest-path relaxation (src < dst: no cycle, ends after the depth)
        new = level.copy()
        np.maximum.at(new, dst, level[src] + 1)
        if np.array_equal(new, level):
            break
        level = new
    if np.any(np.diff(level) < 0):  # some level is not one ascending index range
        return [(0, n_lif)]
    cuts = np.flatnonzero(np.diff(level)) + 1
    bounds = [0, *cuts.tolist(), n_lif]
    return list(zip(bounds[:-1], bounds[1:]))
