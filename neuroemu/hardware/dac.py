"""The DAC map's home moved to :mod:`neuroemu.models.dac`; this name stays for
``neuroemu.backends.emulator.chip`` until it imports from there."""
from __future__ import annotations

from neuroemu.models.dac import nominal_code, value_at_code

__all__ = ["nominal_code", "value_at_code"]
