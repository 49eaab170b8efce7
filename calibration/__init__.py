"""Calibration of the emulated chip: per-circuit DAC codes found by measuring, as calix does on
the real BrainScaleS-2.

The calibration treats the emulated chip as a black box: it compiles calibration networks
with the normal compiler, sets DAC codes per circuit, runs
:class:`~neuroemu.backends.emulator.EmulatorBackend` and reads spikes and ADC-quantized
membrane traces; it never reads the chip's fixed pattern.

>>> from neuroemu.calibration import calibrate, load_calibration
>>> cal = calibrate("bss2", chip=3)                      # calix default targets, cached
>>> cal.save("cal.h5"); cal = load_calibration("cal.h5")
>>> ir = compile_network(net, "bss2", calibration=cal)   # codes embedded in the IR

Modules: ``targets`` (what to reach), ``setups`` (calibration networks and runs), ``measure``
(reading parameters off recordings), ``search`` (vectorized binary search + refinement),
``routines`` (one per parameter, in order), ``result`` (:class:`Calibration`), ``report``,
``cache`` (directory ``$NEUROEMU_CACHE_DIR/calibration``, default ``~/.cache/neuroemu``), ``core``
(:func:`calibrate`), ``sweep`` (calibration sweeps on :mod:`neuroemu.sweeps`: task
``neuroemu.calibration.sweep:calibrate_point``).
"""
from neuroemu.calibration.cache import cache_dir
from neuroemu.calibration.core import calibrate, calibrate_chip, resolve_targets
from neuroemu.calibration.report import CALIX_LIMITS, calibration_report, render_report
from neuroemu.calibration.result import Calibration, CalibrationError, load_calibration
from neuroemu.calibration.search import SearchOptions
from neuroemu.calibration.targets import CalibrationTarget, default_targets, load_targets

__all__ = [
    "Calibration", "CalibrationTarget", "CalibrationError", "SearchOptions", "calibrate", "calibrate_chip",
    "load_calibration", "load_targets", "default_targets", "resolve_targets", "calibration_report", "render_report",
    "CALIX_LIMITS", "cache_dir",
]
