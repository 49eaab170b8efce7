"""Balanced excitatory/inhibitory network (Vogels & Abbott 2005, CUBA), scaled to one chip.

A PyNN script: runs unchanged on ``neuroemu.pynn`` (the emulated BrainScaleS-2-like chip or
Brian2) and on any PyNN backend (``--simulator pyNN.brian2``). 400 excitatory and 100
inhibitory current-based LIF neurons (500 of the chip's 512 circuits), each receiving on
average 64 excitatory and 16 inhibitory inputs: the 80 inputs of the original 4000-neuron
benchmark (connection probability 0.02 x 4000 = 0.16 x 500), with its weights, time
constants and potentials (resting potential above threshold: the neurons fire by themselves
and inhibition keeps the activity asynchronous and irregular). 40 Poisson sources at 20 Hz
drive the excitatory cells throughout, starting from random membrane potentials.

    python examples/pynn/vogels_abbott.py --hardware bss2 --chip 3 --plot va.png
    python examples/pynn/vogels_abbott.py --backend brian2 --mode chip-replay
"""
from __future__ import annotations

import numpy as np

N_EXC, N_INH, N_EXT = 400, 100, 40
P_CONNECT = 0.16  # in-degree of the 4000-neuron original (0.02 x 4000)
CELL = dict(tau_m=20.0, tau_syn_E=5.0, tau_syn_I=10.0, v_rest=-49.0, v_reset=-60.0, v_thresh=-50.0, cm=0.2,
            tau_refrac=5.0, i_offset=0.0)
W_EXC = 0.27e-3 * (0.0 - -60.0)  # nA: Vogels-Abbott CUBA, 0.27 nS x (E_exc - v_mean)
W_INH = 4.5e-3 * (-80.0 - -60.0)  # nA
W_EXT = 0.1  # nA


def run(sim, duration: float = 1000.0, timestep: float = 0.1, seed: int = 98765, **setup) -> dict:
    """Build and run the network on ``sim`` (a PyNN module); returns rates, CV and the data."""
    from pyNN.random import NumpyRNG, RandomDistribution

    sim.setup(timestep=timestep, **setup)
    rng = NumpyRNG(seed=seed, parallel_safe=True)
    exc = sim.Population(N_EXC, sim.IF_curr_exp(**CELL), label="exc")
    inh = sim.Population(N_INH, sim.IF_curr_exp(**CELL), label="inh")
    ext = sim.Population(N_EXT, sim.SpikeSourcePoisson(rate=20.0), label="ext")
    v0 = RandomDistribution("uniform", low=CELL["v_reset"], high=CELL["v_thresh"], rng=rng)
    exc.initialize(v=v0)
    inh.initialize(v=v0)
    connector = sim.FixedProbabilityConnector(P_CONNECT, rng=rng)
    for pre, w, receptor in ((exc, W_EXC, "excitatory"), (inh, W_INH, "inhibitory")):
        for post in (exc, inh):
            sim.Projection(pre, post, connector, sim.StaticSynapse(weight=w), receptor_type=receptor,
                           label=f"{pre.label}->{post.label}")
    sim.Projection(ext, exc, sim.FixedProbabilityConnector(0.1, rng=rng), sim.StaticSynapse(weight=W_EXT),
                   receptor_type="excitatory", label="ext->exc")
    exc.record("spikes")
    inh.record("spikes")
    exc[:4].record("v")
    sim.run(duration)
    out = {"duration": duration}
    for pop in (exc, inh):
        block = pop.get_data()
        trains = block.segments[0].spiketrains
        counts = np.array([len(st) for st in trains])
        isis = [np.diff(st.magnitude) for st in trains if len(st) > 2]
        cv = [x.std() / x.mean() for x in isis if x.mean() > 0]
        out[pop.label] = {"rate_hz": float(counts.mean() / (duration / 1000.0)), "cv_isi": float(np.mean(cv)) if cv
                          else float("nan"), "block": block}
    sim.end()
    return out


def plot(result: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    for label, color, offset in (("exc", "tab:red", 0), ("inh", "tab:blue", N_EXC)):
        for i, st in enumerate(result[label]["block"].segments[0].spiketrains):
            ax1.plot(st.magnitude, np.full(len(st), i + offset), ".", ms=1, color=color)
    ax1.set_ylabel("neuron")
    ax1.set_title(f"exc {result['exc']['rate_hz']:.1f} Hz, inh {result['inh']['rate_hz']:.1f} Hz")
    v = result["exc"]["block"].segments[0].filter(name="v")[0]
    ax2.plot(v.times, v.magnitude)
    ax2.set_xlabel("time (ms)")
    ax2.set_ylabel("v (mV)")
    fig.tight_layout()
    fig.savefig(path)


def _cli() -> None:
    from neuroemu.pynn.scripts import script_arguments

    sim, setup, args = script_arguments(__doc__, ("--duration", dict(type=float, default=1000.0, help="biological ms")),
                                       ("--plot", dict(help="write a raster and traces to this PNG")))
    result = run(sim, duration=args.duration, **setup)
    for label in ("exc", "inh"):
        print(f"{label}: {result[label]['rate_hz']:.2f} Hz, CV(ISI) {result[label]['cv_isi']:.2f}")
    if args.plot:
        plot(result, args.plot)


if __name__ == "__main__":
    _cli()
