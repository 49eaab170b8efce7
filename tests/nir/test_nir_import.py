"""NIR import: graphs written with the ``nir`` package here, run on the ideal chip, against
NIR's own ODEs solved in this file (piecewise closed forms between input events, crossings by
root finding), not against neuroemu's mapping."""
from __future__ import annotations

import nir
import numpy as np
import pytest
from scipy.optimize import brentq

from neuroemu.backends.emulator import EmulatorBackend
from neuroemu.nir import NirError, compile_nir, from_nir, import_nir
from neuroemu.spikes import SpikeTrains

TAU_M = np.array([0.010, 0.012, 0.008])  # s
TAU_S = np.array([0.004, 0.005, 0.003])
R = np.array([1.0, 1.3, 0.8])
W_IN = np.array([1.0, 0.7, 1.5])
V_LEAK = np.array([0.0, 0.1, -0.1])
V_TH = np.array([1.0, 0.9, 1.1])
W = np.array([[0.010, 0.004], [0.006, 0.007], [0.003, 0.009]])  # (neurons, inputs)
IN_TIMES = [np.array([0.002, 0.006, 0.007]), np.array([0.003, 0.004, 0.010])]  # s, per input


def _cuba_graph(**lif) -> nir.NIRGraph:
    node = nir.CubaLIF(tau_syn=TAU_S, tau_mem=TAU_M, r=R, v_leak=V_LEAK, v_threshold=V_TH, v_reset=np.zeros(3),
                       w_in=W_IN, **lif)
    return nir.NIRGraph(nodes={"input": nir.Input(np.array([2])), "w": nir.Linear(W), "lif": node,
                               "output": nir.Output(np.array([3]))},
                        edges=[("input", "w"), ("w", "lif"), ("lif", "output")])


def _first_spikes_nir(t_end: float) -> np.ndarray:
    """First spike time (s) of each CubaLIF neuron of NIR's ODE with Dirac inputs:
    tau_s dI/dt = -I + w_in W s, tau_m dv/dt = (v_leak - v) + r I; inf if none."""
    events = sorted((t, j) for j, times in enumerate(IN_TIMES) for t in times)
    out = np.full(3, np.inf)
    for k in range(3):
        tm, ts, r, vl = TAU_M[k], TAU_S[k], R[k], V_LEAK[k]
        t0, v0, i0 = 0.0, vl, 0.0
        bounds = [t for t, _ in events] + [t_end]
        jumps = [W_IN[k] * W[k, j] / ts for _, j in events] + [0.0]
        for t1, jump in zip(bounds, jumps):
            a = r * i0 * ts / (ts - tm)

            def v(t, t0=t0, v0=v0, a=a, vl=vl, ts=ts, tm=tm):
                x = t - t0
                return vl + a * np.exp(-x / ts) + (v0 - vl - a) * np.exp(-x / tm)

            grid = np.linspace(t0, t1, 2001)
            above = np.flatnonzero(v(grid) > V_TH[k])
            if above.size:
                j = int(above[0])
                out[k] = brentq(lambda t, v=v, k=k: v(t) - V_TH[k], grid[j - 1], grid[j], xtol=1e-14) if j else grid[0]
                break
            v0, i0, t0 = v(t1), i0 * np.exp(-(t1 - t0) / ts) + jump, t1
    return out


def _inputs_ms(scale: float = 1.0) -> SpikeTrains:
    return SpikeTrains.from_lists([list(1000.0 * scale * t) for t in IN_TIMES], n_neurons=2)


@pytest.mark.parametrize("time_scale", [1.0, 2.5])
def test_cubalif_first_spikes_equal_the_nir_ode(time_scale):
    ir, report = compile_nir(_cuba_graph(), "ideal", time_scale=time_scale)
    assert report.convention.v_scale == pytest.approx(15.0 / 1.2)  # largest threshold - leak (1.1 + 0.1) at 15 mV
    res = EmulatorBackend().run(ir, {"input": _inputs_ms(time_scale)}, duration=1000.0 * time_scale * 0.03)
    got = np.full(3, np.inf)
    s = res.spikes("lif")
    for k in range(3):
        if np.any(s.neuron == k):
            got[k] = s.times[s.neuron == k].min() / (1000.0 * time_scale)  # back to NIR seconds
    want = _first_spikes_nir(0.03)
    assert np.sum(np.isfinite(want)) >= 2 and np.array_equal(np.isfinite(got), np.isfinite(want))
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], atol=1e-3 * TAU_S.min())


