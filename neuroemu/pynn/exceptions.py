"""Exceptions of neuroemu.pynn: PyNN's exception types carrying neuroemu's messages.

(``neuroemu.pynn.errors`` stays PyNN's own ``pyNN.errors``, as on every PyNN backend.)

Every class derives from the PyNN exception a PyNN user catches *and* from the neuroemu error
it comes from, so ``except pyNN.errors.InvalidParameterValueError`` and ``except
neuroemu.errors.RangeError`` both catch a parameter outside the chip's range. A
:class:`Refusal` is something neuroemu does not realise -- a model or feature it does not
have, or a limit of the chip (range, size, delays) -- as opposed to a mistake in the script.
:func:`pynn_errors` converts the errors of the compiler and the backends where PyNN calls
into neuroemu (``run()``, ``get_ir()``); messages name PyNN's parameter names.
"""
from __future__ import annotations

import contextlib
import re
from typing import Iterator

from pyNN import errors as pe

from neuroemu import errors as ne
from neuroemu.models.lif import NEURON_PARAMETERS


class Refusal(ne.NeuroemuError):
    """What neuroemu does not realise: the message names the limit or what to use instead."""


class UnsupportedError(pe.NoModelAvailableError, Refusal):
    """A PyNN model or feature neuroemu does not have; the message names what is supported instead."""


class InvalidParameterValueError(pe.InvalidParameterValueError, ne.NetworkError):
    """A parameter the network description refuses (negative time constant, reset above threshold...)."""


class ChipRangeError(pe.InvalidParameterValueError, ne.RangeError, Refusal):
    """A parameter outside what the chip can realise (names population, neuron, value and range)."""


class ChipResourceError(pe.InvalidDimensionsError, ne.ResourceError, Refusal):
    """The network does not fit the chip (names the resource, the need and the limit)."""


class DelayError(pe.ConnectionError, ne.DelayError, Refusal):
    """A synaptic delay the emulated chip cannot realise (it has none programmable); names the projection."""


class RunError(pe.InvalidModelError, ne.BackendError):
    """A run the backend cannot do as asked (names why)."""


#: neuroemu's LIF parameter names -> PyNN's IF_curr_exp names (for messages)
_PYNN_NAMES = {p.name: p.pynn for p in NEURON_PARAMETERS if p.pynn != p.name}
_NAME = re.compile(r"\b(" + "|".join(_PYNN_NAMES) + r")\b")


def _pynn_names(msg: str) -> str:
    return _NAME.sub(lambda m: _PYNN_NAMES[m.group(1)], msg)


def _convert(exc: ne.NeuroemuError) -> Exception:
    from neuroemu.calibration import CalibrationError

    if isinstance(exc, (Refusal, InvalidParameterValueError, RunError)):
        return exc
    msg = _pynn_names(str(exc))
    if isinstance(exc, ne.DelayError):
        return DelayError(msg)
    if isinstance(exc, ne.ResourceError):
        return ChipResourceError(msg)
    if isinstance(exc, ne.RangeError):
        return ChipRangeError(msg)
    if isinstance(exc, (ne.NetworkError, ne.ConfigError, CalibrationError)):
        return InvalidParameterValueError(msg)
    if isinstance(exc, ne.NeuroemuError):
        return RunError(msg)
    return exc


@contextlib.contextmanager
def pynn_errors() -> Iterator[None]:
    """Re-raise neuroemu's user errors as the PyNN exception types above."""
    try:
        yield
    except ne.NeuroemuError as exc:
        converted = _convert(exc)
        if converted is exc:
            raise
        raise converted from None
