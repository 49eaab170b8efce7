"""A synfire chain (Diesmann, Gewaltig & Aertsen 1999), small enough for one chip.

A PyNN script for ``neuroemu.pynn`` or any PyNN backend. Eight groups of 50 excitatory
current-based LIF neurons, each group connected all-to-all to the next. A pulse packet -- every
stimulus source fires once, at Gaussian-distributed times -- drives the first group. A strong,
tight packet travels down the whole chain and sharpens (the chain's stable attractor); a weak,
wide one dies out after a group or two. The script runs both in one simulation: ``reset()``
between them and ``set()`` on the stimulus, as PyNN scripts do. On the emulated chip there are
no programmable delays: a packet moves on by the synaptic and membrane rise time alone.

    python examples/pynn/synfire_chain.py --hardware bss2 --chip 1 --plot synfire.png
"""
from __future__ import annotations

import numpy as np

GROUPS, GROUP_SIZE = 8, 50
CELL = dict(tau_m=10.0, tau_syn_E=2.0, tau_syn_I=2.0, v_rest=-70.0, v_reset=-70.0, v_thresh=-55.0, cm=0.25,
            tau_refrac=2.0)
W_CHAIN = 0.09  # nA, group -> next group
W_STIM = 0.15  # nA, stimulus -> first group
T_PACKET = 10.0  # ms, centre of the pulse packet


def packet(n_active: int, sigma_ms: float, seed: int) -> list[list[float]]:
    """Spike times of the stimulus: ``n_active`` of its sources fire once around T_PACKET."""
    rng = np.random.default_rng(seed)
    times = np.clip(T_PACKET + sigma_ms * rng.standard_normal(GROUP_SIZE), 0.1, None)
    return [[float(t)] if i < n_active else [] for i, t in enumerate(times)]


def run(sim, timestep: float = 0.1, packets=((50, 1.0), (20, 3.0)), duration: float = 80.0, **setup) -> dict:
    """Run each (active sources, sigma ms) packet on ``sim``; per packet and group: how many
    neurons fired and the spread (std, ms) of their first spikes."""
    sim.setup(timestep=timestep, **setup)
    stim = sim.Population(GROUP_SIZE, sim.SpikeSourceArray(spike_times=packet(*packets[0], seed=1)), label="stimulus")
    chain = [sim.Population(GROUP_SIZE, sim.IF_curr_exp(**CELL), label=f"group{g}") for g in range(GROUPS)]
    sim.Projection(stim, chain[0], sim.AllToAllConnector(), sim.StaticSynapse(weight=W_STIM),
                   receptor_type="excitatory", label="stimulus->group0")
    for g in range(GROUPS - 1):
        sim.Projection(chain[g], chain[g + 1], sim.AllToAllConnector(), sim.StaticSynapse(weight=W_CHAIN),
                       receptor_type="excitatory", label=f"group{g}->group{g + 1}")
    for pop in chain:
        pop.record("spikes")
    chain[0][:2].record("v")
    out = {"packets": [], "blocks": []}
    for k, (n_active, sigma) in enumerate(packets):
        if k:
            sim.reset()
            stim.set(spike_times=packet(n_active, sigma, seed=1 + k))
        sim.run(duration)
        groups = []
        for pop in chain:
            trains = pop.get_data("spikes").segments[k].spiketrains
            first = np.array([st.magnitude[0] for st in trains if len(st)])
            groups.append({"active": int(len(first)),
                           "spread_ms": float(first.std()) if len(first) > 1 else float("nan"),
                           "mean_ms": float(first.mean()) if len(first) else float("nan")})
        out["packets"].append({"active": n_active, "sigma_ms": sigma, "groups": groups})
    out["blocks"] = [pop.get_data() for pop in chain]
    sim.end()
    return out


def plot(result: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(result["packets"])
    fig, axes = plt.subplots(1, n, figsize=(5 * n, 4), sharey=True, squeeze=False)
    for k, ax in enumerate(axes[0]):
        for g, block in enumerate(result["blocks"]):
            for i, st in enumerate(block.segments[k].spiketrains):
                ax.plot(st.magnitude, np.full(len(st), g * GROUP_SIZE + i), ".", ms=1.5, color=f"C{g % 10}")
        p = result["packets"][k]
        ax.set_title(f"packet: {p['active']} sources, sigma {p['sigma_ms']} ms")
        ax.set_xlabel("time (ms)")
    axes[0][0].set_ylabel("neuron (group x 50 + index)")
    fig.tight_layout()
    fig.savefig(path)


def _cli() -> None:
    from neuroemu.pynn.scripts import script_arguments

    sim, setup, args = script_arguments(__doc__, ("--plot", dict(help="write the rasters to this PNG")))
    result = run(sim, **setup)
    for p in result["packets"]:
        print(f"packet {p['active']} sources, sigma {p['sigma_ms']} ms:")
        for g, grp in enumerate(p["groups"]):
            print(f"  group {g}: {grp['active']:3d} active, spread {grp['spread_ms']:.2f} ms, "
                  f"at {grp['mean_ms']:.1f} ms")
    if args.plot:
        plot(result, args.plot)


if __name__ == "__main__":
    _cli()
