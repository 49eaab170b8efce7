"""The kernel: the one implementation of the emulated chip's neuron dynamics (numba).

Current-based LIF with exponential excitatory and inhibitory synaptic currents, in chip time
(µs) and chip potentials (V), state relative to each neuron's leak potential::

    dV/dt = -V / tau_mem + I_exc + I_inh        (I: current over membrane capacitance, V/µs)
    dI_x/dt = -I_x / tau_syn_x,                 I_x += w at each input event (w in V/µs)

Each step of ``dt`` propagates every neuron exactly (closed-form propagator, SIMD) and adds the
step's input events at their exact times through third-order moments (events.py; remainder
below (dt/2)^4/(24 tau^4) of a weight in I, (dt/2)^4/(6 tau^3) weight x µs in V). Crossings: a
cheap upper bound of V over the step
(V(t) <= V* + (V(t0) - V*) e^{-(t - t0)/tau_m}, V* = tau_m times a bound of the summed currents,
which only decay between events; exc events only add, inh events only subtract) selects the
neurons that may reach threshold; for them the step is replayed event by event exactly from its
start (:func:`_replay`), and every free segment between events is searched with
:func:`~neuroemu.backends.emulator.crossing.segment_crossing`, which finds every crossing, also
one that ends inside the step. Spikes are then taken in time order: each is delivered to its
on-chip targets within the step at its exact time, and the crossings of the neurons it reaches
are searched again (no one-step lag in recurrent networks; feed-forward levels run one after
another, see scheduler.py). After a spike V is held at the reset potential for the refractory
time, which may end inside a step (handled exactly). A membrane set exactly at threshold fires
only if it is not falling (as a threshold checked after each step in Brian2 or NEST sees it).

Noise: membrane noise is an Ornstein-Uhlenbeck process through the leak (stationary std
``sigma_mem``), threshold jitter is a per-trial, per-neuron threshold offset, spike-time
jitter shifts each emitted spike. Readout times are floored to the timestamp clock.
All draws come from :mod:`neuroemu.backends.emulator.random` (counter-based): trials are
independent and bit-reproducible; ``prange`` runs trials in parallel.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numba as nb
import numpy as np

from neuroemu.backends.emulator.crossing import (
    _current_bound,
    _hermite_root,
    _start_crossing,
    rail_release,
    segment_crossing,
)
from neuroemu.backends.emulator.events import (
    NO_NRT,
    _add_dense,
    _add_saturating,
    _insert_event,
    _push,
    _synapse_index,
    _weights_onto,
)
from neuroemu.backends.emulator.lowering import Neurons
from neuroemu.backends.emulator.random import _GOLD, approx_normal_hashed, mix32, normal, stream_key
from neuroemu.models.psp import free as _free
from neuroemu.models.psp import kernel_p_from

_STREAM_MEMBRANE, _STREAM_THRESHOLD, _STREAM_JITTER = 1, 2, 3


class Noise(NamedTuple):
    """Temporal noise, readout and transport of a run: the seed of all draws, threshold jitter
    (V, std), spike-time jitter (µs, std), timestamp clock (µs, 0: exact), the latency (µs) from an
    on-chip spike to its targets."""

    seed: int
    sigma_thr: float
    jitter_us: float
    t_res: float
    latency_us: float


class Steps(NamedTuple):
    """The absolute integration steps s0 .. s0 + n - 1 of length dt (µs): times s dt."""

    s0: int
    n: int
    dt: float


class Jobs(NamedTuple):
    """Job i: trial ``trial[i]``, LIF neurons [lo[i], hi[i]), input events ev_start[i]:ev_end[i]."""

    trial: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    ev_start: np.ndarray
    ev_end: np.ndarray


class Events(NamedTuple):
    """Input events of all jobs: times (µs) and global nodes, sorted by time within a job."""

    time: np.ndarray
    node: np.ndarray


class Recording(NamedTuple):
    """Membrane recording: LIF indices and the sampling interval in steps."""

    idx: np.ndarray
    every: int


class Output(NamedTuple):
    """Per job: spike times (µs) and LIF indices (jobs, capacity), true counts, traces."""

    time: np.ndarray
    neuron: np.ndarray
    n_spikes: np.ndarray  # (not "count": that is a tuple method)
    traces: np.ndarray


class State(NamedTuple):
    """Per (trial, LIF neuron): V - v_leak (V), currents (V/µs), refractory end (µs, -inf: free);
    per trial (written at the end of a run of whole trials): the on-chip spikes still in flight
    (latency), arrival times (µs) and nodes in the first ``fly_n`` columns."""

    v: np.ndarray
    ie: np.ndarray
    ii: np.ndarray
    refr: np.ndarray
    fly_time: np.ndarray
    fly_node: np.ndarray
    fly_n: np.ndarray


@nb.njit(inline="always", cache=True)
def _held_value(v_reset: float, thr: float, since: float, inv_t_reset: float) -> float:
    """V ``since`` µs after a spike at threshold ``thr``, pulled to ``v_reset`` through the reset
    conductance (time constant 1/inv_t_reset; 0: instant)."""
    if inv_t_reset <= 0.0:
        return v_reset
    return v_reset + (thr - v_reset) * math.exp(-since * inv_t_reset)


@nb.njit(cache=True)
def flight_capacity(n: int, latency_us: float, min_tau_ref_us: float, dt: float) -> int:
    """How many on-chip spikes of ``n`` neurons can be in flight at once: arrivals within one
    latency plus a step of each other, each neuron's spikes a refractory period apart."""
    if latency_us <= 0.0 or n == 0:
        return 1
    return n * (int((latency_us + dt) / max(min_tau_ref_us, 1e-3 * dt)) + 2)


