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
in the step after they occur, at their exact times (the backend runs feed-forward levels one
after another, so a layer receives the spikes of the layers below within their step). A
threshold crossing inside a step without events is located by cubic Hermite interpolation of V
between the step's ends (V and dV/dt known exactly); after events, by safeguarded Newton on the
exact trajectory from the neuron's last event (or an event-by-event replay of the step). After
a spike V is clamped to the reset potential for the refractory time, which may end inside a
step (handled exactly).

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

from neuroemu.backends.emulator.random import _GOLD, approx_normal_hashed, mix32, normal, stream_key

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
def _hermite_root(f0: float, f1: float, d0h: float, d1h: float, tol: float) -> float:
    """Root in [0, 1] (to ``tol``) of the cubic Hermite interpolant with values f0 < 0 <= f1 and
    scaled end derivatives d0h, d1h (derivative x interval length)."""
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
        if abs(xn - x) < tol or hi - lo < tol:
            return xn
        x = xn
    return x


@nb.njit(inline="always", cache=True)
def _p_from(x: float, em: float, es: float, d: float) -> float:
    """:func:`kernel_p` at x from em = e^{-x/tau_m}, es = e^{-x/tau_s} and d = 1/tau_s - 1/tau_m:
    (em - es) / d, or its series where the difference would cancel (relative error < 1e-13)."""
    y = x * d
    if abs(y) < 1e-2:
        return x * em * (1.0 - y * (0.5 - y * (1.0 / 6.0 - y * (1.0 / 24.0 - y * (1.0 / 120.0 - y * (1.0 / 720.0))))))
    return (em - es) / d


@nb.njit(inline="always", cache=True)
def _free(x, v, a, b, inv_tm, inv_te, inv_ti):
    """State after x µs (x < 0: before) of free evolution from (V = v, I_exc = a, I_inh = b):
    (V, dV/dt, I_exc, I_inh). Three exp calls."""
    em = math.exp(-x * inv_tm)
    ee = math.exp(-x * inv_te)
    ei = math.exp(-x * inv_ti)
    ax = a * ee
    bx = b * ei
    vx = v * em + _p_from(x, em, ee, inv_te - inv_tm) * a + _p_from(x, em, ei, inv_ti - inv_tm) * b
    return vx, -vx * inv_tm + ax + bx, ax, bx


@nb.njit(inline="always", cache=True)
def _add_scatter(node, u, ptr, tgt, rec, w, v, ie, ii, c2e, c2i, inv_te, inv_ti, ke2, ki2, k_lo):
    """Add one event of a row with scattered targets, ``u`` µs before the step end, to the
    end-of-step state of its targets among this job's neurons (second-order moments)."""
    uu = u * u
    n = v.shape[0]
    for j in range(ptr[node], ptr[node + 1]):
        k = tgt[j] - k_lo
        if k < 0 or k >= n:
            continue
        wj = w[j]
        if rec[j] == 0:
            v[k] += wj * (u - uu * c2e[k])
            ie[k] += wj * (1.0 - u * inv_te[k] + uu * ke2[k])
        else:
            v[k] += wj * (u - uu * c2i[k])
            ii[k] += wj * (1.0 - u * inv_ti[k] + uu * ki2[k])


