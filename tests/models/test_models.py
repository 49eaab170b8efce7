"""neuroemu.models against references that share no code with it: the PSP integral by
scipy.integrate.quad, the LIF ODE by scipy's solve_ivp, the DAC map by its defining formula, and
the schema against the dataclasses that must carry its parameters."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy.integrate import quad, solve_ivp

from neuroemu.calibration.targets import CalibrationTarget
from neuroemu.hardware import load_hardware
from neuroemu.hardware.config import ParameterSpec
from neuroemu.ir.model import ChipTargets, NeuronParams
from neuroemu.models import dac, lif
from neuroemu.models.psp import free, kernel_p, kernel_p_array, kernel_p_from
from neuroemu.network import LIF_DEFAULTS, Network


def psp_integral(h: float, tau_m: float, tau_s: float) -> float:
    """int_0^h e^{-(h-s)/tau_m} e^{-s/tau_s} ds, numerically."""
    value, _ = quad(lambda s: math.exp(-(h - s) / tau_m - s / tau_s), 0.0, h, epsabs=0.0, epsrel=1e-13, limit=200)
    return value


@pytest.mark.parametrize("ratio", [1.0, 2.0, 0.5, 1.0 + 1e-9, 1.0 - 1e-9, 1.0 + 1e-4])
@pytest.mark.parametrize("h", [1e-3, 0.3, 1.0, 4.0, 25.0])
def test_kernel_matches_the_integral(ratio: float, h: float) -> None:
    tau_s = 2.0
    tau_m = ratio * tau_s
    ref = psp_integral(h, tau_m, tau_s)
    assert kernel_p(h, 1.0 / tau_m, 1.0 / tau_s) == pytest.approx(ref, rel=1e-12)
    assert float(kernel_p_array(h, tau_m, tau_s)) == pytest.approx(ref, rel=1e-12)
    em, es = math.exp(-h / tau_m), math.exp(-h / tau_s)
    assert kernel_p_from(h, em, es, 1.0 / tau_s - 1.0 / tau_m) == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("tau_m, tau_s", [(1.0, 2.0), (2.0, 1.0), (1.0, 1.0), (1.0, 50.0), (50.0, 1.0)])
def test_kernel_large_h_finite(tau_m: float, tau_s: float) -> None:
    """e^{x} or e^{-x} (x = h (1/tau_s - 1/tau_m)) overflows for h ~ 1e3 tau: the kernel stays
    finite and follows its slow tail, P(h) ~ e^{-h/tau_slow} tau_m tau_s / |tau_m - tau_s|
    (h e^{-h/tau} for equal taus), down to 0."""
    for h in (1e3, 1e4, 1e6, 1e300):
        if tau_m == tau_s:
            tail = h * math.exp(-h / tau_m)
        else:
            tail = math.exp(-h / max(tau_m, tau_s)) * tau_m * tau_s / abs(tau_m - tau_s)
        p = kernel_p(h, 1.0 / tau_m, 1.0 / tau_s)
        q = kernel_p_array(np.array([h]), tau_m, tau_s)[0]
        assert math.isfinite(p) and p == pytest.approx(tail, rel=1e-10, abs=1e-300)
        assert np.isfinite(q) and q == pytest.approx(tail, rel=1e-10, abs=1e-300)


def test_kernel_array_broadcasts() -> None:
    h = np.linspace(0.0, 10.0, 7)[:, None]
    tau_m = np.array([1.0, 2.0, 3.0])
    got = kernel_p_array(h, tau_m, 2.0)
    assert got.shape == (7, 3)
    for i in range(7):
        for j in range(3):
            assert got[i, j] == pytest.approx(psp_integral(float(h[i, 0]), tau_m[j], 2.0), rel=1e-12, abs=1e-300)


def lif_rhs(tau_m: float, tau_e: float, tau_i: float):
    """dV/dt = -V/tau_m + I_exc + I_inh, dI_x/dt = -I_x/tau_x."""
    def rhs(t, y):
        v, a, b = y
        return [-v / tau_m + a + b, -a / tau_e, -b / tau_i]
    return rhs


@pytest.mark.parametrize("taus",
                         [(10.0, 5.0, 2.0), (10.0, 10.0, 10.0), (3.0, 10.0, 10.0 * (1 + 1e-9)), (2.0, 1.0, 4.0)])
@pytest.mark.parametrize("x", [0.01, 1.0, 7.5, -2.0])
def test_free_evolution_solves_the_ode(taus, x: float) -> None:
    tau_m, tau_e, tau_i = taus
    y0 = [0.02, 0.003, -0.0017]
    sol = solve_ivp(lif_rhs(tau_m, tau_e, tau_i), (0.0, x), y0, method="DOP853", rtol=1e-12, atol=1e-16)
    v_ref, a_ref, b_ref = sol.y[:, -1]
    dv_ref = lif_rhs(tau_m, tau_e, tau_i)(x, sol.y[:, -1])[0]
    v, dv, a, b = free(x, y0[0], y0[1], y0[2], 1.0 / tau_m, 1.0 / tau_e, 1.0 / tau_i)
    assert v == pytest.approx(v_ref, rel=1e-9, abs=1e-15)
    assert dv == pytest.approx(dv_ref, rel=1e-9, abs=1e-15)
    assert a == pytest.approx(a_ref, rel=1e-9) and b == pytest.approx(b_ref, rel=1e-9)


def test_free_backwards_inverts_forwards() -> None:
    state = free(3.0, 0.1, 0.02, -0.01, 0.1, 0.2, 0.5)
    v, _, a, b = free(-3.0, state[0], state[2], state[3], 0.1, 0.2, 0.5)
    assert (v, a, b) == pytest.approx((0.1, 0.02, -0.01), rel=1e-12)


# --- DAC map ------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class _Map:
    map: str
    at_code_0: float
    at_code_max: float


@dataclasses.dataclass(frozen=True)
class _Dac:
    bits: int | None
    max_code: int


@pytest.mark.parametrize("spec", [_Map("linear", 0.0, 1.2), _Map("log", 100.0, 0.3), _Map("linear", 3e-3, 0.0)])
def test_dac_map_formula_and_round_trip(spec: _Map) -> None:
    continuous, quantized = _Dac(None, 1022), _Dac(10, 1022)
    codes = np.array([0.0, 1.0, 511.0, 1022.0])
    f = np.log if spec.map == "log" else (lambda z: z)
    y = f(spec.at_code_0) + (f(spec.at_code_max) - f(spec.at_code_0)) * codes / 1022.0
    np.testing.assert_allclose(dac.value_at_code(spec, continuous, codes), np.exp(y) if spec.map == "log" else y,
                               rtol=1e-12)
    lo, hi = dac.reach(spec)
    values = np.linspace(lo, hi, 9)[1:-1]
    np.testing.assert_allclose(dac.value_at_code(spec, continuous, dac.nominal_code(spec, continuous, values)), values,
                               rtol=1e-12)
    codes_q = dac.nominal_code(spec, quantized, values)
    assert np.all(codes_q == np.rint(codes_q))
    back = dac.value_at_code(spec, quantized, codes_q)
    step = np.abs(dac.value_at_code(spec, quantized, codes_q + 1) - dac.value_at_code(spec, quantized, codes_q - 1)) / 2
    assert np.all(np.abs(back - values) <= 0.5 * step * (1 + 1e-9))
    # beyond the reach: clipped to the end codes
    assert set(dac.nominal_code(spec, quantized, np.array([lo / 2 if lo > 0 else lo - 1, hi * 2]))) == {0.0, 1022.0}
    # moving along the nominal slope from a code realises the new value on a nominal circuit
    c = dac.code_towards(spec, continuous, dac.nominal_code(spec, continuous, values[2]), values[4], values[2])
    assert float(dac.value_at_code(spec, continuous, c)) == pytest.approx(values[4], rel=1e-12)


def test_dac_mismatch_deviations() -> None:
    spec, d = _Map("log", 100.0, 0.3), _Dac(None, 1022)
    code = 400.0
    y = math.log(100.0) + 0.1 + (math.log(0.3) - math.log(100.0)) / 1022.0 * (1 + 0.05) * code
    value = float(dac.value_at_code(spec, d, code, offset_dev=0.1, gain_dev=0.05))
    assert value == pytest.approx(math.exp(y), rel=1e-12)


def test_dac_range_refusal() -> None:
    spec = _Map("linear", 0.0, 1.2)
    dac.check_range(spec, (0.285, 1.05))
    with pytest.raises(ValueError, match="must lie inside what the DAC reaches"):
        dac.check_range(spec, (0.285, 1.3))
    with pytest.raises(ValueError, match="must lie inside what the DAC reaches"):
        ParameterSpec(unit="us", range=(0.1, 200.0), map="log", at_code_0=100.0, at_code_max=0.3,
                      mismatch_offset=0.0, mismatch_gain=0.0)


# --- schema ---------------------------------------------------------------------------------------
def test_schema_is_what_the_description_ir_and_chip_carry() -> None:
    neuron = [p.name for p in lif.NEURON_PARAMETERS]
    circuit = [p.name for p in lif.CIRCUIT_PARAMETERS]
    assert list(LIF_DEFAULTS) == neuron and len(set(neuron)) == len(neuron)
    assert [f.name for f in dataclasses.fields(NeuronParams)] == neuron
    assert [f.name for f in dataclasses.fields(ChipTargets)] == circuit
    assert [f.name for f in dataclasses.fields(CalibrationTarget)] == circuit
    for hw in ("bss2", "ideal", "small"):
        assert list(load_hardware(hw).parameters) == circuit
    # every description parameter's circuit exists, and each circuit parameter is set by at most one
    chips = [p.chip for p in lif.NEURON_PARAMETERS if p.chip is not None]
    assert set(chips) <= set(circuit) and len(set(chips)) == len(chips)
    assert set(chips) == set(lif.NEURON_CIRCUIT_NAMES)
    for p in lif.CIRCUIT_PARAMETERS:
        assert p.unit == {"potential": "V", "time": "µs", "gain": "V/µs per code"}[p.kind]


def test_schema_defaults_reach_the_description_and_the_ir() -> None:
    from neuroemu.compiler.validate import validate

    net = Network()
    net.add_spike_source("in", 1, [[1.0]])
    net.add_lif("out", 2)
    net.connect("in", "out", weight=0.5)
    logical = validate(net)
    for p in lif.NEURON_PARAMETERS:
        np.testing.assert_array_equal(getattr(logical.params, p.name), [p.default, p.default])


def test_schema_bounds_are_enforced() -> None:
    from neuroemu.compiler.validate import check_population
    from neuroemu.errors import NetworkError
    from neuroemu.network.model import LIFPopulation

    for p in lif.NEURON_PARAMETERS:
        if p.bound == "any":
            continue
        bad = 0.0 if p.bound == "positive" else -1.0
        with pytest.raises(NetworkError, match=p.name):
            check_population(LIFPopulation("x", 1, {p.name: bad}))


def test_calibration_defaults_from_schema() -> None:
    """calix's default calibration target (DESIGN.md: leak 80, reset 70, threshold 125 CADC;
    tau_mem 10 µs, tau_syn 10 µs, refractory 2 µs), written here, reaches CalibrationTarget."""
    hw = load_hardware("bss2")
    t = CalibrationTarget.default(hw)
    cadc = {"v_leak": 80.0, "v_reset": 70.0, "v_thresh": 125.0}
    times = {"tau_mem": 10.0, "tau_syn_exc": 10.0, "tau_syn_inh": 10.0, "tau_refrac": 2.0}
    for name, code in cadc.items():
        assert float(hw.cadc_code(t.get(name))) == pytest.approx(code)
    for name, us in times.items():
        assert t.get(name) == pytest.approx(us)