def test_cubali_readout_membrane_follows_its_ode():
    node = nir.CubaLI(tau_syn=TAU_S, tau_mem=TAU_M, r=R, v_leak=V_LEAK, w_in=W_IN)
    g = nir.NIRGraph(nodes={"input": nir.Input(np.array([2])), "w": nir.Linear(W), "li": node,
                            "output": nir.Output(np.array([3]))},
                     edges=[("input", "w"), ("w", "li"), ("li", "output")])
    ir, report = compile_nir(g, "ideal")
    c = report.convention
    res = EmulatorBackend().run(ir, {"input": _inputs_ms()}, duration=25.0)
    assert "li" not in res.populations  # a readout: its membrane is recorded, not its spikes
    t = res.traces.times_ms / 1000.0
    v = (res.traces.v_mV[0] - c.v_offset) / c.v_scale  # NIR units
    # superposition of closed-form PSPs: r w_in W tau_s/(tau_s - tau_m) (e^{-x/tau_s} - e^{-x/tau_m}) / tau_s
    want = np.tile(V_LEAK[:, None], (1, len(t)))
    for j, times in enumerate(IN_TIMES):
        for t0 in times:
            x = np.maximum(t - t0, 0.0)
            amp = R * W_IN * W[:, j] / (TAU_S - TAU_M)
            want += amp[:, None] * (np.exp(-x / TAU_S[:, None]) - np.exp(-x / TAU_M[:, None]))
    # the emulator's event moments err by < (dt/2)^4/(6 tau^3) of one input's charge (backends/emulator/events.py)
    np.testing.assert_allclose(v, want, atol=1e-6)


def test_affine_bias_is_a_constant_current():
    """LI (no synaptic filter) with only a bias: tau dv/dt = (v_leak - v) + r b, exactly."""
    tau, r, b = np.array([0.01, 0.02]), np.array([1.0, 2.0]), np.array([0.3, -0.2])
    g = nir.NIRGraph(nodes={"input": nir.Input(np.array([1])), "a": nir.Affine(np.zeros((2, 1)), b),
                            "li": nir.LI(tau=tau, r=r, v_leak=np.zeros(2)), "output": nir.Output(np.array([2]))},
                     edges=[("input", "a"), ("a", "li"), ("li", "output")])
    ir, report = compile_nir(g, "ideal")
    c = report.convention
    be = EmulatorBackend()
    rest = be.run(ir, {}, duration=5.0)  # the chip's neuron rests at its leak, the bias included
    v_rest = (rest.traces.v_mV[0] - c.v_offset) / c.v_scale
    np.testing.assert_allclose(v_rest, np.broadcast_to((r * b)[:, None], v_rest.shape), atol=1e-9)
    # from NIR's v = 0 the membrane relaxes to v_leak + r b with tau
    res = be.run(ir, {}, duration=40.0, state=be.initial_state(ir, v_mV=np.full(2, c.v_offset)))
    t = res.traces.times_ms / 1000.0
    v = (res.traces.v_mV[0] - c.v_offset) / c.v_scale
    want = (r * b)[:, None] * (1.0 - np.exp(-t[None, :] / tau[:, None]))
    np.testing.assert_allclose(v, want, atol=1e-9)


def test_discrete_convention_only_with_dt_and_said_in_the_report():
    dt = 1e-4
    tau_m, tau_s = np.full(3, 1e-3), np.full(3, 5e-4)
    node = nir.CubaLIF(tau_syn=tau_s, tau_mem=tau_m, r=tau_m / dt, v_leak=np.zeros(3), v_threshold=np.ones(3),
                       v_reset=np.zeros(3), w_in=tau_s / dt)
    g = nir.NIRGraph(nodes={"input": nir.Input(np.array([2])), "w": nir.Linear(W), "lif": node,
                            "output": nir.Output(np.array([3]))},
                     edges=[("input", "w"), ("w", "lif"), ("lif", "output")])
    cont = import_nir(g, time_scale=10.0)
    disc = import_nir(g, time_scale=10.0, dt=dt)
    assert "continuous time" in cont[1].convention_text and "discrete time, dt = 0.0001 s" in disc[1].convention_text
    # the discrete import decays by exactly 1 - dt/tau per step: tau' = -dt / ln(1 - dt/tau)
    tau_mem = disc[0].population("lif").params["tau_mem"]
    assert float(tau_mem) == pytest.approx(1000.0 * 10.0 * (-dt / np.log(1.0 - dt / 1e-3)), rel=1e-12)
    assert float(cont[0].population("lif").params["tau_mem"]) == pytest.approx(10.0, rel=1e-12)


