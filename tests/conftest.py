"""Shared fixtures: small networks and configs used across the suite."""
from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

# Thread-count tests compare one numba thread with max(2, n): numba must start with at least two
# (it reads this before its first import; the machine may have a single core).
if int(os.environ.get("NUMBA_NUM_THREADS", os.cpu_count() or 1)) < 2:
    os.environ["NUMBA_NUM_THREADS"] = "2"

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


def with_refractory_counter(hw):
    """``hw`` with bss2's refractory counter (250 MHz base clock, 8-bit counter, instant reset):
    the refractory time then is counter x clock period instead of an analog parameter."""
    from neuroemu.hardware.config import Realism, Refractory

    return hw.with_overrides(realism=Realism(refractory=Refractory(clock_base_MHz=250.0, counter_bits=8)))


def ideal_with(**realism):
    """The ``ideal`` config with the given parts of its ``realism`` (the chip's limits) on."""
    hw = load_hardware("ideal")
    return hw.with_overrides(realism=dataclasses.replace(hw.realism, **realism))


def inhibited(params: dict) -> Network:
    """Issue 13's rail case: 20 inhibitory sources of -8 nA onto 4 neurons (``params``), all
    membranes recorded: driven into the lower rail."""
    net = Network("inhibited")
    net.add_spike_source("in", 20)
    net.add_lif("n", 4, **params)
    net.connect("in", "n", weight=-8.0, receptor="inh")
    net.record.v = {"n": [0, 1, 2, 3]}
    return net


def fan(n: int) -> Network:
    """n sources, each onto its own neuron, all on synapse row 0 (one bus), strong enough to spike."""
    net = Network("fan")
    net.add_spike_source("src", n)
    net.add_lif("out", n, **{**TTFS_PARAMS, "tau_refrac": 30.0})
    net.connect("src", "out", "one_to_one", weight=5.0)
    return net


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


@pytest.fixture(scope="session")
def yy_model(tmp_path_factory):
    """(path, model): a small trained Yin-Yang TTFS model, 5 -> 30 -> 3, 6 epochs of software
    training (~75 % test accuracy); trained once per session."""
    from neuroemu.learning.model import TTFSModel, load_dataset, save_model
    from neuroemu.learning.training import train

    splits = load_dataset("yinyang")
    model = TTFSModel.for_dataset("yinyang", splits, hidden=(30,), seed=1)
    model.records.append(train(model.network, splits, epochs=6, seed=0, progress=False))
    path = tmp_path_factory.mktemp("model") / "yy.h5"
    save_model(model, path)
    return path, model


@pytest.fixture(autouse=True)
def _restore_logging():
    """Leave the logging configuration as each test found it: a library that configures the root
    logger (PyNN's scenarios set it to DEBUG on the captured stderr) would otherwise make later
    numba debug messages fail on a closed stream and print into other tests' CLI output."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session", autouse=True)
def calibration_cache(tmp_path_factory):
    """Every calibration of the suite caches into a fresh temporary directory (also inherited by
    the Dask workers of sweep tests); the user's cache is never touched."""
    from neuroemu.calibration.cache import CACHE_ENV

    path = tmp_path_factory.mktemp("calibration-cache")
    old = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(path)
    yield path
    if old is None:
        os.environ.pop(CACHE_ENV, None)
    else:
        os.environ[CACHE_ENV] = old


@pytest.fixture(scope="session")
def small_cals(calibration_cache):
    """Default-target calibrations of chips 0 and 1 of ``small`` (membrane noise on), cached."""
    from neuroemu.calibration import calibrate

    return {seed: calibrate("small", seed) for seed in (0, 1)}
