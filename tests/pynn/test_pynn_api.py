"""neuroemu.pynn as a PyNN backend: the API, recording, errors, refusals and determinism.

References are written here from the equations (closed-form LIF solutions), not taken from
neuroemu. Most tests run on the ``ideal`` config (no mismatch, no noise: exact), the chip's
behaviour (MADC readout, refusals, continuation with noise) on ``bss2``.
"""
from __future__ import annotations

import math

import neo
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from pyNN import errors as pynn_errors
from pyNN.random import NumpyRNG, RandomDistribution

import neuroemu.pynn as sim
from neuroemu.pynn.exceptions import UnsupportedError

CELL = dict(tau_m=10.0, tau_syn_E=5.0, tau_syn_I=5.0, cm=1.0, v_rest=-65.0, v_reset=-70.0, v_thresh=-50.0,
            tau_refrac=2.0)


def _trains(block) -> list[np.ndarray]:
    return [np.asarray(st.magnitude) for seg in block.segments for st in seg.spiketrains]


# --- what is supported ------------------------------------------------------------------------
def test_list_standard_models_tells_the_truth():
    assert sorted(sim.list_standard_models()) == ["IF_curr_exp", "SpikeSourceArray", "SpikeSourcePoisson"]
    for name in sim.list_standard_models():
        getattr(sim, name)()  # each one can be made


@pytest.mark.parametrize("make, words", [
    (lambda: sim.IF_cond_exp(), ["IF_cond_exp", "IF_curr_exp"]),
    (lambda: sim.IF_curr_alpha(), ["IF_curr_alpha", "IF_curr_exp"]),
    (lambda: sim.EIF_cond_exp_isfa_ista(), ["AdEx", "IF_curr_exp"]),
    (lambda: sim.ACSource(amplitude=1.0), ["ACSource", "DCSource", "StepCurrentSource"]),
    (lambda: sim.NoisyCurrentSource(mean=1.0), ["NoisyCurrentSource", "DCSource"]),
    (lambda: sim.TsodyksMarkramSynapse(weight=1.0), ["TsodyksMarkramSynapse", "StaticSynapse"]),
])
def test_refusals_name_what_is_supported(make, words):
    sim.setup(hardware="ideal")
    with pytest.raises(UnsupportedError) as exc:
        make()
    assert isinstance(exc.value, pynn_errors.NoModelAvailableError)
    for w in words:
        assert w in str(exc.value)


def test_old_style_cellclass_is_refused_with_the_same_message():
    sim.setup(hardware="ideal")
    with pytest.raises(UnsupportedError, match="use IF_curr_exp"):
        sim.Population(3, sim.IF_cond_exp, {"tau_m": 10.0})
    assert sim.simulator.state.populations == []


# --- errors ----------------------------------------------------------------------------------
def test_bad_parameter_at_creation_leaves_nothing_behind():
    sim.setup(hardware="ideal")
    ok = sim.Population(2, sim.IF_curr_exp(**CELL))
    recorders = set(sim.simulator.state.recorders)
    with pytest.raises(pynn_errors.InvalidParameterValueError, match="tau_mem must be positive, got -5"):
        sim.Population(3, sim.IF_curr_exp(tau_m=-5.0))
    assert sim.simulator.state.populations == [ok]
    assert sim.simulator.state.recorders == recorders


def test_bad_set_leaves_the_parameters_unchanged():
    sim.setup(hardware="ideal")
    p = sim.Population(3, sim.IF_curr_exp(**CELL))
    with pytest.raises(pynn_errors.InvalidParameterValueError, match="v_reset .* must be below v_thresh"):
        p[1:].set(v_reset=-40.0)
    assert p.get("v_reset") == -70.0


def test_network_that_does_not_fit_names_need_and_limit():
    sim.setup(hardware="bss2")
    src = sim.Population(10, sim.SpikeSourceArray(spike_times=[1.0]))
    p = sim.Population(600, sim.IF_curr_exp(**CELL), label="big")
    sim.Projection(src, p, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.5))
    with pytest.raises(pynn_errors.InvalidDimensionsError) as exc:
        sim.run(10.0)
    assert "population 'big' needs 600 neuron circuits; bss2 has 512" in str(exc.value)
    assert sim.get_current_time() == 0.0


