"""The quantize and translate passes alone."""
from __future__ import annotations

import numpy as np
import pytest

from neuroemu.compiler import compile_network, place, quantize, translate, validate
from neuroemu.errors import RangeError
from neuroemu.hardware import PARAMETERS, load_hardware
from neuroemu.ir import EXC, INH
from neuroemu.network import Network

from conftest import TTFS_PARAMS, feedforward

BSS2 = load_hardware("bss2")
IDEAL = load_hardware("ideal")


def _passes(net, hw):
    lg = validate(net)
    pl = place(lg, hw)
    wq = quantize(lg, pl, hw)
    return lg, pl, wq


def test_codes_in_range_and_signs_right():
    lg, pl, wq = _passes(feedforward(n_in=10, n_hidden=20, n_out=5, seed=3), BSS2)
    assert np.all(wq.code == np.rint(wq.code)) and wq.code.min() >= 0 and wq.code.max() <= 63
    deployed = wq.deployed_weight(lg.synapses.receptor)
    nz = deployed != 0
    assert np.all(np.sign(deployed[nz]) == np.sign(lg.synapses.weight[nz]))
    # the strongest weight of each group gets the largest code
    for g in range(len(wq.group_scale)):
        assert wq.code[wq.group == g].max() == 63
    # error at most half a step; reported error matches
    step = wq.group_scale[wq.group]
    err = deployed - lg.synapses.weight
    assert np.all(np.abs(err) <= step / 2 + 1e-12)
    for i, pr in enumerate(lg.projections):
        e = err[pr.first:pr.first + pr.count]
        assert wq.rms_error[i] == pytest.approx(np.sqrt(np.mean(e**2)))
        assert wq.max_error[i] == pytest.approx(np.abs(e).max())


def test_ideal_has_no_quantization_error():
    lg, pl, wq = _passes(feedforward(seed=4), IDEAL)
    np.testing.assert_allclose(wq.deployed_weight(lg.synapses.receptor), lg.synapses.weight, rtol=1e-12, atol=1e-15)
    assert np.all(wq.rms_error < 1e-12)


def test_fewer_bits_more_error():
    import dataclasses

    net = feedforward(n_in=10, n_hidden=20, seed=5)
    errs = []
    for bits in (6, 5, 4):
        hw = BSS2.with_overrides(synapses=dataclasses.replace(BSS2.synapses, weight_bits=bits))
        lg, pl, wq = _passes(net, hw)
        errs.append(wq.relative_rms_error[0])
        assert wq.code.max() == 2**bits - 1
    assert errs[0] < errs[1] < errs[2]


def test_too_strong_weight_is_refused():
    net = Network()
    net.add_spike_source("s", 2)
    net.add_lif("n", 2, **TTFS_PARAMS)
    net.connect("s", "n", weight=50.0, receptor="exc", name="strong")
    lg = validate(net)
    pl = place(lg, BSS2)
    with pytest.raises(RangeError, match=r"projection 'strong': weight 50 nA \(exc\).*at most .* nA per code"):
        quantize(lg, pl, BSS2)


def test_translate_units_and_gain():
    lg, pl, wq = _passes(feedforward(seed=6), BSS2)
    tg = translate(lg, pl, wq, BSS2)
    np.testing.assert_allclose(tg.tau_mem, 10.0)  # 10 ms -> 10 µs
    np.testing.assert_allclose(tg.tau_refrac, 2.0)
    np.testing.assert_allclose(BSS2.cadc_code(tg.v_leak), 80.0)
    np.testing.assert_allclose(BSS2.cadc_code(tg.v_thresh), 125.0)
    # gain * code / merge = chip current of the deployed weight
    for rec, name in ((EXC, "input_gain_exc"), (INH, "input_gain_inh")):
        sel = lg.synapses.receptor == rec
        post = lg.lif_index()[lg.synapses.post[sel]]
        chip = tg.get(name)[post] * wq.code[sel] / pl.size[post]
        expect = BSS2.chip_current_V_per_us(np.abs(wq.deployed_weight(lg.synapses.receptor)[sel]), lg.params.cm[post])
        np.testing.assert_allclose(chip, expect, rtol=1e-12)
    for p in PARAMETERS:
        lo, hi = BSS2.parameters[p].range
        assert np.all((tg.get(p) >= lo) & (tg.get(p) <= hi))


@pytest.mark.parametrize(
    "param, value, words",
    [
        ("tau_mem", 100.0, ["population 'hidden' neuron 0", "tau_mem 100 ms", "100 us", "0.5-60 us"]),
        ("tau_syn_exc", 0.1, ["tau_syn_exc 0.1 ms", "0.3-30 us"]),
        ("v_thresh", 10.0, ["v_thresh 10 mV", "outside its range"]),
        ("tau_refrac", 0.0, ["tau_refrac 0 ms", "0.04-32 us"]),
    ],
)
def test_out_of_range_target_names_neuron(param, value, words):
    net = feedforward(**{param: value})
    lg, pl, wq = _passes(net, BSS2)
    with pytest.raises(RangeError) as exc:
        translate(lg, pl, wq, BSS2)
    for w in words:
        assert w in str(exc.value), str(exc.value)


def test_delays_refused_on_bss2():
    net = feedforward()
    net.projections[0].delay = 1.0
    with pytest.raises(RangeError,
                       match="projection .input->hidden.: delay 1 ms, but bss2 has no programmable synaptic delays"):
        compile_network(net, BSS2)


def test_bias_current_is_a_shifted_leak_exactly():
    """i_offset I: cm dV/dt = -(cm/tau)(V - v_rest) + I = -(cm/tau)(V - (v_rest + I tau/cm))."""
    net = feedforward()
    net.populations[1].params.update(i_offset=np.linspace(-0.5, 0.5, 6), cm=0.5, tau_mem=8.0)
    lg, pl, wq = _passes(net, BSS2)
    tg = translate(lg, pl, wq, BSS2)
    v_inf = -65.0 + np.linspace(-0.5, 0.5, 6) * 8.0 / 0.5
    hidden = np.arange(6)
    np.testing.assert_allclose(tg.v_leak[hidden], 0.42 + (v_inf + 65.0) * 0.0135, rtol=1e-12)
    net.populations[1].params["i_offset"] = 2.0  # v_inf = -65 + 32 = -33 mV: above the leak range
    lg, pl, wq = _passes(net, BSS2)
    with pytest.raises(RangeError, match=r"the leak potential v_rest \+ i_offset\*tau_mem/cm = -65 mV \+ 2 nA x 8 ms / "
                                         r"0.5 nF = -33 mV is 0.852 V on bss2, outside its range 0.285-0.78 V"):
        translate(lg, pl, wq, BSS2)