@nb.njit(inline="always", cache=True)
def _replay(k, t0, t1, t_free, v, a, b, v_reset, thr, lo, inv_imax, inv_tm, inv_te, inv_ti, l_time, l_node, m, ptr,
            tgt, rec, w, dense_first):
    """Exact trajectory of neuron ``k`` (global LIF index) over the step [t0, t1) from its state
    (v, a, b) at t0, through the step's events onto it (``l_time/l_node[:m]``, sorted by time), with
    V held at ``v_reset`` until ``t_free`` (end of a refractory period). Returns (tc, v, a, b):
    the first threshold crossing at or after ``t_free`` (-1 if none) and the state at t1 (at tc
    when there is a crossing). Every free segment between events is searched with
    :func:`segment_crossing`, so crossings that end within the step are found too.

    Lower rail ``lo`` (V relative to the leak; -inf: none): V cannot go below it. A segment whose
    lower bound (V* + (v - V*) e^{-x/tau_m}, V* = tau_m x the least current) reaches it is searched
    for the first time V falls to it (:func:`segment_crossing` on -V); there V stays at the rail
    (railed) until the current lifts it, I(t) >= lo/tau_m (:func:`rail_release`), and evolves
    freely from the rail again. Saturating synaptic inputs (``inv_imax`` = 1/I_max > 0): an
    event's jump is w (1 - |I| / I_max), I the receptor's current just before it."""
    ta = t0
    held = t_free > t0
    if held:
        v = v_reset
    railed = False
    if v <= lo:
        v = lo
        railed = a + b < lo * inv_tm
    i = 0
    while True:
        we, wi = 0.0, 0.0
        while i < m:  # the next event onto k
            we, wi = _weights_onto(l_node[i], k, ptr, tgt, rec, w, dense_first)
            if we != 0.0 or wi != 0.0:
                break
            i += 1
        tb = l_time[i] if i < m else t1
        if held and t_free < tb:  # the refractory period ends before the next event
            x = t_free - ta
            a *= math.exp(-x * inv_te)
            b *= math.exp(-x * inv_ti)
            ta = t_free
            held = False
        h = tb - ta
        if held:
            a *= math.exp(-h * inv_te)
            b *= math.exp(-h * inv_ti)
        else:
            turns = 0
            while h > 0.0:  # (sub-segments: on the rail, then free; a few turns at most)
                turns += 1
                if railed and turns < 16:
                    x = rail_release(a, b, lo * inv_tm, h, inv_te, inv_ti)
                    if x < 0.0:  # held at the rail throughout
                        a *= math.exp(-h * inv_te)
                        b *= math.exp(-h * inv_ti)
                        break
                    a *= math.exp(-x * inv_te)
                    b *= math.exp(-x * inv_ti)
                    ta += x
                    h = tb - ta
                    railed = False
                    continue
                # the segment's three decays serve both the bounds of V on it (crossing.py's
                # _upper_bound) and its end state; only a segment the bounds cannot clear is searched
                em = math.exp(-h * inv_tm)
                ee = math.exp(-h * inv_te)
                ei = math.exp(-h * inv_ti)
                x_rail = -1.0
                if lo > -np.inf and turns < 16:
                    vl = ((a if a <= 0.0 else a * ee) + (b if b <= 0.0 else b * ei)) / inv_tm
                    if (v if vl >= v else vl + (v - vl) * em) <= lo:  # (from the rail: not while rising)
                        x_rail = _start_crossing(-v, -a, -b, -lo, h, inv_tm, inv_te, inv_ti)
                vs = ((a if a >= 0.0 else a * ee) + (b if b >= 0.0 else b * ei)) / inv_tm
                ub = v if vs <= v else vs + (v - vs) * em
                if ub >= thr:
                    x = _start_crossing(v, a, b, thr, h if x_rail < 0.0 else x_rail, inv_tm, inv_te, inv_ti)
                    if x >= 0.0:
                        vx, _, ax, bx = _free(x, v, a, b, inv_tm, inv_te, inv_ti)
                        return ta + x, vx, ax, bx
                if x_rail >= 0.0:  # V reaches the rail: held there from now on
                    _, _, a, b = _free(x_rail, v, a, b, inv_tm, inv_te, inv_ti)
                    v = lo
                    railed = True
                    ta += x_rail
                    h = tb - ta
                    continue
                v = (v * em + kernel_p_from(h, em, ee, inv_te - inv_tm) * a
                     + kernel_p_from(h, em, ei, inv_ti - inv_tm) * b)
                a *= ee
                b *= ei
                break
        ta = tb
        if i >= m:
            return -1.0, v, a, b
        a += we * max(0.0, 1.0 - abs(a) * inv_imax)  # (inv_imax 0: linear, and exactly a + we)
        b += wi * max(0.0, 1.0 - abs(b) * inv_imax)
        if railed:  # an excitatory event may lift V off the rail at once
            railed = a + b < lo * inv_tm
        i += 1


