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
from neuroemu.models.psp import free as _free
from neuroemu.models.psp import kernel_p

_STREAM_MEMBRANE, _STREAM_THRESHOLD, _STREAM_JITTER = 1, 2, 3


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


#: rows of the event-coefficient table (see :func:`event_coefficients`): V from exc, V from
#: inh, I_exc, I_inh; four Taylor orders each
_VE, _VI, _IE, _II = 0, 4, 8, 12


def event_coefficients(dt: float, inv_tm: np.ndarray, inv_te: np.ndarray, inv_ti: np.ndarray) -> np.ndarray:
    """Per-neuron coefficients (16, n) of the end-of-step response to an event ``u`` µs before
    the step end, expanded to third order around the step's midpoint h = dt/2 (d = u - h):

        I(t1) += w e^{-u/tau_s} = w sum_j E_j d^j,   E_j = e^{-h/tau_s} (-1/tau_s)^j / j!
        V(t1) += w P(u)         = w sum_j P_j d^j,   P_j = P^{(j)}(h) / j!,

    with P the PSP kernel (:func:`kernel_p`), P' = e^{-u/tau_s} - P/tau_m, P'' = -e^{-u/tau_s}/tau_s
    - P'/tau_m, P''' = e^{-u/tau_s}/tau_s^2 - P''/tau_m. The remainder is below (dt/2)^4 / (24 tau^4)
    of a weight (tau the shortest time constant): 3e-7 at dt = tau/10, 3e-11 at tau/100."""
    n = inv_tm.shape[0]
    h = 0.5 * dt
    c = np.empty((16, n))
    for k in range(n):
        for row_v, row_i, inv_s in ((_VE, _IE, inv_te[k]), (_VI, _II, inv_ti[k])):
            es = math.exp(-h * inv_s)
            p0 = kernel_p.py_func(h, inv_tm[k], inv_s)
            p1 = es - p0 * inv_tm[k]
            p2 = -es * inv_s - p1 * inv_tm[k]
            p3 = es * inv_s * inv_s - p2 * inv_tm[k]
            c[row_v:row_v + 4, k] = (p0, p1, p2 / 2.0, p3 / 6.0)
            c[row_i:row_i + 4, k] = (es, -es * inv_s, es * inv_s * inv_s / 2.0, -es * inv_s ** 3 / 6.0)
    return c


@nb.njit(inline="always", cache=True)
def _add_scatter(node, d, ptr, tgt, rec, w, v, ie, ii, co, k_lo):
    """Add one event of a row with scattered targets, ``d`` µs after the step's midpoint (d = u - dt/2),
    to the end-of-step state of its targets among this job's neurons (third-order moments)."""
    d2 = d * d
    d3 = d2 * d
    n = v.shape[0]
    for j in range(ptr[node], ptr[node + 1]):
        k = tgt[j] - k_lo
        if k < 0 or k >= n:
            continue
        wj = w[j]
        if rec[j] == 0:
            v[k] += wj * (co[_VE, k] + d * co[_VE + 1, k] + d2 * co[_VE + 2, k] + d3 * co[_VE + 3, k])
            ie[k] += wj * (co[_IE, k] + d * co[_IE + 1, k] + d2 * co[_IE + 2, k] + d3 * co[_IE + 3, k])
        else:
            v[k] += wj * (co[_VI, k] + d * co[_VI + 1, k] + d2 * co[_VI + 2, k] + d3 * co[_VI + 3, k])
            ii[k] += wj * (co[_II, k] + d * co[_II + 1, k] + d2 * co[_II + 2, k] + d3 * co[_II + 3, k])


