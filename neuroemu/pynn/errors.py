"""Errors of neuroemu.pynn: PyNN's exception types carrying neuroemu's messages.

Every class derives from the PyNN exception a PyNN user catches *and* from the neuroemu error
it comes from, so ``except pyNN.errors.InvalidParameterValueError`` and ``except
neuroemu.errors.RangeError`` both work. :func:`pynn_errors` converts the errors of the
compiler and the backends at the boundary (``run()``, ``get_ir()``).
"""
from __future__ import annotations

import contextlib
from typing import Iterator

from pyNN import errors as pynn_errors_module

from neuroemu import errors as ne


class UnsupportedError(pynn_errors_module.NoModelAvailableError, ne.NeuroemuError):
    """A PyNN feature neuroemu does not realise; the message names what is supported instead."""


class InvalidParameterValueError(pynn_errors_module.InvalidParameterValueError, ne.NeuroemuError):
    """A parameter the description refuses or the chip cannot realise (names neuron, value and range)."""


class ChipResourceError(pynn_errors_module.InvalidDimensionsError, ne.ResourceError, UnsupportedError):
    """The network does not fit the chip (names the resource, the need and the limit)."""


class ChipRangeError(InvalidParameterValueError, UnsupportedError):
    """A parameter the chip cannot realise (names neuron, value and the chip's range)."""


class ConnectionError(pynn_errors_module.ConnectionError, ne.NeuroemuError):
    """A projection the chip cannot realise (e.g. a programmable delay); names the projection."""


class DelayError(ConnectionError, UnsupportedError):
    """A synaptic delay the emulated chip cannot realise (it has none programmable); names the projection."""


def _convert(exc: ne.NeuroemuError) -> Exception:
    if isinstance(exc, (UnsupportedError, InvalidParameterValueError, ConnectionError)):
        return exc
    msg = str(exc)
    if isinstance(exc, ne.ResourceError):
        return ChipResourceError(msg)
    if isinstance(exc, ne.DelayError):
        return DelayError(msg)
    if isinstance(exc, ne.RangeError):
        return ChipRangeError(msg)
    if isinstance(exc, (ne.NetworkError, ne.ConfigError)) or type(exc).__name__ == "CalibrationError":
        return InvalidParameterValueError(msg)
    return exc


@contextlib.contextmanager
def pynn_errors() -> Iterator[None]:
    """Re-raise neuroemu's user errors as the PyNN exception types above (message unchanged)."""
    try:
        yield
    except ne.NeuroemuError as exc:
        converted = _convert(exc)
        if converted is exc:
            raise
        raise converted from None
