"""Time-to-first-spike learning (Göltz et al. 2021): closed form, data sets, training, deployment.

* :mod:`~neuroemu.learning.ttfs` — closed-form first-spike times and gradients, the network, loss, Adam;
* :mod:`~neuroemu.learning.datasets` — Yin-Yang (as published), digits, MNIST IDX, spike-time encoding;
* :mod:`~neuroemu.learning.training` — the training loop (software or with a ``forward`` hook);
* :mod:`~neuroemu.learning.model` — :class:`TTFSModel` and its HDF5 file;
* :mod:`~neuroemu.learning.deploy` — compile and run on a backend, evaluate, train in the loop;
* :mod:`~neuroemu.learning.demo` — the ``neuroemu demo`` pipeline.
"""
from neuroemu.learning.datasets import DatasetSplits, LabeledData
from neuroemu.learning.deploy import compile_model, evaluate_on_backend, run_model, train_in_the_loop
from neuroemu.learning.model import TTFSModel, load_dataset, load_model, save_model
from neuroemu.learning.training import Evaluation, TrainingRecord, evaluate, train
from neuroemu.learning.ttfs import LIFParams, TTFSNetwork, backward, first_spike_times

__all__ = [
    "DatasetSplits", "LabeledData", "compile_model", "evaluate_on_backend", "run_model", "train_in_the_loop",
    "TTFSModel", "load_dataset", "load_model", "save_model", "Evaluation", "TrainingRecord", "evaluate", "train",
    "LIFParams", "TTFSNetwork", "backward", "first_spike_times",
]