@nb.njit(cache=True)
def _add_dense(gj, gd, ng, k0, m, w, zero, v, ie, ii, co, k_lo):
    """Add ``ng`` (1-4) events of rows that all target the contiguous range [k0, k0 + m), the
    i-th starting at synapse ``gj[i]``, ``gd[i]`` µs after the step's midpoint, to the end-of-step
    state: one branch-free pass over the targets (SIMD) sums the events' moments in registers
    (2-3 events are padded to 4 with zero weights). The receptor of a dense row's synapse is the
    sign of its weight (exc >= 0, inh <= 0)."""
    n = v.shape[0]
    ks = max(k0, k_lo)
    ke = min(k0 + m, k_lo + n)
    if ks >= ke:
        return
    length = ke - ks
    o = ks - k0
    a, b = ks - k_lo, ke - k_lo
    vv, ee, ei = v[a:b], ie[a:b], ii[a:b]
    pe0, pe1, pe2, pe3 = co[_VE, a:b], co[_VE + 1, a:b], co[_VE + 2, a:b], co[_VE + 3, a:b]
    pi0, pi1, pi2, pi3 = co[_VI, a:b], co[_VI + 1, a:b], co[_VI + 2, a:b], co[_VI + 3, a:b]
    ee0, ee1, ee2, ee3 = co[_IE, a:b], co[_IE + 1, a:b], co[_IE + 2, a:b], co[_IE + 3, a:b]
    ei0, ei1, ei2, ei3 = co[_II, a:b], co[_II + 1, a:b], co[_II + 2, a:b], co[_II + 3, a:b]
    d1 = gd[0]
    x1 = w[gj[0] + o:gj[0] + o + length]
    d2, d3, d4 = 0.0, 0.0, 0.0  # 1-3 events: the missing ones have weight 0 (adding 0 is exact)
    x2 = x3 = x4 = zero[:length]
    if ng >= 2:
        d2 = gd[1]
        x2 = w[gj[1] + o:gj[1] + o + length]
    if ng >= 3:
        d3 = gd[2]
        x3 = w[gj[2] + o:gj[2] + o + length]
    if ng == 4:
        d4 = gd[3]
        x4 = w[gj[3] + o:gj[3] + o + length]
    q1, q2, q3, q4 = d1 * d1, d2 * d2, d3 * d3, d4 * d4
    r1, r2, r3, r4 = q1 * d1, q2 * d2, q3 * d3, q4 * d4
    for q in range(length):
        e1, e2, e3, e4 = max(x1[q], 0.0), max(x2[q], 0.0), max(x3[q], 0.0), max(x4[q], 0.0)
        i1, i2, i3, i4 = min(x1[q], 0.0), min(x2[q], 0.0), min(x3[q], 0.0), min(x4[q], 0.0)
        s0e, s0i = (e1 + e2) + (e3 + e4), (i1 + i2) + (i3 + i4)
        s1e, s1i = (e1 * d1 + e2 * d2) + (e3 * d3 + e4 * d4), (i1 * d1 + i2 * d2) + (i3 * d3 + i4 * d4)
        s2e, s2i = (e1 * q1 + e2 * q2) + (e3 * q3 + e4 * q4), (i1 * q1 + i2 * q2) + (i3 * q3 + i4 * q4)
        s3e, s3i = (e1 * r1 + e2 * r2) + (e3 * r3 + e4 * r4), (i1 * r1 + i2 * r2) + (i3 * r3 + i4 * r4)
        vv[q] += ((s0e * pe0[q] + s1e * pe1[q]) + (s2e * pe2[q] + s3e * pe3[q])
                  + (s0i * pi0[q] + s1i * pi1[q]) + (s2i * pi2[q] + s3i * pi3[q]))
        ee[q] += (s0e * ee0[q] + s1e * ee1[q]) + (s2e * ee2[q] + s3e * ee3[q])
        ei[q] += (s0i * ei0[q] + s1i * ei1[q]) + (s2i * ei2[q] + s3i * ei3[q])