def test_parameter_outside_the_chip_range_names_neuron_and_range():
    sim.setup(hardware="bss2")
    sim.Population(2, sim.IF_curr_exp(**{**CELL, "v_thresh": [-50.0, 0.0]}), label="hot")
    with pytest.raises(pynn_errors.InvalidParameterValueError,
                       match=r"population 'hot' neuron 1: v_thresh 0 mV is .* outside its range 0.285-1.05 V"):
        sim.run(10.0)


def test_delay_refused_on_the_emulator_with_the_projection_named():
    sim.setup(hardware="bss2")
    assert sim.get_min_delay() == pytest.approx(0.4)  # the chip's fixed latency: no programmable delays
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[1.0]))
    p = sim.Population(1, sim.IF_curr_exp(**CELL))
    sim.Projection(src, p, sim.AllToAllConnector(), sim.StaticSynapse(weight=1.0, delay=1.5), label="slow")
    with pytest.raises(pynn_errors.ConnectionError,
                       match="projection 'slow': delay 1.1 ms, but bss2 has no programmable"):  # beyond 0.4
        sim.run(5.0)


def test_setup_refuses_bad_options():
    for kwargs, match in [
        (dict(backend="nest"), "backend must be one of emulator, brian2"),
        (dict(backend="brian2", mode="chip"), "brian2 mode must be one of"),
        (dict(mode="ideal"), "mode applies to backend='brian2' only"),
        (dict(backend="brian2", mode="ideal", calibration="auto"), "calibration applies to the emulated chip"),
        (dict(calibration="/no/such/file.h5"), "is not a file"),
        (dict(chip=-1), "chip must be a non-negative integer"),
        (dict(hardware="nosuchchip"), "nosuchchip"),
    ]:
        with pytest.raises(pynn_errors.InvalidParameterValueError, match=match):
            sim.setup(**kwargs)


# --- the neuron, exactly ---------------------------------------------------------------------
def _lif_spike_times(v0, v_inf, v_thresh, v_reset, tau, t_ref, t_end):
    """Spike times of a LIF neuron driven by a constant current (relaxing to v_inf > v_thresh)."""
    t = tau * math.log((v_inf - v0) / (v_inf - v_thresh))
    out = []
    while t < t_end:
        out.append(t)
        t += t_ref + tau * math.log((v_inf - v_reset) / (v_inf - v_thresh))
    return np.array(out)


@pytest.mark.parametrize("setup", [dict(hardware="ideal"), dict(hardware="ideal", backend="brian2", mode="ideal")])
def test_i_offset_is_a_constant_current_exactly(setup):
    """The emulator: the closed-form train to 1e-4 ms. Brian2 checks its threshold on its grid
    (dt = the time step, 0.1 ms): the first spike in [t1, t1 + dt), and as refractoriness restarts
    the membrane at a grid point, every interval in [isi, isi + dt)."""
    sim.setup(timestep=0.1, **setup)
    p = sim.Population(2, sim.IF_curr_exp(**{**CELL, "i_offset": [2.0, 1.8]}))
    p.record("spikes")
    sim.run(100.0)
    got = _trains(p.get_data())
    for k, i_off in enumerate((2.0, 1.8)):
        want = _lif_spike_times(-65.0, -65.0 + i_off * 10.0 / 1.0, -50.0, -70.0, 10.0, 2.0, 100.0)
        if setup.get("backend") != "brian2":
            assert len(got[k]) == len(want) > 2
            np.testing.assert_allclose(got[k], want, atol=1e-4)
            continue
        assert len(got[k]) >= 3
        late = np.concatenate([[got[k][0] - want[0]], np.diff(got[k]) - (want[1] - want[0])])
        assert np.all(late > -1e-9) and np.all(late < 0.1 + 1e-9), late


