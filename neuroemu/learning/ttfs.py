r"""Closed-form time-to-first-spike (TTFS) neuron layers, their gradients, and a network.

This module is the single implementation of the TTFS closed form in neuroemu: training uses it,
and the emulator / Brian2 backend tests compare against it.

Neuron model (biological units: ms, mV, nA, nF)
------------------------------------------------
Current-based LIF with exponential synapses, first spike only::

    C_m dV/dt = -(C_m/tau_mem) (V - v_rest) + I,     dI/dt = -I / tau_syn,
    I -> I + w_i  at each input spike t_i  (w_i in nA, negative = inhibitory).

Write u = V - v_rest and theta = v_thresh - v_rest (> 0). A single input gives the PSP
``w_i * eps(t - t_i)`` with ``eps(s) = P(s) / C_m``, P the PSP kernel of
:mod:`neuroemu.models.psp` (which also propagates the state between inputs here):

* tau_mem == tau_syn == tau:   eps(s) = (s / C_m) e^{-s/tau}
* tau_mem == 2 tau_syn:        eps(s) = (2 tau_syn / C_m) (e^{-s/tau_mem} - e^{-s/tau_syn})

Closed form, tau_mem == tau_syn = tau (Göltz et al. 2021, eq. for the "equal-time" case)
    Multiply ``sum_i w_i (t - t_i) e^{-(t-t_i)/tau} = C_m theta`` by e^{t/tau} and write x = t/tau:
    ``a x - b = c e^x`` with ``a = sum_i w_i e^{t_i/tau}``, ``b = sum_i w_i (t_i/tau) e^{t_i/tau}``
    and ``c = C_m theta / tau_mem`` (nA; = g_leak * theta). With y = x - b/a this is
    ``(-y) e^{-y} = -(c/a) e^{b/a}``, so ``t* = tau (b/a - W0(-(c/a) e^{b/a}))``. The principal
    branch W0 (>= -1) gives the earlier, upward crossing (dV/dt ∝ a (1 + W0) > 0 requires a > 0);
    an argument below -1/e means the membrane peak stays below threshold: no spike.

Closed form, tau_mem == 2 tau_syn (Göltz et al. 2021, Methods)
    With q = e^{-t/tau_mem}: ``a_1 q - a_2 q^2 = c`` with ``a_1 = sum_i w_i e^{t_i/tau_mem}``,
    ``a_2 = sum_i w_i e^{t_i/tau_syn}``, ``c = C_m theta / tau_mem`` (the same c). The upward
    crossing is the larger root ``q = (a_1 + sqrt(a_1^2 - 4 a_2 c)) / (2 a_2)`` (needs a_1, a_2 > 0
    and a non-negative discriminant), i.e. ``t* = tau_mem ln(2 a_2 / (a_1 + sqrt(a_1^2 - 4 a_2 c)))``.

Numerical form used here (same equations, no overflow)
    e^{t_i/tau} overflows for t_i > ~700 tau, and sums of large exponentials cancel. Shifting the
    time origin to the start t_k of each inter-input interval turns the prefix sums into the
    neuron state just after input k: ``a = I(t_k)`` and ``b = -C_m u(t_k) / tau`` (equal taus),
    respectively ``a_2 = tau_mem I(t_k) / C_m`` (= B), ``a_1 = u(t_k) + B`` (2x taus), with
    ``theta`` in place of ``c`` after dividing by ``C_m/tau_mem``. The state is propagated exactly
    from one input to the next, so every quantity stays bounded by the physical current and
    voltage. For each sample the inputs are sorted; for each prefix k (causal set = first k
    inputs) the candidate crossing is computed and the spike is the first candidate that exists
    and lies in [t_(k), t_(k+1)). W0 is evaluated only when the membrane provably reaches threshold
    inside the interval (end value or interior peak >= theta), which is equivalent to "candidate
    exists and lies in the interval" and keeps the hot loop free of transcendental functions.

Gradients (implicit differentiation)
    At the output time t* the membrane satisfies F = u(t*; w, t_in) - theta = 0. Hence, for the
    causal inputs (t_i < t*),

        dt*/dw_i = -eps(t* - t_i) / Vdot,      dt*/dt_i = w_i eps'(t* - t_i) / Vdot,
        Vdot = sum_causal w_i eps'(t* - t_i)   (the membrane slope at t*, mV/ms).

    For closed-form t* this equals fastAndDeep's ``-1/(a (1 + W)) e^{t_i} (t* - t_i)`` (their
    ``utils_spiketime_et.get_spiketime_derivative``). The derivative is evaluated at the *given*
    output times, which may be measured on hardware (hardware in the loop): the causal set and the
    kernels use the measured t*, the slope is that of the ideal membrane at t*.

Guards (threshold grazing)
    When the membrane just grazes the threshold, Vdot -> 0 and the derivatives diverge.
    fastAndDeep (``utils.EqualtimeFunctionEventbased.backward``, option ``max_dw_norm``) zeroes the
    weight gradient of every (sample, output neuron) whose largest |dL/dw_i| exceeds
    ``max_dw_norm``. We do the same, and in addition (a) zero that pair's contribution to dL/dt_in
    as well (fastAndDeep still propagates it, which lets one grazing neuron blow up the previous
    layer's update) and (b) drop pairs with Vdot <= 0, which only occur for measured times (the
    ideal membrane is not rising at the measured spike time). Outputs that are inf carry no
    gradient.

Threads
    Training batches run on the calling thread (thread start-up would dominate for 50-150 samples
    and oversubscribed machines make it worse); forward batches of at least 2048 samples
    (evaluation, inference) spread samples over numba threads. Samples are independent, so results
    are bit-identical for any thread count; the backward pass sums the weight gradients of a fixed
    number of batch chunks in a fixed order.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numba
import numpy as np

from neuroemu.models.psp import kernel_p_from

__all__ = [
    "LIFParams",
    "first_spike_times",
    "backward",
    "lambertw0",
    "TTFSNetwork",
    "default_weight_init",
    "classify",
    "ttfs_loss",
    "Adam",
    "step_lr",
    "WeightBumper",
]

_MODE_EQUAL = 0  # tau_mem == tau_syn
_MODE_DOUBLE = 1  # tau_mem == 2 tau_syn


@dataclass(frozen=True)
class LIFParams:
    """Current-based LIF neuron with exponential synapses (the TTFS neuron).

    Attributes:
        tau_mem: membrane time constant (ms).
        tau_syn: synaptic time constant (ms).
        v_rest: resting (leak) potential (mV).
        v_thresh: threshold potential (mV), must exceed ``v_rest``.
        cm: membrane capacitance (nF).

    Only ``tau_mem == tau_syn`` and ``tau_mem == 2 * tau_syn`` have closed-form first-spike
    times; any other ratio raises ``ValueError``.
    """

    tau_mem: float = 10.0
    tau_syn: float = 10.0
    v_rest: float = -65.0
    v_thresh: float = -50.0
    cm: float = 1.0

    def __post_init__(self) -> None:
        for name in ("tau_mem", "tau_syn", "cm"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"LIFParams.{name} must be a positive finite number, got {value!r}")
        for name in ("v_rest", "v_thresh"):
            if not np.isfinite(getattr(self, name)):
                raise ValueError(f"LIFParams.{name} must be finite, got {getattr(self, name)!r}")
        if not self.v_thresh > self.v_rest:
            raise ValueError(
                f"LIFParams.v_thresh ({self.v_thresh} mV) must be above v_rest ({self.v_rest} mV)")
        _ = self.mode  # validates the ratio: raises ValueError if it has no closed-form first-spike time

    @property
    def ratio(self) -> float:
        """tau_mem / tau_syn."""
        return self.tau_mem / self.tau_syn

    @property
    def mode(self) -> int:
        """0 for tau_mem == tau_syn (Lambert W), 1 for tau_mem == 2 tau_syn (square root)."""
        r = self.ratio
        if math.isclose(r, 1.0, rel_tol=1e-9):
            return _MODE_EQUAL
        if math.isclose(r, 2.0, rel_tol=1e-9):
            return _MODE_DOUBLE
        raise ValueError(
            f"tau_mem/tau_syn = {r:g} ({self.tau_mem} ms / {self.tau_syn} ms) has no closed-form "
            "first-spike time; use tau_mem == tau_syn or tau_mem == 2 * tau_syn")

    @property
    def theta(self) -> float:
        """Threshold distance v_thresh - v_rest (mV)."""
        return self.v_thresh - self.v_rest

    @property
    def weight_unit(self) -> float:
        """c = C_m theta / tau_mem (nA): the leak current at threshold.

        fastAndDeep works in units where c = 1 (g_leak = threshold = tau_syn = 1); multiply their
        weights by this value to get nA (1.5 nA for the defaults).
        """
        return self.cm * self.theta / self.tau_mem


# --------------------------------------------------------------------------- Lambert W

# [4/4] rational fit of W0 in p = sqrt(2 (1 + e z)) on p in [0, sqrt(2)] (z in [-1/e, 0]),
# max abs error 5e-11; fitted by least squares against scipy.special.lambertw.
_WP_NUM = (-0.9999999999471606, -0.2507722819498729, 0.43628599617320196, 0.15735718887883704,
           0.00925005711549177)
_WP_DEN = (1.2507722779001142, 0.4811530251240474, 0.05964888555206661, 0.0014779669699676093)


@numba.njit(cache=True, nogil=True)
def _lambertw0_neglog(L: float) -> float:
    """Principal Lambert W of z = -exp(L) for L <= -1 (z in [-1/e, 0)).

    Passing log(-z) keeps 1 + e z = -expm1(L + 1) accurate near the branch point, where the
    spike time is most sensitive. A rational approximation in p = sqrt(2 (1 + e z)) (error
    < 1e-10) is polished by one Halley step to full double precision; ~25 ns.
    """
    if L >= -1.0:
        return -1.0
    p = math.sqrt(-2.0 * math.expm1(L + 1.0))
    num = _WP_NUM[0] + p * (_WP_NUM[1] + p * (_WP_NUM[2] + p * (_WP_NUM[3] + p * _WP_NUM[4])))
    den = 1.0 + p * (_WP_DEN[0] + p * (_WP_DEN[1] + p * (_WP_DEN[2] + p * _WP_DEN[3])))
    w = num / den
    if p > 1e-5:  # next to the branch point the Halley step loses accuracy; the fit is exact there
        z = -math.exp(L)
        ew = math.exp(w)
        f = w * ew - z
        wp1 = w + 1.0
        w -= f / (ew * wp1 - (w + 2.0) * f / (2.0 * wp1))
    if w < -1.0:
        w = -1.0
    return w


def lambertw0(z: np.ndarray | float) -> np.ndarray:
    """Principal branch W0 for real z in [-1/e, 0] (the range the TTFS closed form needs).

    Values below -1/e return nan. Exposed for testing against ``scipy.special.lambertw``.
    """
    z = np.asarray(z, dtype=np.float64)
    out = np.full(z.shape, np.nan)
    flat_z, flat_out = z.reshape(-1), out.reshape(-1)
    for n, value in enumerate(flat_z):
        if value == 0.0:
            flat_out[n] = 0.0
        elif -1.0 / math.e <= value < 0.0:
            flat_out[n] = _lambertw0_neglog(math.log(-value))
    return out


# --------------------------------------------------------------------------- forward kernel

@numba.njit(inline="always", cache=True)
def _rate_difference(mode: int, tau_syn: float, tau_mem: float) -> float:
    """1/tau_syn - 1/tau_mem of the PSP kernel (exactly 0 for tau_mem == tau_syn)."""
    return 0.0 if mode == _MODE_EQUAL else 1.0 / tau_syn - 1.0 / tau_mem


@numba.njit(cache=True, nogil=True)
def _interval_spike(u0: float, i0: float, u_end: float, dt: float, mode: int, tau_syn: float,
                    tau_mem: float, cm: float, theta: float) -> float:
    """Time (ms, from the interval start) of the threshold crossing within [0, dt], or -1.

    (u0, i0): membrane (mV above rest) and current (nA) just after the interval's last input;
    u_end: membrane at the end of the interval (0 for dt = inf). A crossing exists iff u_end
    reaches theta or the membrane peaks inside the interval above theta (u0 < theta here).
    """
    if mode == _MODE_EQUAL:
        tau = tau_syn
        amp = i0 * tau / cm  # A: u(s) = (u0 + A s/tau) e^{-s/tau}
        if amp <= 0.0:
            return -1.0  # not driven upward: the maximum on the interval is u0 < theta
        if u_end < theta:
            # interior peak A e^{-sigma_peak} <= A (sigma_peak = 1 - u0/A > 0): cheap reject first
            if amp < theta:
                return -1.0
            sig_peak = 1.0 - u0 / amp
            if not (0.0 < sig_peak < dt / tau and amp * math.exp(-sig_peak) >= theta):
                return -1.0
        # A sigma + u0 = theta e^sigma  ->  sigma = -u0/A - W0(-(theta/A) e^{-u0/A})
        w = _lambertw0_neglog(math.log(theta / amp) - u0 / amp)
        s = (-u0 / amp - w) * tau
    else:
        b = 2.0 * tau_syn * i0 / cm  # u(q) = (u0 + B) q - B q^2,  q = e^{-s/tau_mem}
        a1 = u0 + b
        if b <= 0.0 or a1 <= 0.0:
            return -1.0
        if u_end < theta:
            q_peak = a1 / (2.0 * b)
            if not (math.exp(-dt / tau_mem) < q_peak < 1.0 and a1 * a1 / (4.0 * b) >= theta):
                return -1.0
        disc = a1 * a1 - 4.0 * b * theta
        if disc < 0.0:
            disc = 0.0  # grazing: rounding may push the discriminant just below zero
        s = tau_mem * math.log(2.0 * b / (a1 + math.sqrt(disc)))
    if s < 0.0:
        s = 0.0
    if s > dt:
        s = dt
    return s


@numba.njit(cache=True, nogil=True)
def _forward_sample(weights, times, order, mode, tau_syn, tau_mem, cm, theta, out, u, cur, done):
    """First spike times of all output neurons for one sample (inputs sorted by ``order``)."""
    n_in, n_out = weights.shape
    for j in range(n_out):
        out[j] = np.inf
        u[j] = 0.0
        cur[j] = 0.0
        done[j] = False
    n_done = 0
    for k in range(n_in):
        i = order[k]
        t_k = times[i]
        if t_k == np.inf:
            break
        for j in range(n_out):
            cur[j] += weights[i, j]
        t_next = times[order[k + 1]] if k + 1 < n_in else np.inf
        dt = t_next - t_k
        if dt == 0.0:
            continue  # simultaneous inputs: add them all before looking for a crossing
        if dt == np.inf:
            dec_syn = 0.0
            dec_mem = 0.0
            p_dt = 0.0
        else:
            dec_syn = math.exp(-dt / tau_syn)
            dec_mem = dec_syn if mode == _MODE_EQUAL else math.exp(-dt / tau_mem)
            p_dt = kernel_p_from(dt, dec_mem, dec_syn, _rate_difference(mode, tau_syn, tau_mem)) / cm
        for j in range(n_out):
            if done[j]:
                continue
            # exact propagation of (u, I) to the next input (both -> 0 for dt = inf)
            u_end = u[j] * dec_mem + p_dt * cur[j]
            s = _interval_spike(u[j], cur[j], u_end, dt, mode, tau_syn, tau_mem, cm, theta)
            if s >= 0.0:
                out[j] = t_k + s
                done[j] = True
                n_done += 1
            else:
                u[j] = u_end
                cur[j] *= dec_syn
        if n_done == n_out:
            break


@numba.njit(cache=True, nogil=True)
def _forward_kernel(weights, input_times, mode, tau_syn, tau_mem, cm, theta):
    """All samples on the calling thread (training batches: no thread start-up per call)."""
    n_batch, n_in = input_times.shape
    n_out = weights.shape[1]
    out = np.empty((n_batch, n_out))
    u = np.empty(n_out)
    cur = np.empty(n_out)
    done = np.empty(n_out, dtype=np.bool_)
    for b in range(n_batch):
        order = np.argsort(input_times[b], kind="mergesort")  # stable: ties sum in index order
        _forward_sample(weights, input_times[b], order, mode, tau_syn, tau_mem, cm, theta,
                        out[b], u, cur, done)
    return out


@numba.njit(cache=True, nogil=True, parallel=True)
def _forward_kernel_threads(weights, input_times, mode, tau_syn, tau_mem, cm, theta):
    """Samples spread over numba threads (large batches: evaluation, inference)."""
    n_batch, n_in = input_times.shape
    n_out = weights.shape[1]
    out = np.empty((n_batch, n_out))
    for b in numba.prange(n_batch):
        order = np.argsort(input_times[b], kind="mergesort")
        u = np.empty(n_out)
        cur = np.empty(n_out)
        done = np.empty(n_out, dtype=np.bool_)
        _forward_sample(weights, input_times[b], order, mode, tau_syn, tau_mem, cm, theta,
                        out[b], u, cur, done)
    return out


#: batches at least this large use the threaded forward kernel
_THREADED_BATCH = 2048


# --------------------------------------------------------------------------- backward kernel

_N_CHUNKS = 8  # fixed reduction layout: bit-identical gradients for any thread count


@numba.njit(cache=True, nogil=True)
def _backward_kernel(weights, input_times, output_times, grad_output, mode, tau_syn, tau_mem, cm,
                     max_dw_norm):
    """dL/dW (summed over the batch), dL/dt_in, and the number of guarded (sample, neuron) pairs."""
    n_batch, n_in = input_times.shape
    n_out = weights.shape[1]
    n_chunks = min(_N_CHUNKS, max(n_batch, 1))
    d = _rate_difference(mode, tau_syn, tau_mem)
    tau_m = tau_syn if mode == _MODE_EQUAL else tau_mem
    dw_chunks = np.zeros((n_chunks, n_in, n_out))
    d_in = np.zeros((n_batch, n_in))
    guarded = np.zeros(n_batch, dtype=np.int64)
    for c in range(n_chunks):
        eps = np.empty(n_in)  # PSP kernel eps(t* - t_i) (mV/nA)
        deps = np.empty(n_in)  # its time derivative (mV/(ms nA))
        dw = dw_chunks[c]
        b_start = c * n_batch // n_chunks
        b_stop = (c + 1) * n_batch // n_chunks
        for b in range(b_start, b_stop):
            for j in range(n_out):
                t_out = output_times[b, j]
                g = grad_output[b, j]
                if t_out == np.inf or g == 0.0 or not math.isfinite(t_out):
                    continue
                vdot = 0.0
                for i in range(n_in):
                    t_i = input_times[b, i]
                    if t_i < t_out:
                        s = t_out - t_i
                        es = math.exp(-s / tau_syn)
                        em = es if mode == _MODE_EQUAL else math.exp(-s / tau_mem)
                        eps[i] = kernel_p_from(s, em, es, d) / cm
                        deps[i] = es / cm - eps[i] / tau_m  # d eps/ds = (e^{-s/tau_syn} - P(s)/tau_mem) / C_m
                        vdot += weights[i, j] * deps[i]
                    else:
                        eps[i] = 0.0
                        deps[i] = 0.0
                if not vdot > 0.0:
                    guarded[b] += 1  # not rising at t*: only possible for measured times
                    continue
                coef = g / vdot
                biggest = 0.0
                for i in range(n_in):
                    a = abs(coef * eps[i])
                    if a > biggest:
                        biggest = a
                if biggest > max_dw_norm:
                    guarded[b] += 1  # threshold grazing (fastAndDeep's max_dw_norm)
                    continue
                for i in range(n_in):
                    if eps[i] != 0.0 or deps[i] != 0.0:
                        dw[i, j] -= coef * eps[i]
                        d_in[b, i] += coef * weights[i, j] * deps[i]
    dw_total = np.zeros((n_in, n_out))
    for c in range(n_chunks):
        dw_total += dw_chunks[c]
    return dw_total, d_in, guarded.sum()


# --------------------------------------------------------------------------- public API

def _as_2d_times(input_times: np.ndarray, n_in: int, what: str = "input_times") -> tuple[np.ndarray, bool]:
    x = np.asarray(input_times, dtype=np.float64)
    single = x.ndim == 1
    if single:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != n_in:
        raise ValueError(f"{what} must have shape (batch, {n_in}) to match the weights, got {np.shape(input_times)}")
    if np.isnan(x).any():
        raise ValueError(f"{what} contains NaN; use np.inf for 'no spike'")
    if np.isneginf(x).any():
        raise ValueError(f"{what} contains -inf; spike times must be finite or +inf")
    return np.ascontiguousarray(x), single


def _as_weights(weights: np.ndarray) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2:
        raise ValueError(f"weights must be a 2-D array (n_in, n_out) in nA, got shape {w.shape}")
    if not np.isfinite(w).all():
        raise ValueError("weights contain NaN or inf")
    return np.ascontiguousarray(w)


def first_spike_times(weights: np.ndarray, input_times: np.ndarray,
                      params: LIFParams = LIFParams()) -> np.ndarray:
    """First output spike times of a layer of TTFS LIF neurons, exact (closed form).

    Args:
        weights: (n_in, n_out) synaptic weights in nA (negative = inhibitory).
        input_times: (batch, n_in) input spike times in ms, ``np.inf`` = no spike. A 1-D array is
            treated as a single sample.
        params: neuron parameters (tau_mem == tau_syn or tau_mem == 2 tau_syn).

    Returns:
        (batch, n_out) first spike times in ms, ``np.inf`` where a neuron stays silent
        (1-D if ``input_times`` was 1-D). Each neuron starts at rest with zero current.
    """
    w = _as_weights(weights)
    x, single = _as_2d_times(input_times, w.shape[0])
    kernel = _forward_kernel_threads if len(x) >= _THREADED_BATCH else _forward_kernel
    out = kernel(w, x, params.mode, float(params.tau_syn), float(params.tau_mem), float(params.cm),
                 float(params.theta))
    return out[0] if single else out


def _backward(weights, input_times, output_times, grad_output, params, max_dw_norm):
    w = _as_weights(weights)
    x, single = _as_2d_times(input_times, w.shape[0])
    t_out = np.asarray(output_times, dtype=np.float64)
    g = np.asarray(grad_output, dtype=np.float64)
    if single:
        t_out, g = t_out.reshape(1, -1), g.reshape(1, -1)
    shape = (x.shape[0], w.shape[1])
    if t_out.shape != shape:
        raise ValueError(f"output_times must have shape {shape}, got {t_out.shape}")
    if g.shape != shape:
        raise ValueError(f"grad_output must have shape {shape}, got {g.shape}")
    if np.isnan(t_out).any():
        raise ValueError("output_times contains NaN; use np.inf for 'no spike'")
    g = np.where(np.isfinite(g), g, 0.0)  # e.g. nan from a loss at missing spikes: no gradient
    limit = np.inf if max_dw_norm is None else float(max_dw_norm)
    if not limit > 0:
        raise ValueError(f"max_dw_norm must be positive or None, got {max_dw_norm!r}")
    dw, d_in, n_guarded = _backward_kernel(w, x, np.ascontiguousarray(t_out), np.ascontiguousarray(g),
                                           params.mode, float(params.tau_syn), float(params.tau_mem),
                                           float(params.cm), limit)
    return dw, (d_in[0] if single else d_in), int(n_guarded)


def backward(weights: np.ndarray, input_times: np.ndarray, output_times: np.ndarray,
             grad_output: np.ndarray, params: LIFParams = LIFParams(),
             max_dw_norm: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Backpropagate dL/dt_out through one TTFS layer by implicit differentiation.

    Args:
        weights: (n_in, n_out) weights in nA.
        input_times: (batch, n_in) input spike times in ms (``np.inf`` = no spike).
        output_times: (batch, n_out) output spike times in ms at which to differentiate: the
            closed-form times, or times measured on hardware (hardware in the loop).
            ``np.inf`` entries carry no gradient.
        grad_output: (batch, n_out) upstream dL/dt_out (1/ms); non-finite entries count as 0.
        params: neuron parameters.
        max_dw_norm: grazing guard (1/nA): a (sample, neuron) pair whose largest
            |grad_output * dt_out/dw_i| exceeds it contributes no gradient at all. None = off.

    Returns:
        ``(dL/dW, dL/dt_in)``: (n_in, n_out) in 1/nA summed over the batch, and (batch, n_in)
        in 1/ms. Only causal inputs (t_i < t_out) receive gradient.
    """
    dw, d_in, _ = _backward(weights, input_times, output_times, grad_output, params, max_dw_norm)
    return dw, d_in


