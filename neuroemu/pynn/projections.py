"""Projection of neuroemu.pynn: PyNN's connectors fill it, the session compiles it.

Connections are kept as arrays of global cell ids (pre, post) with native weights (nA) and
delays (ms), in the order PyNN's connectors create them: the same script with the same
``NumpyRNG`` seeds makes the same connections as on any PyNN backend (the connector code is
PyNN's own). Only :class:`~neuroemu.pynn.standardmodels.StaticSynapse` onto ``IF_curr_exp``
is realised; a projection is registered only once all its connections exist.
"""
from __future__ import annotations

import numpy as np
from pyNN import common
from pyNN.space import Space

from neuroemu.pynn import simulator
from neuroemu.pynn.exceptions import UnsupportedError
from neuroemu.pynn.standardmodels import IF_curr_exp, StaticSynapse

_ATTRIBUTES = ("weight", "delay")


class Connection(common.Connection):
    """One connection of a projection (index into its arrays)."""

    def __init__(self, projection: "Projection", index: int):
        self.projection = projection
        self.index = index

    @property
    def presynaptic_index(self) -> int:
        return int(self.projection._pre_index[self.index])

    @property
    def postsynaptic_index(self) -> int:
        return int(self.projection._post_index[self.index])

    def _get_weight(self) -> float:
        return float(self.projection._values["weight"][self.index])

    def _set_weight(self, w: float) -> None:
        self.projection._values["weight"][self.index] = w
        simulator.state.changed()

    def _get_delay(self) -> float:
        return float(self.projection._values["delay"][self.index])

    def _set_delay(self, d: float) -> None:
        self.projection._values["delay"][self.index] = d
        simulator.state.changed()

    weight = property(_get_weight, _set_weight)
    delay = property(_get_delay, _set_delay)

    def as_tuple(self, *attribute_names):
        return tuple(getattr(self, name) for name in attribute_names)


class Projection(common.Projection):
    __doc__ = common.Projection.__doc__
    _simulator = simulator
    _static_synapse_class = StaticSynapse

    # space=Space(): PyNN's own signature (pyNN.common.Projection and every PyNN backend); the shared
    # default is only read, never modified
    def __init__(self, presynaptic_population, postsynaptic_population, connector, synapse_type=None, source=None,
                 receptor_type=None, space=Space(), label=None):  # noqa: B008
        common.Projection.__init__(self, presynaptic_population, postsynaptic_population, connector, synapse_type,
                                   source, receptor_type, space, label)
        if not isinstance(self.synapse_type, StaticSynapse):
            raise UnsupportedError(f"synapse type {type(self.synapse_type).__name__} is not supported: the emulated "
                                   "chip's synapses are static in a run; use StaticSynapse")
        post_types = {type(p.celltype) for p in _populations(self.post)}
        if post_types != {IF_curr_exp}:
            raise UnsupportedError(f"projection '{self.label}': only IF_curr_exp neurons receive synapses "
                                   f"(postsynaptic: {', '.join(sorted(t.__name__ for t in post_types))})")
        self._pre_chunks: list[np.ndarray] = []
        self._post_chunks: list[int] = []
        self._value_chunks: dict[str, list[np.ndarray]] = {name: [] for name in _ATTRIBUTES}
        connector.connect(self)
        counts = [len(c) for c in self._pre_chunks]
        self._pre_index = np.concatenate(self._pre_chunks).astype(np.int64) if counts else np.zeros(0, np.int64)
        self._post_index = np.repeat(np.asarray(self._post_chunks, np.int64), counts)
        self._values = {name: (np.concatenate(chunks).astype(float) if chunks else np.zeros(0))
                        for name, chunks in self._value_chunks.items()}
        del self._pre_chunks, self._post_chunks, self._value_chunks
        simulator.state.projections.append(self)
        simulator.state.changed()

    def __len__(self) -> int:
        return len(self._pre_index)

    @property
    def connections(self):
        return (Connection(self, i) for i in range(len(self)))

    def __getitem__(self, i: int) -> Connection:
        if not -len(self) <= i < len(self):
            raise IndexError(f"connection {i} of {len(self)}")
        return Connection(self, i % len(self))

    # --- filled by PyNN's connectors --------------------------------------------------------
    def _convergent_connect(self, presynaptic_indices, postsynaptic_index, location_selector=None,
                            **connection_parameters):
        if location_selector is not None:
            raise UnsupportedError("neuroemu's neurons are point neurons: no location_selector")
        pre = np.atleast_1d(np.asarray(presynaptic_indices, np.int64))
        self._pre_chunks.append(pre)
        self._post_chunks.append(int(postsynaptic_index))
        for name in _ATTRIBUTES:
            value = connection_parameters[name]
            self._value_chunks[name].append(np.full(len(pre), float(value)) if np.ndim(value) == 0
                                            else np.asarray(value, float).reshape(len(pre)))

    # --- get / set ------------------------------------------------------------------------
    def _set_attributes(self, parameter_space):
        parameter_space.evaluate()
        for name, value in parameter_space.items():
            if name not in self._values:
                raise UnsupportedError(f"StaticSynapse has no attribute '{name}' (weight, delay)")
            self._values[name] = np.asarray(value, float)[self._pre_index, self._post_index].copy()
        simulator.state.changed()

    def _get_attributes_as_arrays(self, attribute_names, multiple_synapses="sum"):
        aggregate = {"sum": (np.add.at, 0.0), "min": (np.minimum.at, np.inf), "max": (np.maximum.at, -np.inf)}
        out = []
        connected = np.zeros(self.shape, bool)
        connected[self._pre_index, self._post_index] = True
        for name in attribute_names:
            values = self._values[name]
            if multiple_synapses in aggregate:
                func, start = aggregate[multiple_synapses]
                arr = np.full(self.shape, start)
                func(arr, (self._pre_index, self._post_index), values)
            else:  # first / last
                arr = np.full(self.shape, np.nan)
                order = np.arange(len(values)) if multiple_synapses == "last" else np.arange(len(values))[::-1]
                arr[self._pre_index[order], self._post_index[order]] = values[order]
            arr[~connected] = np.nan
            out.append(arr)
        return out

    def _get_attributes_as_list(self, attribute_names):
        columns = []
        for name in attribute_names:
            if name == "presynaptic_index":
                columns.append(self._pre_index)
            elif name == "postsynaptic_index":
                columns.append(self._post_index)
            else:
                columns.append(self._values[name])
        return [tuple(row) for row in np.array(columns, dtype=float).T] if columns else []

    # --- for the session ------------------------------------------------------------------
    def connection_ids(self) -> tuple[np.ndarray, np.ndarray]:
        """Global cell ids (pre, post) of every connection."""
        return (np.asarray(self.pre.all_cells, np.int64)[self._pre_index],
                np.asarray(self.post.all_cells, np.int64)[self._post_index])

    def values(self, name: str) -> np.ndarray:
        return self._values[name]


def _populations(cells) -> list:
    """The populations (or views) a Population, PopulationView or Assembly consists of."""
    return list(cells.populations) if isinstance(cells, common.Assembly) else [cells]