def test_dc_and_step_current_sources_follow_the_closed_form():
    sim.setup(timestep=0.1, hardware="ideal")
    p = sim.Population(2, sim.IF_curr_exp(**CELL))
    sim.DCSource(amplitude=1.0, start=20.0, stop=60.0).inject_into(p[0:1])
    p[1:2].inject(sim.StepCurrentSource(times=[10.0, 30.0], amplitudes=[0.5, 1.2]))
    p.record("v")
    sim.run(50.0)
    sim.run(30.0)  # the DC source switches off inside the second run
    v = p.get_data().segments[0].filter(name="v")[0]
    t = np.asarray(v.times.rescale("ms"))
    tau = 10.0

    def relax(v0, v_inf, dt):
        return v_inf + (v0 - v_inf) * np.exp(-dt / tau)

    dc = np.where(t < 20.0, -65.0, relax(-65.0, -55.0, t - 20.0))
    v60 = relax(-65.0, -55.0, 40.0)
    dc = np.where(t >= 60.0, relax(v60, -65.0, t - 60.0), dc)
    v30 = relax(-65.0, -60.0, 20.0)
    step = np.where(t < 10.0, -65.0, relax(-65.0, -60.0, t - 10.0))
    step = np.where(t >= 30.0, relax(v30, -53.0, t - 30.0), step)
    np.testing.assert_allclose(np.asarray(v)[:, 0], dc, atol=1e-6)
    np.testing.assert_allclose(np.asarray(v)[:, 1], step, atol=1e-6)


def test_brian2_ideal_realises_delays_exactly():
    sim.setup(timestep=0.1, hardware="ideal", backend="brian2", mode="ideal")
    assert sim.get_min_delay() == 0.1  # PyNN's "auto" (the time step), as pyNN.brian2
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[5.0]))
    p = sim.Population(1, sim.IF_curr_exp(**CELL))
    sim.Projection(src, p, sim.AllToAllConnector(), sim.StaticSynapse(weight=1.0, delay=2.5))
    p.record("v")
    sim.run(30.0)
    v = p.get_data().segments[0].filter(name="v")[0]
    x = np.maximum(np.asarray(v.times.rescale("ms")) - 7.5, 0.0)  # the input arrives at 5 + 2.5 ms
    psp = -65.0 + 1.0 / 1.0 * 10.0 * 5.0 / (10.0 - 5.0) * (np.exp(-x / 10.0) - np.exp(-x / 5.0))
    np.testing.assert_allclose(np.asarray(v)[:, 0], psp, atol=1e-6)


# --- recording and neo ------------------------------------------------------------------------
def test_neo_data_segments_units_and_counts():
    sim.setup(timestep=0.1, hardware="ideal")
    src = sim.Population(2, sim.SpikeSourceArray(spike_times=[[2.0, 4.0], [3.0]]), label="src")
    p = sim.Population(3, sim.IF_curr_exp(**{**CELL, "i_offset": [0.0, 0.0, 2.0]}), label="cells")
    sim.Projection(src, p, sim.AllToAllConnector(), sim.StaticSynapse(weight=6.0))
    p.record(["spikes", "v"])
    src.record("spikes")
    sim.run(40.0)
    counts = p.get_spike_counts()
    assert sorted(counts) == [int(i) for i in p.all_cells]
    sim.reset()
    sim.run(40.0)
    block = p.get_data()
    assert isinstance(block, neo.Block) and len(block.segments) == 2
    for seg in block.segments:
        v = seg.filter(name="v")[0]
        assert v.units == neo.units.mV if hasattr(neo, "units") else str(v.units.dimensionality) == "mV"
        assert v.shape == (401, 3) and float(v.sampling_period.rescale("ms")) == pytest.approx(0.1)
        assert [len(st) for st in seg.spiketrains] == [counts[int(i)] for i in p.all_cells]  # reset: same again
        assert all(str(st.units.dimensionality) == "ms" for st in seg.spiketrains)
    assert p.mean_spike_count() == pytest.approx(np.mean(list(counts.values())))
    src_trains = src.get_data().segments[0].spiketrains
    assert [list(st.magnitude) for st in src_trains] == [[2.0, 4.0], [3.0]]