@nb.njit(cache=True, error_model="numpy")
def _run_trial(trial, k_lo, n_total, nr, syn, noise_p, ev, e_start, e_end, steps, rec_p, out_time, out_neuron, traces,
               st, fresh) -> int:
    """One job: trial ``trial``, the neurons of ``nr`` (this job's slice [k_lo, k_lo + n) of all LIF
    neurons, see lowering.Neurons), input events ``e_start:e_end``. Writes its spikes (sorted by
    time, neuron) and returns their count; advances the state rows ``st`` (State of 1-d rows)."""
    # neuron arrays are this job's slice [k_lo, k_lo + n) of all LIF neurons; k is local here,
    # k + k_lo global (synapse targets, random draws and recorded neurons are global).
    # st_*: the state at the start (step s0) in, the state at the end out (V relative to the
    # leak, currents, refractory end); steps, times and random draws are absolute, so a run
    # continued from a state is the same computation as one long run; ``fresh``: start at rest
    v_leak, v_reset_rel, thr_rel, tau_ref, dead = nr.v_leak, nr.v_reset_rel, nr.thr_rel, nr.tau_ref, nr.dead
    inv_te, inv_ti = nr.inv_te, nr.inv_ti
    inv_tm, pmm, pe, pi, p_e, p_i = nr.inv_tm, nr.pmm, nr.pe, nr.pi, nr.p_e, nr.p_i
    noise_step = nr.noise_step
    lo, hi = nr.v_lo_rel, nr.v_hi_rel
    co = np.ascontiguousarray(nr.co)  # this job's columns: contiguous rows for SIMD
    ptr, tgt, rec, w, dense_first, dense_rec, lif_node, max_row = syn
    seed, sigma_thr, jitter_us, t_res, lat = noise_p
    ev_time, ev_node = ev
    s0, n_steps, dt = steps
    rec_idx, rec_every = rec_p
    st_v, st_ie, st_ii, st_refr, st_fly_time, st_fly_node, st_fly_n = st
    n = v_leak.shape[0]
    v = np.zeros(n) if fresh else st_v.copy()
    ie = np.zeros(n) if fresh else st_ie.copy()
    ii = np.zeros(n) if fresh else st_ii.copy()
    vprev = np.zeros(n)  # state at the step start (the other buffer; swapped every step)
    iprev_e = np.zeros(n)
    iprev_i = np.zeros(n)
    refr = np.full(n, -np.inf) if fresh else st_refr.copy()
    flag = np.zeros(n, np.int8)
    thr = thr_rel.copy()
    for k in range(n):
        if dead[k]:
            thr[k] = np.inf  # a dead circuit never reaches threshold
    tau_m = 1.0 / inv_tm
    inv_pe = 1.0 / pe
    inv_pi = 1.0 / pi
    rr = pi * inv_pe  # e^{-dt (1/tau_i - 1/tau_e)}
    noise = np.zeros(n)  # this step's membrane-noise increments
    # end values this close below threshold are searched exactly (the event moments' remainder)
    margin = 1e-9 * np.abs(thr_rel) + 1e-12
    # on-chip spikes in flight (latency): arrival times (µs) and nodes, sorted by time; at most
    # every neuron's spikes within one latency (a refractory period apart) are in flight at once
    n_fly = flight_capacity(n, lat, tau_ref.min() if n > 0 else 1.0, dt)
    f_time = np.zeros(n_fly)
    f_node = np.zeros(n_fly, np.int64)
    n_f = 0
    f_step = 0
    # the events of one step, sorted by time (built when a crossing search needs them), and the
    # step's candidates: neurons whose bound reaches threshold, with their next crossing
    l_time = np.zeros(e_end - e_start + n + n_fly + 1)
    l_node = np.zeros(e_end - e_start + n + n_fly + 1, np.int64)
    cand = np.zeros(n, np.int64)
    cand_t = np.zeros(n)
    pos = np.full(n, -1, np.int64)  # a neuron's place in cand (-1: none)
    seen = np.zeros(n, np.int64)  # the last spike (n_spk) that reached a neuron
    n_spk = 0
    gj = np.zeros(4, np.int64)  # pending group of dense-row events (first synapse, d)
    gd = np.zeros(4)
    zero = np.zeros(max_row)
    sat_w = np.zeros(max_row)  # (a row's effective weights under saturation)
    count = 0
    cap = out_time.shape[0]
    key_mem = stream_key(seed, trial, _STREAM_MEMBRANE)
    key_jit = stream_key(seed, trial, _STREAM_JITTER)
    if sigma_thr > 0.0:
        key_thr = stream_key(seed, trial, _STREAM_THRESHOLD)
        for k in range(n):
            thr[k] += sigma_thr * normal(key_thr, k + k_lo)
    # a finite reset conductance (inv_t_reset > 0): during the refractory period V relaxes from the
    # threshold to the reset, v_reset + (thr - v_reset) e^{-(t - t_spike)/tau_reset}; it is released
    # from v_free = that value at t_spike + tau_ref (instant reset: v_free = v_reset). Only the
    # release value acts on the dynamics: while held the kernel (and a run's end state) keeps
    # v_free; the traces show the relaxation
    inv_trs = nr.inv_t_reset
    inv_imax = nr.inv_i_max  # saturating synaptic inputs: 1 / I_max (0: linear)
    saturating = False
    for k in range(n):
        if inv_imax[k] > 0.0:
            saturating = True
    v_free = v_reset_rel.copy()
    relax = False
    for k in range(n):
        if inv_trs[k] > 0.0 and not dead[k]:
            v_free[k] = _held_value(v_reset_rel[k], thr[k], tau_ref[k], inv_trs[k])
            relax = True
    noisy = False
    for k in range(n):
        if noise_step[k] > 0.0:
            noisy = True
    hk = np.zeros(n, np.uint32)  # hashed noise counters (the global neuron index)
    if noisy:
        for k in range(n):
            hk[k] = mix32((k + k_lo) * _GOLD)
    e = e_start
    n_rec = rec_idx.shape[0]
    key_s = np.uint32(0)
    for s in range(s0, s0 + n_steps):
        t0 = s * dt
        t1 = t0 + dt
        if n_rec > 0 and (s - s0) % rec_every == 0:
            sample = (s - s0) // rec_every
            for r in range(n_rec):
                kr = rec_idx[r] - k_lo
                if 0 <= kr < n:
                    vr = v[kr]
                    if relax and refr[kr] > t0:  # held: on its way to the reset (the kernel keeps v_free)
                        vr = _held_value(v_reset_rel[kr], thr[kr], t0 - (refr[kr] - tau_ref[kr]), inv_trs[kr])
                    traces[r, sample] = vr + v_leak[kr]
        # exact propagation of every neuron over the step into the other buffers, plus the
        # membrane-noise increment approx_normal(key_s, k + k_lo) (branch-free loops: SIMD)
        v, vprev = vprev, v
        ie, iprev_e = iprev_e, ie
        ii, iprev_i = iprev_i, ii
        if noisy:
            key_s = np.uint32(mix32(key_mem ^ mix32(s * 0x27D4EB2F + 0x165667B1)))
            for k in range(n):
                a = iprev_e[k]
                b = iprev_i[k]
                noise[k] = noise_step[k] * approx_normal_hashed(key_s, hk[k])
                v[k] = pmm[k] * vprev[k] + p_e[k] * a + p_i[k] * b + noise[k]
                ie[k] = pe[k] * a
                ii[k] = pi[k] * b
        else:
            for k in range(n):
                a = iprev_e[k]
                b = iprev_i[k]
                v[k] = pmm[k] * vprev[k] + p_e[k] * a + p_i[k] * b
                ie[k] = pe[k] * a
                ii[k] = pi[k] * b
        # the step's input events, added at their exact times to the end-of-step state
        e_step = e
        ng, gk0, gm, gs = 0, -1, 0, 0
        t_mid = t0 + 0.5 * dt
        if f_step > 0:  # the last step's arrivals leave the flight list
            for q in range(f_step, n_f):
                f_time[q - f_step] = f_time[q]
                f_node[q - f_step] = f_node[q]
            n_f -= f_step
        f_step = 0  # on-chip spikes of earlier steps arriving in this one
        if saturating:  # each event sees the currents the earlier ones left: in time order (inputs first at ties)
            while (e < e_end and ev_time[e] < t1) or (f_step < n_f and f_time[f_step] < t1):
                if e < e_end and ev_time[e] < t1 and not (f_step < n_f and f_time[f_step] < ev_time[e]):
                    _add_saturating(ev_node[e], t_mid - ev_time[e], ptr, tgt, rec, w, dense_first, dense_rec, v, ie,
                                    ii, co, k_lo, inv_imax, sat_w)
                    e += 1
                else:
                    _add_saturating(f_node[f_step], t_mid - f_time[f_step], ptr, tgt, rec, w, dense_first, dense_rec,
                                    v, ie, ii, co, k_lo, inv_imax, sat_w)
                    f_step += 1
        while e < e_end and ev_time[e] < t1:
            ng, gk0, gm, gs = _push(ev_node[e], t_mid - ev_time[e], ng, gk0, gm, gs, gj, gd, ptr, tgt, rec, w,
                                    dense_first, dense_rec, zero, v, ie, ii, co, k_lo)
            e += 1
        while f_step < n_f and f_time[f_step] < t1:
            ng, gk0, gm, gs = _push(f_node[f_step], t_mid - f_time[f_step], ng, gk0, gm, gs, gj, gd, ptr, tgt, rec,
                                    w, dense_first, dense_rec, zero, v, ie, ii, co, k_lo)
            f_step += 1
        if ng > 0:
            _add_dense(gj, gd, ng, gk0, gm, gs, w, zero, v, ie, ii, co, k_lo)
        # candidates (SIMD): refractory ends in the step, membranes at threshold at the step end
        # (noise), and membranes whose upper bound over the step reaches threshold. Between events
        # I_exc only decays and exc events only add (I_exc(t) <= I_exc(t1) e^{dt/tau_e}); I_inh <= 0
        # only decays towards 0 (I_inh(t) <= I_inh(t0) e^{-dt/tau_i}); so V(t) <= V* + (V(t0) - V*)
        # e^{-(t - t0)/tau_m} <= the bound, V* = tau_m (I_exc max + I_inh max)
        hits = _bound_flags(t0, t1, refr, vprev, v_free, tau_m, iprev_e, iprev_i, ie, ii, pe, inv_pe, inv_pi, rr,
                            v, pmm, thr, lo, hi, flag)
        if hits == 0:
            continue
        m = -1  # this step's event list, built on first use (m_in: its input events; then on-chip spikes)
        m_in = 0
        n_c = 0
        for k in range(n):
            if flag[k] == 0:
                continue
            if refr[k] <= t0 and v[k] - noise[k] < thr[k] - margin[k]:
                # V provably rising throughout the step to an end below threshold has no crossing:
                # dV/dt >= -ub/tau_m + I_exc(t0) e^{-dt/tau_e} + I_inh(t1) e^{dt/tau_i} > 0
                vs = tau_m[k] * _current_bound(iprev_e[k], iprev_i[k], ie[k], pe[k], inv_pe[k], rr[k])
                ub = max(vs + (vprev[k] - vs) * pmm[k], vprev[k])
                a0 = iprev_e[k]
                if -ub * inv_tm[k] + min(a0 * pe[k], a0) + min(ii[k] * inv_pi[k], ii[k]) > 0.0:
                    continue
            if m < 0:
                m = 0
                for q in range(e_step, e):
                    l_time[m] = ev_time[q]
                    l_node[m] = ev_node[q]
                    m += 1
                for q in range(f_step):  # (arrivals merged in time order)
                    m = _insert_event(f_time[q], f_node[q], l_time, l_node, m)
                m_in = m
            if flag[k] == 1 and not saturating and t0 < refr[k] < t1 and _refractory_end(
                    k, k_lo, t0, t1, refr[k], m, vprev, iprev_e, iprev_i, v, ie, thr, l_time, l_node, v_free,
                    inv_tm, inv_te, inv_ti, pmm, pe, inv_pe, rr, ptr, tgt, rec, w, dense_first):
                continue
            cand[n_c] = k
            pos[k] = n_c
            cand_t[n_c] = _candidate(k, k_lo, t0, t1, refr[k], m, m_in, vprev, iprev_e, iprev_i, v, ie, ii, noise,
                                     thr, l_time, l_node, v_free, lo, hi, inv_imax, flag[k], inv_tm, inv_te, inv_ti,
                                     ptr, tgt, rec, w, dense_first)
            n_c += 1
        # spikes in time order: each is delivered to its targets within the step at its exact
        # time, and the crossings of the neurons it reaches (and its own next one) are searched again
        while True:
            c = -1
            tc = np.inf
            for q in range(n_c):
                if 0.0 <= cand_t[q] < tc:
                    tc = cand_t[q]
                    c = q
            if c < 0:
                break
            k = cand[c]
            t_out = tc
            if jitter_us > 0.0:
                t_out = max(tc + jitter_us * normal(key_jit, s * n_total + k + k_lo), 0.0)  # keyed by (step, neuron)
            if count < cap:
                # keep the trial's spikes sorted by (time, neuron): a clock tick can span two steps
                tq = math.floor(t_out / t_res) * t_res if t_res > 0.0 else t_out
                j = count
                while j > 0 and (out_time[j - 1] > tq or (out_time[j - 1] == tq and out_neuron[j - 1] > k + k_lo)):
                    out_time[j] = out_time[j - 1]
                    out_neuron[j] = out_neuron[j - 1]
                    j -= 1
                out_time[j] = tq
                out_neuron[j] = k + k_lo
            count += 1
            refr[k] = tc + tau_ref[k]
            node = lif_node[k + k_lo]
            if ptr[node + 1] > ptr[node] and tc + lat >= t1:  # on-chip targets in a later step: in flight
                n_f = _insert_event(tc + lat, node, f_time, f_node, n_f)
            elif ptr[node + 1] > ptr[node]:  # on-chip targets reached within the step: deliver now
                m = _insert_event(tc + lat, node, l_time, l_node, m)
                n_spk += 1
                for j in range(ptr[node], ptr[node + 1]):
                    kt = tgt[j] - k_lo
                    if kt < 0 or kt >= n or kt == k or seen[kt] == n_spk:  # (multapses: once)
                        continue
                    seen[kt] = n_spk
                    q = pos[kt]
                    if q < 0:  # a new candidate (its end state so far is the moments' one)
                        q = n_c
                        pos[kt] = q
                        cand[q] = kt
                        n_c += 1
                    cand_t[q] = _candidate(kt, k_lo, t0, t1, refr[kt], m, m_in,
                                           vprev, iprev_e, iprev_i, v, ie, ii, noise, thr, l_time, l_node,
                                           v_free, lo, hi, inv_imax, flag[kt], inv_tm, inv_te, inv_ti, ptr, tgt, rec, w,
                                           dense_first)
            if refr[k] >= t1 and _synapse_index(node, k + k_lo, ptr, tgt, dense_first) < 0:
                v[k] = v_free[k]  # refractory past the step end, no event onto itself: currents as they are
                cand_t[c] = -1.0
            else:
                cand_t[c] = _candidate(k, k_lo, t0, t1, refr[k], m, m_in,
                                       vprev, iprev_e, iprev_i, v, ie, ii, noise, thr, l_time, l_node,
                                       v_free, lo, hi, inv_imax, flag[k], inv_tm, inv_te, inv_ti, ptr, tgt, rec, w,
                                       dense_first)
        for q in range(n_c):
            pos[cand[q]] = -1
    for k in range(n):
        st_v[k] = v[k]
        st_ie[k] = ie[k]
        st_ii[k] = ii[k]
        st_refr[k] = refr[k]
    # spikes in flight at the end (the last step's arrivals excluded), for the run that continues
    n_keep = min(n_f - f_step, st_fly_time.shape[0])
    for q in range(n_keep):
        st_fly_time[q] = f_time[f_step + q]
        st_fly_node[q] = f_node[f_step + q]
    st_fly_n[0] = n_f - f_step
    return count


