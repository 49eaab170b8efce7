"""NIR through the CLI (click's CliRunner): compile / import / export, evaluate and robustness of
imported classifiers on labelled event data, and bad input (exit 2, a message naming the node,
no traceback)."""
from __future__ import annotations

import json

import nir
import numpy as np
import pytest
from click.testing import CliRunner

from neuroemu.backends.emulator import EmulatorBackend
from neuroemu.cli import main
from neuroemu.compiler import compile_network
from neuroemu.ir import load_ir
from neuroemu.network import load_network
from neuroemu.nir import from_nir, write_nir
from neuroemu.nir.data import read_labeled_inputs, write_labeled_events


def _graph(tmp_path, readout: str = "CubaLIF"):
    """Two inputs -> two neurons; input k drives neuron k: the class of a sample is its input."""
    w = np.array([[0.02, 0.0], [0.0, 0.02]])
    kw = dict(tau_syn=np.full(2, 0.004), tau_mem=np.full(2, 0.01), r=np.ones(2), v_leak=np.zeros(2), w_in=np.ones(2))
    node = (nir.CubaLIF(v_threshold=np.ones(2), v_reset=np.zeros(2), **kw) if readout == "CubaLIF"
            else nir.CubaLI(**kw))
    g = nir.NIRGraph(nodes={"input": nir.Input(np.array([2])), "w": nir.Linear(w), "out": node,
                            "output": nir.Output(np.array([2]))},
                     edges=[("input", "w"), ("w", "out"), ("out", "output")])
    path = tmp_path / f"two_{readout}.nir"
    nir.write(str(path), g)
    return path


def _data(tmp_path, n: int = 20):
    """Sample k: input (k % 2) spikes 4 times from 2 ms on; label k % 2."""
    labels = np.arange(n) % 2
    idx = np.repeat(labels[:, None], 4, axis=1)
    t = np.tile(np.array([0.002, 0.003, 0.004, 0.005]), (n, 1))
    path = tmp_path / "data.h5"
    write_labeled_events(path, {"input": (idx, t, 2)}, labels, t_max=0.03)
    return path


def _run(*args):
    r = CliRunner().invoke(main, [str(a) for a in args])
    return r


@pytest.mark.parametrize("readout,option", [("CubaLIF", "count"), ("CubaLIF", "first-spike"), ("CubaLI", "max-v")])
def test_evaluate_reads_out_the_class(tmp_path, readout, option):
    r = _run("evaluate", _graph(tmp_path, readout), "--data", _data(tmp_path), "--hardware", "ideal", "--json",
             *(["--readout", option] if option != "max-v" else []))
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["readout"] == option and rep["output"] == "out" and rep["samples"] == 20
    assert rep["accuracy"] == 1.0 and rep["no_answer"] == 0


def test_evaluate_counts_silence_as_no_answer(tmp_path):
    data = tmp_path / "quiet.h5"
    write_labeled_events(data, {"input": (np.full((4, 1), -1), np.full((4, 1), np.inf), 2)}, np.array([0, 1, 0, 1]),
                         t_max=0.02)
    r = _run("evaluate", _graph(tmp_path), "--data", data, "--hardware", "ideal", "--json")
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["accuracy"] == 0.0 and rep["no_answer"] == 4


def test_exported_ttfs_model_evaluates_like_the_model(tmp_path, yy_model):
    """A trained TTFS model exported to NIR and its test set as NIR event data: the NIR path
    gives the accuracy of deploying the model itself (ideal chip, same samples)."""
    from neuroemu.learning.deploy import evaluate_on_backend
    from neuroemu.learning.ttfs import classify

    path, model = yy_model
    graph = tmp_path / "yy.nir"
    write_nir(model, graph)
    test = model.dataset_splits().test
    x, y = test.x[:150], test.y[:150]
    idx = np.where(np.isfinite(x), np.arange(x.shape[1])[None, :], -1)
    write_labeled_events(tmp_path / "yy.h5", {"input": (idx, np.where(np.isfinite(x), x / 1000.0, np.inf), x.shape[1])},
                         y,
                         t_max=model.duration / 1000.0)
    r = _run("evaluate", graph, "--data", tmp_path / "yy.h5", "--hardware", "ideal", "--readout", "first-spike",
             "--json")
    assert r.exit_code == 0, r.output
    import dataclasses

    ev = evaluate_on_backend(model, EmulatorBackend(), dataclasses.replace(test, x=x, y=y), "ideal")
    want = float(np.mean(classify(ev.label_times) == y))
    assert json.loads(r.stdout)["accuracy"] == pytest.approx(want, abs=1e-12) and want > 0.6