@nb.njit(cache=True)
def _add_dense(gj, gu, ng, k0, m, w, zero, v, ie, ii, c2e, c2i, inv_te, inv_ti, ke2, ki2, k_lo):
    """Add ``ng`` (1-4) events of rows that all target the contiguous range [k0, k0 + m), the
    i-th starting at synapse ``gj[i]``, ``gu[i]`` µs before the step end, to the end-of-step
    state: one branch-free pass over the targets (SIMD) sums the events' moments in registers
    (a single event has its own cheaper pass; 2-3 events are padded to 4 with zero weights).
    The receptor of a dense row's synapse is the sign of its weight (exc >= 0, inh <= 0)."""
    n = v.shape[0]
    ks = max(k0, k_lo)
    ke = min(k0 + m, k_lo + n)
    if ks >= ke:
        return
    length = ke - ks
    o = ks - k0
    a, b = ks - k_lo, ke - k_lo
    vv, ee, ei = v[a:b], ie[a:b], ii[a:b]
    ce, ci, te, ti, qe, qi = c2e[a:b], c2i[a:b], inv_te[a:b], inv_ti[a:b], ke2[a:b], ki2[a:b]
    u1 = gu[0]
    x1 = w[gj[0] + o:gj[0] + o + length]
    if ng == 1:
        p1 = u1 * u1
        for q in range(length):
            we, wi = max(x1[q], 0.0), min(x1[q], 0.0)
            s1e, s1i = we * u1, wi * u1
            s2e, s2i = we * p1, wi * p1
            vv[q] += s1e - s2e * ce[q] + s1i - s2i * ci[q]
            ee[q] += we - s1e * te[q] + s2e * qe[q]
            ei[q] += wi - s1i * ti[q] + s2i * qi[q]
        return
    u2 = gu[1]
    x2 = w[gj[1] + o:gj[1] + o + length]
    u3, u4 = 0.0, 0.0  # 2 or 3 events: the missing ones have weight 0 (adding 0 is exact)
    x3 = x4 = zero[:length]
    if ng >= 3:
        u3 = gu[2]
        x3 = w[gj[2] + o:gj[2] + o + length]
    if ng == 4:
        u4 = gu[3]
        x4 = w[gj[3] + o:gj[3] + o + length]
    p1, p2, p3, p4 = u1 * u1, u2 * u2, u3 * u3, u4 * u4
    for q in range(length):
        e1, e2, e3, e4 = max(x1[q], 0.0), max(x2[q], 0.0), max(x3[q], 0.0), max(x4[q], 0.0)
        i1, i2, i3, i4 = min(x1[q], 0.0), min(x2[q], 0.0), min(x3[q], 0.0), min(x4[q], 0.0)
        s0e, s0i = (e1 + e2) + (e3 + e4), (i1 + i2) + (i3 + i4)
        s1e, s1i = (e1 * u1 + e2 * u2) + (e3 * u3 + e4 * u4), (i1 * u1 + i2 * u2) + (i3 * u3 + i4 * u4)
        s2e, s2i = (e1 * p1 + e2 * p2) + (e3 * p3 + e4 * p4), (i1 * p1 + i2 * p2) + (i3 * p3 + i4 * p4)
        vv[q] += s1e - s2e * ce[q] + s1i - s2i * ci[q]
        ee[q] += s0e - s1e * te[q] + s2e * qe[q]
        ei[q] += s0i - s1i * ti[q] + s2i * qi[q]


@nb.njit(inline="always", cache=True)
def _push(node, u, ng, gk0, gm, gj, gu, ptr, tgt, rec, w, dense_first, zero, v, ie, ii, c2e, c2i,
          inv_te, inv_ti, ke2, ki2, k_lo):
    """Deliver one event (``u`` µs before the step end): rows with scattered targets at once,
    dense rows grouped (up to 4 consecutive events onto the same range) for :func:`_add_dense`.
    Returns the pending group (size, range start, range length)."""
    k0 = dense_first[node]
    if k0 < 0:
        _add_scatter(node, u, ptr, tgt, rec, w, v, ie, ii, c2e, c2i, inv_te, inv_ti, ke2, ki2, k_lo)
        return ng, gk0, gm
    m = ptr[node + 1] - ptr[node]
    if ng > 0 and (k0 != gk0 or m != gm):
        _add_dense(gj, gu, ng, gk0, gm, w, zero, v, ie, ii, c2e, c2i, inv_te, inv_ti, ke2, ki2, k_lo)
        ng = 0
    gj[ng] = ptr[node]
    gu[ng] = u
    ng += 1
    if ng == 4:
        _add_dense(gj, gu, ng, k0, m, w, zero, v, ie, ii, c2e, c2i, inv_te, inv_ti, ke2, ki2, k_lo)
        ng = 0
    return ng, k0, m


