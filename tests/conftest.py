"""Shared fixtures: small networks and configs used across the suite."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neuroemu.hardware import load_hardware
from neuroemu.network import Network

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"

TTFS_PARAMS = dict(tau_mem=10.0, tau_syn_exc=10.0, tau_syn_inh=10.0, v_rest=-65.0, v_reset=-70.0,
                   v_thresh=-50.0, tau_refrac=2.0, cm=1.0)


@pytest.fixture(scope="session")
def bss2():
    return load_hardware("bss2")


@pytest.fixture(scope="session")
def ideal():
    return load_hardware("ideal")


@pytest.fixture(scope="session")
def small():
    return load_hardware("small")


def feedforward(n_in: int = 4, n_hidden: int = 6, n_out: int = 2, seed: int = 0, **params) -> Network:
    """A signed feed-forward network input -> hidden -> output with random weights (nA)."""
    rng = np.random.default_rng(seed)
    net = Network("ff")
    net.add_spike_source("input", n_in, [[1.0 + i] for i in range(n_in)])
    p = {**TTFS_PARAMS, **params}
    net.add_lif("hidden", n_hidden, **p)
    net.add_lif("output", n_out, **p)
    net.connect("input", "hidden", weight=rng.normal(0.3, 0.6, (n_in, n_hidden)))
    net.connect("hidden", "output", weight=rng.normal(0.3, 0.6, (n_hidden, n_out)))
    return net