def test_flatten_nested_graphs_scale_and_recurrent_edges():
    inner = nir.NIRGraph(nodes={"in": nir.Input(np.array([2])), "lin": nir.Linear(W), "sc": nir.Scale(np.full(3, 2.0)),
                                "out": nir.Output(np.array([3]))},
                         edges=[("in", "lin"), ("lin", "sc"), ("sc", "out")])
    node = nir.CubaLIF(tau_syn=TAU_S, tau_mem=TAU_M, r=R, v_leak=V_LEAK, v_threshold=V_TH, v_reset=np.zeros(3),
                       w_in=W_IN)
    rec = np.array([[0.0, 0.002, 0.0], [0.001, 0.0, 0.0], [0.0, 0.0, 0.003]])
    g = nir.NIRGraph(nodes={"input": nir.Input(np.array([2])), "sub": inner, "lif": node, "rec": nir.Linear(rec),
                            "output": nir.Output(np.array([3]))},
                     edges=[("input", "sub"), ("sub", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "output")])
    net, report = import_nir(g)
    by_name = {p.name: p for p in net.projections}
    assert set(by_name) == {"sub.sc", "rec"}
    assert by_name["rec"].pre == by_name["rec"].post == "lif"
    direct = import_nir(_cuba_graph())[0].projections[0]

    def by_pair(p):
        o = np.lexsort((p.connector.pairs[:, 1], p.connector.pairs[:, 0]))
        return p.connector.pairs[o], np.asarray(p.weight)[o]

    (pairs, w2), (pairs1, w1) = by_pair(by_name["sub.sc"]), by_pair(direct)
    assert np.array_equal(pairs, pairs1)
    np.testing.assert_allclose(w2, 2.0 * w1, rtol=1e-12)
    assert np.count_nonzero(rec) == len(by_name["rec"].weight)
    assert any("sub.in" == n.name and "passes through" in n.became for n in report.nodes)


@pytest.mark.parametrize("stride,padding,dilation,groups", [(1, 0, 1, 1), (2, 1, 1, 1), (1, "same", 2, 1), (1, 1, 1,
                                                                                                            2)])
