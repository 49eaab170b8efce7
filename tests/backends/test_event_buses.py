"""Shared event buses (issue 13, item 4): input events serialized on the PADI buses, one event per
8 ns per bus, dropped beyond the queue; reported in results and by ``compile``.

Setups: ``ideal`` with only ``realism.event_buses`` switched on (every neuron identical, exact
spike times), so that a spike-time difference is the bus delay and nothing else. N sources
``one_to_one`` onto N neurons sit on one synapse row (row 0: driver 0, bus 0 of hemisphere 0);
``all_to_all`` onto one neuron puts source i on row i."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from click.testing import CliRunner

from neuroemu.backends.brian2 import Brian2Backend
from neuroemu.backends.emulator import EmulatorBackend, Imperfections
from neuroemu.cli import main
from neuroemu.compiler import compile_network
from neuroemu.hardware import load_hardware
from neuroemu.hardware.buses import bus_lines, serialize, synapse_buses, trial_order
from neuroemu.hardware.config import EventBuses, Realism
from neuroemu.network import Network
from neuroemu.spikes import SpikeTrains

from conftest import EXAMPLES, TTFS_PARAMS, fan

INTERVAL_US = 0.008  # one event per bus per 8 ns (bss2.yaml)
INTERVAL_MS = 0.008  # the same in biological ms at bss2's 1000x speed-up
OFF = Imperfections(event_buses=False)
#: spike times are exact up to the emulator's event integration (README: ~1e-5 ms against closed
#: forms; differences of identical neurons agree to ~2e-9 ms): 1e-7 ms is 1e-5 of one bus slot
TOL_MS = 1e-7


def _hw(queue_depth: int | None = 32, rows_per_driver: int = 2):
    """``ideal`` with 4 event buses per hemisphere (and optionally one row per driver)."""
    hw = load_hardware("ideal")
    return dataclasses.replace(hw, realism=Realism(event_buses=EventBuses(4, INTERVAL_US, queue_depth)),
                               synapses=dataclasses.replace(hw.synapses, rows_per_driver=rows_per_driver))


def _together(n: int, t: float = 5.0) -> dict[str, SpikeTrains]:
    return {"src": SpikeTrains.from_first_spike_times(np.full((1, n), t))}


def test_serialize_spreads_simultaneous_events_by_the_interval():
    """The bus model alone: N events at one time on one bus leave k x 8 ns late (k = 0..N-1),
    so together they occupy the bus for N x 8 ns; other buses and other trials are independent."""
    n = 9
    ir = compile_network(fan(n), _hw())
    lines = bus_lines(ir, 4)
    assert np.all(synapse_buses(ir, 4) == 0) and len(lines.node) == n and lines.n_virtual == 0
    t = np.full(2 * n, 3.0)
    node = np.tile(np.arange(n), 2)
    trial = np.repeat([0, 1], n)
    bp = serialize(t, t, node, trial, lines, ir.hardware().realism.event_buses)
    for k in (0, 1):
        sel = trial[bp.source] == k
        dep = np.sort(bp.depart_us[sel])
        np.testing.assert_allclose(dep, 3.0 + INTERVAL_US * np.arange(n), rtol=0, atol=1e-12)
        assert dep[-1] + INTERVAL_US - 3.0 == pytest.approx(n * INTERVAL_US, abs=1e-12)
    assert not bp.dropped.any()
    # in the order of the sources: the lowest node goes first
    assert np.array_equal(np.argsort(bp.depart_us[:n]), np.arange(n))


def test_simultaneous_events_on_one_bus_arrive_spread_by_8ns():
    """N simultaneous input spikes on one bus: neuron k (fed by source k) spikes k x 8 ns later than
    without serialization; the result counts N - 1 delayed events, max (N - 1) x 8 ns."""
    n = 12
    ir = compile_network(fan(n), _hw())
    on = EmulatorBackend().run(ir, _together(n), duration=30.0)
    off = EmulatorBackend(imperfections=OFF).run(ir, _together(n), duration=30.0)
    t_on, t_off = on.first_spike_times("out")[0], off.first_spike_times("out")[0]
    assert np.all(np.isfinite(t_off)) and np.ptp(t_off) == 0.0  # identical neurons, one input time
    np.testing.assert_allclose(t_on - t_off, INTERVAL_MS * np.arange(n), rtol=0, atol=TOL_MS)
    np.testing.assert_allclose(np.diff(t_on), INTERVAL_MS, rtol=0, atol=TOL_MS)
    bus = on.info["event_buses"]
    assert bus["events"] == n and bus["delayed"] == n - 1 and bus["dropped"] == 0
    assert bus["max_delay_us"] == pytest.approx((n - 1) * INTERVAL_US, abs=1e-12)
    assert bus["mean_delay_us"] == pytest.approx(n / 2 * INTERVAL_US, abs=1e-12)  # mean of 1..n-1 slots
    assert bus["max_delay_ms"] == pytest.approx((n - 1) * INTERVAL_MS, abs=1e-12)
    assert on.info["imperfections_on"]["event_buses"] and off.info["event_buses"] is None


def _convergent(n_src: int) -> Network:
    """n_src sources all onto one neuron: source i on synapse row i."""
    net = Network("conv")
    net.add_spike_source("src", n_src)
    net.add_lif("out", 1, **TTFS_PARAMS)
    net.connect("src", "out", weight=2.0)
    return net


def test_events_on_different_buses_are_not_delayed():
    """Four sources on rows 0..3: with one row per driver they sit on buses 0..3 and their
    simultaneous spikes are not delayed (the neuron spikes as without buses); with bss2's two
    rows per driver sources 0, 1 share bus 0 and 2, 3 bus 1: one event on each waits 8 ns."""
    inputs = _together(4)
    apart = compile_network(_convergent(4), _hw(rows_per_driver=1))
    assert np.array_equal(synapse_buses(apart, 4), [0, 1, 2, 3])
    on = EmulatorBackend().run(apart, inputs, duration=30.0)
    off = EmulatorBackend(imperfections=OFF).run(apart, inputs, duration=30.0)
    assert on.info["event_buses"]["events"] == 4 and on.info["event_buses"]["delayed"] == 0
    assert np.isfinite(off.first_spike_times("out")[0, 0])
    assert np.array_equal(on.first_spike_times("out"), off.first_spike_times("out"))
    shared = compile_network(_convergent(4), _hw(rows_per_driver=2))
    assert np.array_equal(synapse_buses(shared, 4), [0, 0, 1, 1])
    late = EmulatorBackend().run(shared, inputs, duration=30.0)
    assert late.info["event_buses"]["delayed"] == 2
    assert late.info["event_buses"]["max_delay_us"] == pytest.approx(INTERVAL_US, abs=1e-12)
    assert late.first_spike_times("out")[0, 0] > off.first_spike_times("out")[0, 0]


def test_a_source_on_two_buses_is_late_on_the_busy_one_only():
    """Source x feeds bus 0 (its excitatory row, behind n simultaneous events of other sources)
    and bus 1 (its inhibitory row, idle): its excitatory target spikes n x 8 ns late, its
    inhibitory target's membrane is exactly as without buses (one event per bus, own times)."""
    n = 6
    net = fan(n)
    net.add_spike_source("x", 1)
    net.add_lif("p", 2, **TTFS_PARAMS)
    net.connect("x", "p", weight=np.array([[5.0, 0.0]]), receptor="exc")
    net.connect("x", "p", weight=np.array([[0.0, -3.0]]), receptor="inh")
    net.record.v = {"p": [1]}
    ir = compile_network(net, _hw(rows_per_driver=1))
    lines = bus_lines(ir, 4)
    x = ir.network.population("x").first
    assert np.array_equal(lines.bus[lines.node == x], [0, 1]) and lines.n_virtual == 1
    inputs = {**_together(n), "x": SpikeTrains.from_first_spike_times(np.array([[5.0]]))}
    on = EmulatorBackend().run(ir, inputs, duration=30.0)
    off = EmulatorBackend(imperfections=OFF).run(ir, inputs, duration=30.0)
    assert on.info["event_buses"]["events"] == n + 2 and on.info["event_buses"]["delayed"] == n
    late = on.first_spike_times("p")[0, 0] - off.first_spike_times("p")[0, 0]
    assert late == pytest.approx(n * INTERVAL_MS, abs=TOL_MS)
    assert np.isinf(on.first_spike_times("p")[0, 1])
    assert off.traces.v_mV[0, 0].min() < -65.5  # the inhibition is there
    np.testing.assert_allclose(on.traces.v_mV, off.traces.v_mV, rtol=0, atol=1e-12)


