"""Agreement between two results of the same network on the same inputs (e.g. emulator vs Brian2).

Per population:

* spike counts: totals of both, difference (second minus first), relative difference
  ``|n_b - n_a| / max(n_a, 1)`` (the first result is the reference), and the summed per-neuron
  count differences ``sum |c_a - c_b|`` over neurons and trials;
* matched spike times: per neuron and trial, spikes of the two results are paired greedily by
  nearest time within ``window_ms`` (globally smallest ``|dt|`` first, each spike used once);
  reported are the number of pairs, the unmatched spikes of each side and max / mean ``|dt|``
  and the mean signed ``dt`` (second minus first) of the pairs, in biological ms;
* the van Rossum distance per neuron and trial, D^2 = (1/tau) int (f - g)^2 dt with f, g the
  spike trains filtered by a causal exponential of time constant ``tau_ms`` (integrated to
  infinity, so one extra spike alone gives D = 1/sqrt(2)); averaged (and max) over neurons and
  trials.

:func:`compare_results` returns a JSON-ready dict (None where a value does not exist).
"""
from __future__ import annotations

from typing import Any, Sequence

import numba as nb
import numpy as np

from neuroemu.errors import NeuroemuError
from neuroemu.spikes import SpikeTrains


@nb.njit(cache=True)
def _greedy_match(ta, tb, a_lo, a_hi, b_lo, b_hi, window):
    """Per key k, spikes ta[a_lo[k]:a_hi[k]] and tb[b_lo[k]:b_hi[k]] (each sorted): greedy nearest
    pairs within ``window``. Returns (index into a, index into b) of every pair."""
    n_keys = a_lo.shape[0]
    out_a = np.empty(min(ta.shape[0], tb.shape[0]), np.int64)
    out_b = np.empty(min(ta.shape[0], tb.shape[0]), np.int64)
    m = 0
    for k in range(n_keys):
        na, nbk = a_hi[k] - a_lo[k], b_hi[k] - b_lo[k]
        if na == 0 or nbk == 0:
            continue
        # candidate pairs within the window (two-pointer sweep over sorted times)
        cap = 16
        ci = np.empty(cap, np.int64)
        cj = np.empty(cap, np.int64)
        cd = np.empty(cap)
        nc = 0
        j0 = b_lo[k]
        for i in range(a_lo[k], a_hi[k]):
            while j0 < b_hi[k] and tb[j0] < ta[i] - window:
                j0 += 1
            j = j0
            while j < b_hi[k] and tb[j] <= ta[i] + window:
                if nc == cap:
                    cap *= 2
                    ci2 = np.empty(cap, np.int64)
                    cj2 = np.empty(cap, np.int64)
                    cd2 = np.empty(cap)
                    ci2[:nc] = ci[:nc]
                    cj2[:nc] = cj[:nc]
                    cd2[:nc] = cd[:nc]
                    ci, cj, cd = ci2, cj2, cd2
                ci[nc] = i
                cj[nc] = j
                cd[nc] = abs(tb[j] - ta[i])
                nc += 1
                j += 1
        if nc == 0:
            continue
        order = np.argsort(cd[:nc], kind="mergesort")
        used_a = np.zeros(na, np.bool_)
        used_b = np.zeros(nbk, np.bool_)
        for q in order:
            i, j = ci[q], cj[q]
            if not used_a[i - a_lo[k]] and not used_b[j - b_lo[k]]:
                used_a[i - a_lo[k]] = True
                used_b[j - b_lo[k]] = True
                out_a[m] = i
                out_b[m] = j
                m += 1
    return out_a[:m], out_b[:m]


@nb.njit(cache=True)
def _van_rossum_sq(ta, tb, a_lo, a_hi, b_lo, b_hi, tau):
    """Squared van Rossum distance per key: 0.5 (S_aa + S_bb - 2 S_ab), S_xy = sum_ij e^{-|x_i - y_j|/tau},
    by one merged sweep with exponentially decaying running sums (O(n), no overflow)."""
    n_keys = a_lo.shape[0]
    out = np.zeros(n_keys)
    for k in range(n_keys):
        i, j = a_lo[k], b_lo[k]
        sa = 0.0  # sum over a spikes so far of e^{-(t - a_i)/tau}
        sb = 0.0
        saa = 0.0
        sbb = 0.0
        sab = 0.0
        t_prev = 0.0
        first = True
        while i < a_hi[k] or j < b_hi[k]:
            take_a = j >= b_hi[k] or (i < a_hi[k] and ta[i] <= tb[j])
            t = ta[i] if take_a else tb[j]
            if not first:
                decay = np.exp(-(t - t_prev) / tau)
                sa *= decay
                sb *= decay
            first = False
            t_prev = t
            if take_a:
                saa += 1.0 + 2.0 * sa
                sab += sb
                sa += 1.0
                i += 1
            else:
                sbb += 1.0 + 2.0 * sb
                sab += sa
                sb += 1.0
                j += 1
        out[k] = max(0.5 * (saa + sbb - 2.0 * sab), 0.0)
    return out


def _by_key(s: SpikeTrains) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Times sorted by (trial, neuron, time) and each key's [lo, hi) range; key = trial * n + neuron."""
    key = s.trial.astype(np.int64) * s.n_neurons + s.neuron
    order = np.lexsort((s.times, key))
    keys = np.arange(s.n_trials * s.n_neurons + 1)
    bounds = np.searchsorted(key[order], keys)
    return s.times[order], bounds[:-1], bounds[1:]