@nb.njit(inline="always", cache=True)
def _push(node, d, ng, gk0, gm, gj, gd, ptr, tgt, rec, w, dense_first, zero, v, ie, ii, co, k_lo):
    """Deliver one event (``d`` µs after the step's midpoint): rows with scattered targets at once,
    dense rows grouped (up to 4 consecutive events onto the same range) for :func:`_add_dense`.
    Returns the pending group (size, range start, range length)."""
    k0 = dense_first[node]
    if k0 < 0:
        _add_scatter(node, d, ptr, tgt, rec, w, v, ie, ii, co, k_lo)
        return ng, gk0, gm
    m = ptr[node + 1] - ptr[node]
    if ng > 0 and (k0 != gk0 or m != gm):
        _add_dense(gj, gd, ng, gk0, gm, w, zero, v, ie, ii, co, k_lo)
        ng = 0
    gj[ng] = ptr[node]
    gd[ng] = d
    ng += 1
    if ng == 4:
        _add_dense(gj, gd, ng, k0, m, w, zero, v, ie, ii, co, k_lo)
        ng = 0
    return ng, k0, m


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
def _upper_bound(v, a, b, h, inv_tm, inv_te, inv_ti) -> float:
    """An upper bound of V on [0, h] of the free evolution from (V = v, I_exc = a, I_inh = b).

    Each current is monotone between events, so on [0, h] I_exc + I_inh <= I_max = max(a, a e^{-h/tau_e})
    + max(b, b e^{-h/tau_i}), and by comparison V(x) <= V* + (v - V*) e^{-x/tau_m} with V* = tau_m I_max,
    which is largest at x = h when V* > v."""
    ia = a if a >= 0.0 else a * math.exp(-h * inv_te)
    ib = b if b >= 0.0 else b * math.exp(-h * inv_ti)
    vs = (ia + ib) / inv_tm
    if vs <= v:
        return v
    return vs + (v - vs) * math.exp(-h * inv_tm)


@nb.njit(inline="always", cache=True)
def _slope_lower_bound(v_ub, a, b, h, inv_tm, inv_te, inv_ti) -> float:
    """A lower bound of dV/dt = -V/tau_m + I_exc + I_inh on [0, h] of the free evolution from
    currents (a, b), given an upper bound ``v_ub`` of V there."""
    ia = a if a <= 0.0 else a * math.exp(-h * inv_te)
    ib = b if b <= 0.0 else b * math.exp(-h * inv_ti)
    return -v_ub * inv_tm + ia + ib


@nb.njit(inline="always", cache=True)
def _slope_upper_bound(v, a, b, h, inv_tm, inv_te, inv_ti) -> float:
    """An upper bound of dV/dt on [0, h] of the free evolution from (v, a, b): the currents'
    maxima minus the lower bound of V (by comparison with the currents' minima) over tau_m."""
    ia_hi = a if a >= 0.0 else a * math.exp(-h * inv_te)
    ib_hi = b if b >= 0.0 else b * math.exp(-h * inv_ti)
    ia_lo = a if a <= 0.0 else a * math.exp(-h * inv_te)
    ib_lo = b if b <= 0.0 else b * math.exp(-h * inv_ti)
    vs = (ia_lo + ib_lo) / inv_tm
    v_lo = v if vs >= v else vs + (v - vs) * math.exp(-h * inv_tm)
    return -v_lo * inv_tm + ia_hi + ib_hi


@nb.njit(cache=True)
def _peak(v, a, b, h, inv_tm, inv_te, inv_ti) -> float:
    """The x in (0, h) where dV/dt = 0 on a free segment whose slope is positive at 0 and negative
    at h (it has one maximum there: dV/dt, a sum of three exponentials, has at most two zeros, and
    an odd number lies between a positive and a negative value): bisection with Newton steps."""
    lo, hi = 0.0, h
    x = 0.5 * h
    for _ in range(100):
        vx, df, ax, bx = _free(x, v, a, b, inv_tm, inv_te, inv_ti)
        if df > 0.0:
            lo = x
        else:
            hi = x
        d2 = -df * inv_tm - ax * inv_te - bx * inv_ti
        xn = x - df / d2 if d2 < 0.0 else 0.5 * (lo + hi)
        if not (lo < xn < hi):
            xn = 0.5 * (lo + hi)
        if abs(xn - x) <= 1e-13 * (1.0 + h) or hi - lo <= 1e-13 * (1.0 + h):
            return xn
        x = xn
    return x