@nb.njit(inline="always", cache=True)
def _restart(k, r, v_reset_rel, ie, ii, inv_tm, inv_te, inv_ti) -> tuple[float, float]:
    """V at the end of a step whose last ``r`` µs follow the end of a refractory period, and
    dV/dt at that restart. ``ie/ii`` hold the currents at the step end."""
    em = math.exp(-r * inv_tm[k])
    ee = math.exp(-r * inv_te[k])
    ei = math.exp(-r * inv_ti[k])
    a = ie[k] / ee
    b = ii[k] / ei
    v_end = (v_reset_rel[k] * em + _p_from(r, em, ee, inv_te[k] - inv_tm[k]) * a
             + _p_from(r, em, ei, inv_ti[k] - inv_tm[k]) * b)
    return v_end, -v_reset_rel[k] * inv_tm[k] + a + b


@nb.njit(cache=True)
def _segment_root(v, a, b, thr, h, vh, dvh, inv_tm, inv_te, inv_ti) -> float:
    """First x in (0, h] with V(x) = thr on a free segment from (v, a, b) below threshold to
    V(h) = vh >= thr (dV/dt = dvh there): Newton on the exact trajectory from the cubic
    Hermite estimate, safeguarded by the bracket. Stops when the Newton step's predicted error
    (V''/2V') dx^2 is below 1e-12 (1 + h) µs: usually after one iteration."""
    dv0 = -v * inv_tm + a + b
    x = h * _hermite_root(v - thr, vh - thr, dv0 * h, dvh * h, 1e-9)  # a start for Newton
    lo, hi = 0.0, h
    tol = 1e-12 * (1.0 + h)
    for _ in range(40):
        vx, df, ax, bx = _free(x, v, a, b, inv_tm, inv_te, inv_ti)
        f = vx - thr
        if f >= 0.0:
            hi = x
        else:
            lo = x
        if df > 0.0:
            dx = -f / df
            xn = x + dx
            if lo <= xn <= hi:
                d2 = -df * inv_tm - ax * inv_te - bx * inv_ti
                if abs(d2) * dx * dx <= 2.0 * tol * df:
                    return xn
            else:
                xn = 0.5 * (lo + hi)
        else:
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
def _step_events(ev_time, ev_node, e_lo, e_hi, prev_idx, prev_t, nprev, lif_node, ptr, l_time, l_node) -> int:
    """This step's delivered events into ``l_time/l_node``, sorted by time: input events
    ``e_lo:e_hi`` (already sorted) and the previous step's on-chip spikes that have targets
    (inserted after input events at equal times). Returns their number."""
    m = 0
    for q in range(e_lo, e_hi):
        l_time[m] = ev_time[q]
        l_node[m] = ev_node[q]
        m += 1
    for q in range(nprev):
        node = lif_node[prev_idx[q]]
        if ptr[node + 1] == ptr[node]:
            continue
        tq = prev_t[q]
        j = m
        while j > 0 and l_time[j - 1] > tq:
            l_time[j] = l_time[j - 1]
            l_node[j] = l_node[j - 1]
            j -= 1
        l_time[j] = tq
        l_node[j] = node
        m += 1
    return m


@nb.njit(inline="always", cache=True)
def _weights_onto(node, k, ptr, tgt, rec, w, dense_first) -> tuple[float, float]:
    """Summed (exc, inh) weights of the synapses node -> k (0, 0 if none). A dense row's
    receptor is its weight's sign; other rows may hold several synapses onto k (multapses)."""
    j = _synapse_index(node, k, ptr, tgt, dense_first)
    if j < 0:
        return 0.0, 0.0
    if dense_first[node] >= 0:
        return max(w[j], 0.0), min(w[j], 0.0)
    we, wi = 0.0, 0.0
    while j < ptr[node + 1] and tgt[j] == k:
        if rec[j] == 0:
            we += w[j]
        else:
            wi += w[j]
        j += 1
    return we, wi


