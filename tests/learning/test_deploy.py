"""Deployment on the emulated bss2 chip: mismatch costs accuracy, in-the-loop training recovers it."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from neuroemu.backends.emulator import EmulatorBackend
from neuroemu.errors import NeuroemuError
from neuroemu.learning import TTFSModel, evaluate, evaluate_on_backend, load_dataset, train, train_in_the_loop
from neuroemu.learning.datasets import DatasetSplits
from neuroemu.learning.deploy import calibration_targets, weight_limit


def _head(d, n):
    return dataclasses.replace(d, x=d.x[:n], y=d.y[:n])


@pytest.fixture(scope="module")
def setup():
    full = load_dataset("yinyang")
    data = DatasetSplits("yinyang", _head(full.train, 1500), _head(full.validation, 300), _head(full.test, 500))
    model = TTFSModel.for_dataset("yinyang", data, hidden=(20,), seed=0)
    train(model.network, data, epochs=30, batch_size=50, progress=False, weight_limit=weight_limit(model, "bss2"))
    return model, data


def test_weight_limit_and_targets(setup, bss2):
    model, _ = setup
    limit = weight_limit(model, bss2)
    # 63 codes x the largest input gain (2.4e-3 V/us per code = 0.178 nA per code at 1 nF)
    assert limit == pytest.approx(63 * 2.4e-3 / 0.0135, rel=1e-9)
    assert max(np.abs(w).max() for w in model.network.weights) <= limit + 1e-12
    assert weight_limit(model, "ideal") == pytest.approx(limit)  # the ideal config shares the gain range
    t = calibration_targets(model, bss2)
    assert t["tau_mem"] == pytest.approx(10.0) and t["tau_refrac"] == pytest.approx(30.0)
    assert t["v_thresh"] == {"mV": -50.0}
    assert 2e-5 <= t["input_gain_exc"] <= 2.4e-3


def test_in_the_loop_recovers_accuracy_lost_to_mismatch(setup):
    model, data = setup
    software = evaluate(model.network, data.test).accuracy
    backend = EmulatorBackend(chip=3)  # a seeded chip with default mismatch and noise, uncalibrated
    deployed = evaluate_on_backend(model, backend, data.test, "bss2", seed=1)
    assert software > 0.78
    assert deployed.accuracy < software - 0.15  # mismatch costs accuracy on this chip
    retrained, record = train_in_the_loop(model, backend, data, "bss2", epochs=3, seed=0)
    after = evaluate_on_backend(retrained, backend, data.test, "bss2", seed=2).accuracy
    assert after > deployed.accuracy + 0.08, (deployed.accuracy, after)
    assert record.hyperparameters["mode"] == "in-the-loop" and record.hyperparameters["chip"] == 3
    assert retrained.records[-1] is record and len(model.records) == 0  # the input model is untouched
    with pytest.raises(NeuroemuError, match="features, not spike times"):
        evaluate_on_backend(model, backend, dataclasses.replace(data.test, time_coded=False))
