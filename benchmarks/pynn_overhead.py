"""neuroemu.pynn end to end: the full-chip W1 network written in PyNN (issue 10). Reports
figures, asserts nothing.

W1: 256 Poisson sources at 20 Hz (205 excitatory, 51 inhibitory) onto 512 current-based LIF
neurons all-to-all (131,072 synapses, examples/full_chip.yaml written as a PyNN script), 1 s
biological, spikes recorded. Timed end to end: build the PyNN network and run it (the spike
count read with ``get_spike_counts()``); separately, turning the result into PyNN's neo
objects (``get_data()``: 512 SpikeTrain objects, PyNN's and neo's own code). Every variant
runs once untimed first (numba compilation, Brian2's code generation and
Cython compilation: "compile excluded"), then the best of ``--repeats`` round-robin.

* ``pyNN.brian2`` -- the same script on PyNN's Brian2 backend (timestep 0.1 ms).
* ``neuroemu.pynn`` -- the same script on the emulated bss2 chip 0 (mismatch and noise on;
  the emulator's own step rule, shortened to divide the time step: 0.1 ms biological is 0.1 µs
  on the chip; at 0.5 ms the chip's shortest effective time constant asks for 0.25 µs).
* ``native`` -- the same network through neuroemu's own API (Network, compile_network,
  EmulatorBackend(grid_us=...).run), the same step rule: what the PyNN layer adds is the ratio.

Goals: neuroemu.pynn >= 20x faster than pyNN.brian2 on the same script; the PyNN layer adds
<= 20 % over the native API.

    python benchmarks/pynn_overhead.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

CELL = dict(tau_m=10.0, tau_syn_E=5.0, tau_syn_I=5.0, v_rest=-65.0, v_reset=-70.0, v_thresh=-50.0, tau_refrac=2.0,
            cm=1.0)
DURATION = 1000.0


def pynn_w1(sim, timestep: float, neo: bool = False, **setup) -> int:
    """Build and run W1 with PyNN module ``sim`` (and get the neo data); returns the number of spikes."""
    from pyNN.random import NumpyRNG, RandomDistribution

    sim.setup(timestep=timestep, **setup)
    rng = NumpyRNG(seed=11)
    exc = sim.Population(205, sim.SpikeSourcePoisson(rate=20.0), label="exc_sources")
    inh = sim.Population(51, sim.SpikeSourcePoisson(rate=20.0), label="inh_sources")
    neurons = sim.Population(512, sim.IF_curr_exp(**CELL), label="neurons")
    sim.Projection(exc, neurons, sim.AllToAllConnector(),
                   sim.StaticSynapse(weight=RandomDistribution("uniform", (0.0, 0.2), rng=rng)),
                   receptor_type="excitatory")
    sim.Projection(inh, neurons, sim.AllToAllConnector(),
                   sim.StaticSynapse(weight=RandomDistribution("uniform", (-0.4, 0.0), rng=rng)),
                   receptor_type="inhibitory")
    neurons.record("spikes")
    sim.run(DURATION)
    n = sum(neurons.get_spike_counts().values())
    if neo:
        n = sum(len(st) for st in neurons.get_data().segments[0].spiketrains)
    sim.end()
    return n


def native_w1(grid_us: float) -> int:
    """The same network with neuroemu's own API (description, compile, emulator run)."""
    from neuroemu.backends.emulator import EmulatorBackend
    from neuroemu.compiler import compile_network
    from neuroemu.network import Network, RandomWeights
    from neuroemu.spikes import SpikeTrains

    net = Network("w1")
    net.add_spike_source("exc_sources", 205)
    net.add_spike_source("inh_sources", 51)
    net.add_lif("neurons", 512, tau_mem=10.0, tau_syn_exc=5.0, tau_syn_inh=5.0, v_rest=-65.0, v_reset=-70.0,
                v_thresh=-50.0, tau_refrac=2.0, cm=1.0)
    net.connect("exc_sources", "neurons", weight=RandomWeights("uniform", 0.0, 0.2, seed=11), receptor="exc")
    net.connect("inh_sources", "neurons", weight=RandomWeights("uniform", -0.4, 0.0, seed=12), receptor="inh")
    ir = compile_network(net, "bss2")
    inputs = {"exc_sources": SpikeTrains.poisson(205, 20.0, DURATION, 1, seed=1),
              "inh_sources": SpikeTrains.poisson(51, 20.0, DURATION, 1, seed=2)}
    res = EmulatorBackend(chip=0, grid_us=grid_us).run(ir, inputs, duration=DURATION, seed=0)
    return len(res.spikes("neurons"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-brian2", action="store_true", help="leave out pyNN.brian2 (minutes of compilation)")
    args = ap.parse_args()
    import neuroemu.pynn

    variants = {
        "neuroemu.pynn, emulator bss2, timestep 0.1 ms": lambda: pynn_w1(neuroemu.pynn, 0.1),
        "neuroemu.pynn, timestep 0.1 ms, + neo data": lambda: pynn_w1(neuroemu.pynn, 0.1, neo=True),
        "native API, emulator bss2, grid 0.1 us": lambda: native_w1(0.1),
        "neuroemu.pynn, emulator bss2, timestep 0.5 ms": lambda: pynn_w1(neuroemu.pynn, 0.5),
        "native API, emulator bss2, grid 0.5 us": lambda: native_w1(0.5),
    }
    if not args.skip_brian2:
        import pyNN.brian2

        variants["pyNN.brian2, timestep 0.1 ms"] = lambda: pynn_w1(pyNN.brian2, 0.1)
        variants["pyNN.brian2, timestep 0.1 ms, + neo data"] = lambda: pynn_w1(pyNN.brian2, 0.1, neo=True)
    spikes = {label: fn() for label, fn in variants.items()}  # untimed: compilation
    walls = {label: np.inf for label in variants}
    for _ in range(args.repeats):
        for label, fn in variants.items():
            t = time.perf_counter()
            fn()
            walls[label] = min(walls[label], time.perf_counter() - t)
    print("\nW1 full chip in PyNN: 256 Poisson sources (20 Hz) -> 512 LIF all-to-all, 1 s biological, "
          "build + run")
    for label, wall in walls.items():
        print(f"  {label:<50} {wall * 1000:9.1f} ms  ({spikes[label]} spikes)")
    for step in ("0.1", "0.5"):
        p = walls[f"neuroemu.pynn, emulator bss2, timestep {step} ms"]
        n = walls[f"native API, emulator bss2, grid {step} us"]
        print(f"  PyNN layer over the native API at step {step}: {100 * (p / n - 1):+.0f} %")
    if not args.skip_brian2:
        b2 = walls["pyNN.brian2, timestep 0.1 ms"]
        neo_ratio = (walls["pyNN.brian2, timestep 0.1 ms, + neo data"]
                     / walls["neuroemu.pynn, timestep 0.1 ms, + neo data"])
        print(f"  neuroemu.pynn vs pyNN.brian2 (same script, timestep 0.1 ms): "
              f"{b2 / walls['neuroemu.pynn, emulator bss2, timestep 0.1 ms']:.0f}x faster; with neo data "
              f"{neo_ratio:.0f}x")


if __name__ == "__main__":
    main()