@nb.njit(cache=True)
def segment_crossing(v, a, b, thr, h, inv_tm, inv_te, inv_ti) -> float:
    """First x in (0, h] where the free evolution from (v < thr, a, b) reaches ``thr``, or -1.

    Every crossing is found, also one that lasts a small part of ``h``: the segment is walked from
    the left in sub-intervals [x, x + L]; a sub-interval is passed when the upper bound of V on it
    (:func:`_upper_bound`) stays below threshold, when V rises throughout (:func:`_slope_lower_bound`
    > 0) to V(x + L) < thr, when V falls throughout (:func:`_slope_upper_bound` < 0), when V has one maximum there (slope positive at its start, negative at
    its end) whose value stays below, or one minimum (slope negative, then positive) and V(x + L) <
    thr; it holds the first crossing when V rises throughout to V(x + L) >= thr, or when its one
    maximum reaches threshold (then the crossing lies on the rising side); otherwise it is halved.
    The bound's excess over V shrinks with L^2, so a crossing above threshold by any margin is
    resolved in a few halvings; the root itself is refined by safeguarded Newton to 1e-12 µs."""
    x = 0.0
    length = h
    for _ in range(400):
        rem = h - x
        if rem <= 0.0:
            return -1.0
        if length > rem:
            length = rem
        ub = _upper_bound(v, a, b, length, inv_tm, inv_te, inv_ti)
        if ub < thr:
            if length == rem:
                return -1.0
            v, _, a, b = _free(length, v, a, b, inv_tm, inv_te, inv_ti)
            x += length
            length *= 2.0
            continue
        vl, dvl, al, bl = _free(length, v, a, b, inv_tm, inv_te, inv_ti)
        if _slope_lower_bound(ub, a, b, length, inv_tm, inv_te, inv_ti) > 0.0:  # V rises throughout
            if vl >= thr:
                return x + _segment_root(v, a, b, thr, length, vl, dvl, inv_tm, inv_te, inv_ti)
            v, a, b = vl, al, bl
            x += length
            length *= 2.0
            continue
        if _slope_upper_bound(v, a, b, length, inv_tm, inv_te, inv_ti) < 0.0:  # V falls throughout
            v, a, b = vl, al, bl
            x += length
            length *= 2.0
            continue
        dv0 = -v * inv_tm + a + b
        if dv0 > 0.0 and dvl < 0.0:  # one maximum inside
            xm = _peak(v, a, b, length, inv_tm, inv_te, inv_ti)
            vm, _, _, _ = _free(xm, v, a, b, inv_tm, inv_te, inv_ti)
            if vm >= thr:
                return x + _segment_root(v, a, b, thr, xm, vm, 0.0, inv_tm, inv_te, inv_ti)
            if vl < thr:
                v, a, b = vl, al, bl
                x += length
                length *= 2.0
                continue
        if dv0 <= 0.0 and dvl >= 0.0 and vl < thr:  # one minimum inside: V below its end values
            v, a, b = vl, al, bl
            x += length
            length *= 2.0
            continue
        length *= 0.5
        if length <= 1e-14 * (1.0 + h):  # V touches threshold without exceeding it measurably
            if vl >= thr:
                return x + length
            return -1.0
    return -1.0


