"""Short software training runs beat clear thresholds; training is deterministic."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from neuroemu.learning import TTFSModel, evaluate, load_dataset, train
from neuroemu.learning.datasets import DatasetSplits
from neuroemu.learning.model import training_defaults


@pytest.fixture(scope="module")
def yinyang():
    return load_dataset("yinyang")


def test_yin_yang_short_run_beats_linear_classifier(yinyang):
    """4-30-3, 10 epochs: well above the linear classifier (~64 %) and chance (33 %)."""
    model = TTFSModel.for_dataset("yinyang", yinyang, hidden=(30,), seed=0)
    before = evaluate(model.network, yinyang.test).accuracy
    rec = train(model.network, yinyang, epochs=10, progress=False, **training_defaults("yinyang"))
    after = evaluate(model.network, yinyang.test).accuracy
    assert before < 0.6
    assert after > 0.80, after
    assert rec.epochs == 10 and rec.validation_accuracy[-1] > 0.78
    assert rec.train_loss[-1] < rec.train_loss[0]


def test_digits_short_run(tmp_path):
    data = load_dataset("digits")
    model = TTFSModel.for_dataset("digits", data, seed=0)
    train(model.network, data, epochs=12, progress=False, **training_defaults("digits"))
    acc = evaluate(model.network, data.test).accuracy
    assert acc > 0.85, acc


def test_training_is_deterministic_and_callback_stops(yinyang):
    small = DatasetSplits("yinyang", dataclasses.replace(yinyang.train, x=yinyang.train.x[:300],
                                                         y=yinyang.train.y[:300]),
                          None, yinyang.test)
    nets = []
    for _ in range(2):
        m = TTFSModel.for_dataset("yinyang", small, hidden=(10,), seed=4)
        train(m.network, small, epochs=2, seed=9, progress=False)
        nets.append(m.network)
    for a, b in zip(nets[0].weights, nets[1].weights):
        np.testing.assert_array_equal(a, b)
    m = TTFSModel.for_dataset("yinyang", small, hidden=(10,), seed=4)
    rec = train(m.network, small, epochs=5, progress=False, callback=lambda e, r, n: e == 2)
    assert rec.epochs == 2
    with pytest.raises(ValueError, match="features, not spike times"):
        train(m.network, DatasetSplits("yinyang", dataclasses.replace(small.train, time_coded=False), None, small.test),
              epochs=1, progress=False)


def test_keep_best_restores_the_best_validation_epoch(yinyang):
    data = DatasetSplits("yinyang", dataclasses.replace(yinyang.train, x=yinyang.train.x[:500],
                                                        y=yinyang.train.y[:500]),
                         dataclasses.replace(yinyang.validation, x=yinyang.validation.x[:200],
                                             y=yinyang.validation.y[:200]), yinyang.test)
    m = TTFSModel.for_dataset("yinyang", data, hidden=(15,), seed=2)
    rec = train(m.network, data, epochs=4, progress=False, keep_best=True, lr=0.03)
    best = int(np.argmax(rec.validation_accuracy))
    assert rec.best_epoch == best + 1
    assert evaluate(m.network, data.validation).accuracy == rec.validation_accuracy[best]