@nb.njit(cache=True, error_model="numpy", **NO_NRT)
def _bound_flags(t0, t1, refr, vprev, v_reset_rel, tau_m, iprev_e, iprev_i, ie, ii, pe, inv_pe, inv_pi, rr, v, pmm,
                 thr, lo, hi, flag) -> int:
    """Flag the step's candidates (returns their number): 1 for refractory periods ending in the
    step and membranes whose upper bound over the step reaches threshold, 2 for membranes whose
    lower bound reaches the lower rail ``lo`` (V >= V_* + (V(t0) - V_*) e^{-(t - t0)/tau_m},
    V_* = tau_m I_min, I_exc >= its start value decayed over the step, I_inh >= its end value
    grown back over it); V of neurons refractory past the step end is set to the reset, the others'
    end values are held within the rails [lo, hi]. (A function of its own, compiled without NRT:
    inside the kernel this loop was not vectorized.)"""
    hits = 0
    for k in range(v.shape[0]):  # branch-free (SIMD)
        rk = refr[k]
        v0 = vprev[k] if rk <= t0 else v_reset_rel[k]
        vs = tau_m[k] * _current_bound(iprev_e[k], iprev_i[k], ie[k], pe[k], inv_pe[k], rr[k])
        vk = v[k]
        f = (rk < t1) & ((max(vs + (v0 - vs) * pmm[k], v0, vk) >= thr[k]) | (rk > t0))
        a0 = iprev_e[k]
        b1 = ii[k]
        vl = tau_m[k] * (min(a0, a0 * pe[k]) + min(b1, b1 * inv_pi[k]))
        railed = (rk < t1) & (min(vl + (v0 - vl) * pmm[k], v0) <= lo[k])
        v[k] = min(max(vk, lo[k]), hi[k]) if rk < t1 else v_reset_rel[k]
        flag[k] = 2 if railed else f
        hits += f | railed
    return hits


