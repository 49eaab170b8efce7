"""The Yin-Yang time-to-first-spike classifier (Göltz et al. 2021) loaded from a trained model
file and evaluated through PyNN.

The network of a neuroemu model file (``neuroemu train``; by default the repository's
``docs/robustness/yinyang.h5``, 4-120-3 with one bias spike per layer) is written out as a
PyNN script: spike sources for the inputs and the biases, ``IF_curr_exp`` layers with the
model's neuron parameters, and every signed weight matrix as an excitatory and an inhibitory
projection (PyNN gives inhibitory current-based weights a negative sign). Each test sample is
one experiment: ``set()`` the input spike times, ``run()``, read the first output spike,
``reset()``. The class is the output neuron that fires first.

    python examples/pynn/yinyang_ttfs.py --hardware bss2 --chip 3 --calibration auto --samples 1000
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "docs" / "robustness" / "yinyang.h5"


def build(sim, model):
    """The model's network in PyNN; returns (input population, label population)."""
    p = model.network.params
    cell = dict(tau_m=p.tau_mem, tau_syn_E=p.tau_syn, tau_syn_I=p.tau_syn, v_rest=p.v_rest, v_thresh=p.v_thresh,
                v_reset=model.v_reset, cm=p.cm, tau_refrac=model.tau_refrac)
    inputs = sim.Population(model.network.n_inputs, sim.SpikeSourceArray(spike_times=[]), label="input")
    prev = inputs
    for l, (size, w, bias) in enumerate(zip(model.network.layer_sizes, model.network.weights,
                                            model.network.bias_times)):
        layer = sim.Population(size, sim.IF_curr_exp(**cell), label=f"layer{l}")
        w = np.asarray(w, float)
        pres = [(prev, w[:prev.size])]
        if len(bias):
            pres.append((sim.Population(len(bias), sim.SpikeSourceArray(spike_times=[[float(t)] for t in bias]),
                                        label=f"bias{l}"), w[prev.size:]))
        for pre, wm in pres:
            for receptor, mask in (("excitatory", wm > 0), ("inhibitory", wm < 0)):
                if mask.any():
                    sim.Projection(pre, layer, sim.ArrayConnector(mask), sim.StaticSynapse(weight=np.where(mask, wm,
                                                                                                           0.0)),
                                   receptor_type=receptor, label=f"{pre.label}->{layer.label} ({receptor})")
        prev = layer
    prev.record("spikes")
    return inputs, prev


def run(sim, model_path: str | Path = DEFAULT_MODEL, samples: int = 1000, timestep: float = 0.1, **setup) -> dict:
    """Accuracy of the model on the first ``samples`` test samples, run through ``sim``.
    Returns the accuracy, the first output spike times (samples, classes; inf: silent) and labels."""
    from neuroemu.learning.model import load_model
    from neuroemu.learning.ttfs import classify

    model = load_model(model_path)
    test = model.dataset_splits().test
    x, y = test.x[:samples], test.y[:samples]
    sim.setup(timestep=timestep, **setup)
    inputs, labels = build(sim, model)
    first = np.full((len(x), labels.size), np.inf)
    for k, sample in enumerate(x):
        inputs.set(spike_times=[[float(t)] if np.isfinite(t) else [] for t in sample])
        sim.run(model.duration)
        for st in labels.get_data("spikes", clear=True).segments[-1].spiketrains:
            if len(st):
                first[k, st.annotations["source_index"]] = float(st.magnitude[0])
        sim.reset()
    sim.end()
    predicted = classify(first)
    return {"accuracy": float(np.mean(predicted == y)), "first_spikes": first, "labels": y,
            "software_accuracy": model.records[-1].validation_accuracy[-1] if model.records else None}


def _cli() -> None:
    from neuroemu.pynn.scripts import existing_file, positive_int, script_arguments

    sim, setup, args = script_arguments(__doc__, ("--model", dict(default=str(DEFAULT_MODEL), type=existing_file,
                                                                  help="a neuroemu TTFS model file")),
                                       ("--samples", dict(type=positive_int, default=1000)))
    result = run(sim, args.model, args.samples, **setup)
    print(f"test accuracy through {args.simulator}: {100 * result['accuracy']:.1f} % ({args.samples} samples)")


if __name__ == "__main__":
    _cli()
