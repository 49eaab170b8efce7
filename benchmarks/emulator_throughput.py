"""Emulator throughput (issue 3). Reports figures, asserts nothing.

W1 full chip: 256 Poisson sources at 20 Hz onto 512 neurons all-to-all (131,072 synapses),
1 s biological, mismatch and noise on (bss2 defaults). Goal: >= 100x faster than biological
real time on 2 cores.
W2 TTFS inference: the 256-246-10 feed-forward network, 10,000 samples (trials), each input
spiking at most once, mismatch and noise on. Goal: >= 10,000 samples/s.

    python benchmarks/emulator_throughput.py [--samples 10000] [--repeats 3]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from neuroemu.backends import get_backend
from neuroemu.compiler import compile_network
from neuroemu.network import load_network
from neuroemu.spikes import SpikeTrains

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def best_of(fn, repeats: int) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def w1(repeats: int) -> dict:
    ir = compile_network(load_network(EXAMPLES / "full_chip.yaml"), "bss2")
    exc = SpikeTrains.poisson(205, 20.0, 1000.0, 1, seed=1)
    inh = SpikeTrains.poisson(51, 20.0, 1000.0, 1, seed=2)
    be = get_backend("emulator", chip=0)
    run = lambda: be.run(ir, {"exc_sources": exc, "inh_sources": inh}, duration=1000.0, seed=0)  # noqa: E731
    t = time.perf_counter()
    run()  # compile (or load the numba cache) and warm caches
    first = time.perf_counter() - t
    wall, res = best_of(run, repeats)
    return {"wall_s": wall, "realtime_factor": 1.0 / wall, "output_spikes": len(res.spikes("neurons")),
            "input_events": len(exc) + len(inh), "first_s": first}


def w2(samples: int, repeats: int) -> dict:
    ir = compile_network(load_network(EXAMPLES / "ffn_256_246_10.yaml"), "bss2")
    rng = np.random.default_rng(0)
    # TTFS encoding: every pixel spikes at most once within 20 ms; ~20 % of pixels stay silent
    t = rng.uniform(0.0, 20.0, size=(samples, 256))
    t[rng.random((samples, 256)) < 0.2] = np.inf
    inputs = {"input": SpikeTrains.from_first_spike_times(t)}
    be = get_backend("emulator", chip=0)
    run = lambda: be.run(ir, inputs, duration=40.0, trials=samples, seed=0)  # noqa: E731
    be.run(ir, {"input": SpikeTrains.from_first_spike_times(t[:8])}, duration=40.0, trials=8)
    wall, res = best_of(run, repeats)
    return {"wall_s": wall, "samples_per_s": samples / wall, "output_spikes": len(res.spikes("output"))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=10000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    r1 = w1(args.repeats)
    print(f"first run (numba compile if the cache is cold, else cache load): {r1['first_s']:.1f} s")
    print(f"W1 full chip, 1 s biological: {r1['wall_s'] * 1000:.1f} ms wall -> {r1['realtime_factor']:.0f}x real time "
          f"({r1['input_events']} input events, {r1['output_spikes']} output spikes)")
    r2 = w2(args.samples, args.repeats)
    print(f"W2 256-246-10 TTFS inference, {args.samples} samples x 40 ms: {r2['wall_s']:.2f} s wall -> "
          f"{r2['samples_per_s']:.0f} samples/s")


if __name__ == "__main__":
    main()