@nb.njit(cache=True, **NO_NRT)
def _refractory_end(k, k_lo, t0, t1, t_free, m, vprev, iprev_e, iprev_i, v, ie, thr, l_time, l_node, v_reset_rel,
                    inv_tm, inv_te, inv_ti, pmm, pe, inv_pe, rr, ptr, tgt, rec, w, dense_first) -> bool:
    """A refractory period (held since before the step) that ends inside the step at ``t_free``,
    with only input events in the step (``m``): when V's upper bound from the reset on stays below
    threshold (V(t) <= V* + (v_reset - V*) e^{-(t - t_free)/tau_m}, V* = tau_m x the step's current
    bound), there is no crossing and the end state follows from the bulk's exactly. The bulk let V
    evolve freely from V(t0) over the whole step; held at v_reset until t_free instead (the
    currents evolve the same either way), by superposition

        V(t1) = V_bulk(t1) - V(t0) e^{-dt/tau_m} + (v_reset - W) e^{-h/tau_m},   h = t1 - t_free,

    W the membrane the currents build from 0 over [t0, t_free): a0 P_exc(lag) + b0 P_inh(lag) plus
    w P(t_free - t_e) for each event before t_free (lag = t_free - t0). Writes V(t1) and returns
    True; False (nothing written) when a crossing cannot be excluded."""
    h = t1 - t_free
    vr = v_reset_rel[k]
    emf = math.exp(-h * inv_tm[k])
    vs = _current_bound(iprev_e[k], iprev_i[k], ie[k], pe[k], inv_pe[k], rr[k]) / inv_tm[k]
    if max(vs + (vr - vs) * emf, vr) >= thr[k]:
        return False
    lag = t_free - t0
    de, di = inv_te[k] - inv_tm[k], inv_ti[k] - inv_tm[k]
    em = math.exp(-lag * inv_tm[k])
    wv = (kernel_p_from(lag, em, math.exp(-lag * inv_te[k]), de) * iprev_e[k]
          + kernel_p_from(lag, em, math.exp(-lag * inv_ti[k]), di) * iprev_i[k])
    for q in range(m):
        if l_time[q] >= t_free:
            break
        we, wi = _weights_onto(l_node[q], k + k_lo, ptr, tgt, rec, w, dense_first)
        x = t_free - l_time[q]
        if we != 0.0 or wi != 0.0:
            em = math.exp(-x * inv_tm[k])
            if we != 0.0:
                wv += we * kernel_p_from(x, em, math.exp(-x * inv_te[k]), de)
            if wi != 0.0:
                wv += wi * kernel_p_from(x, em, math.exp(-x * inv_ti[k]), di)
    v[k] = v[k] - vprev[k] * pmm[k] + (vr - wv) * emf
    return True