@nb.njit(cache=True)
def _start_crossing(v, a, b, thr, h, inv_tm, inv_te, inv_ti) -> float:
    """:func:`segment_crossing` for a segment that may start at or above threshold (a state set
    by the user, a reset above threshold): V above threshold fires at once (0), V at threshold
    (within rounding, 1e-9 of it) fires only if it is not falling, as a threshold checked after
    each integration step (Brian2, NEST) would see it."""
    tol = 1e-9 * abs(thr) + 1e-15
    if v < thr - tol:
        return segment_crossing(v, a, b, thr, h, inv_tm, inv_te, inv_ti)
    if v > thr + tol or a + b >= v * inv_tm:
        return 0.0
    x0 = 1e-9 * h  # falling from threshold: search on from just below it
    v0, _, a0, b0 = _free(x0, v, a, b, inv_tm, inv_te, inv_ti)
    if v0 >= thr:
        return x0
    x = segment_crossing(v0, a0, b0, thr, h - x0, inv_tm, inv_te, inv_ti)
    return x0 + x if x >= 0.0 else -1.0


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


@nb.njit(inline="always", cache=True)
def _insert_event(t, node, l_time, l_node, m) -> int:
    """Insert event (t, node) into the step's time-sorted list (after events at equal times)."""
    j = m
    while j > 0 and l_time[j - 1] > t:
        l_time[j] = l_time[j - 1]
        l_node[j] = l_node[j - 1]
        j -= 1
    l_time[j] = t
    l_node[j] = node
    return m + 1


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
def _replay(k, t0, t1, t_free, v, a, b, v_reset, thr, inv_tm, inv_te, inv_ti, l_time, l_node, m, ptr, tgt, rec, w,
            dense_first):
    """Exact trajectory of neuron ``k`` (global LIF index) over the step [t0, t1) from its state
    (v, a, b) at t0, through the step's events onto it (``l_time/l_node[:m]``, sorted by time), with
    V held at ``v_reset`` until ``t_free`` (end of a refractory period). Returns (tc, v, a, b):
    the first threshold crossing at or after ``t_free`` (-1 if none) and the state at t1 (at tc
    when there is a crossing). Every free segment between events is searched with
    :func:`segment_crossing`, so crossings that end within the step are found too."""
    ta = t0
    held = t_free > t0
    if held:
        v = v_reset
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
        elif h > 0.0:
            x = _start_crossing(v, a, b, thr, h, inv_tm, inv_te, inv_ti)
            if x >= 0.0:
                vx, _, ax, bx = _free(x, v, a, b, inv_tm, inv_te, inv_ti)
                return ta + x, vx, ax, bx
            v, _, a, b = _free(h, v, a, b, inv_tm, inv_te, inv_ti)
        ta = tb
        if i >= m:
            return -1.0, v, a, b
        a += we
        b += wi
        i += 1