def test_conv2d_expands_to_the_convolution(stride, padding, dilation, groups):
    from neuroemu.nir.linear import node_matrix

    rng = np.random.default_rng(0)
    c_in, c_out, h, w = 2, 4, 7, 6
    weight = rng.normal(size=(c_out, c_in // groups, 3, 3))
    bias = rng.normal(size=c_out)
    node = nir.Conv2d(input_shape=(h, w), weight=weight, stride=stride, padding=padding, dilation=dilation,
                      groups=groups, bias=bias)
    x = rng.normal(size=(c_in, h, w))
    a, b, shape = node_matrix(node, (c_in, h, w), "conv")
    got = (a @ x.ravel() + b).reshape(shape)
    # reference: PyTorch's cross-correlation written out
    p = (dilation * 2) // 2 if padding == "same" else padding
    xp = np.pad(x, ((0, 0), (p, p), (p, p)))
    ho = (h + 2 * p - dilation * 2 - 1) // stride + 1
    wo = (w + 2 * p - dilation * 2 - 1) // stride + 1
    want = np.zeros((c_out, ho, wo))
    for co in range(c_out):
        g0 = (co // (c_out // groups)) * (c_in // groups)
        for i in range(ho):
            for j in range(wo):
                patch = xp[g0:g0 + c_in // groups, i * stride:i * stride + 2 * dilation + 1:dilation,
                           j * stride:j * stride + 2 * dilation + 1:dilation]
                want[co, i, j] = np.sum(patch * weight[co]) + bias[co]
    assert shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_pooling_sums_and_averages_windows():
    from neuroemu.nir.linear import node_matrix

    x = np.arange(2 * 4 * 6, dtype=float).reshape(2, 4, 6)
    a, _, shape = node_matrix(nir.SumPool2d(np.array([2, 2]), np.array([2, 2]), np.array([0, 0])), x.shape, "p")
    want = x.reshape(2, 2, 2, 3, 2).sum(axis=(2, 4))
    np.testing.assert_allclose((a @ x.ravel()).reshape(shape), want)
    a, _, shape = node_matrix(nir.AvgPool2d(np.array([2, 2]), np.array([2, 2]), np.array([0, 0])), x.shape, "p")
    np.testing.assert_allclose((a @ x.ravel()).reshape(shape), want / 4)


# --- refusals ---------------------------------------------------------------------------------
def test_unknown_node_type_in_a_file_is_named(tmp_path):
    import h5py

    path = tmp_path / "foo.nir"
    nir.write(str(path), _cuba_graph())
    with h5py.File(path, "a") as f:
        del f["node/nodes/w/type"]
        f["node/nodes/w/type"] = b"Foo"
    with pytest.raises(NirError, match="NIR node 'w' in .*foo.nir has type Foo, which is not a NIR primitive"):
        from_nir(path)


def test_corrupt_file_is_named(tmp_path):
    bad = tmp_path / "bad.nir"
    bad.write_bytes(b"not an hdf5 file at all")
    with pytest.raises(NirError, match="bad.nir is not a readable NIR graph"):
        from_nir(bad)


def test_unknown_and_refused_node_types_are_named():
    g = nir.NIRGraph(nodes={"input": nir.Input(np.array([3])), "thr": nir.Threshold(np.ones(3)),
                            "output": nir.Output(np.array([3]))},
                     edges=[("input", "thr"), ("thr", "output")])
    with pytest.raises(NirError, match="NIR node 'thr' \\(Threshold\\): not supported"):
        from_nir(g)


def test_shape_mismatch_on_an_edge_is_named():
    g = nir.NIRGraph(nodes={"input": nir.Input(np.array([5])), "w": nir.Linear(np.ones((3, 4))),
                            "lif": nir.LIF(tau=np.full(3, 0.01), r=np.ones(3), v_leak=np.zeros(3),
                                           v_threshold=np.ones(3)), "output": nir.Output(np.array([3]))},
                     edges=[("input", "w"), ("w", "lif"), ("lif", "output")], type_check=False)
    with pytest.raises(NirError,
                       match="NIR node 'w' \\(Linear\\): weight shape \\(3, 4\\) does not take its input of 5"):
        from_nir(g)


def test_nan_parameter_is_named():
    with pytest.raises(NirError, match="NIR node 'lif' \\(CubaLIF\\): tau_mem contains nan \\(neuron 1\\)"):
        from_nir(nir.NIRGraph(
            nodes={"input": nir.Input(np.array([2])), "w": nir.Linear(W),
                   "lif": nir.CubaLIF(tau_syn=TAU_S, tau_mem=np.array([0.01, np.nan, 0.01]), r=R, v_leak=V_LEAK,
                                      v_threshold=V_TH, v_reset=np.zeros(3), w_in=W_IN),
                   "output": nir.Output(np.array([3]))},
            edges=[("input", "w"), ("w", "lif"), ("lif", "output")]))


def test_time_constant_outside_the_chip_names_node_value_range_and_time_scale():
    with pytest.raises(NirError) as exc:
        compile_nir(_cuba_graph(), "bss2", time_scale=0.05)  # tau_syn 3 ms -> 0.15 ms biological
    msg = str(exc.value)
    assert "NIR node 'lif' neuron 2: tau_mem is 0.4 ms biological at time_scale 0.05 (0.008 s of NIR time)" in msg
    assert "outside bss2's range 0.5-60 ms" in msg and "time_scale from 0.1 to 5 fits" in msg


def test_delay_nodes_become_synaptic_delays_refused_on_the_chip():
    g = nir.NIRGraph(nodes={"input": nir.Input(np.array([2])), "w": nir.Linear(W), "d": nir.Delay(np.full(3, 0.002)),
                            "lif": _cuba_graph().nodes["lif"], "output": nir.Output(np.array([3]))},
                     edges=[("input", "w"), ("w", "d"), ("d", "lif"), ("lif", "output")])
    net = from_nir(g)
    assert np.allclose(net.projections[0].delay, 2.0) and net.projections[0].name == "w"
    with pytest.raises(NirError, match="NIR node 'd' \\(Delay\\): bss2 has no programmable synaptic delays"):
        compile_nir(g, "bss2")


def test_li_readout_without_synaptic_filter_follows_its_ode():
    """LI: tau dv/dt = (v_leak - v) + r W s, each input an instant jump r W / tau in NIR; on the chip
    the shortest synaptic time constant (0.3 ms on bss2 configs) carries that charge, so the
    membrane lags for ~tau_s and then follows the ODE to tau_s / (tau - tau_s)."""
    tau, r = np.array([0.02, 0.015]), np.array([1.0, 2.0])
    w = np.array([[0.004, 0.001], [0.002, 0.003]])
    g = nir.NIRGraph(nodes={"input": nir.Input(np.array([2])), "w": nir.Linear(w),
                            "li": nir.LI(tau=tau, r=r, v_leak=np.zeros(2)), "output": nir.Output(np.array([2]))},
                     edges=[("input", "w"), ("w", "li"), ("li", "output")])
    ir, report = compile_nir(g, "ideal", v_scale=5.0)  # 15 mV per unit would need 20 nA per input (11 nA at most)
    c = report.convention
    res = EmulatorBackend().run(ir, {"input": _inputs_ms()}, duration=40.0)
    t = res.traces.times_ms / 1000.0
    v = (res.traces.v_mV[0] - c.v_offset) / c.v_scale
    want = np.zeros_like(v)
    settled = np.ones(len(t), bool)
    for j, times in enumerate(IN_TIMES):
        for t0 in times:
            x = t - t0
            want += (r * w[:, j] / tau)[:, None] * np.where(x >= 0, np.exp(-np.maximum(x, 0) / tau[:, None]), 0.0)
            settled &= ~((x > -1e-9) & (x < 5 * 0.3e-3))
    jump = float(np.max(r[:, None] * w / tau[:, None]))
    assert np.max(np.abs(v - want)) < jump  # never more than one input's jump (while it rises)
    # settled: the filter's charge arrives in full, the leak acting on it from later: relative error
    # tau_s / (tau - tau_s), 2.0 % for tau 15 ms
    np.testing.assert_allclose(v[:, settled], want[:, settled], rtol=0.3 / (15.0 - 0.3) + 1e-3, atol=1e-3 * jump)


def test_discrete_cubali_follows_the_euler_update_at_the_step_times():
    """dt given: I[n+1] = (1 - dt/ts) I[n] + (dt/ts) w_in W s[n], v[n+1] = (1 - dt/tm) v[n] + (dt/tm) r I[n+1]."""
    dt, tm, ts = 1e-4, np.array([1e-3, 2e-3]), np.array([5e-4, 3e-4])
    r, w_in = tm / dt, ts / dt
    w = np.array([[0.4, 0.1], [0.2, 0.3]])
    g = nir.NIRGraph(nodes={"input": nir.Input(np.array([2])), "w": nir.Linear(w),
                            "li": nir.CubaLI(tau_syn=ts, tau_mem=tm, r=r, v_leak=np.zeros(2), w_in=w_in),
                            "output": nir.Output(np.array([2]))},
                     edges=[("input", "w"), ("w", "li"), ("li", "output")])
    ts_scale = 10.0  # 1 step = 1 ms biological
    ir, report = compile_nir(g, "ideal", dt=dt, time_scale=ts_scale, v_scale=3.0)
    steps = {0: [3, 4, 12], 1: [5, 6, 7, 20]}
    x = np.zeros((40, 2))
    for j, ns in steps.items():
        x[ns, j] = 1.0
    i, v, want = np.zeros(2), np.zeros(2), [np.zeros(2)]
    for n in range(39):
        i = i + dt / ts * (-i + w_in * (w @ x[n]))
        v = v + dt / tm * (-v + r * i)
        want.append(v)
    want = np.array(want).T
    trains = SpikeTrains.from_lists([[n * dt * 1000 * ts_scale for n in steps[j]] for j in range(2)], n_neurons=2)
    c = report.convention
    be = EmulatorBackend()
    res = be.run(ir, {"input": trains}, duration=40.0, state=be.initial_state(ir, v_mV=np.full(2, c.v_offset)))
    k = np.rint(res.traces.times_ms / (dt * 1000 * ts_scale)).astype(int)
    on_step = np.isclose(res.traces.times_ms, k * dt * 1000 * ts_scale) & (k < 40)
    got = (res.traces.v_mV[0][:, on_step] - c.v_offset) / c.v_scale
    assert np.max(np.abs(want)) > 1.0
    # exact up to the emulator's event integration (< 6e-4 of one input's charge per input)
    np.testing.assert_allclose(got, want[:, k[on_step]], atol=2e-3 * np.max(np.abs(want)))


def test_nested_edge_to_a_missing_node_is_named():
    inner = nir.NIRGraph(nodes={"in": nir.Input(np.array([2])), "lin": nir.Linear(W[:2]),
                                "out": nir.Output(np.array([2]))},
                         edges=[("in", "lin"), ("lin", "out")])
    g = nir.NIRGraph(nodes={"input": nir.Input(np.array([2])), "sub": inner,
                            "li": nir.LI(tau=np.full(2, 0.01), r=np.ones(2), v_leak=np.zeros(2)),
                            "output": nir.Output(np.array([2]))},
                     edges=[("input", "sub"), ("sub", "li"), ("li", "output")])
    g.edges.append(("sub.nope", "li"))
    with pytest.raises(NirError, match="NIR edge sub.nope -> li references node 'sub.nope'"):
        from_nir(g)