def test_membrane_is_recorded_as_the_madc_reads_it_on_bss2():
    sim.setup(timestep=0.5, hardware="bss2", chip=2)
    p = sim.Population(4, sim.IF_curr_exp(**{**CELL, "i_offset": 1.0}))
    p.record("v")
    sim.run(50.0)
    v = np.asarray(p.get_data().segments[0].filter(name="v")[0])[1:]  # the first sample is the initial value
    # biological mV -> chip V (config: 0.42 V at -65 mV, 13.5 mV per mV) -> MADC code (0.06 V + 1 mV per code)
    code = ((0.42 + (v + 65.0) * 0.0135) - 0.06) / 0.001
    np.testing.assert_allclose(code, np.round(code), atol=1e-6)
    assert len(np.unique(np.round(code))) > 20  # the membrane moved


def test_madc_readout_is_the_membrane_to_one_code(tmp_path):
    """The ideal chip with bss2's 10-bit MADC: the recorded membrane is the closed-form relaxation
    to v_rest + i_offset tau_m / cm, read by a converter of 1 mV (chip) per code, i.e. within
    one code (0.074 mV biological) of it, and on the code grid."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "hardware_configs" / "ideal.yaml").read_text()
    text = text.replace("  madc:                    "
                        "# an ideal membrane readout: exact values (bss2: 10-bit, ~1 mV per LSB)\n"
                        "    bits: null", "  madc:\n    bits: 10")
    assert "bits: 10" in text
    (tmp_path / "ideal_madc.yaml").write_text(text.replace("name: ideal", "name: ideal_madc"))
    sim.setup(timestep=0.1, hardware=str(tmp_path / "ideal_madc.yaml"))
    p = sim.Population(1, sim.IF_curr_exp(**{**CELL, "i_offset": 1.2}))  # relaxes from -65 to -53 mV
    p.record("v")
    sim.run(40.0)
    v = np.asarray(p.get_data().segments[0].filter(name="v")[0])[1:, 0]
    t = np.arange(1, len(v) + 1) * 0.1
    want = -53.0 + (-65.0 + 53.0) * np.exp(-t / 10.0)
    lsb = 0.001 / 0.0135  # mV biological per code
    assert np.max(np.abs(v - want)) <= lsb * (1 + 1e-9)
    code = ((0.42 + (v + 65.0) * 0.0135) - 0.06) / 0.001
    np.testing.assert_allclose(code, np.round(code), atol=1e-6)


def test_write_data_and_describe(tmp_path):
    sim.setup(hardware="ideal")
    p = sim.Population(2, sim.IF_curr_exp(**{**CELL, "i_offset": 2.0}), label="writer")
    p.record(["spikes", "v"])
    sim.run(30.0)
    path = tmp_path / "data.pkl"
    p.write_data(str(path))
    back = neo.io.PickleIO(str(path)).read_block()
    assert [len(st) for st in back.segments[0].spiketrains] == [len(st) for st in p.get_data().segments[0].spiketrains]
    assert "writer" in p.describe()


# --- projections: PyNN's machinery ----------------------------------------------------------
def test_views_assemblies_get_set_save_and_from_file(tmp_path):
    sim.setup(hardware="ideal")
    rng = NumpyRNG(seed=7)
    a = sim.Population(6, sim.SpikeSourceArray(spike_times=[5.0]), label="a")
    b = sim.Population(4, sim.IF_curr_exp(**CELL), label="b")
    c = sim.Population(3, sim.IF_curr_exp(**CELL), label="c")
    prj = sim.Projection(a[1:5], b + c, sim.FixedProbabilityConnector(0.6, rng=rng),
                         sim.StaticSynapse(weight=RandomDistribution("uniform", (0.5, 1.5), rng=rng)),
                         receptor_type="excitatory")  # PyNN guesses an Assembly's receptor from an unordered set
    w_list = prj.get("weight", format="list")
    w_arr = prj.get("weight", format="array")
    assert w_arr.shape == (4, 7) and np.count_nonzero(~np.isnan(w_arr)) == len(w_list) == len(prj)
    for i, j, w in w_list:
        assert w_arr[int(i), int(j)] == w
    prj.set(weight=2.0)
    assert np.all(np.asarray(prj.get("weight", format="list", with_address=False)) == 2.0)
    path = tmp_path / "conn.txt"
    prj.save("all", str(path))
    again = sim.Projection(a[1:5], b + c, sim.FromFileConnector(str(path)), receptor_type="excitatory")
    assert again.get(["weight", "delay"], format="list") == prj.get(["weight", "delay"], format="list")
    b.record("spikes")
    sim.run(20.0)
    ir = sim.get_ir()
    # the assembly became one projection per (pre, post) population pair, pre indices of the view's parent
    names = [p.name for p in ir.network.projections]
    assert any("[a->b]" in n for n in names) and any("[a->c]" in n for n in names)
    assert set(ir.network.synapses.pre.tolist()) <= {1, 2, 3, 4}


def test_get_ir_and_save_ir_feed_the_cli(tmp_path):
    from neuroemu.cli import main

    sim.setup(hardware="bss2")
    src = sim.Population(3, sim.SpikeSourcePoisson(rate=50.0), label="drive")
    p = sim.Population(5, sim.IF_curr_exp(**CELL), label="cells")
    sim.Projection(src, p, sim.AllToAllConnector(), sim.StaticSynapse(weight=1.0))
    sim.save_ir(tmp_path / "net.h5")
    res = CliRunner().invoke(main, ["inspect", str(tmp_path / "net.h5"), "--json"])
    assert res.exit_code == 0, res.output
    assert '"drive"' in res.output and '"cells"' in res.output
    res = CliRunner().invoke(main, ["run", str(tmp_path / "net.h5"), "--duration", "50", "--poisson", "40",
                                    "-o", str(tmp_path / "r.h5")])
    assert res.exit_code == 0, res.output


# --- time: continuation, initialize, determinism ---------------------------------------------
def _network(seed=3, hardware="bss2", noise=True, **setup):
    sim.setup(timestep=0.5, hardware=hardware, chip=1, seed=seed, noise=noise, **setup)
    rng = NumpyRNG(seed=11)
    drive = sim.Population(20, sim.SpikeSourcePoisson(rate=30.0), label="drive")
    exc = sim.Population(40, sim.IF_curr_exp(**{**CELL, "tau_syn_I": 8.0}), label="exc")
    exc.initialize(v=RandomDistribution("uniform", (-70.0, -52.0), rng=rng))
    sim.Projection(drive, exc, sim.FixedProbabilityConnector(0.3, rng=rng), sim.StaticSynapse(weight=2.0))
    sim.Projection(exc, exc, sim.FixedProbabilityConnector(0.2, rng=rng), sim.StaticSynapse(weight=0.8))
    sim.Projection(exc, exc, sim.FixedProbabilityConnector(0.2, rng=rng), sim.StaticSynapse(weight=-1.0),
                   receptor_type="inhibitory")
    exc.record(["spikes", "v"])
    return exc


@settings(max_examples=6, deadline=None)
@given(a=st.integers(1, 120), b=st.integers(1, 120))
def test_run_a_then_b_is_run_a_plus_b(a, b):
    exc = _network()
    sim.run(0.5 * (a + b))
    whole = exc.get_data().segments[0]
    exc = _network()
    sim.run(0.5 * a)
    sim.run(0.5 * b)
    parts = exc.get_data().segments[0]
    assert sum(len(t) for t in whole.spiketrains) > 0
    for x, y in zip(whole.spiketrains, parts.spiketrains):
        assert np.array_equal(x.magnitude, y.magnitude)
    assert np.array_equal(np.asarray(whole.filter(name="v")[0]), np.asarray(parts.filter(name="v")[0]))


def test_same_seeds_give_bit_identical_neo_data_and_another_seed_does_not():
    def data(seed):
        exc = _network(seed=seed)
        sim.run(60.0)
        seg = exc.get_data().segments[0]
        return [st.magnitude.copy() for st in seg.spiketrains], np.asarray(seg.filter(name="v")[0]).copy()

    s1, v1 = data(3)
    s2, v2 = data(3)
    s3, v3 = data(4)
    assert all(np.array_equal(x, y) for x, y in zip(s1, s2)) and np.array_equal(v1, v2)
    assert not np.array_equal(v1, v3)


def test_set_between_runs_reconfigures_and_initialize_after_run_sets_the_membrane():
    sim.setup(timestep=0.1, hardware="ideal")
    p = sim.Population(1, sim.IF_curr_exp(**CELL))
    p.record("v")
    sim.run(10.0)
    p.set(i_offset=1.0)  # the leak moves to -55 mV from here on
    sim.run(10.0)
    p.initialize(v=-60.0)  # the membrane jumps now, as on PyNN's other backends
    sim.run(10.0)
    v = np.asarray(p.get_data().segments[0].filter(name="v")[0])[:, 0]
    t = np.arange(len(v)) * 0.1
    want = np.where(t <= 10.0, -65.0, -55.0 + (-65.0 + 55.0) * np.exp(-(t - 10.0) / 10.0))
    want = np.where(t > 20.0, -55.0 + (-60.0 + 55.0) * np.exp(-(t - 20.0) / 10.0), want)
    np.testing.assert_allclose(v[t < 19.95], want[t < 19.95], atol=1e-6)
    np.testing.assert_allclose(v[t > 20.05], want[t > 20.05], atol=1e-6)
    assert v[199] == pytest.approx(-55.0 + (-65.0 + 55.0) * np.exp(-9.9 / 10.0), abs=1e-6)
    assert v[200] == -60.0  # at 20 ms the membrane is what initialize() set


def test_poisson_sources_are_seeded_and_independent_of_how_time_is_split():
    def trains(chunks, seed=5):
        sim.setup(timestep=1.0, hardware="ideal", seed=seed)
        src = sim.Population(50, sim.SpikeSourcePoisson(rate=40.0, start=100.0, duration=1500.0))
        src.record("spikes")
        for c in chunks:
            sim.run(c)
        return [st.magnitude for st in src.get_data().segments[0].spiketrains]

    one = trains([2000.0])
    split = trains([300.0, 900.0, 800.0])
    assert all(np.array_equal(x, y) for x, y in zip(one, split))
    times = np.concatenate(one)
    assert times.min() >= 100.0 and times.max() < 1600.0
    assert len(times) / 50 / 1.5 == pytest.approx(40.0, rel=0.08)  # 3000 expected spikes: 3 sigma ~ 5.5 %
    assert not all(np.array_equal(x, y) for x, y in zip(one, trains([2000.0], seed=6)))


def test_calibration_auto_calibrates_this_chip_for_the_network():
    sim.setup(hardware="small", chip=2, calibration="auto")
    src = sim.Population(2, sim.SpikeSourceArray(spike_times=[[5.0, 10.0], [7.0]]))
    p = sim.Population(6, sim.IF_curr_exp(**{**CELL, "v_reset": -68.0, "tau_m": 12.0}))
    sim.Projection(src, p, sim.AllToAllConnector(), sim.StaticSynapse(weight=2.0))
    sim.run(30.0)
    ir = sim.get_ir()
    assert ir.calibration is not None and ir.calibration.chip_seed == 2
    hw = ir.hardware()
    v_reset = ir.calibration.codes[ir.calibration.parameters.index("v_reset")]
    assert v_reset.std() > 0  # per-circuit codes, not the nominal one
    assert hw.bio_voltage_mV(ir.targets.v_reset[0]) == pytest.approx(-68.0)
    p.set(tau_m=15.0)  # reconfigured: the chip is calibrated again, for the new target
    sim.run(10.0)
    again = sim.get_ir()
    assert again.calibration.id != ir.calibration.id
    tau = again.calibration.codes[again.calibration.parameters.index("tau_mem")]
    # log map: longer tau, lower code
    assert np.median(tau) < np.median(ir.calibration.codes[ir.calibration.parameters.index("tau_mem")])
    p.set(tau_m=[12.0, 12.0, 12.0, 12.0, 12.0, 14.0])
    with pytest.raises(pynn_errors.InvalidParameterValueError, match="calibration='auto' .* tau_mem differs"):
        sim.run(10.0)


def test_clone_connector_copies_the_connectivity():
    sim.setup(hardware="ideal")
    a = sim.Population(8, sim.SpikeSourceArray(spike_times=[1.0]))
    b = sim.Population(6, sim.IF_curr_exp(**CELL))
    ref = sim.Projection(a, b, sim.FixedProbabilityConnector(0.4, rng=NumpyRNG(seed=3)), sim.StaticSynapse(weight=1.0))
    clone = sim.Projection(a, b, sim.CloneConnector(ref), sim.StaticSynapse(weight=-0.5), receptor_type="inhibitory")
    pairs = lambda prj: sorted((int(i), int(j)) for i, j, _ in prj.get("weight", format="list"))  # noqa: E731
    assert pairs(clone) == pairs(ref) and len(ref) > 5


def test_bad_spike_source_parameters_are_refused():
    sim.setup(hardware="ideal")
    with pytest.raises(pynn_errors.InvalidParameterValueError,
                       match="SpikeSourcePoisson rate must be a finite number >= 0"):
        sim.Population(2, sim.SpikeSourcePoisson(rate=-3.0))
    src = sim.Population(2, sim.SpikeSourceArray(spike_times=[[1.0, 2.0], [3.0]]))
    with pytest.raises(pynn_errors.InvalidParameterValueError,
                       match="neuron 1: spike times must be .* increasing order"):
        src.set(spike_times=[[1.0], [5.0, 4.0]])
    assert [list(s.value) for s in src.get("spike_times")] == [[1.0, 2.0], [3.0]]


# --- a session's edges: brian2 continuation, refusals mid-run, late populations, reset --------
def _relax(v0, v_inf, t, tau=10.0):
    """tau dV/dt = -(V - v_inf): the membrane of a free neuron under a constant current."""
    return v_inf + (v0 - v_inf) * np.exp(-np.asarray(t, float) / tau)


def test_brian2_continues_a_recurrent_network_with_delays():
    """PyNN's default delay (the time step, 0.5 ms) is realised by Brian2 (ideal); spikes in
    flight at the end of a run are delivered in the next: run(a); run(b) equals run(a + b)."""
    def pieces(*durations):
        exc = _network(hardware="ideal", noise=False, backend="brian2", mode="ideal")
        for d in durations:
            sim.run(d)
        seg = exc.get_data().segments[0]
        return [st.magnitude for st in seg.spiketrains], np.asarray(seg.filter(name="v")[0])

    s1, v1 = pieces(60.0)
    s2, v2 = pieces(23.5, 19.0, 17.5)
    assert sum(len(x) for x in s1) > 30
    for x, y in zip(s1, s2):
        np.testing.assert_allclose(x, y, atol=1e-9)
    np.testing.assert_allclose(v1, v2, atol=1e-9)


def test_a_refusal_in_a_later_piece_runs_nothing():
    """Every piece of a run is compiled before any runs: a current source that drives the leak
    out of the chip's range at 50 ms refuses the whole run, and the time stays at 0."""
    sim.setup(timestep=0.1, hardware="ideal")
    p = sim.Population(1, sim.IF_curr_exp(**CELL))
    p.record("v")
    sim.DCSource(amplitude=20.0, start=50.0, stop=60.0).inject_into(p)
    with pytest.raises(pynn_errors.InvalidParameterValueError, match="v_leak|range"):
        sim.run(100.0)
    assert sim.get_current_time() == 0.0
    sim.run(40.0)  # up to the piece that is refused: runs
    assert sim.get_current_time() == 40.0
    np.testing.assert_allclose(np.asarray(p.get_data().segments[0].filter(name="v")[0])[:, 0], -65.0, atol=1e-9)


