"""Population, PopulationView and Assembly of neuroemu.pynn (PyNN's common classes, our storage).

A population keeps its parameters as arrays under the native (neuroemu) names of the cell
type's translation table, and its initial values (``v``, ``isyn_exc``, ``isyn_inh``) as
arrays; the :class:`~neuroemu.pynn.session.Session` reads both when it compiles and starts a
simulation. A parameter or structure change marks the network for recompilation. Values are
checked when they are set: a bad one raises PyNN's exception type with neuroemu's message and
leaves the population unchanged.
"""
from __future__ import annotations

import numpy as np
from pyNN import common
from pyNN.parameters import LazyArray, ParameterSpace, simplify
from pyNN.standardmodels import StandardCellType

from neuroemu.compiler.validate import check_population
from neuroemu.errors import NeuroemuError
from neuroemu.network.model import LIFPopulation
from neuroemu.pynn import simulator
from neuroemu.pynn.exceptions import InvalidParameterValueError, UnsupportedError
from neuroemu.pynn.recording import Recorder
from neuroemu.pynn.standardmodels import CELL_TYPES, IF_curr_exp, SpikeSourceArray, SpikeSourcePoisson


def _check_spike_times(params: dict[str, np.ndarray], label: str) -> None:
    """Spike times of a SpikeSourceArray: finite, >= 0 and in increasing order, per neuron."""
    for k, seq in enumerate(params["spike_times"]):
        t = np.asarray(seq.value if hasattr(seq, "value") else seq, float).ravel()
        if not np.all(np.isfinite(t)) or np.any(t < 0) or np.any(np.diff(t) < 0):
            raise InvalidParameterValueError(
                f"population '{label}' neuron {k}: spike times must be finite, >= 0 ms and in increasing order, "
                f"got {t.tolist()[:8]}")


def _check_poisson(params: dict[str, np.ndarray], label: str) -> None:
    """Rates (Hz), start and duration (ms) of a SpikeSourcePoisson: finite and >= 0."""
    for name in ("rate", "start", "duration"):
        v = np.asarray(params[name], float).ravel()
        bad = np.flatnonzero(~np.isfinite(v) | (v < 0))
        if bad.size:
            raise InvalidParameterValueError(
                f"population '{label}': SpikeSourcePoisson {name} must be a finite number >= 0, got {v[bad[0]]}")


def _check(celltype, params: dict[str, np.ndarray], size: int, label: str) -> None:
    if isinstance(celltype, IF_curr_exp):
        _check_lif(params, size, label)
    elif isinstance(celltype, SpikeSourceArray):
        _check_spike_times(params, label)
    elif isinstance(celltype, SpikeSourcePoisson):
        _check_poisson(params, label)


def _check_lif(params: dict[str, np.ndarray], size: int, label: str) -> None:
    """Refuse LIF parameters the network description refuses (negative time constants, ...)."""
    try:
        check_population(LIFPopulation(label, size, {k: np.asarray(v, float) for k, v in params.items()}))
    except NeuroemuError as exc:
        raise InvalidParameterValueError(str(exc)) from None


class Assembly(common.Assembly):
    __doc__ = common.Assembly.__doc__
    _simulator = simulator


class _ParameterAccess:
    """Parameter get/set on the native arrays of the population (``_base``) and a cell mask."""

    def _get_parameters(self, *names):
        if isinstance(self.celltype, StandardCellType):
            if any(name in self.celltype.computed_parameters() for name in names):
                native_names = self.celltype.get_native_names()
            else:
                native_names = self.celltype.get_native_names(*names)
            return self.celltype.reverse_translate(self._get_native_parameters(*native_names))
        return self._get_native_parameters(*names)

    def _get_native_parameters(self, *names):
        base, mask = self._base_and_mask()
        out = {}
        for name in names:
            value = base._parameters[name]
            if isinstance(value, np.ndarray):
                value = value[mask]
            out[name] = simplify(value)
        return ParameterSpace(out, shape=(self.size,))

    def _set_parameters(self, parameter_space):
        """``parameter_space`` holds native parameters."""
        base, mask = self._base_and_mask()
        parameter_space.evaluate(simplify=False)
        new = {name: np.array(value, copy=True) for name, value in base._parameters.items()}
        for name, value in parameter_space.items():
            new[name][mask] = value
        _check(base.celltype, new, base.size, base.label)
        base._parameters = new
        if isinstance(base.celltype, IF_curr_exp):  # spike sources' parameters are inputs: nothing to recompile
            simulator.state.changed()

    def _set_initial_value_array(self, variable, value):
        base, mask = self._base_and_mask()
        values = np.asarray(value.evaluate(simplify=False) if isinstance(value, LazyArray) else value, float)
        base._store_initial(variable, mask, np.broadcast_to(values, (self.size,)))

    def _get_view(self, selector, label=None):
        return PopulationView(self, selector, label)


