"""How a neuroemu.pynn simulation runs: description -> IR -> backend, one run after another.

A :class:`Session` lasts from ``setup()`` or ``reset()`` to the next. ``advance`` splits the
requested time at the steps where an injected current changes; for every piece it compiles the
description (cached while nothing changed), runs it on the backend from the state where the
previous piece stopped (``Backend.run(..., state=...)``: membrane, synaptic currents and
refractory periods carry over, so ``run(a); run(b)`` is ``run(a + b)``), and hands spikes and
membrane samples to the recorders. Input spikes are absolute: ``SpikeSourceArray`` times as
given, ``SpikeSourcePoisson`` trains drawn per 1 s block from ``(seed, population, block)``,
the same however the time is split into runs.

On the emulated chip the membrane is recorded as the MADC reads it (the config's
``voltage.madc``: 10-bit codes on bss2; exact on ``ideal``), on the time-step grid.
"""
from __future__ import annotations

import logging
import math
from collections import OrderedDict
from typing import Any

import numpy as np

from neuroemu.compiler import compile_network
from neuroemu.hardware import HardwareConfig, load_hardware
from neuroemu.models.lif import NEURON_CIRCUIT_NAMES
from neuroemu.pynn.description import Described, describe
from neuroemu.pynn.exceptions import InvalidParameterValueError, pynn_errors
from neuroemu.pynn.simulator import to_step
from neuroemu.pynn.standardmodels import IF_curr_exp, SpikeSourceArray, SpikeSourcePoisson
from neuroemu.spikes import SpikeTrains

logger = logging.getLogger("neuroemu.pynn")

#: length (ms) of one independently seeded block of Poisson spikes
_POISSON_BLOCK_MS = 1000.0
#: compiled networks kept (a current source switching back and forth needs no recompilation)
_IR_CACHE = 8


