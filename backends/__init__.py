"""Backends: how a compiled IR is run. ``get_backend(name, **options)`` -> :class:`Backend`."""
from neuroemu.backends.base import Backend
from neuroemu.backends.registry import available_backends, backend_class, get_backend, register_backend
from neuroemu.backends.result import (
    PopulationSpikes,
    Result,
    Traces,
    load_result,
    load_spikes,
    make_population_spikes,
    save_result,
    save_spikes,
)

__all__ = [
    "Backend", "Result", "PopulationSpikes", "Traces", "available_backends", "backend_class", "get_backend",
    "register_backend", "load_result", "save_result", "load_spikes", "save_spikes", "make_population_spikes",
]