def test_population_created_after_a_run_starts_from_its_initial_values():
    sim.setup(timestep=0.1, hardware="ideal")
    p1 = sim.Population(1, sim.IF_curr_exp(**{**CELL, "i_offset": 1.0}))  # relaxes to -55 mV
    p1.record("v")
    sim.run(10.0)
    p2 = sim.Population(1, sim.IF_curr_exp(**{**CELL, "i_offset": 0.5}))  # relaxes to -60 mV
    p2.initialize(v=-70.0)
    p2.record("v")
    sim.run(10.0)
    v1 = np.asarray(p1.get_data().segments[0].filter(name="v")[0])[:, 0]
    v2 = p2.get_data().segments[0].filter(name="v")[0]
    np.testing.assert_allclose(v1, _relax(-65.0, -55.0, np.arange(201) * 0.1), atol=1e-6)
    assert float(v2.t_start.rescale("ms")) == pytest.approx(10.0) and len(v2) == 101
    np.testing.assert_allclose(np.asarray(v2)[:, 0], _relax(-70.0, -60.0, np.arange(101) * 0.1), atol=1e-6)


def test_first_neurons_after_a_run_of_spike_sources_only():
    sim.setup(timestep=0.1, hardware="ideal")
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[3.0, 12.0]))
    src.record("spikes")
    sim.run(10.0)  # nothing to simulate yet
    p = sim.Population(1, sim.IF_curr_exp(**CELL))
    sim.Projection(src, p, sim.AllToAllConnector(), sim.StaticSynapse(weight=1.0))
    p.record("v")
    sim.run(10.0)
    assert list(src.get_data().segments[0].spiketrains[0].magnitude) == [3.0, 12.0]
    v = np.asarray(p.get_data().segments[0].filter(name="v")[0])[:, 0]
    x = np.maximum(np.arange(101) * 0.1 - 2.0, 0.0)  # the spike at 12 ms, in this population's time
    psp = -65.0 + 10.0 * 5.0 / 5.0 * (np.exp(-x / 10.0) - np.exp(-x / 5.0))
    np.testing.assert_allclose(v, psp, atol=1e-6)  # event moments (events.py): < (dt/2)^4/(6 tau^3) of a charge