class Session:
    """One simulation from t = 0 of the network in ``state``."""

    def __init__(self, state):
        self.state = state
        self._irs: OrderedDict[tuple, tuple[Described, Any]] = OrderedDict()
        self._backend = None
        self._backend_key: tuple | None = None
        self._calibrations: dict[str, Any] = {}
        self.last: tuple[Described, Any] | None = None
        self.restart()

    def restart(self) -> None:
        """Back to t = 0: the next run starts from the initial values."""
        self.run_state = None
        for pop in self.state.populations:
            pop._v_changed[:] = False

    @property
    def seed(self) -> int:
        """The seed of this segment's random draws (chip noise, Poisson trains): ``setup(seed=)``
        for the first segment, after each ``reset()`` one derived from it and the segment number
        (a new trial, as PyNN's other backends draw anew after a reset)."""
        seed, segment = self.state.settings.seed, self.state.segment_counter
        if segment <= 0:
            return seed
        return int(np.random.SeedSequence([seed, segment]).generate_state(1)[0] & 0x7FFFFFFF)

    # --- setup ----------------------------------------------------------------------------
    @property
    def hardware(self) -> HardwareConfig:
        return hardware_config(self.state.settings.hardware)

    def backend(self):
        """The neuroemu backend for the settings (kept while they stay)."""
        s = self.state.settings
        key = (s.backend, s.mode, s.chip, s.noise, self.state.dt)
        if self._backend_key != key:
            from neuroemu.backends.brian2 import Brian2Backend
            from neuroemu.backends.emulator import EmulatorBackend, Imperfections

            imp = Imperfections() if s.noise else Imperfections().without_noise()
            if s.backend == "emulator":
                self._backend = EmulatorBackend(chip=s.chip, imperfections=imp)
            else:
                self._backend = Brian2Backend(mode=s.mode, chip=s.chip, dt=self.state.dt,
                                              imperfections=imp if s.mode == "chip-replay" else None)
            self._backend_key = key
        return self._backend

    # --- what runs ------------------------------------------------------------------------
    def injected(self, step: int) -> dict[int, np.ndarray]:
        """Population index -> per-neuron current (nA) of the current sources at time step ``step``."""
        out: dict[int, np.ndarray] = {}
        t = step * self.state.dt
        first = np.array([int(p.first_id) for p in self.state.populations], np.int64)
        for source in self.state.current_sources:
            amp = source.amplitude_at(t)
            if amp == 0.0 or not source.cells:
                continue
            ids = np.asarray(source.cells, np.int64)
            pop = np.searchsorted(first, ids, side="right") - 1
            for k in np.unique(pop):
                arr = out.setdefault(int(k), np.zeros(self.state.populations[k].size))
                np.add.at(arr, ids[pop == k] - first[k], amp)
        return out

    def change_steps(self, step_from: int, step_to: int) -> list[int]:
        """Steps in (step_from, step_to) where an injected current changes."""
        dt = self.state.dt
        steps = set()
        for source in self.state.current_sources:
            if source.cells:
                for t in source.change_times():
                    k = to_step(t, dt)
                    if step_from < k < step_to:
                        steps.add(k)
        return sorted(steps)

    def compiled(self, step: int) -> tuple[Described, Any]:
        """(description, IR) of the network as it is at time step ``step`` (cached)."""
        injected = self.injected(step)
        s = self.state.settings
        key = (self.state.version, s.hardware, s.backend, s.mode, s.chip, repr(s.calibration),
               tuple((k, v.tobytes()) for k, v in sorted(injected.items())))
        if key in self._irs:
            self._irs.move_to_end(key)
            return self._irs[key]
        with pynn_errors():
            described = describe(self.state, injected)
            hw = self.hardware
            software = s.backend == "brian2" and s.mode != "chip-replay"
            cal = None
            if s.calibration is not None and s.calibration != "auto":
                cal = self._calibration(None, hw)  # a file: compile once, with it
            ir = compile_network(described.network, hw, source="neuroemu.pynn", software_delays=software,
                                 calibration=cal)
            if s.calibration == "auto":  # the targets come from the compiled network: compile again with them
                ir = compile_network(described.network, hw, source="neuroemu.pynn", software_delays=software,
                                     calibration=self._calibration(ir, hw))
        self._irs[key] = (described, ir)
        if len(self._irs) > _IR_CACHE:
            self._irs.popitem(last=False)
        return described, ir

    def _calibration(self, ir, hw):
        """None, the calibration file of ``setup(calibration=PATH)`` (``ir`` unused), or for
        ``"auto"`` a calibration of this chip for the targets of ``ir`` (cached)."""
        cal = self.state.settings.calibration
        if cal is None:
            return None
        if cal != "auto":
            if str(cal) not in self._calibrations:
                from neuroemu.calibration import load_calibration

                self._calibrations[str(cal)] = load_calibration(cal)
            return self._calibrations[str(cal)]
        from neuroemu.calibration import calibrate

        targets = auto_targets(ir, hw)
        key = repr(sorted(targets.items()))
        if key not in self._calibrations:
            s = self.state.settings
            from neuroemu.backends.emulator import Imperfections

            imp = Imperfections() if s.noise else Imperfections().without_noise()
            logger.info("calibrating chip %d of %s for the network's targets", s.chip, hw.name)
            self._calibrations[key] = calibrate(hw, s.chip, targets, imperfections=imp, progress=None)
        return self._calibrations[key]

    # --- running --------------------------------------------------------------------------
    def advance(self, step_from: int, step_to: int) -> None:
        """Simulate from time step ``step_from`` to ``step_to`` and record."""
        state = self.state
        if not any(isinstance(p.celltype, IF_curr_exp) for p in state.populations):
            self._record_sources(step_from, step_to)  # nothing to simulate: only spike sources
            return
        bounds = [step_from, *self.change_steps(step_from, step_to), step_to]
        pieces = [(a, b, self.compiled(a)) for a, b in zip(bounds[:-1], bounds[1:])]  # refusals before any run
        for a, b, compiled in pieces:
            self._run_piece(a, b, *compiled)
            state.step = b  # what is recorded so far: a later piece's failure keeps it

    def _run_piece(self, a: int, b: int, described: Described, ir) -> None:
        state, dt = self.state, self.state.dt
        self.last = (described, ir)
        backend = self.backend()
        hw = ir.hardware()
        if state.settings.backend == "emulator":
            backend.grid_us = float(hw.chip_time_us(dt))  # its own step, dividing the time step
        with pynn_errors():
            if self.run_state is None:  # the first run of this segment (at t > 0 if only spike sources ran so far)
                self.run_state = backend.initial_state(ir, 1, self.seed, v_mV=self._initial_v(described, ir),
                                                       time_ms=a * dt)
            else:
                if self.run_state.n_lif < ir.network.n_lif:  # populations created since the last run
                    v = self._initial_v(described, ir)[:, self.run_state.n_lif:]
                    self.run_state = backend.grow_state(ir, self.run_state, v)
                if any(np.any(p._v_changed) for p in self.state.populations):
                    v = self._initial_v(described, ir, only_new=True)
                    self.run_state = backend.set_membrane(ir, self.run_state, v)
            record_v = self._record_v_nodes(described)
            inputs = self._inputs(described, ir, a, b)
            result = backend.run(ir, inputs, duration=(b - a) * dt, trials=1, seed=self.seed, record_v=record_v,
                                 state=self.run_state)
        self.run_state = result.state
        self._deliver(described, ir, result, a, b, inputs)

    def _initial_v(self, described: Described, ir, only_new: bool = False) -> np.ndarray:
        """Initial membrane (mV) of every LIF neuron, from the populations' initial values
        (``only_new``: NaN where ``initialize()`` did not change it since the run)."""
        parts = []
        for pop in self.state.populations:
            if not isinstance(pop.celltype, IF_curr_exp):
                continue
            v = pop._initial["v"].copy()
            if only_new:
                v = np.where(pop._v_changed, v, np.nan)
                pop._v_changed[:] = False
            parts.append(v)
        return np.concatenate(parts)[None, :]

    def initial_values_changed(self, pop, variable: str, mask) -> None:
        """``initialize()`` was called: after a run it sets the state now (as PyNN's other backends)."""
        if variable == "v" and self.run_state is not None:
            pop._v_changed[mask] = True

    def _record_v_nodes(self, described: Described) -> np.ndarray:
        nodes = []
        ir_first = 0
        for pop in self.state.populations:
            if any(v.name == "v" for v in pop.recorder.recorded) and isinstance(pop.celltype, IF_curr_exp):
                ids = sorted(int(i) for v, cells in pop.recorder.recorded.items() if v.name == "v" for i in cells)
                nodes.extend(ir_first + np.asarray(ids, np.int64) - int(pop.first_id))
            ir_first += pop.size
        return np.asarray(nodes, np.int64)

    def _inputs(self, described: Described, ir, a: int, b: int) -> dict[str, SpikeTrains]:
        """Spike trains (absolute ms) of every spike source in [a, b) time steps."""
        dt = self.state.dt
        out = {}
        for i, (pop, name) in enumerate(zip(self.state.populations, described.names)):
            if isinstance(pop.celltype, (SpikeSourceArray, SpikeSourcePoisson)):
                out[name] = self._source_spikes(i, pop, a * dt, b * dt)
        return out

    def _source_spikes(self, index: int, pop, t_from: float, t_to: float) -> SpikeTrains:
        if isinstance(pop.celltype, SpikeSourceArray):
            times, neuron = [], []
            for k, seq in enumerate(pop._parameters["spike_times"]):
                t = np.asarray(seq.value if hasattr(seq, "value") else seq, float).ravel()
                t = t[(t >= t_from) & (t < t_to)]
                times.append(t)
                neuron.append(np.full(len(t), k, np.int32))
            t = np.concatenate(times) if times else np.zeros(0)
            n = np.concatenate(neuron) if neuron else np.zeros(0, np.int32)
            return SpikeTrains(t, n, np.zeros(len(t), np.int32), pop.size, 1)
        return poisson_spikes(self.seed, index, pop._parameters, pop.size, t_from, t_to)

    def _deliver(self, described: Described, ir, result, a: int, b: int, inputs: dict[str, SpikeTrains]) -> None:
        """Hand the run's spikes and membrane samples to the recorders."""
        state, dt = self.state, self.state.dt
        for pop, name in zip(state.populations, described.names):
            recorded = {v.name: cells for v, cells in pop.recorder.recorded.items()}
            if "spikes" in recorded:
                trains = inputs[name] if name in inputs else result.spikes(name)
                ids = int(pop.first_id) + trains.neuron.astype(np.int64)
                keep = np.isin(ids, np.fromiter((int(c) for c in recorded["spikes"]), np.int64))
                pop.recorder.store_spikes(ids[keep], trains.times[keep])
        tr = result.traces
        if tr is None:
            return
        on_chip = state.settings.on_chip
        hw = ir.hardware()
        info = result.info  # the backend's integration step: samples per time step
        step_ms = info["dt_ms"] if "dt_ms" in info else float(hw.bio_time_ms(info["dt_us"]))
        every = max(1, int(round(dt / step_ms)))
        first = int(round(tr.times_ms[0] / dt)) if len(tr.times_ms) else a
        v = self._readout(hw, tr.v_chip_V[0], tr.v_mV[0], on_chip)[:, ::every].T  # (steps, recorded)
        for pop, name in zip(state.populations, described.names):
            sel = np.flatnonzero(np.asarray(tr.population) == name)
            if len(sel):
                ids = int(pop.first_id) + tr.index[sel].astype(np.int64)
                order = np.argsort(ids)
                pop.recorder.store_signal("v", first, ids[order], v[:, sel[order]])

    @staticmethod
    def _readout(hw, v_chip_V: np.ndarray, v_mV: np.ndarray, on_chip: bool) -> np.ndarray:
        """Recorded membrane (mV): on the emulated chip as the MADC reads it, else as simulated."""
        if not on_chip:
            return np.asarray(v_mV, float)
        return np.asarray(hw.bio_voltage_mV(hw.adc_volts(v_chip_V, hw.voltage.madc)), float)

    def recorded_now(self, pop, variable: str, ids: np.ndarray) -> np.ndarray:
        """The recorded variable of cells ``ids`` of ``pop`` at the current time (mV)."""
        idx = np.asarray(ids, np.int64) - int(pop.first_id)
        if self.run_state is None or self.last is None:  # not run yet: the initial values
            return pop._initial[variable][idx]
        described, ir = self.last
        lif_first = 0
        for p in self.state.populations:
            if p is pop:
                break
            if isinstance(p.celltype, IF_curr_exp):
                lif_first += p.size
        v_mV = self.run_state.v_mV[0, lif_first + idx]
        hw = ir.hardware()
        return self._readout(hw, np.asarray(hw.chip_voltage_V(v_mV), float), v_mV, self.state.settings.on_chip)

    def _record_sources(self, step_from: int, step_to: int) -> None:
        """A network of spike sources only: their spikes are the record."""
        dt = self.state.dt
        for i, pop in enumerate(self.state.populations):
            if any(v.name == "spikes" for v in pop.recorder.recorded):
                trains = self._source_spikes(i, pop, step_from * dt, step_to * dt)
                pop.recorder.store_spikes(int(pop.first_id) + trains.neuron.astype(np.int64), trains.times)