class PopulationView(_ParameterAccess, common.PopulationView):
    __doc__ = common.PopulationView.__doc__
    _assembly_class = Assembly
    _simulator = simulator

    def _base_and_mask(self):
        return self.grandparent, self.index_in_grandparent(np.arange(self.size))

    @property
    def initial_values(self):
        base, mask = self._base_and_mask()
        return {name: LazyArray(values[mask]) for name, values in base._initial.items()}

    def initialize(self, **initial_values):
        for variable, value in initial_values.items():
            self._set_initial_value_array(variable, LazyArray(value, shape=(self.size,), dtype=float))


class Population(_ParameterAccess, common.Population):
    __doc__ = common.Population.__doc__
    _simulator = simulator
    _recorder_class = Recorder
    _assembly_class = Assembly

    def _base_and_mask(self):
        return self, slice(None)

    # initial values live in ``_initial`` (one array per variable, whatever view set them);
    # ``initial_values`` shows them as PyNN's LazyArrays
    @property
    def initial_values(self):
        return {name: LazyArray(values.copy()) for name, values in self._initial.items()}

    @initial_values.setter
    def initial_values(self, value):  # PyNN's __init__ and initialize() assign it: _initial is the record
        pass

    def _get_cell_initial_value(self, id, variable):
        if variable not in self._initial:
            raise InvalidParameterValueError(f"'{variable}' is not a state variable of "
                                             f"{self.celltype.__class__.__name__} "
                                             f"(variables: {', '.join(self._initial) or 'none'})")
        return float(self._initial[variable][self.id_to_local_index(id)])

    def _set_cell_initial_value(self, id, variable, value):
        self._store_initial(variable, np.array([self.id_to_local_index(id)]), np.array([float(value)]))

    def _store_initial(self, variable: str, mask, values: np.ndarray) -> None:
        """Initial ``variable`` of the cells ``mask`` (after a run: set now, as on PyNN's other backends)."""
        if variable not in self._initial:
            raise InvalidParameterValueError(f"'{variable}' is not a state variable of "
                                             f"{self.celltype.__class__.__name__} "
                                             f"(variables: {', '.join(self._initial) or 'none'})")
        if not np.all(np.isfinite(values)):
            raise InvalidParameterValueError(f"population '{self.label}': initial {variable} must be finite")
        if variable in ("isyn_exc", "isyn_inh") and np.any(values != 0):
            raise UnsupportedError(f"population '{self.label}': initial {variable} must be 0 on neuroemu (the emulated "
                                   "chip starts every synaptic input at rest)")
        self._initial[variable] = self._initial[variable].copy()
        self._initial[variable][mask] = values
        simulator.state.session.initial_values_changed(self, variable, mask)

    def _create_cells(self):
        state = simulator.state
        try:
            if not isinstance(self.celltype, CELL_TYPES):
                raise UnsupportedError(
                    f"cell type {type(self.celltype).__name__} is not available in neuroemu.pynn (available: "
                    f"{', '.join(c.__name__ for c in CELL_TYPES)})")
            ps = self.celltype.native_parameters
            ps.shape = (self.size,)
            ps.evaluate(simplify=False)
            self._parameters = ps.as_dict()
            _check(self.celltype, self._parameters, self.size, self.label)
        except Exception:
            state.recorders.discard(self.recorder)  # nothing half-built stays registered
            raise
        self._initial = {name: np.zeros(self.size) for name in self.celltype.default_initial_values}
        self._v_changed = np.zeros(self.size, bool)  # initialize(v=...) after a run, not yet applied
        self.all_cells = np.array([simulator.ID(i) for i in range(state.id_counter, state.id_counter + self.size)],
                                  dtype=simulator.ID)
        self._mask_local = np.ones(self.size, bool)
        for cell in self.all_cells:
            cell.parent = self
        state.id_counter += self.size
        state.populations.append(self)
        state.changed()
