"""The one implementation of the emulated chip's neuron dynamics (numba).

Current-based LIF with exponential excitatory and inhibitory synaptic currents, in chip time
(µs) and chip potentials (V), state relative to each neuron's leak potential::

    dV/dt = -V / tau_mem + I_exc + I_inh        (I: current over membrane capacitance, V/µs)
    dI_x/dt = -I_x / tau_syn_x,                 I_x += w at each input event (w in V/µs)

Integration is exact for the linear sub-threshold dynamics: every step of ``dt`` applies the
closed-form propagator. Events arrive at exact (off-grid) times: an event ``u`` µs before the
end of its step contributes ``w e^{-u/tau_syn}`` to I and ``w P(u)`` to V, which is accumulated
per neuron as the moments ``sum w, sum w u, sum w u^2`` (second-order Taylor expansion; error
O((u/tau)^3), below 1e-6 of a weight at dt = tau/100). Spikes of on-chip neurons are delivered
in the step after they occur, at their exact times. A threshold crossing inside a step is
located by cubic Hermite interpolation of V between the step's ends (V and dV/dt known
exactly), solved by safeguarded Newton. After a spike V is clamped to the reset potential for
the refractory time, which may end inside a step (handled exactly).

Noise: membrane noise is an Ornstein-Uhlenbeck process through the leak (stationary std
``sigma_mem``), threshold jitter is a per-trial, per-neuron threshold offset, spike-time
jitter shifts each emitted spike. Readout times are floored to the timestamp clock.
All draws come from :mod:`neuroemu.backends.emulator.random` (counter-based): trials are
independent and bit-reproducible; ``prange`` runs trials in parallel.
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

from neuroemu.backends.emulator.random import approx_normal, mix32, normal, stream_key

_STREAM_MEMBRANE, _STREAM_THRESHOLD, _STREAM_JITTER = 1, 2, 3


@nb.njit(inline="always", cache=True)
def kernel_p(h: float, inv_tm: float, inv_ts: float) -> float:
    """V response at time h to a unit step of synaptic current at 0 (µs):
    int_0^h e^{-(h-s)/tau_m} e^{-s/tau_s} ds, stable when tau_m ~ tau_s."""
    d = inv_ts - inv_tm
    x = h * d
    em = math.exp(-h * inv_tm)
    if abs(x) < 1e-6:
        return h * em * (1.0 - 0.5 * x + x * x / 6.0)
    return em * (-math.expm1(-x)) / d


@nb.njit(inline="always", cache=True)
def _hermite_root(f0: float, f1: float, d0h: float, d1h: float) -> float:
    """Root in [0, 1] of the cubic Hermite interpolant with values f0 < 0 <= f1 and scaled
    end derivatives d0h, d1h (derivative x interval length)."""
    lo, hi = 0.0, 1.0
    x = f0 / (f0 - f1)  # linear guess
    for _ in range(30):
        x2 = x * x
        x3 = x2 * x
        p = (2 * x3 - 3 * x2 + 1) * f0 + (x3 - 2 * x2 + x) * d0h + (-2 * x3 + 3 * x2) * f1 + (x3 - x2) * d1h
        if p < 0:
            lo = x
        else:
            hi = x
        dp = (6 * x2 - 6 * x) * f0 + (3 * x2 - 4 * x + 1) * d0h + (-6 * x2 + 6 * x) * f1 + (3 * x2 - 2 * x) * d1h
        xn = x - p / dp if dp != 0.0 else 0.5 * (lo + hi)
        if not (lo < xn < hi):
            xn = 0.5 * (lo + hi)
        if abs(xn - x) < 1e-13 or hi - lo < 1e-13:
            return xn
        x = xn
    return x


@nb.njit(inline="always", cache=True)
def _deliver(node, u, ptr, tgt, rec, w, dense_first, w_exc, w_inh, ae0, ae1, ae2, ai0, ai1, ai2, lo, hi, k_lo):
    """Add the event moments (sum w, sum w u, sum w u^2) of one presynaptic event to its targets
    among the neurons [k_lo, k_lo + len(ae0)) this job simulates (accumulators are indexed
    locally); returns the local range [lo, hi) touched so far this step.

    Rows whose targets are one contiguous range (dense layers) use split exc/inh weights and a
    branch-free loop the compiler vectorizes; other rows scatter."""
    uu = u * u
    k0 = dense_first[node]
    j0 = ptr[node]
    m = ptr[node + 1] - j0
    n = ae0.shape[0]
    if k0 >= 0:  # one loop per accumulator: two pointers each, so LLVM vectorizes them
        ks = max(k0, k_lo)
        ke = min(k0 + m, k_lo + n)
        if ks >= ke:
            return lo, hi
        for acc, src, f in ((ae0, w_exc, 1.0), (ae1, w_exc, u), (ae2, w_exc, uu),
                            (ai0, w_inh, 1.0), (ai1, w_inh, u), (ai2, w_inh, uu)):
            a = acc[ks - k_lo:ke - k_lo]
            b = src[j0 + ks - k0:j0 + ke - k0]
            for q in range(ke - ks):
                a[q] += b[q] * f
        return min(lo, ks - k_lo), max(hi, ke - k_lo)
    for j in range(j0, j0 + m):
        k = tgt[j] - k_lo
        if k < 0 or k >= n:
            continue
        wj = w[j]
        if rec[j] == 0:
            ae0[k] += wj
            ae1[k] += wj * u
            ae2[k] += wj * uu
        else:
            ai0[k] += wj
            ai1[k] += wj * u
            ai2[k] += wj * uu
        lo = min(lo, k)
        hi = max(hi, k + 1)
    return lo, hi


@nb.njit(inline="always", cache=True)
def _restart(k, r, v_reset_rel, ie, ii, inv_tm, inv_te, inv_ti) -> tuple[float, float]:
    """V at the end of a step whose last ``r`` µs follow the end of a refractory period, and
    dV/dt at that restart. ``ie/ii`` hold the currents at the step end."""
    a = ie[k] * math.exp(r * inv_te[k])
    b = ii[k] * math.exp(r * inv_ti[k])
    v_end = (v_reset_rel[k] * math.exp(-r * inv_tm[k]) + kernel_p(r, inv_tm[k], inv_te[k]) * a
             + kernel_p(r, inv_tm[k], inv_ti[k]) * b)
    return v_end, -v_reset_rel[k] * inv_tm[k] + a + b


@nb.njit(inline="always", cache=True)
def _v_free(x, v, a, b, inv_tm, inv_te, inv_ti) -> float:
    """V after x µs of free evolution from (v, I_exc = a, I_inh = b)."""
    return v * math.exp(-x * inv_tm) + kernel_p(x, inv_tm, inv_te) * a + kernel_p(x, inv_tm, inv_ti) * b


@nb.njit(inline="always", cache=True)
def _v_dv(x, v, a, b, inv_tm, inv_te, inv_ti):
    """(V, dV/dt) after x µs of free evolution from (v, a, b): 3 exp + 2 expm1."""
    em = math.exp(-x * inv_tm)
    ee = math.exp(-x * inv_te)
    ei = math.exp(-x * inv_ti)
    de = inv_te - inv_tm
    di = inv_ti - inv_tm
    pe_ = x * em if abs(x * de) < 1e-6 else em * (-math.expm1(-x * de)) / de
    pi_ = x * em if abs(x * di) < 1e-6 else em * (-math.expm1(-x * di)) / di
    vx = v * em + pe_ * a + pi_ * b
    return vx, -vx * inv_tm + a * ee + b * ei


@nb.njit(cache=True)
def _segment_root(v, a, b, thr, h, vh, dvh, inv_tm, inv_te, inv_ti) -> float:
    """First x in (0, h] with V(x) = thr on a free segment from (v, a, b) below threshold to
    V(h) = vh >= thr (dV/dt = dvh there): Newton on the exact trajectory from the cubic
    Hermite estimate, safeguarded by the bracket. One or two iterations usually suffice."""
    dv0 = -v * inv_tm + a + b
    x = h * _hermite_root(v - thr, vh - thr, dv0 * h, dvh * h)
    lo, hi = 0.0, h
    for _ in range(40):
        vx, df = _v_dv(x, v, a, b, inv_tm, inv_te, inv_ti)
        f = vx - thr
        if f >= 0.0:
            hi = x
        else:
            lo = x
        xn = x - f / df if df > 0.0 else 0.5 * (lo + hi)
        if not (lo < xn < hi):
            xn = 0.5 * (lo + hi)
        if abs(xn - x) < 1e-11 * (1.0 + h):
            return xn
        x = xn
    return hi


@nb.njit(inline="always", cache=True)
def _synapse_index(node, k, ptr, tgt, dense_first) -> int:
    """Index of the first synapse node -> k in the CSR table (rows sorted by target), or -1."""
    lo, hi = ptr[node], ptr[node + 1]
    k0 = dense_first[node]
    if k0 >= 0:
        return lo + (k - k0) if k0 <= k < k0 + (hi - lo) else -1
    while lo < hi:  # binary search in the row
        mid = (lo + hi) // 2
        if tgt[mid] < k:
            lo = mid + 1
        else:
            hi = mid
    return lo if lo < ptr[node + 1] and tgt[lo] == k else -1


@nb.njit(cache=True)
def _last_event(k, t0, ev_time, ev_node, e_lo, e_hi, ptr, tgt, dense_first) -> float:
    """Time of the last input event onto neuron k inside this step (t0 if none)."""
    t_last = t0
    for q in range(e_lo, e_hi):
        if ev_time[q] > t_last and _synapse_index(ev_node[q], k, ptr, tgt, dense_first) >= 0:
            t_last = ev_time[q]
    return t_last


@nb.njit(cache=True)
def _exact_crossing(k, t0, t1, thr, v0, a0, b0, inv_tm, inv_te, inv_ti, ev_time, ev_node, e_lo, e_hi,
                    prev_idx, prev_t, nprev, lif_node, ptr, tgt, rec, w, dense_first, buf_t, buf_w, buf_r) -> float:
    """Exact first threshold crossing of neuron k in [t0, t1), replaying this step's events one by one.

    Start state (v0, a0, b0) at t0 excludes the step's events. Returns -1 if there is none
    (e.g. membrane noise, added at the step end, made the crossing)."""
    m = 0
    for src in range(2):
        count = e_hi - e_lo if src == 0 else nprev
        for q in range(count):
            if src == 0:
                node, te = ev_node[e_lo + q], ev_time[e_lo + q]
            else:
                node, te = lif_node[prev_idx[q]], prev_t[q]
            j = _synapse_index(node, k, ptr, tgt, dense_first)
            if j < 0:
                continue
            while j < ptr[node + 1] and tgt[j] == k:  # multapses follow each other
                if te <= t0:  # spike of the previous step: already decaying at t0
                    x = t0 - te
                    if rec[j] == 0:
                        v0 += w[j] * kernel_p(x, inv_tm, inv_te)
                        a0 += w[j] * math.exp(-x * inv_te)
                    else:
                        v0 += w[j] * kernel_p(x, inv_tm, inv_ti)
                        b0 += w[j] * math.exp(-x * inv_ti)
                elif m < buf_t.shape[0]:
                    buf_t[m], buf_w[m], buf_r[m] = te, w[j], rec[j]
                    m += 1
                j += 1
    # insertion sort of the (few) in-step events by time
    for i in range(1, m):
        tt, ww, rr = buf_t[i], buf_w[i], buf_r[i]
        j = i - 1
        while j >= 0 and buf_t[j] > tt:
            buf_t[j + 1], buf_w[j + 1], buf_r[j + 1] = buf_t[j], buf_w[j], buf_r[j]
            j -= 1
        buf_t[j + 1], buf_w[j + 1], buf_r[j + 1] = tt, ww, rr
    ta = t0
    v, a, b = v0, a0, b0
    if v >= thr:
        return t0
    for i in range(m + 1):
        tb = buf_t[i] if i < m else t1
        h = tb - ta
        if h > 0.0:
            vb, dvb = _v_dv(h, v, a, b, inv_tm, inv_te, inv_ti)
            if vb >= thr:
                return ta + _segment_root(v, a, b, thr, h, vb, dvb, inv_tm, inv_te, inv_ti)
            a *= math.exp(-h * inv_te)
            b *= math.exp(-h * inv_ti)
            v = vb
            ta = tb
        if i < m:
            if buf_r[i] == 0:
                a += buf_w[i]
            else:
                b += buf_w[i]
    return -1.0


@nb.njit(cache=True, error_model="numpy")
def _run_trial(
    trial, k_lo, n_total, seed, v_leak, v_reset_rel, thr_rel, tau_ref, dead, inv_tm, inv_te, inv_ti, pmm, pe, pi, p_e, p_i,
    c2e, c2i, ke2, ki2, noise_step, sigma_thr, jitter_us, t_res, ptr, tgt, rec, w, dense_first, w_exc, w_inh, lif_node,
    ev_time, ev_node, e_start, e_end, n_steps, dt, rec_idx, rec_every, out_time, out_neuron, traces, max_in,
) -> int:
    # neuron arrays are this job's slice [k_lo, k_lo + n) of all LIF neurons; k is local here,
    # k + k_lo global (synapse targets, random draws and recorded neurons are global)
    n = v_leak.shape[0]
    v = np.zeros(n)
    ie = np.zeros(n)
    ii = np.zeros(n)
    vprev = np.zeros(n)
    iprev_e = np.zeros(n)
    iprev_i = np.zeros(n)
    d0 = np.zeros(n)
    nz = np.zeros(n)  # this step's membrane-noise increment (to recover the noiseless end state)
    had = np.zeros(n, np.uint8)
    a0 = np.zeros(n)  # event moments of the step: exc sum w, sum w u, sum w u^2; then inh
    a1 = np.zeros(n)
    a2 = np.zeros(n)
    b0 = np.zeros(n)
    b1 = np.zeros(n)
    b2 = np.zeros(n)
    refr = np.full(n, -np.inf)
    flag = np.zeros(n, np.uint8)
    thr = thr_rel.copy()
    for k in range(n):
        if dead[k]:
            thr[k] = np.inf  # a dead circuit never reaches threshold
    pend_idx = np.zeros(n, np.int64)
    pend_t = np.zeros(n)
    npend = 0
    prev_idx = np.zeros(n, np.int64)
    prev_t = np.zeros(n)
    nprev = 0
    # replay buffer: at most one entry per synapse onto a neuron
    buf_t = np.zeros(max_in)
    buf_w = np.zeros(max_in)
    buf_r = np.zeros(max_in, np.int8)
    count = 0
    cap = out_time.shape[0]
    key_mem = stream_key(seed, trial, _STREAM_MEMBRANE)
    key_jit = stream_key(seed, trial, _STREAM_JITTER)
    if sigma_thr > 0.0:
        key_thr = stream_key(seed, trial, _STREAM_THRESHOLD)
        for k in range(n):
            thr[k] += sigma_thr * normal(key_thr, k + k_lo)
    noisy = False
    for k in range(n):
        if noise_step[k] > 0.0:
            noisy = True
    e = e_start
    n_rec = rec_idx.shape[0]
    for s in range(n_steps):
        t0 = s * dt
        t1 = t0 + dt
        if n_rec > 0 and s % rec_every == 0:
            sample = s // rec_every
            for r in range(n_rec):
                kr = rec_idx[r] - k_lo
                if 0 <= kr < n:
                    traces[r, sample] = v[kr] + v_leak[kr]
        lo, hi = n, 0  # neurons touched by this step's events
        e_step = e
        while e < e_end and ev_time[e] < t1:
            lo, hi = _deliver(ev_node[e], t1 - ev_time[e], ptr, tgt, rec, w, dense_first, w_exc, w_inh,
                              a0, a1, a2, b0, b1, b2, lo, hi, k_lo)
            e += 1
        for p in range(npend):
            lo, hi = _deliver(lif_node[pend_idx[p]], max(t1 - pend_t[p], 0.0), ptr, tgt, rec, w, dense_first,
                              w_exc, w_inh, a0, a1, a2, b0, b1, b2, lo, hi, k_lo)
        # the spikes just delivered stay available to replay this step exactly
        pend_idx, prev_idx = prev_idx, pend_idx
        pend_t, prev_t = prev_t, pend_t
        nprev = npend
        npend = 0
        # exact propagation of every neuron over the step (branch-free loops: SIMD)
        for k in range(n):
            a = ie[k]
            b = ii[k]
            vk = v[k]
            d0[k] = -vk * inv_tm[k] + a + b
            vprev[k] = vk
            iprev_e[k] = a
            iprev_i[k] = b
            v[k] = pmm[k] * vk + p_e[k] * a + p_i[k] * b
            ie[k] = pe[k] * a
            ii[k] = pi[k] * b
        if lo < hi:
            for k in range(lo, hi):
                had[k] = (a0[k] != 0.0) | (b0[k] != 0.0)
                v[k] += a1[k] - a2[k] * c2e[k] + b1[k] - b2[k] * c2i[k]
                ie[k] += a0[k] - a1[k] * inv_te[k] + a2[k] * ke2[k]
                ii[k] += b0[k] - b1[k] * inv_ti[k] + b2[k] * ki2[k]
                a0[k] = 0.0
                a1[k] = 0.0
                a2[k] = 0.0
                b0[k] = 0.0
                b1[k] = 0.0
                b2[k] = 0.0
        if noisy:
            key_s = mix32(key_mem ^ mix32(s * 0x27D4EB2F + 0x165667B1))
            for k in range(n):
                nz[k] = noise_step[k] * approx_normal(key_s, k + k_lo)
                v[k] += nz[k]
        hits = 0
        for k in range(n):  # clamp refractory neurons; flag crossings and refractory ends
            clamp = refr[k] >= t1
            v[k] = v_reset_rel[k] if clamp else v[k]
            f = (not clamp) & ((v[k] >= thr[k]) | (refr[k] > t0))
            flag[k] = f
            hits += f
        if hits == 0:
            continue
        # refractory periods and threshold crossings (few neurons per step)
        for k in range(n):
            if flag[k] == 0:
                continue
            t_a = t0
            v_a = vprev[k]
            dv_a = d0[k]
            if refr[k] > t0:
                v[k], dv_a = _restart(k, t1 - refr[k], v_reset_rel, ie, ii, inv_tm, inv_te, inv_ti)
                t_a = refr[k]
                v_a = v_reset_rel[k]
            if v[k] < thr[k]:
                continue
            h = t1 - t_a
            dv_b = -v[k] * inv_tm[k] + ie[k] + ii[k]
            tc = -1.0
            v_clean = v[k] - nz[k] if noisy else v[k]
            if t_a == t0 and lo <= k < hi and had[k] and v_clean >= thr[k]:
                # events arrived in this step: the trajectory is piecewise. Usually the crossing
                # follows the neuron's last event: step back from the exact end state to it.
                t_last = _last_event(k + k_lo, t0, ev_time, ev_node, e_step, e, ptr, tgt, dense_first)
                hb = t1 - t_last
                vl, _ = _v_dv(-hb, v_clean, ie[k], ii[k], inv_tm[k], inv_te[k], inv_ti[k])
                if vl < thr[k]:
                    al = ie[k] * math.exp(hb * inv_te[k])
                    bl = ii[k] * math.exp(hb * inv_ti[k])
                    dvc = -v_clean * inv_tm[k] + ie[k] + ii[k]
                    tc = t_last + _segment_root(vl, al, bl, thr[k], hb, v_clean, dvc, inv_tm[k], inv_te[k], inv_ti[k])
                else:  # crossed before its last event: replay the step event by event
                    tc = _exact_crossing(k + k_lo, t0, t1, thr[k], vprev[k], iprev_e[k], iprev_i[k], inv_tm[k], inv_te[k],
                                         inv_ti[k], ev_time, ev_node, e_step, e, prev_idx, prev_t, nprev, lif_node,
                                         ptr, tgt, rec, w, dense_first, buf_t, buf_w, buf_r)
            if tc < 0.0:
                if v_a >= thr[k]:
                    tc = t_a
                else:
                    tc = t_a + h * _hermite_root(v_a - thr[k], v[k] - thr[k], dv_a * h, dv_b * h)
            if jitter_us > 0.0:
                tc = max(tc + jitter_us * normal(key_jit, s * n_total + k + k_lo), 0.0)  # keyed by (step, neuron)
            if count < cap:
                # keep the trial's spikes sorted by (time, neuron): crossings of one step are
                # found in neuron order (and a clock tick can span two steps), so insert
                tq = math.floor(tc / t_res) * t_res if t_res > 0.0 else tc
                j = count
                while j > 0 and (out_time[j - 1] > tq or (out_time[j - 1] == tq and out_neuron[j - 1] > k + k_lo)):
                    out_time[j] = out_time[j - 1]
                    out_neuron[j] = out_neuron[j - 1]
                    j -= 1
                out_time[j] = tq
                out_neuron[j] = k + k_lo
            count += 1
            pend_idx[npend] = k + k_lo  # global: delivered (and replayed) by node id
            pend_t[npend] = tc
            npend += 1
            refr[k] = tc + tau_ref[k]
            if refr[k] < t1:
                v[k], _ = _restart(k, t1 - refr[k], v_reset_rel, ie, ii, inv_tm, inv_te, inv_ti)
            else:
                v[k] = v_reset_rel[k]
    return count


@nb.njit(parallel=True, cache=True, error_model="numpy")
def simulate(
    seed, v_leak, v_reset, v_thresh, tau_mem, tau_syn_exc, tau_syn_inh, tau_ref, dead, sigma_mem, sigma_thr,
    jitter_us, t_res, ptr, tgt, rec, w, dense_first, w_exc, w_inh, lif_node, trial_ids, job_lo, job_hi, ev_start,
    ev_end, ev_time, ev_node, n_steps, dt, rec_idx, rec_every, out_time, out_neuron, out_count, traces,
):
    """Run jobs in parallel: job i is trial ``trial_ids[i]`` for neurons [job_lo[i], job_hi[i])
    (a trial may be split into neuron ranges when no LIF neuron feeds another), with input events
    ``ev_start[i]:ev_end[i]`` sorted by time. Random draws are keyed by trial, neuron and step,
    so any split or subset reruns bit-identically.

    Neuron arrays are per LIF index in chip units; ``ptr/tgt/rec/w`` is the synapse table in
    CSR form by presynaptic global node; writes spikes (times in µs, LIF indices) into
    ``out_time/out_neuron`` (trials, capacity) and the true counts into ``out_count``.
    """
    n = v_leak.shape[0]
    inv_tm = 1.0 / tau_mem
    inv_te = 1.0 / tau_syn_exc
    inv_ti = 1.0 / tau_syn_inh
    pmm = np.exp(-dt * inv_tm)
    pe = np.exp(-dt * inv_te)
    pi = np.exp(-dt * inv_ti)
    p_e = np.empty(n)
    p_i = np.empty(n)
    for k in range(n):
        p_e[k] = kernel_p(dt, inv_tm[k], inv_te[k])
        p_i[k] = kernel_p(dt, inv_tm[k], inv_ti[k])
    c2e = 0.5 * (inv_tm + inv_te)
    c2i = 0.5 * (inv_tm + inv_ti)
    ke2 = 0.5 * inv_te * inv_te
    ki2 = 0.5 * inv_ti * inv_ti
    noise_step = sigma_mem * np.sqrt(1.0 - pmm * pmm)
    v_reset_rel = v_reset - v_leak
    thr_rel = v_thresh - v_leak
    fan_in = np.zeros(n + 1, np.int64)
    for j in range(tgt.shape[0]):
        fan_in[tgt[j]] += 1
    max_in = max(1, fan_in.max())
    for t in nb.prange(trial_ids.shape[0]):
        a, b = job_lo[t], job_hi[t]
        out_count[t] = _run_trial(
            trial_ids[t], a, n, seed, v_leak[a:b], v_reset_rel[a:b], thr_rel[a:b], tau_ref[a:b], dead[a:b], inv_tm[a:b],
            inv_te[a:b], inv_ti[a:b], pmm[a:b], pe[a:b], pi[a:b], p_e[a:b], p_i[a:b], c2e[a:b], c2i[a:b], ke2[a:b],
            ki2[a:b], noise_step[a:b], sigma_thr, jitter_us, t_res, ptr, tgt, rec, w, dense_first, w_exc, w_inh, lif_node,
            ev_time, ev_node,
            ev_start[t], ev_end[t], n_steps, dt, rec_idx, rec_every, out_time[t], out_neuron[t], traces[t], max_in,
        )