# --- helpers ----------------------------------------------------------------------------------
_HARDWARE: dict[str, tuple[float, HardwareConfig]] = {}


def hardware_config(name: str) -> HardwareConfig:
    """The hardware config ``name`` (a name or a YAML path), read once per file version."""
    from pathlib import Path

    path = Path(name)
    stamp = path.stat().st_mtime if path.suffix in (".yaml", ".yml") and path.exists() else 0.0
    if name not in _HARDWARE or _HARDWARE[name][0] != stamp:
        with pynn_errors():
            _HARDWARE[name] = (stamp, load_hardware(name))
    return _HARDWARE[name][1]


def poisson_spikes(seed: int, index: int, params: dict[str, np.ndarray], size: int, t_from: float,
                   t_to: float) -> SpikeTrains:
    """Spikes in [t_from, t_to) ms of ``size`` Poisson sources (rate Hz, start and duration ms per
    source). Block k (``[k, k+1) x 1000 ms``) is drawn from ``(seed, index, k)`` at the current
    rates: the same seed gives the same trains however the time is split."""
    rate = np.broadcast_to(np.asarray(params["rate"], float), (size,))
    start = np.broadcast_to(np.asarray(params["start"], float), (size,))
    stop = start + np.broadcast_to(np.asarray(params["duration"], float), (size,))
    times, neuron = [np.zeros(0)], [np.zeros(0, np.int64)]
    for k in range(int(t_from // _POISSON_BLOCK_MS), int(math.ceil(t_to / _POISSON_BLOCK_MS))):
        rng = np.random.default_rng([int(seed), 9173, int(index), k])
        counts = rng.poisson(rate * _POISSON_BLOCK_MS / 1000.0)
        t = k * _POISSON_BLOCK_MS + rng.uniform(0.0, _POISSON_BLOCK_MS, int(counts.sum()))
        n = np.repeat(np.arange(size), counts)
        keep = (t >= t_from) & (t < t_to) & (t >= start[n]) & (t < stop[n])
        times.append(t[keep])
        neuron.append(n[keep])
    t, n = np.concatenate(times), np.concatenate(neuron)
    return SpikeTrains(t, n.astype(np.int32), np.zeros(len(t), np.int32), size, 1)


def auto_targets(ir, hw: HardwareConfig) -> dict[str, float]:
    """Calibration targets (chip units) for the compiled network: its per-neuron targets, which
    must be one value per parameter for the whole chip (as calix calibrates), and per receptor
    the largest synaptic input gain any population needs (weights then keep their scale or
    get a finer one; none saturates)."""
    t = ir.targets
    out: dict[str, float] = {}
    for name in NEURON_CIRCUIT_NAMES:
        values = np.asarray(t.get(name), float)
        if np.ptp(values) > 1e-9 * max(1.0, float(np.abs(values).max())):
            i = int(np.argmax(np.abs(values - values[0]) > 1e-9 * max(1.0, float(np.abs(values).max()))))
            raise InvalidParameterValueError(
                f"calibration='auto' calibrates the chip for one target per parameter (as calix does), but the "
                f"network's {name} differs between neurons ({values[0]:.6g} and {values[i]:.6g} "
                f"{hw.parameters[name].unit} on the chip; leak potentials include i_offset): make the neurons uniform, "
                "or calibrate per population yourself and pass calibration=FILE")
        out[name] = float(values[0])
    wq = ir.weights
    for rec, rname in enumerate(("exc", "inh")):
        gains = np.asarray(t.get(f"input_gain_{rname}"), float)
        used = np.zeros(ir.network.n_lif, bool)
        for g in np.flatnonzero(wq.group_receptor == rec):
            pop = ir.network.population(wq.group_population[g])
            used[pop.lif_first:pop.lif_first + pop.size] = True
        out[f"input_gain_{rname}"] = float(gains[used].max()) if used.any() else float(np.median(gains))
    return out