# a call compiled without NRT: inlined, or with its arrays in NamedTuples, every one of its array
# arguments was reference counted (an atomic operation each) per candidate, a sixth of W1's time
@nb.njit(cache=True, **NO_NRT)
def _candidate(k, k_lo, t0, t1, t_free, m, m_in, vprev, iprev_e, iprev_i, v, ie, ii, noise, thr, l_time, l_node,
               v_reset_rel, lo, hi, inv_imax, flag_k, inv_tm, inv_te, inv_ti, ptr, tgt, rec, w, dense_first) -> float:
    """Next crossing time of local neuron ``k`` in the step (-1: none) by an exact replay from the
    step start, writing its exact end-of-step state into v/ie/ii (the step's membrane-noise
    increment included; V held at reset while refractory past t1). A crossing that only the noise,
    added at the step end, makes is placed by cubic Hermite interpolation between the last free
    point and the step end.

    Shortcut: when the free part of the step [max(t0, t_free), t1) holds no event (all events
    are inputs, already in the end state), it is one free segment, from V at its start (the
    step's start value, or the reset) with the currents propagated back from the step end.

    A membrane that may reach the lower rail (``flag_k`` 2; with rails, any neuron after on-chip
    spikes reached it in the step: the bulk's bound did not see them) is replayed exactly."""
    t_a = max(t0, t_free)
    if flag_k == 2 or (m > m_in and lo[k] > -np.inf):
        pass  # (the replay below: the shortcuts know no rail)
    elif t_a < t1 and m == m_in and (m == 0 or l_time[m - 1] <= t_a):
        h = t1 - t_a
        _, _, a, b = _free(-h, 0.0, ie[k], ii[k], inv_tm[k], inv_te[k], inv_ti[k])
        va = vprev[k] if t_free <= t0 else v_reset_rel[k]
        x = _start_crossing(va, a, b, thr[k], h, inv_tm[k], inv_te[k], inv_ti[k])
        if x >= 0.0:
            return t_a + x
        if t_free > t0:  # the propagated end value started from the held value: restart it
            vx, _, _, _ = _free(h, va, a, b, inv_tm[k], inv_te[k], inv_ti[k])
            v[k] = vx + noise[k]
        if v[k] < thr[k]:
            return -1.0
        dva = -va * inv_tm[k] + a + b
        dvb = -v[k] * inv_tm[k] + ie[k] + ii[k]
        return t_a + h * _hermite_root(va - thr[k], v[k] - thr[k], dva * h, dvb * h, 1e-13)
    elif t_free <= t0 and m == m_in and v[k] - noise[k] >= thr[k]:
        # usual crossing: after the neuron's last event of the step. Step back from the end state
        # to that event; no earlier (transient) crossing when V's bound up to it stays below
        t_last = t0
        for q in range(m - 1, -1, -1):
            if _synapse_index(l_node[q], k + k_lo, ptr, tgt, dense_first) >= 0:
                t_last = max(l_time[q], t0)
                break
        hb = t1 - t_last
        vl, _, al, bl = _free(-hb, v[k] - noise[k], ie[k], ii[k], inv_tm[k], inv_te[k], inv_ti[k])
        if vl < thr[k]:
            # no crossing before t_last: between t0 and t_last the summed current lies in [I_min, I_max]
            # (I_exc only decays from t0 and exc events add; I_inh only decays towards t_last and inh
            # events subtract), so by comparison V(t0 + x) <= V* + (V(t0) - V*) e^{-x/tau_m}, V* = tau_m I_max
            # (forward from t0), and V(t_last - y) <= V_* + (V(t_last) - V_*) e^{y/tau_m}, V_* = tau_m I_min
            # (backward from t_last). The forward bound stays below threshold for x < x1, the backward one
            # for y < y1 (for every y when V(t_last) <= V_*: V rises into t_last); x1 + y1 >= lag covers it.
            lag = t_last - t0
            a0 = iprev_e[k]
            i_min = min(a0 * math.exp(-lag * inv_te[k]), a0) + min(bl * math.exp(lag * inv_ti[k]), bl)
            v_lo = i_min / inv_tm[k]
            clear = t_last == t0 or vl <= v_lo
            v0 = vprev[k]
            if not clear and v0 < thr[k]:
                vs = _current_bound(a0, iprev_i[k], ie[k], math.exp(-(t1 - t0) * inv_te[k]),
                                    math.exp((t1 - t0) * inv_te[k]), math.exp(-(t1 - t0) * (inv_ti[k] - inv_te[k])))
                vs /= inv_tm[k]
                if vs <= thr[k]:
                    clear = True
                else:
                    x1 = math.log((vs - v0) / (vs - thr[k])) / inv_tm[k]
                    y1 = math.log((thr[k] - v_lo) / (vl - v_lo)) / inv_tm[k]
                    clear = x1 + y1 > lag * (1.0 + 1e-9)
            if clear:
                x = segment_crossing(vl, al, bl, thr[k], hb, inv_tm[k], inv_te[k], inv_ti[k])
                if x >= 0.0:
                    return t_last + x
    tc, vx, ax, bx = _replay(k + k_lo, t0, t1, t_free, vprev[k], iprev_e[k], iprev_i[k], v_reset_rel[k], thr[k],
                             lo[k], inv_imax[k], inv_tm[k], inv_te[k], inv_ti[k], l_time, l_node, m, ptr, tgt, rec,
                             w, dense_first)
    if tc >= 0.0:
        return tc
    # no crossing: (vx, ax, bx) is the state at t1
    ie[k] = ax
    ii[k] = bx
    if t_free >= t1:
        v[k] = v_reset_rel[k]
        return -1.0
    v[k] = min(max(vx + noise[k], lo[k]), hi[k])
    if v[k] < thr[k]:
        return -1.0
    t_a = max(t0, t_free)  # noise crossing: from the start of the free part to the noisy end
    h = t1 - t_a
    _, _, aa, ba = _free(-h, vx, ax, bx, inv_tm[k], inv_te[k], inv_ti[k])  # currents at t_a (no events after: approx.)
    va = vprev[k] if t_free <= t0 else v_reset_rel[k]
    if va >= thr[k]:
        return t_a
    dva = -va * inv_tm[k] + aa + ba
    dvb = -v[k] * inv_tm[k] + ax + bx
    return t_a + h * _hermite_root(va - thr[k], v[k] - thr[k], dva * h, dvb * h, 1e-13)