def test_robustness_study_of_an_imported_classifier(tmp_path):
    out, plot = tmp_path / "study.h5", tmp_path / "study.png"
    r = _run("robustness", _graph(tmp_path), "--data", _data(tmp_path), "--vary", "membrane_noise=0,1",
             "--chips", "2", "--samples", "10", "--workers", "1", "--no-progress", "-o", out, "--plot", plot, "--json")
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["reference"] == "ideal chip" and rep["software_accuracy"] == 1.0
    assert [row["membrane_noise"] for row in rep["table"]] == [0.0, 1.0]
    assert all(row["chips_done"] == 2 for row in rep["table"]) and plot.stat().st_size > 1000
    r = _run("robustness", _graph(tmp_path), "--data", _data(tmp_path), "--vary", "mismatch=0", "--recalibrate",
             "-o", tmp_path / "s2.h5")
    assert r.exit_code == 2 and "apply to TTFS models" in r.output


def test_compile_import_and_export(tmp_path):
    graph = _graph(tmp_path)
    r = _run("compile", graph, "--hardware", "bss2", "-o", tmp_path / "net.h5", "--time-scale", "2")
    assert r.exit_code == 0, r.output
    assert "NIR import of" in r.output and "time_scale 2" in r.output and "wrote" in r.output
    ir = load_ir(tmp_path / "net.h5")
    assert ir.network.n_lif == 2 and float(ir.network.params.tau_mem[0]) == pytest.approx(20.0)
    r = _run("import", graph, "-o", tmp_path / "net.yaml", "--time-scale", "2", "--json")
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert "continuous time" in rep["convention_text"] and {n["name"] for n in rep["nodes"]} == {"input", "w", "out",
                                                                                                 "output"}
    a = compile_network(load_network(tmp_path / "net.yaml"), "ideal").network
    b = compile_network(from_nir(graph, time_scale=2.0), "ideal").network
    np.testing.assert_allclose(a.synapses.weight, b.synapses.weight, rtol=1e-12)
    np.testing.assert_allclose(a.params.tau_mem, b.params.tau_mem, rtol=1e-12)
    r = _run("export", tmp_path / "net.yaml", "-o", tmp_path / "back.nir")
    assert r.exit_code == 0, r.output
    nir.read(str(tmp_path / "back.nir"), type_check=True)
    r = _run("export", tmp_path / "net.h5", "-o", tmp_path / "deployed.nir", "--weights", "deployed")
    assert r.exit_code == 0 and "compiled IR" in r.output
    r = _run("export", tmp_path / "net.yaml", "-o", tmp_path / "x.nir", "--weights", "deployed")
    assert r.exit_code == 2 and "needs a compiled IR" in r.output


def test_data_files_in_both_layouts(tmp_path):
    from neuroemu.backends import save_spikes
    from neuroemu.spikes import SpikeTrains

    nir_layout = read_labeled_inputs(_data(tmp_path), time_scale=2.0)
    assert nir_layout.duration_ms == pytest.approx(60.0) and nir_layout.inputs["input"].n_trials == 20
    assert nir_layout.inputs["input"].times.min() == pytest.approx(4.0)  # 2 ms of NIR time at time_scale 2
    path = tmp_path / "spikes.h5"
    save_spikes({"input": SpikeTrains.from_trials([[[1.0], []], [[], [2.0]]], n_neurons=2)}, path)
    import h5py

    with h5py.File(path, "a") as f:
        f.create_dataset("labels", data=np.array([0, 1]))
    ours = read_labeled_inputs(path)
    assert list(ours.labels) == [0, 1] and ours.inputs["input"].n_trials == 2
    r = _run("evaluate", _graph(tmp_path), "--data", path, "--hardware", "ideal", "--duration", "20", "--json")
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("make,message", [
    (lambda p: p.write_bytes(b"\x89HDF garbage"), "not a readable NIR graph"),
    (lambda p: nir.write(str(p), nir.NIRGraph(
        nodes={"input": nir.Input(np.array([2])), "t": nir.Threshold(np.ones(2)), "output": nir.Output(np.array([2]))},
        edges=[("input", "t"), ("t", "output")])), "NIR node 't' (Threshold): not supported"),
    (lambda p: nir.write(str(p), nir.NIRGraph(
        nodes={"input": nir.Input(np.array([3])), "w": nir.Linear(np.ones((2, 2))),
               "n": nir.LIF(tau=np.full(2, 0.01), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2)),
               "output": nir.Output(np.array([2]))},
        edges=[("input", "w"), ("w", "n"), ("n", "output")], type_check=False)),
     "NIR node 'w' (Linear): weight shape (2, 2) does not take its input of 3 values"),
    (lambda p: nir.write(str(p), nir.NIRGraph(
        nodes={"input": nir.Input(np.array([2])), "w": nir.Linear(np.eye(2)),
               "n": nir.LIF(tau=np.array([0.01, np.nan]), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2)),
               "output": nir.Output(np.array([2]))},
        edges=[("input", "w"), ("w", "n"), ("n", "output")])), "NIR node 'n' (LIF): tau contains nan (neuron 1)"),
])
def test_bad_graphs_exit_2_naming_the_problem(tmp_path, make, message):
    path = tmp_path / "bad.nir"
    make(path)
    for cmd in (["compile", path, "-o", tmp_path / "x.h5"], ["import", path, "-o", tmp_path / "x.yaml"]):
        r = _run(*cmd)
        assert r.exit_code == 2, r.output
        assert message in r.output and "Traceback" not in r.output