@nb.njit(cache=True)
def _exact_crossing(k, t0, t1, thr, v0, a0, b0, inv_tm, inv_te, inv_ti, l_time, l_node, m, ptr, tgt, rec, w,
                    dense_first) -> float:
    """Exact first threshold crossing of neuron k in [t0, t1), replaying this step's events
    (``l_time/l_node[:m]``, sorted by time) one by one.

    Start state (v0, a0, b0) at t0 excludes the step's events. Returns -1 if there is none
    (e.g. membrane noise, added at the step end, made the crossing)."""
    i = 0
    while i < m and l_time[i] <= t0:  # spikes of the previous step: already decaying at t0
        we, wi = _weights_onto(l_node[i], k, ptr, tgt, rec, w, dense_first)
        if we != 0.0 or wi != 0.0:
            x = t0 - l_time[i]
            v0 += we * kernel_p(x, inv_tm, inv_te) + wi * kernel_p(x, inv_tm, inv_ti)
            a0 += we * math.exp(-x * inv_te)
            b0 += wi * math.exp(-x * inv_ti)
        i += 1
    if v0 >= thr:
        return t0
    ta = t0
    v, a, b = v0, a0, b0
    while True:
        we, wi = 0.0, 0.0
        while i < m:  # the next event onto k
            we, wi = _weights_onto(l_node[i], k, ptr, tgt, rec, w, dense_first)
            if we != 0.0 or wi != 0.0:
                break
            i += 1
        tb = l_time[i] if i < m else t1
        h = tb - ta
        if h > 0.0:
            vb, dvb, ab, bb = _free(h, v, a, b, inv_tm, inv_te, inv_ti)
            if vb >= thr:
                return ta + _segment_root(v, a, b, thr, h, vb, dvb, inv_tm, inv_te, inv_ti)
            v, a, b = vb, ab, bb
            ta = tb
        if i >= m:
            return -1.0
        a += we
        b += wi
        i += 1


