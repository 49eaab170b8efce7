"""The PyNN standard models neuroemu realises, with their translation tables, and the refusals.

Cells: ``IF_curr_exp`` (the chip's current-based LIF neuron, every PyNN parameter; names map
onto the network description's, units are the same: ms, mV, nF, nA), ``SpikeSourceArray``,
``SpikeSourcePoisson``. Synapses: ``StaticSynapse``. Current sources: ``DCSource`` and
``StepCurrentSource``, realised exactly as a piecewise-constant bias current (``i_offset``; on
the chip a shift of the leak potential, see :mod:`neuroemu.network.model`), switched at the
simulation's time steps. Everything else PyNN defines raises
:class:`~neuroemu.pynn.exceptions.UnsupportedError` naming what to use instead, and is not listed
by ``list_standard_models()``.
"""
from __future__ import annotations

import numpy as np
from pyNN.models import BaseCellType, BaseSynapseType
from pyNN.parameters import ParameterSpace, Sequence
from pyNN.standardmodels import build_translations, cells, electrodes, synapses
from pyNN.standardmodels.base import StandardCurrentSource

from neuroemu.models.lif import NEURON_PARAMETERS
from neuroemu.pynn import simulator
from neuroemu.pynn.exceptions import UnsupportedError


class IF_curr_exp(cells.IF_curr_exp):
    __doc__ = cells.IF_curr_exp.__doc__

    translations = build_translations(*((p.pynn, p.name) for p in NEURON_PARAMETERS))


class SpikeSourceArray(cells.SpikeSourceArray):
    __doc__ = cells.SpikeSourceArray.__doc__

    translations = build_translations(("spike_times", "spike_times"))


class SpikeSourcePoisson(cells.SpikeSourcePoisson):
    __doc__ = cells.SpikeSourcePoisson.__doc__ + """
    On neuroemu the spikes are drawn on the host from ``setup(seed=...)`` (like
    pynn-brainscales' ``SpikeSourcePoisson``) and played into the chip like a
    SpikeSourceArray; the same seed gives the same spikes however the time is split into runs.
    """

    translations = build_translations(("rate", "rate"), ("start", "start"), ("duration", "duration"))


class StaticSynapse(synapses.StaticSynapse):
    __doc__ = synapses.StaticSynapse.__doc__ + """
    On the emulated chip there are no programmable delays: the default delay (``delay=None``)
    is the chip's fixed latency (``get_min_delay()``); other delays are refused when the network
    is compiled, naming the projection. The brian2 backend in mode ``ideal`` or ``as-deployed``
    realises any delay.
    """

    translations = build_translations(("weight", "weight"), ("delay", "delay"))

    def _get_minimum_delay(self) -> float:
        return simulator.state.min_delay


# --- current sources ------------------------------------------------------------------------
class _StepwiseSource(StandardCurrentSource):
    """A current source that is constant between change times; injected as ``i_offset``."""

    def __init__(self, **parameters):
        object.__setattr__(self, "_native", {})
        object.__setattr__(self, "cells", [])
        object.__setattr__(self, "recording", False)
        super().__init__(**parameters)
        ps = ParameterSpace(self.default_parameters, self.get_schema(), shape=(1,))
        ps.update(**parameters)
        self.set_native_parameters(self.translate(ps))
        simulator.state.current_sources.append(self)

    def set_native_parameters(self, parameters: ParameterSpace) -> None:
        parameters.evaluate(simplify=True)
        old = dict(self._native)
        for name, value in parameters.items():
            self._native[name] = value.value if isinstance(value, Sequence) else value
        try:
            self._check()
        except Exception:
            self._native.clear()
            self._native.update(old)  # a refused value leaves the source as it was
            raise
        simulator.state.changed()

    def get_native_parameters(self) -> ParameterSpace:
        return ParameterSpace(dict(self._native))

    def inject_into(self, cells_) -> None:
        for cell in cells_:
            if not cell.celltype.injectable:
                raise TypeError("Can't inject current into a spike source.")
        self.cells.extend(int(c) for c in cells_)
        simulator.state.changed()

    def record(self) -> None:
        self.recording = True

    def _get_data(self) -> tuple[np.ndarray, np.ndarray]:
        """The injected current (nA) at every time step from 0 to now (ms)."""
        dt = simulator.state.dt
        times = np.arange(simulator.state.step + 1) * dt
        return times, np.array([self.amplitude_at(t) for t in times])

    # what the simulation needs (each source defines them): amplitude_at(t_ms) -> nA, and
    # change_times() -> the times (ms, on the time-step grid) where the current changes

    def _check(self) -> None:
        """Every number of the source must be finite (names the source and the parameter)."""
        for name, value in self._native.items():
            arr = np.asarray(value, float)
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{type(self).__name__}: {name} must be finite, got {value!r}")