@nb.njit(cache=True, error_model="numpy")
def _run_trial(
    trial, k_lo, n_total, seed, v_leak, v_reset_rel, thr_rel, tau_ref, dead, inv_tm, inv_te, inv_ti, pmm, pe, pi, p_e, p_i,
    co_job, noise_step, sigma_thr, jitter_us, t_res, ptr, tgt, rec, w, dense_first, lif_node,
    ev_time, ev_node, e_start, e_end, s0, n_steps, dt, rec_idx, rec_every, out_time, out_neuron, traces, max_row,
    st_v, st_ie, st_ii, st_refr, fresh,
) -> int:
    # neuron arrays are this job's slice [k_lo, k_lo + n) of all LIF neurons; k is local here,
    # k + k_lo global (synapse targets, random draws and recorded neurons are global).
    # st_*: the state at the start (step s0) in, the state at the end out (V relative to the
    # leak, currents, refractory end); steps, times and random draws are absolute, so a run
    # continued from a state is the same computation as one long run; ``fresh``: start at rest
    n = v_leak.shape[0]
    co = np.ascontiguousarray(co_job)  # this job's columns: contiguous rows for SIMD
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
    noise = np.zeros(n)  # this step's membrane-noise increments
    # end values this close below threshold are searched exactly (the event moments' remainder)
    margin = 1e-9 * np.abs(thr_rel) + 1e-12
    # the events of one step, sorted by time (built when a crossing search needs them), and the
    # step's candidates: neurons whose bound reaches threshold, with their next crossing
    l_time = np.zeros(e_end - e_start + n + 1)
    l_node = np.zeros(e_end - e_start + n + 1, np.int64)
    cand = np.zeros(n, np.int64)
    cand_t = np.zeros(n)
    pos = np.full(n, -1, np.int64)  # a neuron's place in cand (-1: none)
    seen = np.zeros(n, np.int64)  # the last spike (n_spk) that reached a neuron
    n_spk = 0
    gj = np.zeros(4, np.int64)  # pending group of dense-row events (first synapse, d)
    gd = np.zeros(4)
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
        ng, gk0, gm = 0, -1, 0
        t_mid = t0 + 0.5 * dt
        while e < e_end and ev_time[e] < t1:
            ng, gk0, gm = _push(ev_node[e], t_mid - ev_time[e], ng, gk0, gm, gj, gd, ptr, tgt, rec, w, dense_first,
                                zero, v, ie, ii, co, k_lo)
            e += 1
        if ng > 0:
            _add_dense(gj, gd, ng, gk0, gm, w, zero, v, ie, ii, co, k_lo)
        # candidates (SIMD): refractory ends in the step, membranes at threshold at the step end
        # (noise), and membranes whose upper bound over the step reaches threshold. Between events
        # I_exc only decays and exc events only add (I_exc(t) <= I_exc(t1) e^{dt/tau_e}); I_inh <= 0
        # only decays towards 0 (I_inh(t) <= I_inh(t0) e^{-dt/tau_i}); so V(t) <= V* + (V(t0) - V*)
        # e^{-(t - t0)/tau_m} <= the bound, V* = tau_m (I_exc max + I_inh max)
        hits = 0
        for k in range(n):  # branch-free (SIMD)
            rk = refr[k]
            v0 = vprev[k] if rk <= t0 else v_reset_rel[k]
            vs = tau_m[k] * (max(ie[k] * inv_pe[k], ie[k]) + max(iprev_i[k] * pi[k], iprev_i[k]))
            vk = v[k]
            f = (rk < t1) & ((max(vs + (v0 - vs) * pmm[k], v0, vk) >= thr[k]) | (rk > t0))
            v[k] = vk if rk < t1 else v_reset_rel[k]
            flag[k] = f
            hits += f
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
                vs = tau_m[k] * (max(ie[k] * inv_pe[k], ie[k]) + max(iprev_i[k] * pi[k], iprev_i[k]))
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
                m_in = m
            cand[n_c] = k
            pos[k] = n_c
            cand_t[n_c] = _candidate(k, k_lo, t0, t1, refr[k], vprev, iprev_e, iprev_i, v, ie, ii, v_reset_rel, thr,
                                     inv_tm, inv_te, inv_ti, noise, l_time, l_node, m, m_in, ptr, tgt,
                                     rec, w, dense_first)
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
            if ptr[node + 1] > ptr[node]:  # on-chip targets: deliver now
                m = _insert_event(tc, node, l_time, l_node, m)
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
                    cand_t[q] = _candidate(kt, k_lo, t0, t1, refr[kt], vprev, iprev_e, iprev_i, v, ie, ii,
                                           v_reset_rel, thr, inv_tm, inv_te, inv_ti, noise,
                                           l_time, l_node, m, m_in, ptr, tgt, rec, w, dense_first)
            if refr[k] >= t1 and _synapse_index(node, k + k_lo, ptr, tgt, dense_first) < 0:
                v[k] = v_reset_rel[k]  # refractory past the step end, no event onto itself: currents as they are
                cand_t[c] = -1.0
            else:
                cand_t[c] = _candidate(k, k_lo, t0, t1, refr[k], vprev, iprev_e, iprev_i, v, ie, ii, v_reset_rel,
                                       thr, inv_tm, inv_te, inv_ti, noise, l_time, l_node, m, m_in, ptr, tgt, rec, w,
                                       dense_first)
        for q in range(n_c):
            pos[cand[q]] = -1
    for k in range(n):
        st_v[k] = v[k]
        st_ie[k] = ie[k]
        st_ii[k] = ii[k]
        st_refr[k] = refr[k]
    return count