@nb.njit(cache=True, error_model="numpy")
def _run_trial(
    trial, k_lo, n_total, seed, v_leak, v_reset_rel, thr_rel, tau_ref, dead, inv_tm, inv_te, inv_ti, pmm, pe, pi, p_e, p_i,
    c2e, c2i, ke2, ki2, noise_step, sigma_thr, jitter_us, t_res, ptr, tgt, rec, w, dense_first, lif_node,
    ev_time, ev_node, e_start, e_end, s0, n_steps, dt, rec_idx, rec_every, out_time, out_neuron, traces, max_row,
    st_v, st_ie, st_ii, st_refr, st_pend, fresh,
) -> int:
    # neuron arrays are this job's slice [k_lo, k_lo + n) of all LIF neurons; k is local here,
    # k + k_lo global (synapse targets, random draws and recorded neurons are global).
    # st_*: the state at the start (step s0) in, the state at the end out (V relative to the
    # leak, currents, refractory end, time of an on-chip spike of the last step still to be
    # delivered or -inf); steps, times and random draws are absolute, so a run continued from
    # a state is the same computation as one long run; ``fresh``: start at rest (st_* only out)
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
    pend_idx = np.zeros(n, np.int64)
    pend_t = np.zeros(n)
    npend = 0
    for k in range(0 if fresh else n):  # spikes of the step before s0, in the order they were found (neuron order)
        if st_pend[k] > -np.inf:
            pend_idx[npend] = k + k_lo
            pend_t[npend] = st_pend[k]
            npend += 1
    prev_idx = np.zeros(n, np.int64)
    prev_t = np.zeros(n)
    nprev = 0
    # the events of one step, sorted by time (built when a crossing needs them)
    l_time = np.zeros(e_end - e_start + n)
    l_node = np.zeros(e_end - e_start + n, np.int64)
    gj = np.zeros(4, np.int64)  # pending group of dense-row events (first synapse, u)
    gu = np.zeros(4)
    zero = np.zeros(max_row)
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
                    traces[r, sample] = v[kr] + v_leak[kr]
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
                v[k] = pmm[k] * vprev[k] + p_e[k] * a + p_i[k] * b + noise_step[k] * approx_normal_hashed(key_s, hk[k])
                ie[k] = pe[k] * a
                ii[k] = pi[k] * b
        else:
            for k in range(n):
                a = iprev_e[k]
                b = iprev_i[k]
                v[k] = pmm[k] * vprev[k] + p_e[k] * a + p_i[k] * b
                ie[k] = pe[k] * a
                ii[k] = pi[k] * b
        # the step's input events and the on-chip spikes of the previous step, added at their
        # exact times to the end-of-step state
        e_step = e
        ng, gk0, gm = 0, -1, 0
        while e < e_end and ev_time[e] < t1:
            ng, gk0, gm = _push(ev_node[e], t1 - ev_time[e], ng, gk0, gm, gj, gu, ptr, tgt, rec, w, dense_first,
                                zero, v, ie, ii, c2e, c2i, inv_te, inv_ti, ke2, ki2, k_lo)
            e += 1
        for p in range(npend):
            ng, gk0, gm = _push(lif_node[pend_idx[p]], max(t1 - pend_t[p], 0.0), ng, gk0, gm, gj, gu, ptr, tgt, rec, w,
                                dense_first, zero, v, ie, ii, c2e, c2i, inv_te, inv_ti, ke2, ki2, k_lo)
        if ng > 0:
            _add_dense(gj, gu, ng, gk0, gm, w, zero, v, ie, ii, c2e, c2i, inv_te, inv_ti, ke2, ki2, k_lo)
        # the spikes just delivered stay available to replay this step exactly
        pend_idx, prev_idx = prev_idx, pend_idx
        pend_t, prev_t = prev_t, pend_t
        nprev = npend
        npend = 0
        hits = 0
        for k in range(n):  # clamp refractory neurons; flag crossings and refractory ends (SIMD)
            rk = refr[k]
            vk = v[k]
            live = rk < t1
            vk = vk if live else v_reset_rel[k]
            v[k] = vk
            f = 1 if live and (vk >= thr[k] or rk > t0) else 0
            flag[k] = f
            hits |= f
        if hits == 0:
            continue
        m_step = -1  # this step's event list not built yet
        # refractory periods and threshold crossings (few neurons per step)
        for k in range(n):
            if flag[k] == 0:
                continue
            t_a = t0
            v_a = vprev[k]
            dv_a = -v_a * inv_tm[k] + iprev_e[k] + iprev_i[k]
            if refr[k] > t0:
                v[k], dv_a = _restart(k, t1 - refr[k], v_reset_rel, ie, ii, inv_tm, inv_te, inv_ti)
                t_a = refr[k]
                v_a = v_reset_rel[k]
            if v[k] < thr[k]:
                continue
            h = t1 - t_a
            dv_b = -v[k] * inv_tm[k] + ie[k] + ii[k]
            tc = -1.0
            v_clean = v[k] - noise_step[k] * approx_normal_hashed(key_s, hk[k]) if noisy else v[k]
            if t_a == t0 and v_clean >= thr[k]:
                if m_step < 0:
                    m_step = _step_events(ev_time, ev_node, e_step, e, prev_idx, prev_t, nprev, lif_node, ptr, l_time,
                                          l_node)
                t_last = t0  # the last event onto k (t0 if it came before the step)
                n_on = 0
                for q in range(m_step - 1, -1, -1):
                    if _synapse_index(l_node[q], k + k_lo, ptr, tgt, dense_first) >= 0:
                        t_last = max(l_time[q], t0)
                        n_on = 1
                        break
                if n_on > 0:
                    # events arrived in this step: the trajectory is piecewise. Usually the crossing
                    # follows the neuron's last event: step back from the exact end state to it.
                    hb = t1 - t_last
                    vl, _, al, bl = _free(-hb, v_clean, ie[k], ii[k], inv_tm[k], inv_te[k], inv_ti[k])
                    if vl < thr[k]:
                        dvc = -v_clean * inv_tm[k] + ie[k] + ii[k]
                        tc = t_last + _segment_root(vl, al, bl, thr[k], hb, v_clean, dvc, inv_tm[k], inv_te[k],
                                                    inv_ti[k])
                    else:  # crossed before its last event: replay the step event by event
                        tc = _exact_crossing(k + k_lo, t0, t1, thr[k], vprev[k], iprev_e[k], iprev_i[k], inv_tm[k],
                                             inv_te[k], inv_ti[k], l_time, l_node, m_step, ptr, tgt, rec, w, dense_first)
            if tc < 0.0:
                if v_a >= thr[k]:
                    tc = t_a
                else:
                    tc = t_a + h * _hermite_root(v_a - thr[k], v[k] - thr[k], dv_a * h, dv_b * h, 1e-13)
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
    for k in range(n):
        st_v[k] = v[k]
        st_ie[k] = ie[k]
        st_ii[k] = ii[k]
        st_refr[k] = refr[k]
        st_pend[k] = -np.inf
    for p in range(npend):
        st_pend[pend_idx[p] - k_lo] = pend_t[p]
    return count