def _on_grid(t: np.ndarray) -> np.ndarray:
    """Times rounded to the simulation's time steps (where the current changes, as in pyNN.brian2;
    halves round up, as :func:`~neuroemu.pynn.simulator.to_step`)."""
    return simulator.to_steps(t, simulator.state.dt) * simulator.state.dt


class DCSource(_StepwiseSource, electrodes.DCSource):
    __doc__ = electrodes.DCSource.__doc__

    translations = build_translations(("amplitude", "amplitude"), ("start", "start"), ("stop", "stop"))

    def amplitude_at(self, t_ms: float) -> float:
        start, stop = _on_grid([self._native["start"], self._native["stop"]])
        return float(self._native["amplitude"]) if start <= t_ms + 1e-9 and t_ms + 1e-9 < stop else 0.0

    def change_times(self) -> np.ndarray:
        return _on_grid([self._native["start"], self._native["stop"]])


class StepCurrentSource(_StepwiseSource, electrodes.StepCurrentSource):
    __doc__ = electrodes.StepCurrentSource.__doc__

    translations = build_translations(("amplitudes", "amplitudes"), ("times", "times"))

    def _check(self) -> None:
        """Refuse non-finite, negative or unordered times; map them to the time steps, keeping the
        last amplitude of times that map to the same step (as pyNN.brian2 and pyNN.neuron)."""
        super()._check()
        times = np.asarray(self._native.get("times", []), float).ravel()
        amps = np.asarray(self._native.get("amplitudes", []), float).ravel()
        if times.shape != amps.shape:
            raise ValueError(f"StepCurrentSource: {len(times)} times but {len(amps)} amplitudes")
        if np.any(times < 0):
            raise ValueError("Step current cannot accept negative timestamps.")
        if np.any(np.diff(times) <= 0):
            raise ValueError("Step current timestamps should be monotonically increasing.")
        mapped = _on_grid(times)
        keep = np.r_[mapped[1:] != mapped[:-1], True] if len(mapped) else np.zeros(0, bool)
        self._native["times"], self._native["amplitudes"] = mapped[keep], amps[keep]

    def amplitude_at(self, t_ms: float) -> float:
        times = np.asarray(self._native["times"], float)
        amps = np.asarray(self._native["amplitudes"], float)
        k = np.searchsorted(times, t_ms + 1e-9, side="right") - 1
        return float(amps[k]) if k >= 0 else 0.0

    def change_times(self) -> np.ndarray:
        return np.asarray(self._native["times"], float)


# --- refusals -------------------------------------------------------------------------------
def _refused(name: str, base: type, message: str) -> type:
    def __init__(self, *args, **kwargs):
        raise UnsupportedError(message)

    return type(name, (base,), {"__init__": __init__, "__doc__": f"Not available in neuroemu.pynn: {message}"})


_STATIC = "the emulated chip's synapses are static in a run; use StaticSynapse"
_CURRENT_BASED = ("neuroemu's emulated chip runs current-based LIF neurons with exponential synapses; "
                  "use IF_curr_exp")
IF_cond_exp = _refused("IF_cond_exp", BaseCellType, f"IF_cond_exp (conductance-based synapses) is not supported yet: "
                       f"{_CURRENT_BASED} (the same neuron with current-based synapses, weights in nA)")
IF_cond_alpha = _refused("IF_cond_alpha", BaseCellType, f"IF_cond_alpha is not supported: {_CURRENT_BASED}")
IF_curr_alpha = _refused("IF_curr_alpha", BaseCellType,
                         f"IF_curr_alpha (alpha-shaped synaptic currents) is not supported: {_CURRENT_BASED}")
HH_cond_exp = _refused("HH_cond_exp", BaseCellType, f"HH_cond_exp (Hodgkin-Huxley) is not supported: {_CURRENT_BASED}")
EIF_cond_exp_isfa_ista = _refused("EIF_cond_exp_isfa_ista", BaseCellType,
                                  f"EIF_cond_exp_isfa_ista (AdEx) is not supported yet: {_CURRENT_BASED}")
