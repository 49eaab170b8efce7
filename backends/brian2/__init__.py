"""The Brian2 backend: a software reference simulation of an IR (``mode`` ideal, as-deployed or
chip-replay). Brian2 itself is imported only when a network is built.

``backend.py`` is the :class:`Brian2Backend`; ``network.py`` the Brian2 model (equations with
units integrated by Brian2's ``rk4``, inputs and threshold on Brian2's grid, trial copies);
``inputs.py`` input spikes as generator channels
(duplicates in one step split over extra channels); ``codegen.py`` Brian2's compiled-code cache
and target.
"""
from neuroemu.backends.brian2.backend import MODES, Brian2Backend
from neuroemu.backends.brian2.codegen import brian2_cache_dir, configure_brian2

__all__ = ["Brian2Backend", "MODES", "brian2_cache_dir", "configure_brian2"]