@nb.njit(parallel=True, cache=True, error_model="numpy")
def simulate(nr, syn, noise: Noise, jobs: Jobs, ev: Events, steps: Steps, rec: Recording, out: Output, state: State,
             fresh: bool) -> None:
    """Run jobs in parallel: job i is trial ``jobs.trial[i]`` for the LIF neurons
    [jobs.lo[i], jobs.hi[i]) (a trial may be split into neuron ranges when no LIF neuron feeds
    another) with its input events, over the absolute steps of ``steps``. Random draws are keyed
    by trial, neuron and absolute step, so any split, subset or continuation reruns bit-identically.

    ``nr``, ``syn``: the lowered network (:class:`~neuroemu.backends.emulator.lowering.Neurons`,
    :class:`~neuroemu.backends.emulator.lowering.Synapses`). ``state`` (trials, n_lif) arrays,
    indexed by trial id: read at the start (unless ``fresh``: every trial starts at rest) and
    overwritten with the state at the end (each job its own neuron range). Writes spikes (µs, LIF
    indices) and their true counts into ``out`` (a job whose count exceeds the capacity is rerun
    by the scheduler).
    """
    n = nr.v_leak.shape[0]
    n_spikes = out.n_spikes  # (an array taken out of the tuple before the parallel loop: set in it, a tuple
    # field's item assignment is lost)
    for t in nb.prange(jobs.trial.shape[0]):
        a, b = jobs.lo[t], jobs.hi[t]
        k = jobs.trial[t]
        job = Neurons(nr.v_leak[a:b], nr.v_reset_rel[a:b], nr.thr_rel[a:b], nr.tau_ref[a:b], nr.dead[a:b],
                      nr.inv_tm[a:b], nr.inv_te[a:b], nr.inv_ti[a:b], nr.pmm[a:b], nr.pe[a:b], nr.pi[a:b], nr.p_e[a:b],
                      nr.p_i[a:b], nr.co[:, a:b], nr.noise_step[a:b], nr.v_lo_rel[a:b], nr.v_hi_rel[a:b],
                      nr.inv_t_reset[a:b], nr.inv_i_max[a:b])
        rows = State(state.v[k, a:b], state.ie[k, a:b], state.ii[k, a:b], state.refr[k, a:b], state.fly_time[k],
                     state.fly_node[k], state.fly_n[k:k + 1])
        n_spikes[t] = _run_trial(k, a, n, job, syn, noise, ev, jobs.ev_start[t], jobs.ev_end[t], steps, rec,
                                  out.time[t], out.neuron[t], out.traces[t], rows, fresh)