EIF_cond_alpha_isfa_ista = _refused("EIF_cond_alpha_isfa_ista", BaseCellType,
                                    f"EIF_cond_alpha_isfa_ista (AdEx) is not supported yet: {_CURRENT_BASED}")
Izhikevich = _refused("Izhikevich", BaseCellType, f"Izhikevich is not supported: {_CURRENT_BASED}")
IF_cond_exp_gsfa_grr = _refused("IF_cond_exp_gsfa_grr", BaseCellType,
                                f"IF_cond_exp_gsfa_grr is not supported: {_CURRENT_BASED}")
SpikeSourceGamma = _refused("SpikeSourceGamma", BaseCellType,
                            "SpikeSourceGamma is not supported: use SpikeSourceArray with times you draw, or "
                            "SpikeSourcePoisson")
SpikeSourcePoissonRefractory = _refused("SpikeSourcePoissonRefractory", BaseCellType,
                                        "SpikeSourcePoissonRefractory is not supported: use SpikeSourceArray with "
                                        "times you draw, or SpikeSourcePoisson")
TsodyksMarkramSynapse = _refused("TsodyksMarkramSynapse", BaseSynapseType,
                                 f"TsodyksMarkramSynapse (short-term plasticity) is not supported: {_STATIC}")
STDPMechanism = _refused("STDPMechanism", BaseSynapseType, f"STDPMechanism (plasticity) is not supported: {_STATIC}")
_COMPOSED = f"composed neuron models (PointNeuron with its components) are not supported: {_CURRENT_BASED}"
PointNeuron = _refused("PointNeuron", BaseCellType, _COMPOSED)
LIF = _refused("LIF", object, _COMPOSED)
AdExp = _refused("AdExp", object, _COMPOSED)
CurrExpPostSynapticResponse = _refused("CurrExpPostSynapticResponse", object, _COMPOSED)
ExpPSR = _refused("ExpPSR", object, _COMPOSED)
AlphaPSR = _refused("AlphaPSR", object, _COMPOSED)
CondExpPostSynapticResponse = _refused("CondExpPostSynapticResponse", object, _COMPOSED)
CondAlphaPostSynapticResponse = _refused("CondAlphaPostSynapticResponse", object, _COMPOSED)
MultiCompartmentNeuron = _refused("MultiCompartmentNeuron", BaseCellType,
                                  f"multi-compartment neurons are not supported: {_CURRENT_BASED}")
SimpleStochasticSynapse = _refused("SimpleStochasticSynapse", BaseSynapseType,
                                   f"SimpleStochasticSynapse is not supported: {_STATIC}")
SpikePairRule = _refused("SpikePairRule", object, f"STDP rules are not supported: {_STATIC}")
AdditiveWeightDependence = _refused("AdditiveWeightDependence", object, f"STDP rules are not supported: {_STATIC}")
MultiplicativeWeightDependence = _refused("MultiplicativeWeightDependence", object,
                                          f"STDP rules are not supported: {_STATIC}")
_STEPWISE = ("only piecewise-constant currents are realised (as a bias current, i.e. a shift of the leak "
             "potential): use DCSource or StepCurrentSource")
ACSource = _refused("ACSource", object, f"ACSource is not supported: {_STEPWISE}")
NoisyCurrentSource = _refused("NoisyCurrentSource", object, f"NoisyCurrentSource is not supported: {_STEPWISE}")

#: cell types neuroemu runs (what list_standard_models() reports)
CELL_TYPES = (IF_curr_exp, SpikeSourceArray, SpikeSourcePoisson)

__all__ = [
    "IF_curr_exp", "SpikeSourceArray", "SpikeSourcePoisson", "StaticSynapse", "DCSource", "StepCurrentSource",
    "IF_cond_exp", "IF_cond_alpha", "IF_curr_alpha", "HH_cond_exp", "EIF_cond_exp_isfa_ista",
    "EIF_cond_alpha_isfa_ista",
    "Izhikevich", "IF_cond_exp_gsfa_grr", "SpikeSourceGamma", "SpikeSourcePoissonRefractory", "TsodyksMarkramSynapse",
    "STDPMechanism", "ACSource", "NoisyCurrentSource", "PointNeuron", "LIF", "AdExp", "CurrExpPostSynapticResponse",
    "ExpPSR", "AlphaPSR", "CondExpPostSynapticResponse", "CondAlphaPostSynapticResponse", "MultiCompartmentNeuron",
    "SimpleStochasticSynapse", "SpikePairRule", "AdditiveWeightDependence", "MultiplicativeWeightDependence",
]