@pytest.mark.parametrize("depth", [32, None])
def test_full_queue_drops_events_and_counts_them(depth):
    """40 simultaneous events on one bus that holds 32: the first 32 (by source) pass, spread by
    8 ns, the last 8 are dropped (their neurons never spike); an unbounded queue drops none."""
    n = 40
    ir = compile_network(fan(n), _hw(queue_depth=depth))
    res = EmulatorBackend().run(ir, _together(n), duration=30.0)
    t = res.first_spike_times("out")[0]
    bus = res.info["event_buses"]
    passed = n if depth is None else depth
    assert bus["events"] == n and bus["dropped"] == n - passed and bus["delayed"] == passed - 1
    assert np.all(np.isfinite(t[:passed])) and np.all(np.isinf(t[passed:]))
    np.testing.assert_allclose(np.diff(t[:passed]), INTERVAL_MS, rtol=0, atol=TOL_MS)


def test_serialization_off_and_ideal_config_have_no_buses(bss2, ideal):
    """The knob and the configs: bss2 declares 4 buses per hemisphere (8 ns, queue 32); ``ideal``
    none; ``Imperfections(event_buses=False)`` and ``Imperfections.none()`` switch them off."""
    assert Imperfections().effective(bss2)["event_buses"] == {"per_hemisphere": 4, "event_interval_us": 0.008,
                                                              "queue_depth": 32}
    assert Imperfections().switches(bss2)["event_buses"]
    assert not OFF.switches(bss2)["event_buses"] and OFF.effective(bss2)["event_buses"] is None
    assert Imperfections.none().effective(bss2)["event_buses"] is None
    assert not Imperfections().switches(ideal)["event_buses"]
    n = 10
    res = EmulatorBackend().run(compile_network(fan(n), ideal), _together(n), duration=30.0)
    assert res.info["event_buses"] is None and np.ptp(res.first_spike_times("out")) == 0.0


