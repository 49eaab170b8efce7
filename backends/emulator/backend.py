"""The emulator backend: runs an IR on an emulated chip instance.

``EmulatorBackend(chip=SEED)`` builds the chip from the IR's hardware config; pass a
:class:`Chip` to reuse one, ``calibration=`` for per-circuit DAC codes, and
``imperfections=`` to scale or switch off each imperfection.

Membrane readouts (``run(..., readout=...)``, :mod:`neuroemu.backends.readout`): ``probe``
records every recorded neuron at the start of every integration step (the exact state there).
``madc`` and ``cadc`` read through the chip's converters at their sampling instants: the run then
integrates on a step that divides the converter's sampling interval (bss2's MADC: 0.034 µs, so
its runs take ~15 times the steps of bss2's 0.5 µs; the CADC's 2 µs leaves 0.5 µs as it is), so
every instant is a step boundary and each sample is the state there (exact: the same closed-form
propagation, with event moments whose remainder shrinks as (dt/2)^4). Spikes of such a run equal
a ``probe`` run's up to that remainder; with membrane noise on, the finer step draws its own
noise increments (the same Ornstein-Uhlenbeck process, another realisation of it).
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from neuroemu.backends.base import Backend
from neuroemu.backends.emulator.buses import bus_events, split_ir
from neuroemu.backends.emulator.chip import Chip
from neuroemu.backends.emulator.effective import EffectiveNetwork, effective_network
from neuroemu.backends.emulator.imperfections import Imperfections
from neuroemu.backends.emulator.kernel import Events, Noise, Recording, Steps, flight_capacity
from neuroemu.backends.emulator.lowering import KernelNetwork, lower
from neuroemu.backends.emulator.scheduler import event_order, level_events, simulate_range
from neuroemu.backends.emulator.state import EmulatorState
from neuroemu.backends.readout import ReadoutPlan, plan_readout, readout_info, readout_traces
from neuroemu.backends.result import Result, node_traces, split_populations
from neuroemu.compiler.translate import refuse_delays
from neuroemu.errors import BackendError
from neuroemu.hardware.buses import BusLines, bus_lines
from neuroemu.ir.model import IR
from neuroemu.spikes import SpikeTrains

#: step never coarser than this fraction of the shortest time constant: the third-order event
#: moments around the step's midpoint then err by at most (0.125)^4 / 24 = 1e-5 of one weight
#: (see events.event_coefficients)
_DT_PER_TAU = 0.25
#: total spike-buffer entries of one kernel call (all trials)
_SPIKE_BUFFER = 4_000_000
#: a common step of several periods (time grid, readout interval) below this (µs) is refused
_MIN_COMMON_STEP_US = 1e-4


def _common_step(periods: list[float]) -> float:
    """The longest step (µs) that divides every period (µs) into whole steps: the period itself
    for one; for several, the greatest common divisor of their values to 1e-9 µs."""
    if len(periods) == 1:
        return periods[0]
    ticks = [round(p * 1e9) for p in periods]  # in 1e-15 s
    if any(abs(t - p * 1e9) > 1e-3 * max(1.0, p * 1e9) for t, p in zip(ticks, periods)):
        raise BackendError(f"the periods {periods} µs are not multiples of 1e-9 µs: no common step")
    return math.gcd(*ticks) * 1e-9


def _rest(trials: int, n: int) -> dict[str, np.ndarray]:
    """State arrays of neurons at rest (kernel order: V - leak, currents, refractory end)."""
    return {"v": np.zeros((trials, n)), "ie": np.zeros((trials, n)), "ii": np.zeros((trials, n)),
            "refr": np.full((trials, n), -np.inf)}


@dataclass
class _Plan:
    ir: IR
    chip: Chip
    hw: object
    eff: EffectiveNetwork
    imp: dict
    knet: KernelNetwork
    lines: BusLines | None = None  # spike sources' bus lines (None: no event serialization)

    @property
    def dt(self) -> float:
        return self.knet.dt


class EmulatorBackend(Backend):
    """Emulation of a BrainScaleS-2-like chip (numba, trials in parallel).

    chip: a chip seed (int) or a :class:`Chip`; calibration: a calibration (object with
    ``codes_for(chip)``) or None for nominal DAC codes; imperfections: see
    :class:`Imperfections`; dt_us: integration step override (chip µs); grid_us: without
    ``dt_us``, the default step (at most the config's step and ``_DT_PER_TAU`` of the shortest
    effective time constant) shortened to divide ``grid_us`` (chip µs) into equal parts, so that
    runs and states fall on that grid (PyNN's time step). A ``madc`` / ``cadc`` readout further
    shortens the default step to divide the converter's sampling interval (an explicit ``dt_us``
    must divide it); see the module docstring.
    """

    name = "emulator"

    def __init__(self, chip: int | Chip = 0, calibration=None, imperfections: Imperfections | None = None,
                 dt_us: float | None = None, grid_us: float | None = None):
        self.chip = chip
        self.calibration = calibration
        self.imperfections = imperfections or Imperfections()
        self.dt_us = dt_us
        self.grid_us = grid_us
        self._cache: tuple | None = None

    # --- chip and effective network ---------------------------------------------------------
    def chip_for(self, ir: IR) -> Chip:
        hw = ir.hardware()
        if isinstance(self.chip, Chip):
            if self.chip.hardware.content_hash != hw.content_hash:
                raise BackendError(
                    f"the IR was compiled for hardware '{hw.name}' (config {hw.short_hash}); this chip is "
                    f"'{self.chip.hardware.name}' (config {self.chip.hardware.short_hash}): compile the network for "
                    f"'{self.chip.hardware.name}'"
                )
            return self.chip
        return Chip(hw, int(self.chip))

    def codes(self, ir: IR, chip: Chip) -> dict[str, np.ndarray] | None:
        """Per-circuit DAC codes from the backend's or the IR's calibration (None: nominal)."""
        cal = self.calibration
        if cal is None and getattr(ir, "calibration", None) is not None:
            cal = ir.calibration
        return None if cal is None else cal.codes_for(chip)

    def effective(self, ir: IR) -> EffectiveNetwork:
        """What the chip realises for ``ir`` (for inspection and Brian2's chip-replay mode)."""
        chip = self.chip_for(ir)
        return effective_network(ir, chip, self.imperfections, self.codes(ir, chip))

    # --- run ----------------------------------------------------------------------------------
    def _plan(self, ir: IR, sample_us: float | None = None) -> "_Plan":
        """Everything a run needs that depends only on the IR, the backend's chip state and the
        readout's sampling interval ``sample_us`` (chip µs, None: probe) (cached: the same IR runs
        again without redoing the DAC path and the tables)."""
        key = (id(ir), ir.provenance.created, repr(self.imperfections), id(self.calibration), self.dt_us, self.grid_us,
               sample_us)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        refuse_delays(ir.network, "the emulated chip", "every spike arrives after the chip's fixed latency: leave "
                      "the delay unset, or run it on the brian2 backend in mode ideal or as-deployed")
        chip = self.chip_for(ir)
        hw = chip.hardware
        eff = effective_network(ir, chip, self.imperfections, self.codes(ir, chip))
        imp = self.imperfections.effective(hw)
        taus = np.concatenate([eff.tau_mem, eff.tau_syn_exc, eff.tau_syn_inh])
        if self.dt_us:
            dt = self.dt_us
            if sample_us is not None and abs(sample_us / dt - round(sample_us / dt)) > 1e-9 * max(1.0, sample_us / dt):
                raise BackendError(f"dt_us {dt:g} µs does not divide the readout's sampling interval of {sample_us:g} "
                                   "µs: give one that does, or leave dt_us unset (the step then divides it)")
        else:
            dt = self._default_dt(hw.timing.dt_us, float(taus.min()), sample_us)
        # event buses: a source feeding several buses is one kernel node per bus (see buses.py)
        lines = bus_lines(ir, hw.realism.event_buses.per_hemisphere) if imp["event_buses"] is not None else None
        kernel_ir = ir if lines is None else split_ir(ir, lines)
        plan = _Plan(ir=ir, chip=chip, hw=hw, eff=eff, imp=imp,
                     knet=lower(kernel_ir, eff, dt, float(imp["membrane_noise_V"]), imp["rails_V"],
                                float(imp["reset_tau_us"]), imp["saturation_V_per_us"]), lines=lines)
        self._cache = (key, plan)
        return plan

    @staticmethod
    def _in_flight(knet: KernelNetwork, net, st: dict, layered: bool, t_us: np.ndarray, nrn: np.ndarray,
                   trial: np.ndarray, latency_us: float, t_stop_us: float, events: tuple) -> tuple:
        """The events that reach their targets at or after ``t_stop_us`` (the end of the last step):
        (arrival µs, global node, trial), as EmulatorState's ``in_flight_*`` items: input events
        (``events``: times, nodes, per-trial start) and on-chip spikes (a single pass: the kernel's
        flight lists; layered: the levels' spikes plus the latency)."""
        ev_time, ev_node, ev_ptr = events
        late_in = ev_time >= t_stop_us
        in_trial = np.repeat(np.arange(len(ev_ptr) - 1, dtype=np.int64), np.diff(ev_ptr))[late_in]
        in_arr, in_node = ev_time[late_in], ev_node[late_in].astype(np.int64)
        if latency_us <= 0.0:
            arr, node, tr = np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.int64)
        elif layered:
            node = net.lif_nodes[nrn].astype(np.int64)
            keep = (t_us + latency_us >= t_stop_us) & (np.diff(knet.synapses.ptr)[node] > 0)
            arr, node, tr = t_us[keep] + latency_us, node[keep], trial[keep].astype(np.int64)
        else:
            n = st["fly_n"]
            if np.any(n > st["fly_time"].shape[1]):
                raise BackendError("internal: the on-chip spikes in flight exceeded their buffer")
            filled = np.arange(st["fly_time"].shape[1])[None, :] < n[:, None]
            arr, node = st["fly_time"][filled], st["fly_node"][filled]
            tr = np.repeat(np.arange(len(n), dtype=np.int64), n)
        if len(in_arr) == 0 and len(arr) == 0:
            return ()
        return (("in_flight_us", np.concatenate([in_arr, arr])),
                ("in_flight_node", np.concatenate([in_node, node]).astype(np.int32)),
                ("in_flight_trial", np.concatenate([in_trial, tr])))

    @staticmethod
    def _arrivals(ev_time: np.ndarray, ev_node: np.ndarray, ev_ptr: np.ndarray, latency_us: float,
                  state: EmulatorState | None, knet: KernelNetwork, trials: int):
        """The input events as they reach the membranes, ``latency_us`` after their times, with a
        continued run's events still in flight from the previous run: (times µs, nodes, per-trial
        start), sorted by (trial, time, node)."""
        carried = state is not None and len(state.in_flight_us) > 0
        if latency_us <= 0 and not carried:
            return ev_time, ev_node, ev_ptr
        ev_time = ev_time + latency_us
        if not carried:
            return ev_time, ev_node, ev_ptr
        ev_trial = np.repeat(np.arange(trials, dtype=np.int64), np.diff(ev_ptr))
        ev_time = np.concatenate([ev_time, state.in_flight_us])
        ev_node = np.concatenate([ev_node, state.in_flight_node.astype(np.int32)])
        ev_trial = np.concatenate([ev_trial, state.in_flight_trial.astype(np.int64)])
        order = event_order(ev_trial, ev_time, None, ev_node, len(knet.synapses.ptr) - 1, trials)
        ev_time, ev_node, ev_trial = ev_time[order], ev_node[order], ev_trial[order]
        return ev_time, ev_node, np.searchsorted(ev_trial, np.arange(trials + 1)).astype(np.int64)

    def _events(self, ir: IR, hw, inputs: dict[str, SpikeTrains], trials: int, t_res: float):
        """Input events of all trials: (times in chip µs, global nodes, per-trial start index)."""
        net = ir.network
        times, nodes, trial_of = [], [], []
        for name, trains in inputs.items():
            pop = net.population(name)
            times.append(np.asarray(hw.chip_time_us(trains.times), float))
            nodes.append(trains.neuron.astype(np.int64) + pop.first)
            trial_of.append(trains.trial.astype(np.int64))
        ev_time = np.concatenate(times) if times else np.zeros(0)
        ev_node = np.concatenate(nodes).astype(np.int32) if nodes else np.zeros(0, np.int32)
        ev_trial = np.concatenate(trial_of) if trial_of else np.zeros(0, np.int64)
        ticks = None
        if t_res > 0:
            ticks = np.floor(ev_time / t_res)
            ev_time = ticks * t_res  # FPGA playback on its clock
        if len(times) > 1:  # one population's trains are already sorted by (trial, time)
            order = event_order(ev_trial, ev_time, ticks, ev_node, net.n_nodes, trials)
            ev_time, ev_node, ev_trial = ev_time[order], ev_node[order], ev_trial[order]
        return ev_time, ev_node, np.searchsorted(ev_trial, np.arange(trials + 1)).astype(np.int64)

    def _default_dt(self, config_dt_us: float, shortest_tau_us: float, sample_us: float | None = None) -> float:
        """The step (µs): at most the config's and ``_DT_PER_TAU`` of the shortest time constant,
        shortened to divide ``grid_us`` and the readout's sampling interval ``sample_us``."""
        dt = min(config_dt_us, shortest_tau_us * _DT_PER_TAU)
        periods = [float(p) for p in (self.grid_us, sample_us) if p]
        if periods:
            unit = _common_step(periods)
            if unit < _MIN_COMMON_STEP_US:
                raise BackendError(f"the periods {' and '.join(f'{p:g} µs' for p in periods)} (time grid, readout "
                                   f"sampling interval) have no common step of at least {_MIN_COMMON_STEP_US:g} µs")
            dt = unit / max(1, math.ceil(unit / dt - 1e-9))
        return dt

    def initial_state(self, ir: IR, trials: int = 1, seed: int = 0, v_mV=None, time_ms: float = 0.0) -> EmulatorState:
        plan = self._plan(ir)
        hw, eff = plan.hw, plan.eff
        arrays = _rest(trials, ir.network.n_lif)
        if v_mV is not None:
            v_chip = np.asarray(hw.chip_voltage_V(self.initial_v_mV(ir, trials, v_mV)), float)
            arrays["v"] = v_chip - eff.v_leak[None, :]
        t_us = float(hw.chip_time_us(time_ms))
        step = int(round(t_us / plan.dt))
        if abs(step * plan.dt - t_us) > 1e-9 * max(1.0, t_us):
            raise BackendError(f"a state at {time_ms} ms is not on the emulator's step grid of {plan.dt:g} µs")
        return self._state(hw, eff, time_ms, seed, step, plan.dt, arrays)

    def grow_state(self, ir: IR, state: EmulatorState, v_mV: np.ndarray) -> EmulatorState:
        plan = self._plan(ir)
        new = np.broadcast_to(np.asarray(v_mV, float), (state.trials, np.shape(v_mV)[-1]))
        leak = plan.eff.v_leak[state.n_lif:state.n_lif + new.shape[1]]
        rest = _rest(state.trials, new.shape[1])
        rest["v"] = np.asarray(plan.hw.chip_voltage_V(new), float) - leak[None, :]
        old = {"v": state.v_rel, "ie": state.i_exc, "ii": state.i_inh, "refr": state.refractory_until_us}
        grown = {k: np.concatenate([old[k], rest[k]], axis=1) for k in old}
        return dataclasses.replace(state, n_lif=state.n_lif + new.shape[1], v_rel=grown["v"], i_exc=grown["ie"],
                                   i_inh=grown["ii"], refractory_until_us=grown["refr"],
                                   v_leak=np.concatenate([state.v_leak, leak]))

    def _state(self, hw, eff: EffectiveNetwork, time_ms: float, seed: int, step: int, dt: float,
               arrays: dict[str, np.ndarray], late: tuple = ()) -> EmulatorState:
        v = arrays["v"]
        return EmulatorState(
            backend=self.name, time_ms=float(time_ms), seed=int(seed), trials=int(v.shape[0]), n_lif=int(v.shape[1]),
            voltage=hw.voltage, step=int(step), dt_us=dt, v_rel=v, v_leak=eff.v_leak.copy(), i_exc=arrays["ie"],
            i_inh=arrays["ii"], refractory_until_us=arrays["refr"], **dict(late))

    def set_membrane(self, ir: IR, state: EmulatorState, v_mV: np.ndarray) -> EmulatorState:
        hw = ir.hardware()
        v = np.broadcast_to(np.asarray(v_mV, float), state.v_rel.shape)
        v_rel = np.where(np.isnan(v), state.v_rel, np.asarray(hw.chip_voltage_V(v), float) - state.v_leak[None, :])
        return dataclasses.replace(state, v_rel=v_rel)

    def _start(self, plan: "_Plan", state: EmulatorState) -> tuple[int, dict[str, np.ndarray]]:
        """(first step, copies of the state arrays in this plan's terms) to continue ``state``."""
        dt = plan.dt
        s0 = state.step
        if dt != state.dt_us:  # another step (new time constants): the state must lie on the new grid too
            s0 = int(round(state.step * state.dt_us / dt))
            if abs(s0 * dt - state.step * state.dt_us) > 1e-9 * max(1.0, state.step * state.dt_us):
                raise BackendError(
                    f"the state is at {state.step * state.dt_us:g} µs, not on this run's step grid of {dt:g} µs; "
                    "continue with the same dt_us")
        v_rel = state.v_rel
        if not np.array_equal(state.v_leak, plan.eff.v_leak):  # reconfigured: V stays, its reference moves
            v_rel = (state.v_rel + state.v_leak[None, :]) - plan.eff.v_leak[None, :]
        return s0, {"v": v_rel.copy(), "ie": state.i_exc.copy(), "ii": state.i_inh.copy(),
                    "refr": state.refractory_until_us.copy()}

    def run(self, ir: IR, inputs: Mapping[str, SpikeTrains] | None = None, duration: float = 100.0,
            trials: int = 1, seed: int = 0, record_v: Sequence[int] | None = None,
            state: EmulatorState | None = None, readout: str = "probe") -> Result:
        t_start = self.check_run_args(ir, duration, trials, seed, state)
        start = time.perf_counter()
        rec_nodes = self.recorded_v_nodes(ir, record_v)
        ro = plan_readout(ir.hardware(), readout, len(rec_nodes))
        plan = self._plan(ir, None if ro is None else ro.interval_us)
        hw, eff, imp, net = plan.hw, plan.eff, plan.imp, ir.network
        if state is None:  # from rest: the kernel starts every trial there and only writes the end state
            s0, st = 0, {name: np.empty((trials, net.n_lif)) for name in ("v", "ie", "ii", "refr")}
        else:
            s0, st = self._start(plan, state)
        dt = plan.dt
        lat_in, lat_rec = float(imp["latency_input_us"]), float(imp["latency_recurrent_us"])
        n_fly = flight_capacity(net.n_lif, lat_rec, float(eff.tau_refrac.min(initial=1.0)), dt)
        st.update(fly_time=np.zeros((trials, n_fly)), fly_node=np.zeros((trials, n_fly), np.int64),
                  fly_n=np.zeros(trials, np.int64))

        t_res = imp["timestamp_resolution_us"] or 0.0
        t_end = t_start + duration
        # absolute input times; a continued run takes those from its start on and leaves those
        # from its end on to the run that continues it
        traffic = None
        if plan.lines is None:
            resolved = {name: trains.between(t_start, t_end)
                        for name, trains in self.resolve_inputs(ir, inputs, trials).items()}
            ev_time, ev_node, ev_ptr = self._events(ir, hw, resolved, trials, t_res)
        else:  # the buses: earlier spikes fill the queues as in one long run
            resolved = {name: trains.between(-np.inf, t_end)
                        for name, trains in self.resolve_inputs(ir, inputs, trials).items()}
            be = bus_events(ir, hw, hw.realism.event_buses, plan.lines, resolved, trials, t_res, t_start, t_end)
            ev_time, ev_node, ev_ptr, traffic = be.time, be.node, be.ptr, be.traffic
        # they arrive after the chip's input latency; those arriving after the run's last step are
        # carried in the state (in flight), and the previous run's are delivered now
        ev_time, ev_node, ev_ptr = self._arrivals(ev_time, ev_node, ev_ptr, lat_in, state, plan.knet, trials)
        ev_time_all, ev_node_all, ev_ptr_all = ev_time, ev_node, ev_ptr
        chip_us = float(hw.chip_time_us(duration))
        n_steps = max(0, int(np.ceil(float(hw.chip_time_us(t_end)) / dt - 1e-9)) - s0)
        rec_idx = net.lif_index()[rec_nodes].astype(np.int32)
        rec_every = 1
        if ro is not None:  # the converter's instants are every `every` steps from step 0: record those
            every = int(round(ro.interval_us / dt))
            rec_every = math.gcd(every, int(s0))  # recorded steps s0 + j rec_every include every instant
        n_samples = (n_steps + rec_every - 1) // rec_every if len(rec_idx) else 0
        traces = np.zeros((trials, len(rec_idx), n_samples))
        # spike buffers: generous for few trials, bounded in total; overflowing trials rerun alone
        max_per_trial = int(net.n_lif * (chip_us / max(float(eff.tau_refrac.min(initial=np.inf)), dt) + 1))
        cap = int(np.clip(max_per_trial, 64, max(64, _SPIKE_BUFFER // trials)))
        knet = plan.knet
        layered = len(knet.levels) > 1
        # layered: a level's spikes feed the next at their exact times; the readout clock is
        # applied to all recorded spikes afterwards
        noise = Noise(int(seed), float(imp["threshold_jitter_V"]), float(imp["spike_time_jitter_us"]),
                      0.0 if layered else float(t_res), lat_rec)
        steps = Steps(int(s0), int(n_steps), float(dt))
        rec = Recording(rec_idx, rec_every)
        parts_t, parts_n, parts_trial = [], [], []
        if layered:
            ev_trial = np.repeat(np.arange(trials, dtype=np.int32), np.diff(ev_ptr))
            inputs_l = (ev_time, ev_node, ev_trial)
        for level, (lo, hi) in enumerate(knet.levels if n_steps > 0 else []):
            if layered:  # the level's events: inputs and lower levels' spikes that reach it
                ev_time, ev_node, ev_ptr = level_events(knet.feeds[level], inputs_l, parts_t, parts_n, parts_trial,
                                                        net.lif_nodes, trials, lat_rec)
            t_l, n_l, trial_l = simulate_range(knet, noise, Events(ev_time, ev_node), ev_ptr, steps, rec, lo, hi,
                                               trials, cap, traces, st, state is None)
            parts_t.append(t_l)
            parts_n.append(n_l)
            parts_trial.append(trial_l)
        t_us = np.concatenate([np.zeros(0), *parts_t])
        nrn = np.concatenate([np.zeros(0, np.int32), *parts_n])
        trial = np.concatenate([np.zeros(0, np.int32), *parts_trial])
        flight = self._in_flight(knet, net, st, layered, t_us, nrn, trial, lat_rec, (s0 + n_steps) * dt,
                                 (ev_time_all, ev_node_all, ev_ptr_all))
        if layered:  # readout clock, then order by (trial, time, neuron) as the kernel does
            ticks = None
            if t_res > 0:
                ticks = np.floor(t_us / t_res)
                t_us = ticks * t_res
            order = event_order(trial, t_us, ticks, nrn, net.n_lif, trials)
            t_us, nrn, trial = t_us[order], nrn[order], trial[order]
        t_ms = np.asarray(hw.bio_time_ms(t_us), float)
        if state is not None and len(state.late_ms):  # spikes the previous run found past its end belong here
            t_ms = np.concatenate([state.late_ms, t_ms])
            nrn = np.concatenate([state.late_lif, nrn])
            trial = np.concatenate([state.late_trial, trial])
            order = np.lexsort((nrn, t_ms, trial))
            t_ms, nrn, trial = t_ms[order], nrn[order], trial[order]
        # the last step may end past t_end (interpolated crossings land inside it): such spikes
        # are reported by the run that continues from the returned state
        late = t_ms > t_end
        end_state = self._state(hw, eff, t_end, seed, s0 + n_steps, dt, st, late=(
            ("late_ms", t_ms[late]), ("late_lif", nrn[late].astype(np.int32)),
            ("late_trial", trial[late].astype(np.int32)), *flight))
        keep = ~late
        t_ms, nrn, trial = t_ms[keep], nrn[keep], trial[keep]
        wall = time.perf_counter() - start
        result = self._result(ir, hw, plan.chip, t_ms, nrn, trial, traces, rec_nodes, n_samples, rec_every, dt,
                              duration, trials, seed, wall, imp, s0, readout, ro, traffic)
        result.state = end_state
        return result

    def _result(self, ir, hw, chip, t_ms, nrn, trial, traces, rec_nodes, n_samples, rec_every, dt,
                duration, trials, seed, wall, imp, s0, readout: str, ro: ReadoutPlan | None,
                traffic: dict | None = None) -> Result:
        """Result from the spikes of all trials (times in biological ms, LIF indices, trials;
        sorted by trial, then time, then neuron) and the membrane at the recorded steps
        (``traces``: chip V at the starts of steps s0, s0 + rec_every, ...), read by ``ro``;
        ``traffic``: what the event buses did to the inputs (:func:`neuroemu.hardware.buses.traffic`;
        None: no serialization)."""
        net = ir.network
        pops = split_populations(net, t_ms, nrn, trial, trials, hw.timing.speedup)
        tr = None
        if len(rec_nodes):
            grid_us = (s0 + np.arange(n_samples) * rec_every) * dt
            if ro is None:
                tr = node_traces(net, rec_nodes, hw.bio_time_ms(grid_us), hw.bio_voltage_mV(traces), traces)
            else:
                tr = readout_traces(net, hw, rec_nodes, ro, grid_us, traces, interpolate=False)
        sampling = ("the state at the start of every integration step" if ro is None else
                    f"the state at step boundaries: the step ({dt:g} µs) divides the sampling interval")
        info = {
            "chip_seed": chip.seed,
            "calibrated": self.calibration is not None or getattr(ir, "calibration", None) is not None,
            "imperfections_on": self.imperfections.switches(hw), "imperfections": imp, "dt_us": dt,
            "readout": readout_info(readout, ro, dt, sampling),
            "event_buses": traffic,
        }
        return Result(
            backend=self.name, duration_ms=float(duration), n_trials=int(trials), seed=int(seed),
            speedup=hw.timing.speedup, hardware_name=hw.name, hardware_hash=hw.content_hash, populations=pops,
            wall_time_s=wall, traces=tr, info_json=json.dumps(info),
        )