@nb.njit(parallel=True, cache=True, error_model="numpy")
def simulate(
    seed, v_leak, v_reset, v_thresh, tau_mem, tau_syn_exc, tau_syn_inh, tau_ref, dead, sigma_mem, sigma_thr,
    jitter_us, t_res, ptr, tgt, rec, w, dense_first, lif_node, trial_ids, job_lo, job_hi,
    ev_start, ev_end, ev_time, ev_node, s0, n_steps, dt, rec_idx, rec_every, out_time, out_neuron, out_count, traces,
    st_v, st_ie, st_ii, st_refr, st_pend, fresh,
):
    """Run jobs in parallel: job i is trial ``trial_ids[i]`` for neurons [job_lo[i], job_hi[i])
    (a trial may be split into neuron ranges when no LIF neuron feeds another), with input events
    ``ev_start[i]:ev_end[i]`` sorted by time, over the absolute steps ``s0 .. s0 + n_steps - 1``
    (times ``s dt``). Random draws are keyed by trial, neuron and absolute step, so any split,
    subset or continuation reruns bit-identically.

    State (``st_v`` V - v_leak, ``st_ie``/``st_ii`` currents, ``st_refr`` refractory end in µs,
    ``st_pend`` time of an undelivered spike of the previous step or -inf; each (trials, n_lif),
    indexed by trial id): read at the start (unless ``fresh``: every trial starts at rest),
    overwritten with the state at the end (each job its own neuron range).

    Neuron arrays are per LIF index in chip units; ``ptr/tgt/rec/w`` is the synapse table in
    CSR form by presynaptic global node (``dense_first``: first target of rows whose targets
    are one contiguous range and whose weights' signs match their receptors, else -1). Writes
    spikes (times in µs, LIF indices) into ``out_time/out_neuron`` (trials, capacity) and the
    true counts into ``out_count``.
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
    max_row = 1
    for i in range(ptr.shape[0] - 1):
        max_row = max(max_row, ptr[i + 1] - ptr[i])
    for t in nb.prange(trial_ids.shape[0]):
        a, b = job_lo[t], job_hi[t]
        k = trial_ids[t]
        out_count[t] = _run_trial(
            k, a, n, seed, v_leak[a:b], v_reset_rel[a:b], thr_rel[a:b], tau_ref[a:b], dead[a:b], inv_tm[a:b],
            inv_te[a:b], inv_ti[a:b], pmm[a:b], pe[a:b], pi[a:b], p_e[a:b], p_i[a:b], c2e[a:b], c2i[a:b], ke2[a:b],
            ki2[a:b], noise_step[a:b], sigma_thr, jitter_us, t_res, ptr, tgt, rec, w, dense_first, lif_node,
            ev_time, ev_node,
            ev_start[t], ev_end[t], s0, n_steps, dt, rec_idx, rec_every, out_time[t], out_neuron[t], traces[t], max_row,
            st_v[k, a:b], st_ie[k, a:b], st_ii[k, a:b], st_refr[k, a:b], st_pend[k, a:b], fresh,
        )
