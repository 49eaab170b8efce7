"""The state of a neuroemu.pynn simulation (the ``simulator`` module every PyNN backend has).

``state`` holds the settings of ``setup()`` (hardware config, chip, backend, calibration,
noise, seed), the PyNN objects created since, the simulation time and the :class:`Session`
that compiles the network and runs it on a neuroemu backend. Time advances in whole time
steps (``timestep``, biological ms): run boundaries, current-source changes and recorded
samples lie on that grid, which the emulator's integration step divides.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from pyNN import common

name = "neuroemu"


def chip_latency_ms(hw) -> float:
    """The chip's fixed transmission latency (biological ms) that every connection has on the
    emulated chip (the hardware config's ``realism.latency.recurrent_us``; bss2: 0.4 µs = 0.4 ms
    biological): what PyNN's minimum delay is there."""
    return float(hw.bio_time_ms(hw.realism.latency.recurrent_us))


class ID(int, common.IDMixin):
    """A neuron's global id (PyNN's ID objects)."""

    def __init__(self, n):
        int.__init__(n)
        common.IDMixin.__init__(self)


def to_steps(t_ms, dt: float) -> np.ndarray:
    """The steps of length ``dt`` nearest to the times ``t_ms`` (ms); halves round up (not to even)."""
    return np.floor(np.asarray(t_ms, float) / dt + 0.5).astype(np.int64)


def to_step(t_ms: float, dt: float) -> int:
    """:func:`to_steps` of one time."""
    return int(to_steps(t_ms, dt))


@dataclass
class Settings:
    """What ``setup()`` chose (see :func:`neuroemu.pynn.setup`)."""

    hardware: str = "bss2"
    chip: int = 0
    backend: str = "emulator"
    mode: str | None = None
    calibration: Any = None
    noise: bool = True
    seed: int = 0

    @property
    def on_chip(self) -> bool:
        """True when the network runs as the emulated chip realises it (emulator, chip-replay)."""
        return self.backend == "emulator" or self.mode == "chip-replay"


class State(common.control.BaseState):
    """PyNN's simulator state, plus neuroemu's settings and the running :class:`Session`."""

    def __init__(self):
        common.control.BaseState.__init__(self)
        self.mpi_rank = 0
        self.num_processes = 1
        self.settings = Settings()
        self.dt = 0.1
        self._min_delay: Any = "auto"
        self.max_delay: Any = "auto"
        self.version = 0
        self.populations: list = []
        self.projections: list = []
        self.current_sources: list = []
        self.session = None
        self.clear()

    # --- structure ------------------------------------------------------------------------
    def changed(self) -> None:
        """The network (structure or parameters) changed: the next run compiles it again."""
        self.version += 1

    def clear(self) -> None:
        """Forget the network (``setup()`` and ``end()``)."""
        from neuroemu.pynn.session import Session

        self.recorders = set()
        self.populations = []
        self.projections = []
        self.current_sources = []
        self.write_on_end = []
        self.id_counter = 0
        self.segment_counter = -1
        self.changed()
        self.session = Session(self)
        self.reset()

    def reset(self) -> None:
        """Back to t = 0 with the initial values; recorded data were stored by PyNN's reset()."""
        self.step = 0
        self.running = False
        self.t_start = 0
        self.segment_counter += 1
        if self.session is not None:
            self.session.restart()
        for recorder in self.recorders:
            recorder._clear_simulator()

    # --- time -----------------------------------------------------------------------------
    @property
    def t(self) -> float:
        return self.step * self.dt

    def run(self, simtime: float) -> None:
        self.run_until(self.t + simtime)

    def run_until(self, tstop: float) -> None:
        """Advance to ``tstop`` (ms), rounded to the time-step grid."""
        if not math.isfinite(float(tstop)):
            from neuroemu.pynn.exceptions import InvalidParameterValueError

            raise InvalidParameterValueError(f"run time must be a finite number of ms, got {tstop}")
        target = to_step(tstop, self.dt)
        if target > self.step:
            self.session.advance(self.step, target)
            self.step = target
        self.running = True

    # --- delays ---------------------------------------------------------------------------
    @property
    def min_delay(self) -> float:
        """On the emulated chip: its fixed latency (no programmable delays). In Brian2's software
        modes: as set in ``setup()``, or the time step ("auto"), as pyNN.brian2."""
        if self.settings.on_chip:
            from neuroemu.pynn.session import hardware_config  # (session imports this module)

            return chip_latency_ms(hardware_config(self.settings.hardware))
        return self.dt if self._min_delay == "auto" else float(self._min_delay)

    @min_delay.setter
    def min_delay(self, value: Any) -> None:
        self._min_delay = value


state = State()