def test_nir_options_refused_for_descriptions_and_without_data(tmp_path):
    from neuroemu.network import Network
    from neuroemu.network.yaml_io import save_network_yaml

    net = Network("n")
    net.add_spike_source("s", 1)
    net.add_lif("a", 1)
    net.connect("s", "a", weight=0.5)
    save_network_yaml(net, tmp_path / "n.yaml")
    r = _run("compile", tmp_path / "n.yaml", "--dt", "1e-4", "-o", tmp_path / "n.h5")
    assert r.exit_code == 2 and "--dt apply to NIR graphs only" in r.output
    r = _run("evaluate", _graph(tmp_path), "--readout", "count")
    assert r.exit_code == 2 and "need --data" in r.output


def test_worked_example_from_the_readme(tmp_path):
    """examples/nir/yinyang_to_nir.py writes the graph and data the README's commands use."""
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "examples" / "nir" / "yinyang_to_nir.py"
    spec = importlib.util.spec_from_file_location("yinyang_to_nir", script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    graph, data = mod.write(tmp_path, samples=100)
    nir.read(str(graph), type_check=True)
    r = _run("evaluate", graph, "--data", data, "--readout", "first-spike", "--hardware", "ideal", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["accuracy"] > 0.9  # the trained model: 96.4 % of 1000 samples on the ideal chip


def test_classifier_options_refused_clearly(tmp_path):
    graph, data = _graph(tmp_path), _data(tmp_path)
    r = _run("evaluate", graph, "--data", data, "--output-layer", "nope")
    assert r.exit_code == 2 and "output layer 'nope' is not a LIF population" in r.output
    r = _run("evaluate", graph, "--readout", "count")
    assert r.exit_code == 2 and "--readout need --data" in r.output
    r = _run("robustness", graph, "--data", data, "--vary", "mismatch=0", "--time-scale", "0.01", "-o",
             tmp_path / "s.h5")
    assert r.exit_code == 2 and "outside bss2's range" in r.output
    r = _run("compile", graph, "--hardware", "ideal", "-o", tmp_path / "g.h5")
    assert r.exit_code == 0, r.output
    r = _run("evaluate", tmp_path / "g.h5", "--data", data, "--hardware", "bss2")
    assert r.exit_code == 2 and "is a compiled IR: --hardware and --calibration apply when compiling" in r.output
    r = _run("evaluate", tmp_path / "g.h5", "--data", data, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["hardware"] == "ideal"


def test_spikes_file_data_needs_a_duration(tmp_path):
    from neuroemu.backends import save_spikes
    from neuroemu.spikes import SpikeTrains

    path = tmp_path / "spikes.h5"
    save_spikes({"input": SpikeTrains.from_trials([[[1.0], []], [[], [2.0]]], n_neurons=2)}, path)
    import h5py

    with h5py.File(path, "a") as f:
        f.create_dataset("labels", data=np.array([0, 1]))
    r = _run("evaluate", _graph(tmp_path), "--data", path, "--hardware", "ideal")
    assert r.exit_code == 2 and "give --duration" in r.output



def test_predictions_answer_only_for_a_single_best_class():
    from neuroemu.studies.classify import predictions

    scores = np.array([[1.0, 3.0, 2.0],          # one best
                       [3.0, 3.0, 1.0],          # a tie for the best: no answer
                       [np.nan, np.nan, np.nan],  # nothing (no spike): no answer
                       [np.nan, -2.0, np.nan],   # only one neuron said anything
                       [-np.inf, -np.inf, -np.inf],
                       [0.0, 0.0, 5.0]])
    want = []
    for row in scores:  # the rule, written out
        vals = [(-np.inf if np.isnan(x) else x) for x in row]
        top = max(vals)
        want.append(vals.index(top) if np.isfinite(top) and vals.count(top) == 1 else -1)
    assert list(predictions(scores)) == want == [1, -1, -1, 1, -1, 2]


def test_bad_data_files_are_named(tmp_path):
    graph = _graph(tmp_path)
    bad = tmp_path / "neg.h5"
    write_labeled_events(bad, {"input": (np.array([[0]]), np.array([[-0.001]]), 2)}, np.array([0]), t_max=0.01)
    r = _run("evaluate", graph, "--data", bad, "--hardware", "ideal")
    assert r.exit_code == 2 and "neg.h5: node 'input' has an event at -0.001 s" in r.output
    labels = tmp_path / "labels.h5"
    write_labeled_events(labels, {"input": (np.array([[0]]), np.array([[0.001]]), 2)}, np.array([5]), t_max=0.01)
    r = _run("evaluate", graph, "--data", labels, "--hardware", "ideal")
    assert r.exit_code == 2 and "label 5 but the output layer 'out' has 2 neurons" in r.output