@nb.njit(cache=True)
def _candidate(k, k_lo, t0, t1, t_free, vprev, iprev_e, iprev_i, v, ie, ii, v_reset_rel, thr, inv_tm, inv_te, inv_ti,
               noise, l_time, l_node, m, m_in, ptr, tgt, rec, w, dense_first) -> float:
    """Next crossing time of local neuron ``k`` in the step (-1: none) by an exact replay from the
    step start, writing its exact end-of-step state into v/ie/ii (the step's membrane-noise
    increment included; V held at reset while refractory past t1). A crossing that only the noise,
    added at the step end, makes is placed by cubic Hermite interpolation between the last free
    point and the step end.

    Shortcut: when the free part of the step [max(t0, t_free), t1) holds no event (all events
    are inputs, already in the end state), it is one free segment, from V at its start (the
    step's start value, or the reset) with the currents propagated back from the step end."""
    t_a = max(t0, t_free)
    if t_a < t1 and m == m_in and (m == 0 or l_time[m - 1] <= t_a):
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
    tc, vx, ax, bx = _replay(k + k_lo, t0, t1, t_free, vprev[k], iprev_e[k], iprev_i[k], v_reset_rel[k], thr[k],
                             inv_tm[k], inv_te[k], inv_ti[k], l_time, l_node, m, ptr, tgt, rec, w, dense_first)
    if tc >= 0.0:
        return tc
    # no crossing: (vx, ax, bx) is the state at t1
    ie[k] = ax
    ii[k] = bx
    if t_free >= t1:
        v[k] = v_reset_rel[k]
        return -1.0
    v[k] = vx + noise[k]
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
def simulate(
    seed, v_leak, v_reset, v_thresh, tau_mem, tau_syn_exc, tau_syn_inh, tau_ref, dead, sigma_mem, sigma_thr,
    jitter_us, t_res, ptr, tgt, rec, w, dense_first, lif_node, co, trial_ids, job_lo, job_hi,
    ev_start, ev_end, ev_time, ev_node, s0, n_steps, dt, rec_idx, rec_every, out_time, out_neuron, out_count, traces,
    st_v, st_ie, st_ii, st_refr, fresh,
):
    """Run jobs in parallel: job i is trial ``trial_ids[i]`` for neurons [job_lo[i], job_hi[i])
    (a trial may be split into neuron ranges when no LIF neuron feeds another), with input events
    ``ev_start[i]:ev_end[i]`` sorted by time, over the absolute steps ``s0 .. s0 + n_steps - 1``
    (times ``s dt``). Random draws are keyed by trial, neuron and absolute step, so any split,
    subset or continuation reruns bit-identically.

    State (``st_v`` V - v_leak, ``st_ie``/``st_ii`` currents, ``st_refr`` refractory end in µs;
    each (trials, n_lif),
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
            inv_te[a:b], inv_ti[a:b], pmm[a:b], pe[a:b], pi[a:b], p_e[a:b], p_i[a:b], co[:, a:b], noise_step[a:b], sigma_thr, jitter_us, t_res, ptr, tgt, rec, w, dense_first, lif_node,
            ev_time, ev_node,
            ev_start[t], ev_end[t], s0, n_steps, dt, rec_idx, rec_every, out_time[t], out_neuron[t], traces[t], max_row,
            st_v[k, a:b], st_ie[k, a:b], st_ii[k, a:b], st_refr[k, a:b], fresh,
        )
