"""Exact threshold crossings of the sub-threshold LIF trajectory between two events (numba).

Between events the membrane (relative to the leak) is a sum of three exponentials,
``V(x) = v e^{-x/tau_m} + a P_e(x) + b P_i(x)`` (:func:`neuroemu.models.psp.free`), so dV/dt, a sum
of three exponentials too, has at most two zeros: V has at most two extrema on a segment. The
search (:func:`segment_crossing`) walks a segment from the left with cheap rigorous bounds of V
and of its slope on sub-intervals, resolves sub-intervals with one extremum exactly (the peak by
Newton on dV/dt = 0), halves the others, and refines the first crossing by safeguarded Newton.
A crossing that lasts any part of a step, or exceeds threshold by any margin, is found.
"""
from __future__ import annotations

import math

import numba as nb

from neuroemu.models.psp import free as _free
from neuroemu.models.psp import free_from as _free_from


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
def _upper_bound(v, a, b, em, ee, ei, inv_tm) -> float:
    """An upper bound of V on [0, h] of the free evolution from (V = v, I_exc = a, I_inh = b), from
    the decays over h (em, ee, ei = e^{-h/tau_m}, e^{-h/tau_exc}, e^{-h/tau_inh}).

    Each current is monotone between events, so on [0, h] I_exc + I_inh <= I_max = max(a, a e^{-h/tau_e})
    + max(b, b e^{-h/tau_i}), and by comparison V(x) <= V* + (v - V*) e^{-x/tau_m} with V* = tau_m I_max,
    which is largest at x = h when V* > v."""
    vs = ((a if a >= 0.0 else a * ee) + (b if b >= 0.0 else b * ei)) / inv_tm
    return v if vs <= v else vs + (v - vs) * em


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

    Every crossing is found, also one that lasts a small part of ``h``: the segment is walked
    from the left in sub-intervals [x, x + L]. A sub-interval is passed when the upper bound of V
    on it (:func:`_upper_bound`) stays below threshold, when V rises throughout
    (a lower bound of dV/dt, -ub/tau_m + the currents' minima, > 0) to V(x + L) < thr, when V falls
    throughout (an upper bound of dV/dt, -V_min/tau_m + the currents' maxima, with V_min by
    comparison with the currents' minima, < 0), when V has one maximum there (slope positive at its start,
    negative at its end) whose value stays below, or one minimum (slope negative, then positive)
    and V(x + L) < thr. It holds the first crossing when V rises throughout to V(x + L) >= thr,
    or when its one maximum reaches threshold (then the crossing lies on the rising side).
    Otherwise it is halved. The bound's excess over V shrinks with L^2, so a crossing above
    threshold by any margin is resolved in a few halvings; the root itself is refined by
    safeguarded Newton to 1e-12 µs."""
    x = 0.0
    length = h
    for _ in range(400):
        rem = h - x
        if rem <= 0.0:
            return -1.0
        if length > rem:
            length = rem
        # the sub-interval's three decays serve its bounds and its end state
        em = math.exp(-length * inv_tm)
        ee = math.exp(-length * inv_te)
        ei = math.exp(-length * inv_ti)
        ub = _upper_bound(v, a, b, em, ee, ei, inv_tm)
        vl, dvl, al, bl = _free_from(length, v, a, b, em, ee, ei, inv_tm, inv_te, inv_ti)
        if ub < thr:
            if length == rem:
                return -1.0
            v, a, b = vl, al, bl
            x += length
            length *= 2.0
            continue
        # slope bounds: dV/dt >= -ub/tau_m + the currents' minima, <= -V_min/tau_m + their maxima
        ia_lo = a if a <= 0.0 else a * ee
        ib_lo = b if b <= 0.0 else b * ei
        if -ub * inv_tm + ia_lo + ib_lo > 0.0:  # V rises throughout
            if vl >= thr:
                return x + _segment_root(v, a, b, thr, length, vl, dvl, inv_tm, inv_te, inv_ti)
            v, a, b = vl, al, bl
            x += length
            length *= 2.0
            continue
        vs_lo = (ia_lo + ib_lo) / inv_tm
        v_lo = v if vs_lo >= v else vs_lo + (v - vs_lo) * em
        if -v_lo * inv_tm + (a if a >= 0.0 else a * ee) + (b if b >= 0.0 else b * ei) < 0.0:  # V falls throughout
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


@nb.njit(inline="always", cache=True)
def _current_bound(a0, b0, a1, pe, inv_pe, rr) -> float:
    """An upper bound of I_exc + I_inh over a step from (a0, b0) at its start to I_exc = a1 at its
    end (pe = e^{-dt/tau_e}, rr = e^{-dt (1/tau_i - 1/tau_e)}), when exc events only add and inh
    events only subtract: without events the sum is e^{-x/tau_e} (a0 + b0 e^{-x (1/tau_i - 1/tau_e)}),
    the bracket monotone between a0 + b0 and a0 + b0 rr; the exc events add at most their summed
    weights, a1/pe - a0 (each decays by at most pe by the step end)."""
    m = max(a0 + b0, a0 + b0 * rr)
    return (m if m >= 0.0 else m * pe) + max(a1 * inv_pe - a0, 0.0)


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


@nb.njit(cache=True)
def rail_release(a: float, b: float, c: float, h: float, inv_te: float, inv_ti: float) -> float:
    """First x in [0, h] where the summed current a e^{-x/tau_e} + b e^{-x/tau_i} reaches ``c``
    (from below), or -1: when a membrane held at the lower rail V_lo is released (dV/dt =
    -V_lo/tau_m + I >= 0 there, c = V_lo/tau_m). f(x) = a e^{-x/tau_e} + b e^{-x/tau_i} - c has at most one
    extremum (f' = 0 where e^{x (1/tau_i - 1/tau_e)} = -b tau_e / (a tau_i)), so its first zero lies
    in a bracket where f is monotone: refined by safeguarded Newton to 1e-13 (1 + h) µs."""
    f0 = a + b - c
    if f0 >= 0.0:
        return 0.0
    hi = h
    if inv_ti != inv_te and a * b < 0.0:
        ratio = -(b * inv_ti) / (a * inv_te)
        if ratio > 0.0:
            xs = math.log(ratio) / (inv_ti - inv_te)
            if 0.0 < xs < h:
                fs = a * math.exp(-xs * inv_te) + b * math.exp(-xs * inv_ti) - c
                if fs >= 0.0:
                    hi = xs  # rises to the extremum above c: the zero lies before it
    fh = a * math.exp(-hi * inv_te) + b * math.exp(-hi * inv_ti) - c
    if fh < 0.0:
        return -1.0
    lo = 0.0
    x = hi * f0 / (f0 - fh)
    tol = 1e-13 * (1.0 + h)
    for _ in range(100):
        ea = a * math.exp(-x * inv_te)
        eb = b * math.exp(-x * inv_ti)
        f = ea + eb - c
        if f >= 0.0:
            hi = x
        else:
            lo = x
        df = -ea * inv_te - eb * inv_ti
        xn = x - f / df if df != 0.0 else 0.5 * (lo + hi)
        if not (lo < xn < hi):
            xn = 0.5 * (lo + hi)
        if abs(xn - x) <= tol or hi - lo <= tol:
            return hi  # (f(hi) >= 0: released, V rises from the rail)
        x = xn
    return hi
