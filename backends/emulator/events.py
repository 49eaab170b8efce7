"""Input events into the end-of-step state, and the synapse table's lookups (numba).

An event ``u`` µs before the end of its step of length dt adds ``w e^{-u/tau_s}`` to the synaptic
current and ``w P(u)`` to the membrane at the step end. For all targets of a row at once this is
expanded to third order around the step's midpoint (d = u - dt/2): per neuron, the moments
``sum w d^j`` (j = 0..3) of the step's events times per-neuron coefficients
(:func:`event_coefficients`); the remainder is below (dt/2)^4 / (24 tau^4) of a weight (current). Where a
crossing is searched, the kernel replays the step's events exactly instead (kernel.py).
"""
from __future__ import annotations

import numba as nb
import numpy as np
from numba.core.cpu import CPUTargetOptions

from neuroemu.models.psp import kernel_p_array

#: numba options compiling a function without reference counting of its arrays (numba's
#: private ``_nrt`` option; where a numba version lacks it, functions compile with NRT as usual).
#: Only for functions that allocate nothing and return no array.
NO_NRT = {"_nrt": False} if hasattr(CPUTargetOptions, "_nrt") else {}

#: rows of the event-coefficient table (see :func:`event_coefficients`): V from exc, V from
#: inh, I_exc, I_inh; four Taylor orders each
_VE, _VI, _IE, _II = 0, 4, 8, 12


def event_coefficients(dt: float, inv_tm: np.ndarray, inv_te: np.ndarray, inv_ti: np.ndarray) -> np.ndarray:
    """Per-neuron coefficients (16, n) of the end-of-step response to an event ``u`` µs before
    the step end, expanded to third order around the step's midpoint h = dt/2 (d = u - h):

        I(t1) += w e^{-u/tau_s} = w sum_j E_j d^j,   E_j = e^{-h/tau_s} (-1/tau_s)^j / j!
        V(t1) += w P(u)         = w sum_j P_j d^j,   P_j = P^{(j)}(h) / j!,

    with P the PSP kernel (:func:`neuroemu.models.psp.kernel_p_array`), P' = e^{-u/tau_s} - P/tau_m,
    P'' = -e^{-u/tau_s}/tau_s - P'/tau_m, P''' = e^{-u/tau_s}/tau_s^2 - P''/tau_m. The remainder is below
    (dt/2)^4 / (24 tau^4) of a weight for I (3e-7 at dt = tau/10) and (dt/2)^4 / (6 tau^3) weight x µs
    for V (tau the shortest time constant; P's j-th derivative is at most j/tau^(j-1))."""
    h = 0.5 * dt
    c = np.empty((16, inv_tm.shape[0]))
    for row_v, row_i, inv_s in ((_VE, _IE, inv_te), (_VI, _II, inv_ti)):  # vectorized over neurons
        es = np.exp(-h * inv_s)
        p0 = kernel_p_array(h, 1.0 / inv_tm, 1.0 / inv_s)
        p1 = es - p0 * inv_tm
        p2 = -es * inv_s - p1 * inv_tm
        p3 = es * inv_s * inv_s - p2 * inv_tm
        c[row_v:row_v + 4] = (p0, p1, p2 / 2.0, p3 / 6.0)
        c[row_i:row_i + 4] = (es, -es * inv_s, es * inv_s * inv_s / 2.0, -es * inv_s ** 3 / 6.0)
    return c


@nb.njit(inline="always", cache=True)
def _moment(co, r, k, d, d2, d3) -> float:
    """Row block ``r`` (_VE, _VI, _IE or _II) of neuron ``k``'s event coefficients at ``d`` µs
    after the step's midpoint (d2 = d^2, d3 = d^3): the third-order expansion."""
    return co[r, k] + d * co[r + 1, k] + d2 * co[r + 2, k] + d3 * co[r + 3, k]


@nb.njit(inline="always", cache=True)
def _add_scatter(node, d, ptr, tgt, rec, w, w0, v, ie, ii, co, k_lo):
    """Add one event of a row with scattered targets, ``d`` µs after the step's midpoint (d = u - dt/2),
    to the end-of-step state of its targets among this job's neurons (third-order moments);
    synapse j's weight is ``w[j - w0]``."""
    d2 = d * d
    d3 = d2 * d
    n = v.shape[0]
    for j in range(ptr[node], ptr[node + 1]):
        k = tgt[j] - k_lo
        if k < 0 or k >= n:
            continue
        wj = w[j - w0]
        if rec[j] == 0:
            v[k] += wj * _moment(co, _VE, k, d, d2, d3)
            ie[k] += wj * _moment(co, _IE, k, d, d2, d3)
        else:
            v[k] += wj * _moment(co, _VI, k, d, d2, d3)
            ii[k] += wj * _moment(co, _II, k, d, d2, d3)


