"""The emulator backend: a numba emulation of a BrainScaleS-2-like chip with mismatch and noise.

``chip.py`` draws a chip instance's fixed pattern; ``effective.py`` turns an IR's targets into
what that chip realises (the DAC path); ``lowering.py`` turns IR + effective network into the
kernel's typed network; ``kernel.py`` is the LIF kernel (``events.py``: input events into a step,
``crossing.py``: exact threshold crossings); ``scheduler.py`` splits a run into parallel jobs;
``backend.py`` is the backend interface.
"""
from neuroemu.backends.emulator.backend import EmulatorBackend
from neuroemu.backends.emulator.chip import Chip, FixedPattern
from neuroemu.backends.emulator.effective import EffectiveNetwork, effective_network
from neuroemu.backends.emulator.imperfections import Imperfections

__all__ = ["EmulatorBackend", "Chip", "FixedPattern", "EffectiveNetwork", "effective_network", "Imperfections"]