def test_initialize_before_reset_does_not_leak_into_the_next_segment():
    sim.setup(timestep=0.1, hardware="ideal")
    p = sim.Population(2, sim.IF_curr_exp(**{**CELL, "i_offset": 1.0}))
    p.record("v")
    sim.run(10.0)
    p.initialize(v=-60.0)  # pending for the next run...
    sim.reset()  # ...which is a new segment: it starts from the initial values anyway
    sim.run(10.0)
    p[1:2].initialize(v=-50.0)  # now only cell 1 jumps
    sim.run(10.0)
    v = np.asarray(p.get_data().segments[1].filter(name="v")[0])
    t = np.arange(201) * 0.1
    np.testing.assert_allclose(v[:, 0], _relax(-60.0, -55.0, t), atol=1e-6)
    np.testing.assert_allclose(v[:100, 1], _relax(-60.0, -55.0, t[:100]), atol=1e-6)
    np.testing.assert_allclose(v[100:, 1], _relax(-50.0, -55.0, t[100:] - 10.0), atol=1e-6)


def test_cells_get_and_set_their_initial_values():
    sim.setup(timestep=0.1, hardware="ideal")
    p = sim.Population(3, sim.IF_curr_exp(**CELL))
    p[1].set_initial_value("v", -58.0)
    assert p[1].get_initial_value("v") == -58.0 and p[0].get_initial_value("v") == -65.0
    np.testing.assert_array_equal(p.initial_values["v"].evaluate(), [-65.0, -58.0, -65.0])
    with pytest.raises(UnsupportedError, match="isyn_exc must be 0"):
        p.initialize(isyn_exc=0.1)
    p.record("v")
    sim.run(5.0)
    v = np.asarray(p.get_data().segments[0].filter(name="v")[0])
    np.testing.assert_allclose(v[:, 1], _relax(-58.0, -65.0, np.arange(51) * 0.1), atol=1e-6)
    np.testing.assert_allclose(v[:, 0], -65.0, atol=1e-9)


def test_sim_errors_is_pynns_errors_module():
    assert sim.errors is pynn_errors
