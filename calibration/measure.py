"""Reading parameters off recordings, as on the chip: CADC reads, MADC traces, spike times.

Every function takes a :class:`~neuroemu.calibration.setups.Recording` (or arrays read from
one) and returns one value per circuit in chip units. ``+inf``/``-inf`` mean "clearly above /
below anything measurable here" (e.g. a neuron that never spikes again has a threshold above
its leak potential); NaN means "no information" (e.g. a circuit that never spikes at all).

Noise model the estimators are built for: the emulator's (and the chip's) membrane noise is
white noise filtered by the membrane, an AR(1) process with the membrane's own step ratio
``r = exp(-dt / tau_mem)``. Differencing a trace with that ratio, ``u_j = V_j - r V_{j-1}``,
leaves white noise plus the *synaptic current* (an exponential in the synaptic time constant),
so time constants and amplitudes are fitted where the noise is white.
"""
from __future__ import annotations

import numpy as np

from neuroemu.calibration.setups import Recording
from neuroemu.models.psp import kernel_p_array


# --- potentials ------------------------------------------------------------------------------
def cadc_potential(rec: Recording, t_from_us: float, t_to_us: float, every_us: float = 2.0) -> np.ndarray:
    """Mean CADC read (V) per circuit over all trials and reads in [t_from, t_to]; membrane noise
    dithers the 8-bit reads, so the mean resolves below one LSB."""
    return rec.cadc(t_from_us, t_to_us, every_us).mean(axis=(0, 2))


def clamped_potential(rec: Recording, t_from_us: float, t_to_us: float, every_us: float = 2.0) -> np.ndarray:
    """CADC read (V) of the membrane clamped during a refractory period that started before
    ``t_from``: NaN for circuits that did not spike before ``t_from`` or whose membrane moved
    in the window (not clamped)."""
    reads = rec.cadc(t_from_us, t_to_us, every_us)
    spiked = np.zeros((rec.trials, reads.shape[1]), bool)
    early = rec.spike_t < t_from_us
    spiked[rec.spike_trial[early], rec.spike_circuit[early]] = True
    fine = rec.madc()
    i0, i1 = int(np.ceil(t_from_us / rec.dt_us)), int(np.floor(t_to_us / rec.dt_us)) + 1
    # a clamped membrane does not move (by more than one MADC step: the last of a finite reset
    # conductance's pull may flip a code)
    lsb = rec.hw.voltage.madc.V_per_lsb if rec.hw.voltage.madc.bits is not None else 0.0
    still = np.ptp(fine[:, :, i0:i1], axis=2) <= lsb * (1 + 1e-9)
    ok = spiked & still
    with np.errstate(invalid="ignore"):
        value = np.where(ok[:, :, None], reads, 0.0).sum(axis=(0, 2)) / (ok.sum(axis=0) * reads.shape[2])
    return np.where(ok.any(axis=0), value, np.nan)


def _sorted_spikes(rec: Recording) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Spikes sorted by (trial, circuit, time) and each one's previous spike time (-inf if first)."""
    order = np.lexsort((rec.spike_t, rec.spike_circuit, rec.spike_trial))
    t, c, k = rec.spike_t[order], rec.spike_circuit[order], rec.spike_trial[order]
    prev = np.full(len(t), -np.inf)
    same = (c[1:] == c[:-1]) & (k[1:] == k[:-1])
    prev[1:][same] = t[:-1][same]
    return t, c, k, prev


