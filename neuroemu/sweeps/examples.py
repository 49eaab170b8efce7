"""Example sweep task: the response of a small emulated network to input rate, per chip.

``neuroemu.sweeps.examples:rate_response`` is a complete, cheap task used in the docs and the
tests of the engine: a point sets ``rate_hz`` (and optionally ``mismatch_scale``). The tests'
hooks (a delay, an execution log) wrap it on the test side (``tests/sweeps/sweep_tasks.py``).
"""
from __future__ import annotations

from typing import Any

import numpy as np


def rate_response(point: dict[str, Any], chip: int, settings: dict[str, Any], seed: int) -> dict[str, Any]:
    """Spike count and mean rate of a 4 -> 6 network on the ``small`` chip for one input rate."""
    from neuroemu.backends.emulator import EmulatorBackend, Imperfections
    from neuroemu.compiler import compile_network
    from neuroemu.network import Network
    from neuroemu.spikes import SpikeTrains

    net = Network("rate")
    net.add_spike_source("in", 4)
    net.add_lif("out", 6, tau_mem=10.0, tau_syn_exc=5.0, tau_syn_inh=5.0, v_reset=-70.0, tau_refrac=2.0)
    net.connect("in", "out", weight=np.linspace(0.2, 1.0, 24).reshape(4, 6), receptor="exc")
    ir = compile_network(net, "small")
    duration = float(settings.get("duration_ms", 200.0))
    inputs = {"in": SpikeTrains.poisson(4, float(point["rate_hz"]), duration, 2, seed=seed * 1000 + chip)}
    be = EmulatorBackend(chip=chip, imperfections=Imperfections(mismatch_scale=float(point.get("mismatch_scale", 1.0))))
    res = be.run(ir, inputs, duration=duration, trials=2, seed=seed)
    counts = res.spikes("out").counts()
    return {"spikes": float(counts.sum()), "rate_hz": float(counts.mean() / (duration / 1000.0)),
            "per_neuron": counts.sum(axis=0).astype(float).tolist()}