def test_continued_runs_see_the_queue_of_one_long_run():
    """A queue that drains across the end of a run: the continued run delivers the rest at the
    same times as one long run (bit-identical spikes); the counts add up."""
    n = 20
    ir = compile_network(fan(n), _hw())
    inputs = _together(n, t=4.96)  # 5 slots before the cut at 5.0 ms
    be = EmulatorBackend()
    one = be.run(ir, inputs, duration=30.0)
    first = be.run(ir, inputs, duration=5.0)
    rest = be.run(ir, inputs, duration=25.0, state=first.state)
    a, b = first.info["event_buses"], rest.info["event_buses"]
    assert a["events"] == 5 and b["events"] == n - 5 and a["delayed"] + b["delayed"] == n - 1
    assert b["max_delay_us"] == one.info["event_buses"]["max_delay_us"]
    s = rest.spikes("out")
    assert len(first.spikes("out")) == 0 and len(s) == n
    assert np.array_equal(s.times, one.spikes("out").times) and np.array_equal(s.neuron, one.spikes("out").neuron)


def test_brian2_chip_replay_takes_the_serialized_times():
    """Brian2's chip-replay gets the same bus departures (as data, neuroemu.hardware.buses):
    its spikes spread by 8 ns like the emulator's, within its step dt."""
    n, dt = 8, 0.001
    ir = compile_network(fan(n), _hw())
    emu = EmulatorBackend().run(ir, _together(n), duration=30.0)
    b2 = Brian2Backend(mode="chip-replay", dt=dt).run(ir, _together(n), duration=30.0)
    assert b2.info["event_buses"] == emu.info["event_buses"]
    diff = b2.first_spike_times("out")[0] - emu.first_spike_times("out")[0]
    assert np.all(np.abs(diff) <= 2 * dt)
    flat = Brian2Backend(mode="chip-replay", dt=dt, imperfections=OFF).run(ir, _together(n), duration=30.0)
    assert flat.info["event_buses"] is None and np.ptp(flat.first_spike_times("out")) == 0.0