# (without NRT: its views of arrays are not reference counted, an atomic operation each)
@nb.njit(cache=True, **NO_NRT)
def _add_dense(gj, gd, ng, k0, m, sg, w, zero, v, ie, ii, co, k_lo):
    """Add ``ng`` (1-4) events of rows that all target the contiguous range [k0, k0 + m), the
    i-th starting at synapse ``gj[i]``, ``gd[i]`` µs after the step's midpoint, to the end-of-step
    state: one branch-free pass over the targets (SIMD) sums the events' moments in registers
    (2-3 events are padded to 4 with zero weights). ``sg``: the rows' receptor, 0 exc or 1 inh
    for all their synapses, 2 mixed (then a synapse's receptor is its weight's sign: exc >= 0,
    inh <= 0)."""
    n = v.shape[0]
    ks = max(k0, k_lo)
    ke = min(k0 + m, k_lo + n)
    if ks >= ke:
        return
    length = ke - ks
    o = ks - k0
    a, b = ks - k_lo, ke - k_lo
    vv, ee, ei = v[a:b], ie[a:b], ii[a:b]
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
    if sg != 2:  # one receptor: its moments only
        rv, ri = (_VE, _IE) if sg == 0 else (_VI, _II)
        ix = ee if sg == 0 else ei
        p0, p1, p2, p3 = co[rv, a:b], co[rv + 1, a:b], co[rv + 2, a:b], co[rv + 3, a:b]
        c0, c1, c2, c3 = co[ri, a:b], co[ri + 1, a:b], co[ri + 2, a:b], co[ri + 3, a:b]
        for q in range(length):
            y1, y2, y3, y4 = x1[q], x2[q], x3[q], x4[q]
            s0 = (y1 + y2) + (y3 + y4)
            s1 = (y1 * d1 + y2 * d2) + (y3 * d3 + y4 * d4)
            s2 = (y1 * q1 + y2 * q2) + (y3 * q3 + y4 * q4)
            s3 = (y1 * r1 + y2 * r2) + (y3 * r3 + y4 * r4)
            vv[q] += (s0 * p0[q] + s1 * p1[q]) + (s2 * p2[q] + s3 * p3[q])
            ix[q] += (s0 * c0[q] + s1 * c1[q]) + (s2 * c2[q] + s3 * c3[q])
        return
    pe0, pe1, pe2, pe3 = co[_VE, a:b], co[_VE + 1, a:b], co[_VE + 2, a:b], co[_VE + 3, a:b]
    pi0, pi1, pi2, pi3 = co[_VI, a:b], co[_VI + 1, a:b], co[_VI + 2, a:b], co[_VI + 3, a:b]
    ee0, ee1, ee2, ee3 = co[_IE, a:b], co[_IE + 1, a:b], co[_IE + 2, a:b], co[_IE + 3, a:b]
    ei0, ei1, ei2, ei3 = co[_II, a:b], co[_II + 1, a:b], co[_II + 2, a:b], co[_II + 3, a:b]
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
def _push(node, d, ng, gk0, gm, gs, gj, gd, ptr, tgt, rec, w, dense_first, dense_rec, zero, v, ie, ii, co, k_lo):
    """Deliver one event (``d`` µs after the step's midpoint): rows with scattered targets at once,
    dense rows grouped (up to 4 consecutive events onto the same range with the same receptors)
    for :func:`_add_dense`. Returns the pending group (size, range start, range length, receptor)."""
    k0 = dense_first[node]
    if k0 < 0:
        _add_scatter(node, d, ptr, tgt, rec, w, 0, v, ie, ii, co, k_lo)
        return ng, gk0, gm, gs
    m = ptr[node + 1] - ptr[node]
    sg = dense_rec[node]
    if ng > 0 and (k0 != gk0 or m != gm or sg != gs):
        _add_dense(gj, gd, ng, gk0, gm, gs, w, zero, v, ie, ii, co, k_lo)
        ng = 0
    gj[ng] = ptr[node]
    gd[ng] = d
    ng += 1
    if ng == 4:
        _add_dense(gj, gd, ng, k0, m, sg, w, zero, v, ie, ii, co, k_lo)
        ng = 0
    return ng, k0, m, sg


# (without NRT, as _add_dense)
@nb.njit(cache=True, **NO_NRT)
def _add_saturating(node, d, ptr, tgt, rec, w, dense_first, dense_rec, v, ie, ii, co, k_lo, inv_imax, tmp):
    """Add one event (``d`` µs after the step's midpoint) through saturating synaptic inputs:
    each target's current I of the synapse's receptor jumps by w (1 - |I| / I_max) (0 once |I|
    reaches I_max), with I the current just before the event, I(t_e) = I(t1 so far) / e^{-u/tau}
    (events are added in time order; e^{-u/tau} from the third-order moments). All synapses of the
    row see the current before the event (a row's multapses onto one target add as one jump, as
    in the replay). ``tmp``: a buffer of at least the row's length. A dense row of one receptor
    (no multapses) is one branch-free pass over its targets (SIMD)."""
    d2 = d * d
    d3 = d2 * d
    n = v.shape[0]
    j0 = ptr[node]
    k0 = dense_first[node]
    if k0 >= 0 and dense_rec[node] != 2:
        ks = max(k0, k_lo)
        ke = min(k0 + ptr[node + 1] - j0, k_lo + n)
        if ks >= ke:
            return
        rv, ri = (_VE, _IE) if dense_rec[node] == 0 else (_VI, _II)
        cur = ie if dense_rec[node] == 0 else ii
        o = j0 + ks - k0
        for k in range(ks - k_lo, ke - k_lo):
            decay = _moment(co, ri, k, d, d2, d3)
            wj = w[o + k - (ks - k_lo)] * max(0.0, 1.0 - abs(cur[k] / decay) * inv_imax[k])
            v[k] += wj * _moment(co, rv, k, d, d2, d3)
            cur[k] += wj * decay
        return
    for j in range(j0, ptr[node + 1]):  # the effective weights, from the currents before the event
        k = tgt[j] - k_lo
        if k < 0 or k >= n:
            continue
        cur = (ie[k] if rec[j] == 0 else ii[k]) / _moment(co, _IE if rec[j] == 0 else _II, k, d, d2, d3)
        tmp[j - j0] = w[j] * max(0.0, 1.0 - abs(cur) * inv_imax[k])
    _add_scatter(node, d, ptr, tgt, rec, tmp, j0, v, ie, ii, co, k_lo)


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
