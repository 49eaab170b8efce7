"""neuroemu: describe a spiking network once, compile it to an IR, run it on an emulated
BrainScaleS-2-like chip or in Brian2.

Path through the package (each a subpackage):
``network`` (what: description in biological units) -> ``compiler`` (validate, place,
quantize, translate) -> ``ir`` (the compiled network, HDF5) -> ``neuroemu.backends``
(how: emulator, brian2) -> ``Result``.
"""
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

try:
    __version__ = _version("neuroemu")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