def threshold_at_spikes(rec: Recording, t_res_us: float) -> np.ndarray:
    """Threshold (V) per circuit: the membrane at each spike time, extrapolated from the last two
    MADC samples before the spike (the membrane rises smoothly towards a leak potential above
    threshold), averaged over spikes and trials (which averages the per-trial threshold jitter).

    Spike times are floored to the FPGA clock: half a tick is added back. ``+inf``: no spike
    after the first (threshold above the leak potential); ``-inf``: spikes, but never from a
    rising membrane (threshold at or below the reset potential)."""
    n = rec.hw.neurons.circuits
    v = rec.madc()
    dt = rec.dt_us
    t, c, k, prev = _sorted_spikes(rec)
    s = np.floor(t / dt + 1e-6).astype(np.int64)  # last sample at or before the spike
    ok = (s >= 1) & (s < rec.n_samples) & ((s - 1) * dt > prev)
    s_ok = np.clip(s, 1, rec.n_samples - 1)
    v1 = v[k, c, s_ok]
    v0 = v[k, c, s_ok - 1]
    adc = rec.hw.voltage.madc
    top = adc.top_V - 0.5 * adc.V_per_lsb
    ok &= (v1 > v0) | (v1 >= top)
    est = v1 + (v1 - v0) * (t + 0.5 * t_res_us - s_ok * dt) / dt
    est = np.where(v1 >= top, np.inf, est)  # the MADC saturated below the threshold
    count = np.bincount(c[ok], minlength=n)
    total = np.bincount(c[ok], weights=est[ok], minlength=n)
    spikes = np.bincount(c, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = total / count
    value = np.where(count > 0, value, np.where(spikes > rec.trials, -np.inf, np.inf))
    return value


def refractory_from_clamps(rec: Recording, t_res_us: float, statistic: str = "mean") -> np.ndarray:
    """Refractory time (µs) per circuit: from each spike to the end of the clamp that follows it.

    A clamped membrane repeats its MADC code exactly (or falls, pulled to the reset through a
    finite conductance); the clamp ends where the membrane first rises, refined by extrapolating
    the rising membrane back to the clamp level. Averaged
    over spikes and trials (``statistic`` "median": their median, robust to a single spike whose
    first sample after it is not yet clamped). ``+inf``: the first clamp outlasted the run; NaN:
    no spikes."""
    n = rec.hw.neurons.circuits
    v = rec.madc()
    dt = rec.dt_us
    S = rec.n_samples
    change = np.zeros(v.shape, bool)
    change[:, :, 1:] = v[:, :, 1:] > v[:, :, :-1]  # released: rising (a finite reset conductance pulls down)
    idx = np.where(change, np.arange(S), S)
    nxt = np.minimum.accumulate(idx[:, :, ::-1], axis=2)[:, :, ::-1]  # first change at or after j
    t, c, k, _ = _sorted_spikes(rec)
    s0 = np.floor(t / dt + 1e-6).astype(np.int64) + 1  # first sample after the spike: clamped
    inside = s0 + 1 < S
    j = np.full(len(t), S)
    j[inside] = nxt[k[inside], c[inside], s0[inside] + 1]
    released = j < S - 1
    jj = np.clip(j, 1, S - 2)
    v_clamp = v[k, c, jj - 1]  # the clamp's level when it ends (the reset conductance may still pull)
    v_j, v_next = v[k, c, jj], v[k, c, jj + 1]
    slope = (v_next - v_j) / dt
    with np.errstate(invalid="ignore", divide="ignore"):
        back = np.where(slope > 0, (v_j - v_clamp) / slope, 0.5 * dt)
    back = np.clip(np.nan_to_num(back, nan=0.5 * dt), 0.0, dt)
    est = jj * dt - back - (t + 0.5 * t_res_us)
    count = np.bincount(c[released], minlength=n)
    spikes = np.bincount(c, minlength=n)
    if statistic == "median":
        value = np.full(n, np.nan)
        order = np.argsort(c[released], kind="stable")
        groups = np.split(est[released][order], np.cumsum(count)[:-1])  # one group per circuit
        for circuit in np.flatnonzero(count):
            value[circuit] = np.median(groups[circuit])
    elif statistic == "mean":
        total = np.bincount(c[released], weights=est[released], minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            value = total / count
    else:
        raise ValueError(f"statistic must be 'mean' or 'median', got {statistic!r}")
    return np.where(count > 0, value, np.where(spikes > 0, np.inf, np.nan))


# --- time constants and amplitudes -------------------------------------------------------------
def tau_from_decay(y: np.ndarray, dt_us: float, baseline: np.ndarray, i0: int, i1: int,
                   min_amplitude_V: float) -> np.ndarray:
    """Membrane time constant (µs) per circuit from the free decay ``y[:, i0:i1]`` (circuits,
    samples; trial-averaged MADC) towards its leak potential.

    The decay and the membrane noise are both AR(1) with ratio exp(-dt/tau): a linear
    regression of each sample on the previous one (with intercept, so the leak potential need
    not be known) gives the ratio with white residuals. A decay that has already vanished
    (amplitude at the window start below ``min_amplitude_V``) reads as a tiny time constant."""
    x, z = y[:, i0:i1 - 1], y[:, i0 + 1:i1]
    xm, zm = x.mean(axis=1, keepdims=True), z.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = ((x - xm) * (z - zm)).sum(axis=1) / ((x - xm) ** 2).sum(axis=1)
        tau = np.where(rho >= 1.0, np.inf, np.where(rho > 0, -dt_us / np.log(np.clip(rho, 1e-300, 1.0)), 0.0))
    vanished = np.abs(y[:, i0:i0 + 3].mean(axis=1) - baseline) < min_amplitude_V
    return np.where(vanished, 1e-3 * dt_us, tau)


def synaptic_current(v: np.ndarray, dt_us: float, tau_mem: np.ndarray, i_event: int) -> np.ndarray:
    """Membrane-differenced traces ``u_j = z_j - r z_{j-1}`` (z: trace minus its pre-event mean,
    r = exp(-dt/tau_mem) per circuit) for j >= ``i_event + 1``: (trials, circuits, samples).

    For an input event between samples ``i_event - 1`` and ``i_event``, u is exactly the synaptic
    current exponential ``a P(dt) exp(-(t_j - t_event - dt)/tau_syn)`` plus white noise."""
    z = v - v[:, :, 1:i_event].mean(axis=2, keepdims=True)
    r = np.exp(-dt_us / np.asarray(tau_mem, float))[None, :, None]
    u = z[:, :, 1:] - r * z[:, :, :-1]  # u[..., j-1] belongs to sample j
    return u[:, :, i_event:]  # samples i_event+1, ...


def tau_from_current(u: np.ndarray, dt_us: float, block: int, iterations: int = 6) -> np.ndarray:
    """Time constant (µs) of the exponential ``u`` (circuits, samples; positive, white noise).

    Start: ratio of two block sums (``block`` samples each); then Gauss-Newton on
    (amplitude, rate) over all samples. A current that is gone after the first block reads
    as a tiny time constant, one that does not decay as +inf; NaN if there is no current."""
    m = np.arange(u.shape[1], dtype=float)
    s1 = u[:, :block].sum(axis=1)
    s2 = u[:, block:2 * block].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = s2 / s1
    tiny = 1e-3 * dt_us
    good = (s1 > 0) & (ratio > 0) & (ratio < 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        kappa = np.where(good, -np.log(np.where(good, ratio, 0.5)) / block, np.nan)  # per sample
        amp = np.where(good, s1 * (1 - np.exp(-kappa)) / (1 - np.exp(-kappa * block)), np.nan)
    k, a = kappa.copy(), amp.copy()
    idx = np.flatnonzero(good)
    if idx.size:
        uu = u[idx]
        kk, aa = kappa[idx], amp[idx]
        for _ in range(iterations):
            e = np.exp(-kk[:, None] * m)
            f = aa[:, None] * e
            r = uu - f
            ja, jk = e, -f * m
            saa, sak, skk = (ja * ja).sum(1), (ja * jk).sum(1), (jk * jk).sum(1)
            ra, rk = (ja * r).sum(1), (jk * r).sum(1)
            det = saa * skk - sak * sak
            with np.errstate(invalid="ignore", divide="ignore"):
                da = (skk * ra - sak * rk) / det
                dk = (saa * rk - sak * ra) / det
            step_ok = np.isfinite(da) & np.isfinite(dk) & (kk + dk > 0)
            aa = np.where(step_ok, aa + da, aa)
            kk = np.where(step_ok, kk + dk, kk)
        k[idx], a[idx] = kk, aa
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = dt_us / k
    tau = np.where(good, tau, np.where(s1 <= 0, np.nan, np.where(ratio >= 1, np.inf, tiny)))
    return tau


def current_amplitude(u: np.ndarray, dt_us: float, tau_mem: np.ndarray, tau_syn: np.ndarray,
                      delta_us: float) -> np.ndarray:
    """Current jump ``a`` (V/µs) per circuit from ``u`` (circuits, samples from ``i_event+1``; see
    :func:`synaptic_current`), given each circuit's time constants: least squares on the known
    shape ``P(dt) exp(-(m dt + delta)/tau_syn)`` (``delta``: event time before sample ``i_event``)."""
    m = np.arange(u.shape[1], dtype=float)
    tm = np.asarray(tau_mem, float)[:, None]
    ts = np.asarray(tau_syn, float)[:, None]
    g = kernel_p_array(dt_us, tm, ts) * np.exp(-(m[None, :] * dt_us + delta_us) / ts)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (g * u).sum(axis=1) / (g * g).sum(axis=1)


def trimmed_std(values: np.ndarray, cut: float = 0.05) -> float:
    """Standard deviation after cutting ``cut`` of the finite values from each tail (as calix's
    tests: ``np.std(scipy.stats.trimboth(x, 0.05))``); NaN with fewer than 3 values left."""
    v = np.sort(np.asarray(values, float)[np.isfinite(values)])
    k = int(cut * len(v))
    v = v[k:len(v) - k]
    if len(v) < 3:
        return float("nan")
    return float(np.std(v)) if v[-1] > v[0] else 0.0  # equal values: exactly 0, not the mean's rounding