# --------------------------------------------------------------------------- network

def default_weight_init(params: LIFParams, n_layers: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Weight init (mean, std) per layer in nA, from fastAndDeep's Yin-Yang config.

    fastAndDeep (experiment_configs/yin_yang.yaml) draws N(1.5, 0.8) for the hidden layer and
    N(0.5, 0.8) for the label layer in units of c = C_m theta / tau_mem; here scaled by
    ``params.weight_unit`` (1.5 nA for the defaults: N(2.25, 1.2) and N(0.75, 1.2) nA).
    Deeper networks repeat the hidden-layer values.
    """
    c = params.weight_unit
    means = tuple([1.5 * c] * (n_layers - 1) + [0.5 * c])
    stds = tuple([0.8 * c] * n_layers)
    return means, stds


class TTFSNetwork:
    """Feed-forward TTFS network: per-layer weights (nA) and bias spike times (ms).

    Layer ``l`` receives the previous layer's spike times (or the input times for ``l = 0``)
    followed by its own bias spikes ``bias_times[l]``; its weights have shape
    ``(n_prev + len(bias_times[l]), layer_sizes[l])``. The last layer is the label layer:
    the class is the neuron that spikes first.

    Args:
        n_inputs: number of input channels (without bias).
        layer_sizes: neurons per layer, e.g. ``(120, 3)`` for Yin-Yang 4-120-3.
        params: neuron parameters shared by all layers.
        bias_times: one sequence of bias spike times (ms) per layer; default one bias spike at
            0.9 tau_syn in every layer (fastAndDeep yin_yang.yaml: ``bias_times: [0.9]``).
        weight_mean, weight_std: per-layer normal init in nA; default
            :func:`default_weight_init`.
        weights: explicit weights instead of a random init.
        seed: seed of the ``numpy.random.Generator`` used for the init.
    """

    def __init__(self, n_inputs: int, layer_sizes: Sequence[int], params: LIFParams = LIFParams(),
                 bias_times: Sequence[Sequence[float]] | None = None,
                 weight_mean: Sequence[float] | None = None, weight_std: Sequence[float] | None = None,
                 weights: Sequence[np.ndarray] | None = None, seed: int = 0) -> None:
        if n_inputs < 1 or not layer_sizes or any(int(n) < 1 for n in layer_sizes):
            raise ValueError(f"need n_inputs >= 1 and positive layer sizes, got {n_inputs}, {list(layer_sizes)}")
        self.params = params
        self.n_inputs = int(n_inputs)
        self.layer_sizes = tuple(int(n) for n in layer_sizes)
        n_layers = len(self.layer_sizes)
        if bias_times is None:
            bias_times = [[0.9 * params.tau_syn]] * n_layers
        if len(bias_times) != n_layers:
            raise ValueError(f"bias_times needs one entry per layer ({n_layers}), got {len(bias_times)}")
        self.bias_times = [np.asarray(bt, dtype=np.float64).reshape(-1) for bt in bias_times]
        for bt in self.bias_times:
            if not np.isfinite(bt).all():
                raise ValueError("bias spike times must be finite (ms)")
        shapes = self.weight_shapes
        if weights is not None:
            if len(weights) != n_layers:
                raise ValueError(f"weights needs one array per layer ({n_layers}), got {len(weights)}")
            self.weights = [np.array(w, dtype=np.float64) for w in weights]
            for l, (w, shape) in enumerate(zip(self.weights, shapes)):
                if w.shape != shape:
                    raise ValueError(f"weights[{l}] has shape {w.shape}, expected {shape} "
                                     "(inputs incl. bias, neurons)")
        else:
            means, stds = default_weight_init(params, n_layers)
            means = means if weight_mean is None else tuple(weight_mean)
            stds = stds if weight_std is None else tuple(weight_std)
            if len(means) != n_layers or len(stds) != n_layers:
                raise ValueError(f"weight_mean and weight_std need {n_layers} entries")
            rng = np.random.default_rng(seed)
            self.weights = [rng.normal(m, s, size=shape) for m, s, shape in zip(means, stds, shapes)]

    @classmethod
    def yin_yang(cls, n_hidden: int = 120, params: LIFParams = LIFParams(), seed: int = 0) -> "TTFSNetwork":
        """The paper's Yin-Yang network 4 (+1 bias) -> n_hidden (+1 bias) -> 3."""
        return cls(4, (n_hidden, 3), params=params, seed=seed)

    @property
    def weight_shapes(self) -> list[tuple[int, int]]:
        sizes = (self.n_inputs,) + self.layer_sizes
        return [(sizes[l] + len(self.bias_times[l]), sizes[l + 1]) for l in range(len(self.layer_sizes))]

    @property
    def n_layers(self) -> int:
        return len(self.layer_sizes)

    def copy(self) -> "TTFSNetwork":
        return TTFSNetwork(self.n_inputs, self.layer_sizes, self.params, self.bias_times,
                           weights=[w.copy() for w in self.weights])

    def layer_input(self, layer: int, times: np.ndarray) -> np.ndarray:
        """Append layer ``layer``'s bias spike times (ms) to a (batch, n) block of spike times."""
        times = np.asarray(times, dtype=np.float64)
        bias = np.broadcast_to(self.bias_times[layer], (times.shape[0], self.bias_times[layer].size))
        return np.concatenate([times, bias], axis=1)

    def forward(self, input_times: np.ndarray, weights: Sequence[np.ndarray] | None = None) -> list[np.ndarray]:
        """Spike times (ms) of every layer for a batch of input times (ms, without bias).

        Args:
            input_times: (batch, n_inputs), ``np.inf`` = no spike.
            weights: optional weights to use instead of ``self.weights``.

        Returns:
            list with one (batch, layer_size) array per layer; the last one is the label layer.
        """
        weights = self.weights if weights is None else weights
        x = np.asarray(input_times, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_inputs:
            raise ValueError(f"input_times must have shape (batch, {self.n_inputs}), got {x.shape}")
        times = []
        for l in range(self.n_layers):
            x = first_spike_times(weights[l], self.layer_input(l, x), self.params)
            times.append(x)
        return times

    def backward(self, input_times: np.ndarray, layer_times: Sequence[np.ndarray], grad_output: np.ndarray,
                 max_dw_norm: float | None = None) -> tuple[list[np.ndarray], int]:
        """Gradients of all layers' weights from dL/dt of the label layer.

        Args:
            input_times: (batch, n_inputs) network inputs (ms, without bias).
            layer_times: per-layer spike times from :meth:`forward` or measured on hardware.
            grad_output: (batch, n_classes) dL/dt_label (1/ms).
            max_dw_norm: grazing guard, see :func:`backward`.

        Returns:
            (per-layer dL/dW summed over the batch (1/nA), number of guarded (sample, neuron) pairs).
        """
        grads: list[np.ndarray] = [None] * self.n_layers  # type: ignore[list-item]
        n_guarded = 0
        g = grad_output
        for l in range(self.n_layers - 1, -1, -1):
            below = input_times if l == 0 else layer_times[l - 1]
            dw, d_in, ng = _backward(self.weights[l], self.layer_input(l, below), layer_times[l], g,
                                     self.params, max_dw_norm)
            grads[l] = dw
            n_guarded += ng
            g = d_in[:, : d_in.shape[1] - self.bias_times[l].size]  # bias times are fixed
        return grads, n_guarded

    def predict(self, input_times: np.ndarray) -> np.ndarray:
        """Class per sample: index of the earliest label spike, -1 if no label neuron spikes."""
        return classify(self.forward(input_times)[-1])


def classify(label_times: np.ndarray) -> np.ndarray:
    """Earliest-spike classification; -1 where no label neuron spiked (counts as wrong)."""
    label_times = np.asarray(label_times)
    pred = np.argmin(label_times, axis=1)
    pred[~np.isfinite(label_times[np.arange(len(pred)), pred])] = -1
    return pred



# --------------------------------------------------------------------------- loss and optimisation

def ttfs_loss(label_times: np.ndarray, labels: np.ndarray, tau0: float, alpha: float = 0.005,
              tau1: float | None = None, missing_loss: float = 100.0) -> tuple[np.ndarray, np.ndarray]:
    """Göltz et al. loss per sample and its gradient with respect to the label-layer times.

    ``L = -log softmax(-t / tau0)[label] + alpha * exp(t_label / tau1)``
    (fastAndDeep ``utils.LossFunction``: tau0 = xi tau_syn with xi = 0.2, tau1 = beta tau_syn with
    beta = 1, alpha = 0.005). A sample whose label neuron is silent gets ``missing_loss``
    (fastAndDeep: 100) and no gradient; silent wrong-label neurons contribute nothing.

    Args:
        label_times: (batch, n_classes) label-layer spike times in ms.
        labels: (batch,) class indices.
        tau0: softmax temperature in ms (0.2 tau_syn in the paper).
        alpha: weight of the regulariser pushing the label spike early.
        tau1: regulariser time constant in ms (tau_syn in the paper); None = 5 tau0.

    Returns:
        (per-sample loss (batch,), dL/dt (batch, n_classes) in 1/ms).
    """
    t = np.asarray(label_times, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if t.ndim != 2 or labels.shape != (t.shape[0],):
        raise ValueError(f"label_times (batch, classes) and labels (batch,) do not match: {t.shape}, {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= t.shape[1]):
        raise ValueError(f"labels must be in [0, {t.shape[1]})")
    tau1 = 5.0 * tau0 if tau1 is None else tau1
    rows = np.arange(t.shape[0])
    t_true = t[rows, labels]
    ok = np.isfinite(t_true)
    loss = np.full(t.shape[0], float(missing_loss))
    grad = np.zeros_like(t)
    if ok.any():
        tk, lab, tt = t[ok], labels[ok], t_true[ok]
        z = -tk / tau0  # silent neurons: -inf, i.e. weight 0 in the softmax
        z_max = z.max(axis=1, keepdims=True)
        e = np.exp(z - z_max)
        total = e.sum(axis=1, keepdims=True)
        reg = alpha * np.exp(tt / tau1)
        loss[ok] = z_max[:, 0] + np.log(total[:, 0]) + tt / tau0 + reg
        g = -e / total / tau0
        g[np.arange(len(lab)), lab] += 1.0 / tau0 + reg / tau1
        grad[ok] = g
    return loss, grad


class Adam:
    """Adam as in ``torch.optim.Adam`` (default betas and eps), updating arrays in place."""

    def __init__(self, shapes: Sequence[tuple[int, ...]], betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.betas = betas
        self.eps = eps
        self.m = [np.zeros(s) for s in shapes]
        self.v = [np.zeros(s) for s in shapes]
        self.t = 0

    def step(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray], lr: float) -> None:
        b1, b2 = self.betas
        self.t += 1
        bc1 = 1.0 - b1 ** self.t
        bc2 = 1.0 - b2 ** self.t
        for p, g, m, v in zip(params, grads, self.m, self.v):
            m *= b1
            m += (1.0 - b1) * g
            v *= b2
            v += (1.0 - b2) * g * g
            p -= (lr / bc1) * m / (np.sqrt(v) / math.sqrt(bc2) + self.eps)


def step_lr(lr0: float, epoch: int, step_size: int = 20, gamma: float = 0.95) -> float:
    """Learning rate of ``epoch`` (0-based) under torch's StepLR (fastAndDeep Yin-Yang: 20, 0.95)."""
    return lr0 * gamma ** (epoch // step_size)


class WeightBumper:
    """fastAndDeep's weight bumping (``training.check_bump_weights``).

    After each forward pass, the first layer (from the input side) whose fraction of silent
    (sample, neuron) pairs exceeds ``max_missing[layer]`` gets ``value`` added to the incoming
    weights of every neuron that was silent for at least one sample of the batch (``targeted``;
    otherwise to all its weights), and that batch makes no gradient step. With ``exponential``
    the bump doubles while the same layer needs bumping in consecutive batches.

    Args:
        max_missing: allowed silent fraction per layer (fastAndDeep Yin-Yang: 0.3 hidden,
            0.0 label layer).
        value: initial bump in nA (fastAndDeep 0.0005 c = 0.00075 nA for the defaults).
    """

    def __init__(self, max_missing: Sequence[float], value: float, exponential: bool = True,
                 targeted: bool = True) -> None:
        self.max_missing = tuple(float(m) for m in max_missing)
        self.value = float(value)
        self.exponential = exponential
        self.targeted = targeted
        self.current = self.value
        self.last_layer: int | None = None

    def __call__(self, weights: Sequence[np.ndarray], layer_times: Sequence[np.ndarray]) -> int | None:
        """Bump in place if needed; returns the bumped layer index or None."""
        if len(self.max_missing) != len(layer_times):
            raise ValueError(f"max_missing has {len(self.max_missing)} entries for {len(layer_times)} layers")
        layer, silent = None, None
        for l, times in enumerate(layer_times):
            silent = ~np.isfinite(times)
            if silent.mean() > self.max_missing[l]:
                layer = l
                break
        if layer is None:
            self.last_layer = None
            return None
        if self.exponential and layer == self.last_layer:
            self.current *= 2.0
        else:
            self.current = self.value
        if self.targeted:
            weights[layer][:, silent.any(axis=0)] += self.current
        else:
            weights[layer] += self.current
        self.last_layer = layer
        return layer