def match_spikes(a: SpikeTrains, b: SpikeTrains, window_ms: float) -> tuple[np.ndarray, int, int]:
    """Greedy nearest matching per neuron and trial within ``window_ms``: (dt of every pair in ms,
    b minus a; unmatched spikes of a; unmatched spikes of b)."""
    ta, a_lo, a_hi = _by_key(a)
    tb, b_lo, b_hi = _by_key(b)
    ia, ib = _greedy_match(ta, tb, a_lo, a_hi, b_lo, b_hi, float(window_ms))
    return tb[ib] - ta[ia], len(ta) - len(ia), len(tb) - len(ib)


def van_rossum(a: SpikeTrains, b: SpikeTrains, tau_ms: float) -> np.ndarray:
    """van Rossum distance per (trial, neuron) (dimensionless; one lone spike gives 1/sqrt(2))."""
    ta, a_lo, a_hi = _by_key(a)
    tb, b_lo, b_hi = _by_key(b)
    d2 = _van_rossum_sq(ta, tb, a_lo, a_hi, b_lo, b_hi, float(tau_ms))
    return np.sqrt(d2).reshape(a.n_trials, a.n_neurons)


def _none_if_empty(x: np.ndarray, fn) -> float | None:
    return float(fn(x)) if len(x) else None


def compare_spikes(a: SpikeTrains, b: SpikeTrains, window_ms: float = 1.0, tau_ms: float = 5.0) -> dict[str, Any]:
    """Agreement of two spike trains of the same neurons and trials (see the module docstring)."""
    if a.n_neurons != b.n_neurons or a.n_trials != b.n_trials:
        raise NeuroemuError(f"cannot compare spike trains of {a.n_neurons} neurons x {a.n_trials} trials with "
                            f"{b.n_neurons} neurons x {b.n_trials} trials")
    dt, ua, ub = match_spikes(a, b, window_ms)
    vr = van_rossum(a, b, tau_ms)
    na, nb_ = len(a), len(b)
    return {
        "neurons": a.n_neurons,
        "spikes": [na, nb_],
        "count_diff": nb_ - na,
        "count_rel_diff": abs(nb_ - na) / max(na, 1),
        "neuron_count_abs_diff": int(np.abs(a.counts() - b.counts()).sum()),
        "matched": int(len(dt)),
        "unmatched": [int(ua), int(ub)],
        "max_abs_dt_ms": _none_if_empty(np.abs(dt), np.max),
        "mean_abs_dt_ms": _none_if_empty(np.abs(dt), np.mean),
        "mean_dt_ms": _none_if_empty(dt, np.mean),
        "van_rossum_mean": float(vr.mean()) if vr.size else 0.0,
        "van_rossum_max": float(vr.max()) if vr.size else 0.0,
    }


def compare_results(a, b, window_ms: float = 1.0, tau_ms: float = 5.0, populations: Sequence[str] | None = None,
                    labels: Sequence[str] | None = None) -> dict[str, Any]:
    """Agreement of results ``a`` (reference) and ``b`` (:class:`~neuroemu.backends.Result`) over their
    common recorded populations; JSON-ready."""
    if not (window_ms > 0 and tau_ms > 0):
        raise NeuroemuError(f"matching window and van Rossum tau must be > 0 ms, got {window_ms} and {tau_ms}")
    if a.n_trials != b.n_trials:
        raise NeuroemuError(f"the results have {a.n_trials} and {b.n_trials} trials: compare runs of the same trials")
    names = list(populations) if populations is not None else [p for p in a.populations if p in b.populations]
    if not names:
        raise NeuroemuError("the results have no recorded population in common")
    pops = {name: compare_spikes(a.spikes(name), b.spikes(name), window_ms, tau_ms) for name in names}
    dts_max = [p["max_abs_dt_ms"] for p in pops.values() if p["max_abs_dt_ms"] is not None]
    matched = sum(p["matched"] for p in pops.values())
    na = sum(p["spikes"][0] for p in pops.values())
    nb_ = sum(p["spikes"][1] for p in pops.values())
    neurons = sum(p["neurons"] for p in pops.values())
    overall = {
        "spikes": [na, nb_],
        "count_diff": nb_ - na,
        "count_rel_diff": abs(nb_ - na) / max(na, 1),
        "max_count_rel_diff": max(p["count_rel_diff"] for p in pops.values()),
        "matched": matched,
        "unmatched": [sum(p["unmatched"][0] for p in pops.values()), sum(p["unmatched"][1] for p in pops.values())],
        "max_abs_dt_ms": max(dts_max) if dts_max else None,
        "mean_abs_dt_ms": (sum(p["mean_abs_dt_ms"] * p["matched"] for p in pops.values() if p["matched"]) / matched
                           if matched else None),
        "van_rossum_mean": sum(p["van_rossum_mean"] * p["neurons"] for p in pops.values()) / max(neurons, 1),
    }
    return {
        "labels": list(labels) if labels else [a.backend, b.backend],
        "trials": a.n_trials,
        "duration_ms": [a.duration_ms, b.duration_ms],
        "window_ms": float(window_ms),
        "van_rossum_tau_ms": float(tau_ms),
        "populations": pops,
        "overall": overall,
    }


def agrees(report: dict[str, Any], max_dt_ms: float = 0.1, max_count_rel: float = 0.01) -> bool:
    """True if every population's spike counts differ by at most ``max_count_rel`` (relative to the
    reference), at most that fraction of the reference's spikes is left unmatched on either side,
    and every matched pair differs by at most ``max_dt_ms`` (biological ms)."""
    o = report["overall"]
    n_ref = max(o["spikes"][0], 1)
    return (o["max_count_rel_diff"] <= max_count_rel and max(o["unmatched"]) <= max_count_rel * n_ref
            and (o["max_abs_dt_ms"] is None or o["max_abs_dt_ms"] <= max_dt_ms))


__all__ = ["compare_results", "compare_spikes", "match_spikes", "van_rossum", "agrees"]