def test_trial_order_is_a_lexsort():
    """The fast sort of events by (trial, time, ties) agrees with numpy's lexsort, also with
    equal and nearly equal times."""
    rng = np.random.default_rng(3)
    trial = rng.integers(0, 5, 3000)
    t = np.round(rng.uniform(0, 50, 3000), 2) + rng.choice([0.0, 1e-13], 3000)
    node = rng.integers(0, 20, 3000)
    assert np.array_equal(trial_order(trial, t, node), np.lexsort((node, t, trial)))
    o = np.lexsort((node, t, trial))
    assert np.array_equal(trial_order(trial[o], t[o], node[o]), np.arange(3000))


def _yaml(tmp_path, n: int, times: bool) -> str:
    spikes = f", spike_times: {[[5.0]] * n}" if times else ""
    text = (f"name: burst\npopulations:\n  src: {{kind: spike_source, size: {n}{spikes}}}\n"
            "  out: {kind: lif, size: %d, params: {tau_refrac: 30.0}}\n"
            "projections:\n  - {name: p, pre: src, post: out, connector: one_to_one, weight: 5.0, receptor: exc}\n" % n)
    path = tmp_path / f"burst_{n}_{times}.yaml"
    path.write_text(text)
    return str(path)


def test_compile_warns_when_a_bus_is_overloaded(tmp_path):
    """``neuroemu compile``: 40 sources spiking together on one bss2 bus: a warning with the
    delayed and dropped counts; ``run`` reports the same; 40 sources without inputs on one bus
    (more than its queue): a warning about synchronous bursts; 20 of them, or the Yin-Yang
    example: no warning."""
    runner = CliRunner()
    out = tmp_path / "burst.h5"
    r = runner.invoke(main, ["compile", _yaml(tmp_path, 40, True), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "warning: the default inputs exceed one event per 0.008 µs on 1 event bus(es) (hemisphere 0 bus 0): " \
           "31 events delayed (up to 0.248 µs), 8 dropped" in r.output
    r = runner.invoke(main, ["compile", _yaml(tmp_path, 40, True), "-o", str(out), "--json"])
    rep = json.loads(r.output)
    assert len(rep["warnings"]) == 1 and rep["event_buses"]["buses"][0]["dropped"] == 8
    r = runner.invoke(main, ["run", str(out), "--duration", "20", "--no-noise"])
    assert r.exit_code == 0, r.output
    assert "event buses: 31 of 40 bus events delayed (max 0.248 µs = 0.248 ms biological" in r.output
    assert "8 dropped" in r.output
    r = runner.invoke(main, ["compile", _yaml(tmp_path, 40, False), "-o", str(tmp_path / "b.h5"), "--json"])
    (w,) = json.loads(r.output)["warnings"]
    assert "1 event bus(es) (hemisphere 0 bus 0) carry more spike sources without default inputs" in w
    for net in (_yaml(tmp_path, 20, False), str(EXAMPLES / "yinyang.yaml")):
        r = runner.invoke(main, ["compile", net, "-o", str(tmp_path / "c.h5"), "--json"])
        assert r.exit_code == 0 and json.loads(r.output)["warnings"] == []
