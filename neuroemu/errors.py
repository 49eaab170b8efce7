"""Errors a user can cause and fix. The CLI prints them as one paragraph and exits with 2.

Everything else (a bug) propagates with its traceback.
"""
from __future__ import annotations


class NeuroemuError(Exception):
    """Base of all user-facing errors: bad input, a network that does not fit, a bad file."""


class ConfigError(NeuroemuError):
    """A hardware config, target file or other YAML file is malformed (names key and file)."""


class NetworkError(NeuroemuError):
    """A network description is invalid (names the population or projection)."""


class ResourceError(NeuroemuError):
    """A network does not fit the chip (names the resource, the need and the limit)."""


class RangeError(NeuroemuError):
    """A parameter is outside what the chip can realise (names the neuron and the range)."""


class FileFormatError(NeuroemuError):
    """An HDF5 file is corrupt, not a neuroemu file, of the wrong kind or a newer schema."""


class BackendError(NeuroemuError):
    """A backend cannot run what it was given (unknown backend, option it cannot express)."""


class DelayError(RangeError, BackendError):
    """A synaptic delay the hardware cannot realise (names the projection and the delay)."""
