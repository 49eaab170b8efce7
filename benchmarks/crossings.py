"""Missed and late first spikes of the emulator against an independent dense LIF reference (issue 12).

Random mixed-sign cases: ``--inputs`` spike sources (each spiking once, uniform in [0, 20) ms,
15 % silent) onto ``--neurons`` LIF neurons, ``--trials`` trials, for tau_mem/tau_syn = 1 and 2,
on the ``ideal`` hardware config (no mismatch, no noise, exact timestamps) at bss2's integration
step (``--dt-us``, default 0.5 µs chip = 0.5 ms biological). Every (trial, neuron) is one case.

The reference is written here from the equations, sharing no code with neuroemu: the membrane is
the superposition of the closed-form PSPs of current-based LIF with exponential synapses,

    V(t) - v_rest = sum_i (w_i / C) K(t - t_i),
    K(s) = tau_s tau_m / (tau_m - tau_s) (e^{-s/tau_m} - e^{-s/tau_s})   (tau_m != tau_s),
    K(s) = s e^{-s/tau}                                                   (tau_m == tau_s),

evaluated on a dense grid (0.01 ms, plus every input time); every local maximum of the samples
within 1 mV of threshold is refined with a bounded scalar maximization on each side, and the
first crossing is bracketed and solved with Brent's method. A case is *missed* when the
reference fires and the emulator does not, *extra* in the opposite case, *late* when both fire
more than ``1e-3 tau_syn`` apart. Prints the counts; asserts nothing.

    python benchmarks/crossings.py [--trials 100] [--neurons 50] [--inputs 20] [--dt-us 0.5]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.optimize import brentq, minimize_scalar

from neuroemu.backends.emulator import EmulatorBackend
from neuroemu.compiler import compile_network
from neuroemu.network import Network
from neuroemu.spikes import SpikeTrains

V_REST, V_THRESH, CM, T_END = -65.0, -50.0, 1.0, 60.0


def psp(s: np.ndarray, tau_m: float, tau_s: float) -> np.ndarray:
    """K(s) in ms (0 for s <= 0); V contribution of weight w (nA) is w/C K (mV)."""
    s = np.asarray(s, dtype=float)
    pos = s > 0
    sp = np.where(pos, s, 0.0)
    if tau_m == tau_s:
        k = sp * np.exp(-sp / tau_m)
    else:
        k = tau_s * tau_m / (tau_m - tau_s) * (np.exp(-sp / tau_m) - np.exp(-sp / tau_s))
    return np.where(pos, k, 0.0)


def reference_first_spike(w: np.ndarray, t_in: np.ndarray, tau_m: float, tau_s: float) -> float:
    """First threshold crossing (ms) of one neuron with weights ``w`` and input times ``t_in``."""
    fin = np.isfinite(t_in)
    w, t_in = w[fin], t_in[fin]
    thr = V_THRESH - V_REST

    def v(t: float | np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        return (w[:, None] / CM * psp(t[None, :] - t_in[:, None], tau_m, tau_s)).sum(0) if t.ndim else \
            float((w / CM * psp(t - t_in, tau_m, tau_s)).sum())

    grid = np.union1d(np.arange(0.0, T_END, 0.01), t_in)
    vg = v(grid)
    cands = []
    above = np.nonzero(vg >= thr)[0]
    if above.size:
        j = above[0]
        cands.append(brentq(lambda t: v(t) - thr, grid[j - 1], grid[j], xtol=1e-13) if j > 0 else grid[0])
    # local maxima of the samples near threshold: the true maximum may lie between samples
    inner = np.nonzero((vg[1:-1] >= vg[:-2]) & (vg[1:-1] >= vg[2:]) & (vg[1:-1] > thr - 1.0))[0] + 1
    for j in inner:
        for a, b in ((grid[j - 1], grid[j]), (grid[j], grid[j + 1])):
            r = minimize_scalar(lambda t: -v(t), bounds=(a, b), method="bounded", options={"xatol": 1e-12})
            if -r.fun >= thr and (not cands or r.x < min(cands)):
                lo = a if v(a) < thr else None
                if lo is not None:
                    cands.append(brentq(lambda t: v(t) - thr, lo, r.x, xtol=1e-13))
    return min(cands) if cands else np.inf


def network(w: np.ndarray, tau_m: float, tau_s: float) -> Network:
    net = Network("crossings")
    net.add_spike_source("in", w.shape[0])
    net.add_lif("out", w.shape[1], tau_mem=tau_m, tau_syn_exc=tau_s, tau_syn_inh=tau_s, v_rest=V_REST,
                v_reset=-70.0, v_thresh=V_THRESH, tau_refrac=30.0, cm=CM)
    net.connect("in", "out", weight=w)
    return net


def run_case(tau_m: float, tau_s: float, trials: int, neurons: int, inputs: int, dt_us: float, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    # mixed signs; the PSP peak grows with tau_s, so scale to keep about half the neurons firing
    w = rng.uniform(-1.0, 1.6, (inputs, neurons)) * (10.0 / tau_s) * 0.6
    t_in = rng.uniform(0.0, 20.0, (trials, inputs))
    t_in[rng.random((trials, inputs)) < 0.15] = np.inf
    ir = compile_network(network(w, tau_m, tau_s), "ideal")
    t0 = time.perf_counter()
    res = EmulatorBackend(dt_us=dt_us).run(ir, {"in": SpikeTrains.from_first_spike_times(t_in)}, duration=T_END,
                                          trials=trials)
    wall = time.perf_counter() - t0
    emu = res.first_spike_times("out")
    ref = np.array([[reference_first_spike(w[:, k], t_in[r], tau_m, tau_s) for k in range(neurons)]
                    for r in range(trials)])
    both = np.isfinite(ref) & np.isfinite(emu)
    err = np.abs(emu[both] - ref[both])
    return {"cases": ref.size, "ref_firing": int(np.isfinite(ref).sum()),
            "missed": int((np.isfinite(ref) & ~np.isfinite(emu)).sum()),
            "extra": int((~np.isfinite(ref) & np.isfinite(emu)).sum()),
            "late": int((err > 1e-3 * tau_s).sum()), "max_err_ms": float(err.max(initial=0.0)), "emu_s": wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--neurons", type=int, default=50)
    ap.add_argument("--inputs", type=int, default=20)
    ap.add_argument("--dt-us", type=float, default=0.5)
    a = ap.parse_args()
    total = {"cases": 0, "missed": 0, "extra": 0, "late": 0}
    for i, (tau_m, tau_s) in enumerate([(10.0, 10.0), (10.0, 5.0)]):
        r = run_case(tau_m, tau_s, a.trials, a.neurons, a.inputs, a.dt_us, seed=i)
        print(f"tau_mem/tau_syn = {tau_m / tau_s:g}: {r['cases']} cases, {r['ref_firing']} fire in the reference; "
              f"missed {r['missed']}, extra {r['extra']}, late (> 1e-3 tau_syn) {r['late']}, "
              f"max |dt| {r['max_err_ms']:.2e} ms")
        for key in total:
            total[key] += r[key]
    print(f"total: {total['cases']} cases at dt {a.dt_us} us: missed {total['missed']}, extra {total['extra']}, "
          f"late {total['late']}")


if __name__ == "__main__":
    main()
