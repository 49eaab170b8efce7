r"""The exact sub-threshold solution of the LIF equations (:mod:`neuroemu.models.lif`).

State relative to the leak potential, current over membrane capacitance (chip: V and V/µs, µs;
any consistent units work)::

    dV/dt = -V / tau_m + I_exc + I_inh,        dI_x/dt = -I_x / tau_x

PSP kernel: the membrane's response at time h to a unit current step at 0 that decays with tau_s::

    P(h) = int_0^h e^{-(h-s)/tau_m} e^{-s/tau_s} ds = (e^{-h/tau_m} - e^{-h/tau_s}) / d,
    d = 1/tau_s - 1/tau_m

(``h e^{-h/tau}`` at tau_m = tau_s = tau). With x = h d the difference cancels for small |x|:
there a Taylor series in x takes over. For large h one of the two forms
``e^{-h/tau_m} (1 - e^{-x}) / d = e^{-h/tau_s} (e^{x} - 1) / d`` overflows (the one whose
exponent ``-x`` resp. ``x`` is large and positive): the other one is used, so P is finite for
every h.

Free evolution over x (x < 0: backwards) from (V, I_exc, I_inh) = (v, a, b)::

    V(x)     = v e^{-x/tau_m} + a P_exc(x) + b P_inh(x)
    I_exc(x) = a e^{-x/tau_exc},   I_inh(x) = b e^{-x/tau_inh}
    dV/dt(x) = -V(x)/tau_m + I_exc(x) + I_inh(x)

The scalar forms are numba functions (``inline="always"``) taking inverse time constants, as the
emulator's kernels keep them; :func:`kernel_p_array` is the same kernel vectorized with numpy.
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

#: |x| below which :func:`kernel_p` uses its second-order series (relative error < 1e-19)
SERIES_P = 1e-6
#: |x| below which :func:`kernel_p_from` uses its sixth-order series (relative error < 1e-13)
SERIES_P_FROM = 1e-2


@nb.njit(inline="always", cache=True)
def kernel_p(h: float, inv_tm: float, inv_ts: float) -> float:
    """P(h) (time units of h) for inverse time constants ``inv_tm = 1/tau_m``, ``inv_ts = 1/tau_s``:
    finite for any h >= 0, stable at tau_m == tau_s."""
    d = inv_ts - inv_tm
    x = h * d
    em = math.exp(-h * inv_tm)
    if abs(x) < SERIES_P:
        return h * em * (1.0 - 0.5 * x + x * x / 6.0)
    if x >= 0.0:
        return em * (-math.expm1(-x)) / d
    return math.exp(-h * inv_ts) * math.expm1(x) / d


@nb.njit(inline="always", cache=True)
def kernel_p_from(x: float, em: float, es: float, d: float) -> float:
    """P(x) from decays already at hand: em = e^{-x/tau_m}, es = e^{-x/tau_s}, d = 1/tau_s - 1/tau_m:
    (em - es) / d, or its series where the difference would cancel (|x d| < 1e-2). Any sign of x."""
    y = x * d
    if abs(y) < SERIES_P_FROM:
        return x * em * (1.0 - y * (0.5 - y * (1.0 / 6.0 - y * (1.0 / 24.0 - y * (1.0 / 120.0 - y * (1.0 / 720.0))))))
    return (em - es) / d


@nb.njit(inline="always", cache=True)
def free_from(x: float, v: float, a: float, b: float, em: float, ee: float, ei: float, inv_tm: float, inv_te: float,
              inv_ti: float) -> tuple[float, float, float, float]:
    """:func:`free` from the decays over x already at hand (em = e^{-x/tau_m}, ee = e^{-x/tau_exc},
    ei = e^{-x/tau_inh}): no exp call."""
    ax = a * ee
    bx = b * ei
    vx = v * em + kernel_p_from(x, em, ee, inv_te - inv_tm) * a + kernel_p_from(x, em, ei, inv_ti - inv_tm) * b
    return vx, -vx * inv_tm + ax + bx, ax, bx


@nb.njit(inline="always", cache=True)
def free(x: float, v: float, a: float, b: float, inv_tm: float, inv_te: float,
         inv_ti: float) -> tuple[float, float, float, float]:
    """State after x (x < 0: before) of free evolution from (V, I_exc, I_inh) = (v, a, b):
    (V, dV/dt, I_exc, I_inh). Three exp calls."""
    return free_from(x, v, a, b, math.exp(-x * inv_tm), math.exp(-x * inv_te), math.exp(-x * inv_ti), inv_tm, inv_te,
                     inv_ti)


def kernel_p_array(h: float | np.ndarray, tau_m: float | np.ndarray, tau_s: float | np.ndarray) -> np.ndarray:
    """P(h) (time units of h) elementwise over broadcast h, tau_m, tau_s: :func:`kernel_p`
    vectorized (same branches, taking time constants rather than their inverses)."""
    h = np.asarray(h, float)
    tau_m = np.asarray(tau_m, float)
    tau_s = np.asarray(tau_s, float)
    d = 1.0 / tau_s - 1.0 / tau_m
    x = h * d
    small = np.abs(x) < SERIES_P
    with np.errstate(invalid="ignore", divide="ignore", over="ignore", under="ignore"):  # unused branches
        em = np.exp(-h / tau_m)
        num = np.where(x >= 0, em * (-np.expm1(-x)), np.exp(-h / tau_s) * np.expm1(x))
        full = num / np.where(small, 1.0, d)
        return np.where(small, h * em * (1.0 - 0.5 * x + x * x / 6.0), full)
