r"""The current-based LIF neuron with exponential synapses, and its parameter schema.

The neuron (PyNN's ``IF_curr_exp``, NIR's ``CubaLIF``), in biological units (ms, mV, nA, nF)::

    cm dV/dt = -(cm/tau_mem) (V - v_rest) + I_exc + I_inh + i_offset
    dI_x/dt  = -I_x / tau_syn_x,          I_x += w at each input spike (w in nA; inh <= 0)

    V >= v_thresh:  spike, then V = v_reset for tau_refrac

The bias current ``i_offset`` is a shifted leak potential: with
``v_inf = v_rest + i_offset tau_mem / cm`` the first equation reads
``cm dV/dt = -(cm/tau_mem)(V - v_inf) + I_exc + I_inh``. On the chip (chip units: µs, V, V/µs)
the same equations run 1000x faster on the circuit's analog parameters, relative to the
leak potential and with the currents over the membrane capacitance::

    dV/dt = -(V - v_leak)/tau_mem + I_exc + I_inh,     dI_x/dt = -I_x/tau_syn_x,
    I_x += input_gain_x * code at each input event (code: the synapse's 6-bit weight)

Between events the solution is closed-form (:mod:`neuroemu.models.psp`).

The parameters, once:

* :data:`NEURON_PARAMETERS`: the description's parameters (biological units, defaults: PyNN's
  ``IF_curr_exp``, tau_syn 5 ms for both receptors), which the network description, its YAML,
  the IR's :class:`~neuroemu.ir.model.NeuronParams` and the PyNN and NIR front-ends use;
* :data:`CIRCUIT_PARAMETERS`: the analog parameters of a neuron circuit, each set by a CapMem
  DAC code (:mod:`neuroemu.models.dac`) and calibratable, in calix's calibration order, with
  calix's default targets; the compiler's :class:`~neuroemu.ir.model.ChipTargets`, the hardware
  configs' parameter maps and the calibration's targets have exactly these. Their calibratable
  ranges belong to each hardware config (``parameters.<name>.range``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class NeuronParameter:
    """One parameter of the network description's LIF neuron.

    name: in the description, its YAML and the IR; unit: biological; default: when unset;
    bound: what values are valid (``positive``, ``non-negative`` or ``any`` finite value);
    pynn: PyNN's ``IF_curr_exp`` name; chip: the circuit parameter that realises it (None: realised
    through others: ``cm`` scales the weights into the input gains, ``i_offset`` shifts the leak).
    """

    name: str
    unit: Literal["ms", "mV", "nF", "nA"]
    default: float
    bound: Literal["positive", "non-negative", "any"]
    pynn: str
    chip: str | None


@dataclass(frozen=True)
class CircuitParameter:
    """One analog parameter of a neuron circuit (chip units), set by a DAC code and calibratable.

    name: in the chip targets, hardware configs and calibrations; unit: chip unit; kind:
    ``potential`` (V; target files also take CADC codes and biological mV), ``time`` (µs) or
    ``gain`` (V/µs per weight code); calix_default: calix's default target (potentials in CADC
    codes, times in µs, gains in V/µs per code); realises: the description's quantity it is
    translated from (``v_inf``: the leak potential v_rest + i_offset tau_mem / cm; None: from the
    weights' scale, see :mod:`neuroemu.compiler.translate`).
    """

    name: str
    unit: str
    kind: Literal["potential", "time", "gain"]
    calix_default: float
    realises: str | None


NEURON_PARAMETERS: tuple[NeuronParameter, ...] = (
    NeuronParameter("tau_mem", "ms", 20.0, "positive", "tau_m", "tau_mem"),
    NeuronParameter("tau_syn_exc", "ms", 5.0, "positive", "tau_syn_E", "tau_syn_exc"),
    NeuronParameter("tau_syn_inh", "ms", 5.0, "positive", "tau_syn_I", "tau_syn_inh"),
    NeuronParameter("v_rest", "mV", -65.0, "any", "v_rest", "v_leak"),
    NeuronParameter("v_reset", "mV", -65.0, "any", "v_reset", "v_reset"),
    NeuronParameter("v_thresh", "mV", -50.0, "any", "v_thresh", "v_thresh"),
    NeuronParameter("tau_refrac", "ms", 0.1, "non-negative", "tau_refrac", "tau_refrac"),
    NeuronParameter("cm", "nF", 1.0, "positive", "cm", None),
    NeuronParameter("i_offset", "nA", 0.0, "any", "i_offset", None),
)

CIRCUIT_PARAMETERS: tuple[CircuitParameter, ...] = (
    CircuitParameter("v_leak", "V", "potential", 80.0, "v_inf"),
    CircuitParameter("v_reset", "V", "potential", 70.0, "v_reset"),
    CircuitParameter("v_thresh", "V", "potential", 125.0, "v_thresh"),
    CircuitParameter("tau_mem", "µs", "time", 10.0, "tau_mem"),
    CircuitParameter("tau_syn_exc", "µs", "time", 10.0, "tau_syn_exc"),
    CircuitParameter("tau_syn_inh", "µs", "time", 10.0, "tau_syn_inh"),
    CircuitParameter("tau_refrac", "µs", "time", 2.0, "tau_refrac"),
    CircuitParameter("input_gain_exc", "V/µs per code", "gain", 1.0e-3, None),
    CircuitParameter("input_gain_inh", "V/µs per code", "gain", 1.0e-3, None),
)

#: description parameter -> default (biological units)
DEFAULTS: dict[str, float] = {p.name: p.default for p in NEURON_PARAMETERS}
#: description parameter -> biological unit
UNITS: dict[str, str] = {p.name: p.unit for p in NEURON_PARAMETERS}
#: the circuit parameters' names, in calix's calibration order
CIRCUIT_NAMES: tuple[str, ...] = tuple(p.name for p in CIRCUIT_PARAMETERS)
#: circuit parameter -> chip unit
CIRCUIT_UNITS: dict[str, str] = {p.name: p.unit for p in CIRCUIT_PARAMETERS}
#: the circuit parameters that are potentials
POTENTIALS: tuple[str, ...] = tuple(p.name for p in CIRCUIT_PARAMETERS if p.kind == "potential")
#: the circuit parameters translated from the description's neuron parameters (all but the gains)
NEURON_CIRCUIT_NAMES: tuple[str, ...] = tuple(p.name for p in CIRCUIT_PARAMETERS if p.realises is not None)
#: circuit parameter -> the description parameter that sets it (v_leak: v_rest, shifted by any i_offset)
DESCRIPTION_OF: dict[str, str] = {p.chip: p.name for p in NEURON_PARAMETERS if p.chip is not None}

