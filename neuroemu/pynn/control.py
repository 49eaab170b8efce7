"""Simulation control of neuroemu.pynn: PyNN's setup/run/reset/end plus neuroemu's options."""
from __future__ import annotations

import logging
import numbers
from pathlib import Path

from pyNN import common
from pyNN.common.control import DEFAULT_MIN_DELAY
from pyNN.recording import get_io

from neuroemu.backends.brian2.backend import MODES
from neuroemu.ir.io import save_ir as _save_ir
from neuroemu.pynn import simulator
from neuroemu.pynn.exceptions import InvalidParameterValueError
from neuroemu.pynn.session import hardware_config
from neuroemu.pynn.simulator import Settings, chip_latency_ms

logger = logging.getLogger("neuroemu.pynn")

BACKENDS = ("emulator", "brian2")


def setup(timestep: float | None = None, min_delay=DEFAULT_MIN_DELAY, *, hardware: str = "bss2", chip: int = 0,
          backend: str = "emulator", mode: str | None = None, calibration=None, noise: bool = True, seed: int = 0,
          **extra_params) -> int:
    """Start a new simulation (any existing network is discarded). Times in biological ms.

    PyNN's arguments: ``timestep`` (ms): the grid of run boundaries, current-source changes and
    recorded samples (default: the emulator's integration step of the hardware config, 0.5 ms
    on bss2, 0.1 ms on ideal; the emulator integrates exactly, so the time step does not limit
    its accuracy); ``min_delay``/``max_delay``: on the emulated chip every connection has the
    chip's fixed latency (``get_min_delay()``; bss2: 0.4 ms, the config's ``realism.latency``), there are no
    programmable delays and a different ``min_delay`` is ignored with a warning; in Brian2's
    software modes as in pyNN.brian2 ("auto" = the time step).

    neuroemu's: ``hardware`` (config name or YAML path), ``chip`` (chip seed: which emulated
    chip instance), ``backend`` (``"emulator"`` or ``"brian2"``), ``mode`` (brian2 only:
    ``"ideal"`` (default) the network as written, ``"as-deployed"`` with the chip's 6-bit
    weights, ``"chip-replay"`` what the emulated chip realises), ``calibration`` (None, a
    calibration file of this chip, or ``"auto"``: calibrate this chip for the network's
    parameters when it is compiled, cached), ``noise`` (temporal noise of the chip on/off),
    ``seed`` (every temporal random draw: chip noise and SpikeSourcePoisson trains).
    """
    state = simulator.state
    settings = _settings(hardware, chip, backend, mode, calibration, noise, seed)
    hw = hardware_config(settings.hardware)
    if timestep is None:
        timestep = float(hw.bio_time_ms(hw.timing.dt_us))
    if not (isinstance(timestep, numbers.Real) and timestep > 0):
        raise InvalidParameterValueError(f"timestep must be a positive number of ms, got {timestep!r}")
    common.setup(timestep, min_delay, **extra_params)
    state.settings = settings
    state.dt = float(timestep)
    state.min_delay = min_delay
    state.max_delay = extra_params.get("max_delay", "auto")
    latency = chip_latency_ms(hw)
    if settings.on_chip and min_delay not in ("auto", None) and abs(float(min_delay) - latency) > 1e-9:
        logger.warning("min_delay=%s ignored: the emulated chip has no programmable delays; every connection has its "
                       "fixed latency of %g ms (get_min_delay())", min_delay, latency)
    state.clear()
    return rank()


def _settings(hardware, chip, backend, mode, calibration, noise, seed) -> Settings:
    if backend not in BACKENDS:
        raise InvalidParameterValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "emulator" and mode is not None:
        raise InvalidParameterValueError("mode applies to backend='brian2' only")
    if backend == "brian2":
        mode = mode or "ideal"
        if mode not in MODES:
            raise InvalidParameterValueError(f"brian2 mode must be one of {', '.join(MODES)}, got {mode!r}")
    for what, value in (("chip", chip), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
            raise InvalidParameterValueError(f"{what} must be a non-negative integer, got {value!r}")
    if not isinstance(noise, bool):
        raise InvalidParameterValueError(f"noise must be True or False, got {noise!r}")
    settings = Settings(hardware=str(hardware), chip=int(chip), backend=backend, mode=mode, calibration=calibration,
                        noise=noise, seed=int(seed))
    if calibration is not None:
        if not settings.on_chip:
            raise InvalidParameterValueError(
                f"calibration applies to the emulated chip (backend 'emulator' or brian2 mode 'chip-replay'), not to "
                f"brian2 mode '{mode}'")
        if calibration != "auto" and not Path(calibration).is_file():
            raise InvalidParameterValueError(f"calibration must be None, 'auto' or a calibration file; "
                                             f"{calibration!r} is not a file")
    if backend == "brian2" and mode != "chip-replay" and not noise:
        logger.info("noise=False: brian2 mode %s has no chip noise anyway", mode)
    return settings


def end(compatible_output=True) -> None:
    """Write the data of ``record(..., to_file=...)``; recorded data stay readable (as in
    PyNN's other backends) until the next ``setup()``."""
    state = simulator.state
    for population, variables, filename in state.write_on_end:
        population.write_data(get_io(filename), variables)
    state.write_on_end = []


run, run_until = common.build_run(simulator)
run_for = run

reset = common.build_reset(simulator)

initialize = common.initialize

get_current_time, get_time_step, get_min_delay, get_max_delay, num_processes, rank = \
    common.build_state_queries(simulator)


def get_ir():
    """The network compiled for the configured chip as it is now (compiled when needed): a
    :class:`neuroemu.ir.IR`, for ``neuroemu run``, ``inspect``, ``robustness`` or Python."""
    state = simulator.state
    return state.session.compiled(state.step)[1]


def save_ir(path: str | Path) -> None:
    """Write :func:`get_ir` to an IR file (HDF5, atomic)."""
    _save_ir(get_ir(), path)
