"""The Brian2 backend: a software reference simulation of an IR in biological units.

``Brian2Backend(mode=..., chip=..., calibration=...)`` simulates

* ``ideal``: the IR's logical network as described (weights and parameters as written);
* ``as-deployed``: the same neurons with the 6-bit-quantized weights the chip is given
  (``ir.weights.deployed_weight``);
* ``chip-replay``: per-neuron parameters and per-synapse weights that emulated chip instance
  ``chip`` (with ``calibration``) realises for the IR -- the emulator's fixed pattern run in
  Brian2. The effective network is taken from the emulator as *data* (its arrays, from
  ``EmulatorBackend.effective``) and converted to biological units here with the hardware
  config's scales; no emulator function computes any of the dynamics.

The model, its integration and its agreement with the exact solution as a function of ``dt``
are in :mod:`.network` (Brian2 equations with units, Brian2's ``rk4`` state updater, inputs and
threshold on Brian2's grid: spike times late by less than dt for inputs on the grid).

Imperfections in ``chip-replay`` (``imperfections``: an emulator
:class:`~neuroemu.backends.emulator.Imperfections`; None = the config's fixed pattern with the
temporal noise off, i.e. what ``neuroemu run --no-noise`` runs on the emulator):

* mismatch (global and per parameter), weight mismatch, dead circuits: through the effective
  network, exactly as the emulator (dead neurons get an infinite threshold: they never spike);
* membrane noise: an Ornstein-Uhlenbeck increment ``sigma sqrt(1 - e^{-2 dt/tau_mem}) N(0, 1)``
  added to V every step of ``dt`` while the neuron is free (stationary std ``sigma``, the
  emulator's model); drawn by Brian2's ``randn`` seeded from the run seed and the batch --
  statistically equal to the emulator, not bit-identical;
* threshold jitter: a per-trial, per-neuron Gaussian threshold offset (numpy Generator seeded
  by the run seed and the trial);
* timestamp quantization: input spike times and recorded spike times floored to the
  timestamp clock (bio units) before the grid rule applies;
* spike-time jitter: not expressed (it would move the events the network itself sees):
  :class:`~neuroemu.errors.BackendError` naming it;
* event buses (``realism.event_buses`` of the config, on unless ``Imperfections(event_buses=
  False)``): the input events leave the shared buses at the times the emulator delivers them,
  computed by the same data model (:mod:`neuroemu.hardware.buses`, no emulator code); a source
  feeding several buses is one generator per bus (:func:`.inputs.bus_source_delays`), and the
  result's info reports the delays and drops (``event_buses``). Inputs then act on Brian2's
  grid as always, so delays below dt shift a spike by at most one step.

The chip's limits (``realism`` of the config; :class:`ReplayLimits`, :meth:`Brian2Backend.limits`;
reported in the result's info as ``realism``, biological units), each in Brian2's own terms, so
that the replay stays an independent reference for the emulator's exact treatment:

* latency (``Imperfections(latency=False)`` switches it off): the input events (after the buses)
  reach the membranes ``latency_input`` later, their times shifted before the grid rule applies
  (an event at s acts at ``ceil((s + l_in)/dt) dt``: late by less than dt); LIF->LIF synapses get
  the Brian2 ``delay`` ``latency_recurrent``, which Brian2 realises as ``round(l_rec/dt)`` steps
  after the grid point where the spike is seen (off the exact arrival by the spike's grid lag in
  [0, dt) plus the rounding, at most dt/2; none when dt divides the latency, e.g. 0.4 ms at dt =
  0.01 or 0.1 ms). Events in flight at a run's end are carried in the state as the delays are;
* rails (``Imperfections(rails=False)``): ``v = clip(v, v_lo, v_hi)`` after every step (see
  :mod:`.network`); the emulator's rail is exact, this one is exact at the grid points while V is
  held and leaves the lower rail at a grid point within dt/2 of the exact release, so V is low
  by at most ``|v_inf - v_lo| dt^2 / (8 tau_mem tau_syn)`` after it (decaying with tau_mem);
* saturating synaptic input (``realism.synaptic_saturation``; I_max in nA per neuron, I_max C_m /
  (chip V per mV x speed-up / 1000)): each event ``I <- I + w (1 - |I|/I_max)`` (:func:`.network.on_pre`),
  exact at the instant where the event acts;
* finite reset conductance (``realism.refractory.reset_tau_us`` > 0): while refractory v relaxes
  from threshold to v_reset with tau_reset (:mod:`.network`).

Saturation and the reset follow the config; where the replayed imperfections' ``effective()``
reports ``saturation_V_per_us`` / ``reset_tau_us`` (the emulator's knobs for them), those.
With every limit off the network is the one without them (same equations, same code).

Trial copies are described in :mod:`.network`, duplicate spikes of a source in one step in
:mod:`.inputs`, Brian2's compiled-code cache in :mod:`.codegen`.

Membrane readouts (``run(..., readout=...)``, :mod:`neuroemu.backends.readout`): ``probe``
gives V at every grid point of ``dt`` (at the start of each step). ``madc`` and ``cadc`` read V
through the IR's hardware config's converters at their instants (chip time, the config's
speed-up): an instant on Brian2's grid takes the grid value, one between grid points the linear
interpolation of its two neighbours (error below dt^2/8 times the largest |d^2V/dt^2|, except
within one dt after a reset, where the interpolation spans the reset); instants after the last
grid point of the run are not taken.
"""
from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from neuroemu.backends.base import Backend
from neuroemu.backends.brian2.codegen import canonical_executable, configure_brian2
from neuroemu.backends.brian2.inputs import (
    STEP_EPS,
    InputEvents,
    SourceDelays,
    add_delayed,
    bus_source_delays,
    gather_events,
    in_flight,
    layout_channels,
    source_delays,
    spike_table,
    step_rank,
)
from neuroemu.backends.brian2.network import NEVER_S, STATE_VARIABLES, Brian2Network, NetworkSpec
from neuroemu.backends.brian2.state import Brian2State
from neuroemu.backends.readout import ReadoutPlan, plan_readout, readout_info, readout_traces
from neuroemu.backends.result import Result, node_traces, split_populations
from neuroemu.compiler.translate import refuse_delays
from neuroemu.errors import BackendError
from neuroemu.hardware.buses import BusLines, bus_lines, departures
from neuroemu.ir.model import IR, NeuronParams
from neuroemu.spikes import SpikeTrains

if TYPE_CHECKING:  # pragma: no cover
    from neuroemu.backends.emulator import Chip, Imperfections

MODES = ("ideal", "as-deployed", "chip-replay")


def _rest_variables(v_mV: np.ndarray) -> dict[str, np.ndarray]:
    """:data:`STATE_VARIABLES` (SI) of neurons at membrane ``v_mV`` (trials, neurons), currents 0,
    never spiked (``lastspike`` -inf)."""
    zeros = np.zeros(np.shape(v_mV))
    return {"v": np.asarray(v_mV, float) * 1e-3, "I_exc": zeros, "I_inh": zeros.copy(),
            "lastspike": np.full(np.shape(v_mV), -np.inf)}


@dataclass(frozen=True)
class ReplayLimits:
    """The chip's limits (``realism`` of the hardware config, switched by the replayed
    :class:`~neuroemu.backends.emulator.Imperfections`) that ``chip-replay`` has in force, in
    biological units (biological ms = chip µs x speed-up / 1000; mV through the config's voltage
    map). All off (the defaults) outside ``chip-replay`` and on configs without them.

    latency_input_ms: a spike source's event reaches the membrane this much later.
    latency_recurrent_ms: a neuron's spike reaches its on-chip targets this much later.
    rails_mV: (low, high) the membrane cannot leave, or None.
    max_current_V_per_us: each receptor's current bound I_max (chip V/µs, a current over C_m), or
        None (linear synaptic input); per neuron in nA it is I_max C_m / (chip_V_per_bio_mV x
        speed-up / 1000).
    reset_tau_ms: time constant of the finite reset conductance (0: instant reset).
    """

    latency_input_ms: float = 0.0
    latency_recurrent_ms: float = 0.0
    rails_mV: tuple[float, float] | None = None
    max_current_V_per_us: float | None = None
    reset_tau_ms: float = 0.0

    def as_dict(self) -> dict:
        """For a result's info (JSON)."""
        return {"latency_input_ms": self.latency_input_ms, "latency_recurrent_ms": self.latency_recurrent_ms,
                "rails_mV": None if self.rails_mV is None else list(self.rails_mV),
                "max_current_V_per_us": self.max_current_V_per_us, "reset_tau_ms": self.reset_tau_ms}


class Brian2Backend(Backend):
    """Brian2 (runtime mode, Cython) reference simulation of an IR.

    mode: ``ideal``, ``as-deployed`` or ``chip-replay`` (see the module docstring).
    chip: chip seed (int) or :class:`~neuroemu.backends.emulator.Chip` whose fixed pattern
    ``chip-replay`` replays (other modes record it only). calibration: per-circuit DAC codes for
    ``chip-replay`` (None: the IR's embedded calibration, else nominal codes).
    dt: Brian2's time step, biological ms. Inputs act and the threshold is checked on its grid,
    so a spike time is late by less than dt (inputs on the grid; less than 2 dt otherwise) and
    v at the grid points within (dt/tau_min)^4 of the deflection of the exact solution (:mod:`.network`);
    0.01 ms (default) keeps spike times within 0.01-0.02 ms, 0.1 ms (Brian2's default) is faster.
    max_synapses_per_batch: trials run as copies inside one network, as many as fit this
    budget of synapses (memory); more trials run in batches through the same compiled network.
    codegen_target: ``auto`` (Cython, numpy with a warning if it cannot compile), ``cython``
    or ``numpy``. imperfections: for ``chip-replay`` only, the emulator's
    :class:`~neuroemu.backends.emulator.Imperfections` to replay (see the module docstring;
    None: fixed pattern of the config, noise off).

    Several spikes of one source inside one step of ``dt`` are not merged: the k-th of them goes
    through an extra generator channel of that source with the same synapses, so each arrives
    with its full weight (:mod:`.inputs`).

    Trials: up to ``max_synapses_per_batch`` worth of trials run as independent copies inside
    one network; further batches restore the same network (``Network.restore``) with a new
    spike table, so N trials never build or compile N networks. The built network is also
    kept for the next ``run`` with the same IR and input layout.
    """

    name = "brian2"

    def __init__(self, mode: str = "ideal", chip: "int | Chip | None" = None, calibration=None,
                 imperfections: "Imperfections | None" = None, *, dt: float = 0.01,
                 max_synapses_per_batch: int = 2_000_000, codegen_target: str = "auto"):
        if mode not in MODES:
            raise BackendError(f"brian2 mode must be one of {', '.join(MODES)}, got '{mode}'")
        if not (np.isfinite(dt) and dt > 0):
            raise BackendError(f"brian2 dt must be a positive number of ms, got {dt}")
        if int(max_synapses_per_batch) < 1:
            raise BackendError("max_synapses_per_batch must be >= 1")
        if mode != "chip-replay" and imperfections is not None:
            raise BackendError(f"imperfections apply to brian2 mode 'chip-replay' only (mode is '{mode}')")
        if mode != "chip-replay" and calibration is not None:
            raise BackendError(f"a calibration applies to brian2 mode 'chip-replay' only (mode is '{mode}')")
        if chip is not None and not hasattr(chip, "seed") and (int(chip) != chip or chip < 0):
            raise BackendError(f"chip must be a non-negative integer seed or a Chip, got {chip!r}")
        self.mode = mode
        self.chip = 0 if chip is None else chip
        self.calibration = calibration
        self.dt = float(dt)
        self.max_synapses_per_batch = int(max_synapses_per_batch)
        self.codegen_target = codegen_target
        self.imperfections = imperfections
        self._params_cache: tuple | None = None
        self._net_cache: tuple | None = None

    def replay_imperfections(self) -> "Imperfections":
        """The emulator imperfections ``chip-replay`` replays (None given: config fixed pattern, noise off)."""
        from neuroemu.backends.emulator import Imperfections

        if self.imperfections is not None:
            return self.imperfections
        return Imperfections().without_noise()

    def noise(self, ir: IR) -> dict[str, float]:
        """Temporal imperfections in force, biological units: membrane noise std (mV), threshold
        jitter std (mV), timestamp resolution (ms, 0 = exact). Zero outside ``chip-replay``.
        Raises :class:`BackendError` for spike-time jitter (not expressible here)."""
        out = {"membrane_noise_mV": 0.0, "threshold_jitter_mV": 0.0, "timestamp_resolution_ms": 0.0}
        if self.mode != "chip-replay":
            return out
        hw = ir.hardware()
        eff = self.replay_imperfections().effective(hw)
        if eff["spike_time_jitter_us"] > 0:
            raise BackendError(
                f"the brian2 backend cannot express spike-time jitter ({eff['spike_time_jitter_us']:g} µs on "
                f"{hw.name}): run it on the emulator, or set Imperfections(spike_time_jitter_us=0.0)")
        per_mV = hw.voltage.chip_V_per_bio_mV
        out["membrane_noise_mV"] = float(eff["membrane_noise_V"]) / per_mV
        out["threshold_jitter_mV"] = float(eff["threshold_jitter_V"]) / per_mV
        res = eff["timestamp_resolution_us"]
        out["timestamp_resolution_ms"] = float(hw.bio_time_ms(res)) if res else 0.0
        return out

    def limits(self, ir: IR) -> ReplayLimits:
        """The chip's limits in force (biological units; see :class:`ReplayLimits`): ``chip-replay``
        only, from the IR's hardware config as the replayed imperfections switch them
        (:meth:`replay_imperfections`; its ``effective()`` report: ``latency_input_us``,
        ``latency_recurrent_us``, ``rails_V``, and ``reset_tau_us`` / ``saturation_V_per_us``
        where it reports them, else the config's values). Other modes: none."""
        if self.mode != "chip-replay":
            return ReplayLimits()
        hw = ir.hardware()
        eff = self.replay_imperfections().effective(hw)
        r = hw.realism
        rails = eff["rails_V"]
        sat = r.synaptic_saturation.max_current_V_per_us if r.synaptic_saturation is not None else None
        sat = eff.get("saturation_V_per_us", sat)
        reset_tau = eff.get("reset_tau_us", r.refractory.reset_tau_us if r.refractory is not None else 0.0)
        return ReplayLimits(
            latency_input_ms=float(hw.bio_time_ms(float(eff["latency_input_us"]))),
            latency_recurrent_ms=float(hw.bio_time_ms(float(eff["latency_recurrent_us"]))),
            rails_mV=None if rails is None else tuple(float(hw.bio_voltage_mV(x)) for x in rails),
            max_current_V_per_us=float(sat) if sat else None,  # (None or 0: linear)
            reset_tau_ms=float(hw.bio_time_ms(float(reset_tau))))

    def synapse_delays(self, ir: IR) -> np.ndarray:
        """Per IR synapse, the delay (biological ms) it has in this mode: the IR's own delays in
        ``ideal`` and ``as-deployed``; in ``chip-replay`` (where the IR may have none) the chip's
        recurrent latency on LIF->LIF synapses and 0 on input synapses (their latency shifts the
        input events instead, :meth:`run`)."""
        net = ir.network
        syn = net.synapses
        if self.mode != "chip-replay":
            return np.asarray(syn.delay, float)
        refuse_delays(net, "the emulated chip that chip-replay replays", "modes ideal and as-deployed realise delays")
        lat = self.limits(ir).latency_recurrent_ms
        return np.where(net.lif_index()[syn.pre] >= 0, lat, 0.0)

    # --- what is simulated ------------------------------------------------------------------
    @property
    def chip_seed(self) -> int:
        return int(getattr(self.chip, "seed", self.chip))

    def _values_key(self, ir: IR) -> tuple:
        """What the simulated values depend on (the IR and this backend's settings)."""
        return (id(ir), ir.provenance.created, self.mode, self.chip_seed, id(self.calibration),
                repr(self.imperfections))

    def parameters(self, ir: IR) -> tuple[NeuronParams, np.ndarray, np.ndarray]:
        """(per-neuron parameters, per-synapse weights nA, dead mask) that this mode simulates.
        ``chip-replay`` reads the emulator's effective network (chip units: V, µs, V/µs per
        synapse) as data and converts it with the hardware config's scales."""
        key = self._values_key(ir)
        if self._params_cache is not None and self._params_cache[0] == key:
            return self._params_cache[1]
        net = ir.network
        dead = np.zeros(net.n_lif, bool)
        if self.mode == "ideal":
            params, w = net.params, net.synapses.weight.astype(float)
        elif self.mode == "as-deployed":
            params, w = net.params, np.asarray(ir.weights.deployed_weight(net.synapses.receptor), float)
        else:
            from neuroemu.backends.emulator import EmulatorBackend

            # the emulator's chip/calibration resolution and effective network: data only
            emu = EmulatorBackend(chip=self.chip, calibration=self.calibration,
                                  imperfections=self.replay_imperfections())
            eff = emu.effective(ir)
            hw = ir.hardware()
            ms, mV = hw.bio_time_ms, hw.bio_voltage_mV
            cm = np.asarray(net.params.cm, float).copy()
            params = NeuronParams(
                tau_mem=np.asarray(ms(eff.tau_mem)), tau_syn_exc=np.asarray(ms(eff.tau_syn_exc)),
                tau_syn_inh=np.asarray(ms(eff.tau_syn_inh)), v_rest=np.asarray(mV(eff.v_leak)),
                v_reset=np.asarray(mV(eff.v_reset)), v_thresh=np.asarray(mV(eff.v_thresh)),
                tau_refrac=np.asarray(ms(eff.tau_refrac)), cm=cm)
            w = hw.bio_current_nA(np.asarray(eff.weight, float), cm[net.lif_index()[net.synapses.post]])
            dead = np.asarray(eff.dead, bool)
        out = (params, np.asarray(w, float), dead)
        self._params_cache = (key, out, ir)  # keep ir alive: its id stays unique
        return out

    def bus_lines(self, ir: IR) -> BusLines | None:
        """The spike sources' bus lines that ``chip-replay`` serializes on (None: another mode, a
        config without event buses, or ``Imperfections(event_buses=False)``)."""
        if self.mode != "chip-replay":
            return None
        hw = ir.hardware()
        if self.replay_imperfections().effective(hw)["event_buses"] is None:
            return None
        return bus_lines(ir, hw.realism.event_buses.per_hemisphere)

    # --- run --------------------------------------------------------------------------------
    def _network(self, ir: IR, sd: SourceDelays, layout, batch: int,
                 record_lif: np.ndarray) -> tuple[Brian2Network, bool]:
        """The built network for this IR, mode, input layout and batch size. A built network of
        the same structure (synapses, channels, copies) is reused with this IR's values (a
        reconfigured network compiles nothing); one with up to twice the trial copies needed is
        reused too (the rest run silent), so calls with varying trial counts (e.g. a last,
        smaller minibatch) do not rebuild."""
        noise = self.noise(ir)
        params, w, dead = self.parameters(ir)
        net = ir.network
        syn = net.synapses
        lim = self.limits(ir)
        post = net.lif_index()[syn.post].astype(np.int64)
        # input delays: in the channel times
        lif_delay = np.where(net.lif_index()[syn.pre] >= 0, self.synapse_delays(ir), 0.0)
        r = sd.replay_syn  # copies of the delayed LIF->LIF synapses, fed with the spikes a run left in flight
        spec = NetworkSpec(
            params=params, dead=dead, syn_pre=np.concatenate([sd.syn_pre, sd.replay_pre]),
            syn_post=np.concatenate([post, post[r]]), syn_weight=np.concatenate([w, w[r]]),
            syn_receptor=np.concatenate([syn.receptor, syn.receptor[r]]).astype(np.int64),
            syn_delay=np.concatenate([lif_delay, np.zeros(len(r))]), lif_index=sd.lif_index, layout=layout,
            trials=batch, dt_ms=self.dt, record_lif=record_lif, membrane_noise_mV=noise["membrane_noise_mV"],
            rails_mV=lim.rails_mV, reset_tau_ms=lim.reset_tau_ms,
            max_current_nA=None if lim.max_current_V_per_us is None else np.asarray(
                ir.hardware().bio_current_nA(lim.max_current_V_per_us, params.cm), float))
        if self._net_cache is not None:
            cached = self._net_cache[1]
            if batch <= cached.spec.trials <= 2 * batch:
                spec.trials = cached.spec.trials
                if spec.structure_key() == cached.spec.structure_key():
                    if self._net_cache[0] != self._values_key(ir):
                        cached.set_values(spec)
                        self._net_cache = (self._values_key(ir), cached, ir)
                    return cached, False
                spec.trials = batch
        self._net_cache = None  # free the old network first
        with canonical_executable():  # stable compiled-module names (see .codegen)
            built = Brian2Network(spec)
        self._net_cache = (self._values_key(ir), built, ir)  # keep ir alive: its id stays unique
        return built, True

    def batch_size(self, sd: SourceDelays, layout, trials: int) -> int:
        """Trial copies per network: as many as fit ``max_synapses_per_batch`` (at least one)."""
        is_input = sd.lif_index[sd.syn_pre] < 0
        per_source = np.bincount(sd.syn_pre, minlength=sd.n_nodes)
        per_trial = int(np.sum(~is_input)) + int(per_source[layout.node].sum())
        return int(max(1, min(trials, self.max_synapses_per_batch // max(per_trial, 1))))

    def initial_state(self, ir: IR, trials: int = 1, seed: int = 0, v_mV=None, time_ms: float = 0.0) -> Brian2State:
        params, _, _ = self.parameters(ir)
        n = ir.network.n_lif
        v = (np.broadcast_to(params.v_inf(), (trials, n)).copy() if v_mV is None
             else self.initial_v_mV(ir, trials, v_mV))
        return Brian2State(backend=self.name, time_ms=float(time_ms), seed=int(seed), trials=int(trials), n_lif=n,
                           dt_ms=self.dt, variables=_rest_variables(v))

    def set_membrane(self, ir: IR, state: Brian2State, v_mV: np.ndarray) -> Brian2State:
        v = np.broadcast_to(np.asarray(v_mV, float), state.v_mV.shape)
        variables = dict(state.variables)
        variables["v"] = np.where(np.isnan(v), state.variables["v"], v * 1e-3)
        return dataclasses.replace(state, variables=variables)

    def grow_state(self, ir: IR, state: Brian2State, v_mV: np.ndarray) -> Brian2State:
        new = _rest_variables(np.broadcast_to(np.asarray(v_mV, float), (state.trials, np.shape(v_mV)[-1])))
        variables = {k: np.concatenate([state.variables[k], new[k]], axis=1) for k in STATE_VARIABLES}
        return dataclasses.replace(state, variables=variables, n_lif=state.n_lif + new["v"].shape[1])

    def _check_continuation(self, state: Brian2State) -> None:
        if state.dt_ms != self.dt:
            raise BackendError(f"the state comes from a run with dt {state.dt_ms} ms; continue it with dt {self.dt} ms")
        if not state.on_grid:
            raise BackendError(
                f"the state's time {state.time_ms} ms is not a multiple of dt {self.dt} ms: brian2 continues only runs "
                "that end on its step grid")

    def run(self, ir: IR, inputs: Mapping[str, SpikeTrains] | None = None, duration: float = 100.0,
            trials: int = 1, seed: int = 0, record_v: Sequence[int] | None = None,
            state: Brian2State | None = None, readout: str = "probe") -> Result:
        """Run ``trials`` trials of ``duration`` biological ms; ``seed`` seeds the injected noise of
        ``chip-replay`` (other modes are deterministic). ``state``, ``readout``: see
        :meth:`Backend.run` and the module docstring."""
        t_start = self.check_run_args(ir, duration, trials, seed, state)
        ro = plan_readout(ir.hardware(), readout, len(self.recorded_v_nodes(ir, record_v)))
        start = time.perf_counter()
        noise = self.noise(ir)
        target = configure_brian2(self.codegen_target)
        net = ir.network
        lines = self.bus_lines(ir)
        lim = self.limits(ir)
        delay = self.synapse_delays(ir)
        sd = source_delays(ir, delay) if lines is None else bus_source_delays(ir, lines, delay)
        if state is not None:
            self._check_continuation(state)
        t_end = t_start + duration
        all_inputs = self.resolve_inputs(ir, inputs, trials)
        rec_nodes = self.recorded_v_nodes(ir, record_v)
        record_lif = net.lif_index()[rec_nodes].astype(np.int64)
        t_res = noise["timestamp_resolution_ms"]
        traffic = None
        if lines is None:
            # inputs of [t_start, t_end), on this run's clock (Brian2 runs every call from 0)
            resolved = {name: trains.between(t_start, t_end).shifted(-t_start) for name, trains in all_inputs.items()}
            ev = add_delayed(gather_events(ir, resolved, duration, t_res), sd)
        else:  # leaving the buses in [t_start, t_end); earlier spikes fill the queues as in one long run
            hw = ir.hardware()
            dep = departures(ir, hw, hw.realism.event_buses, lines,
                             {name: trains.between(-np.inf, t_end) for name, trains in all_inputs.items()},
                             self.replay_imperfections().effective(hw)["timestamp_resolution_us"] or 0.0,
                             t_start, t_end)
            t_rel = np.asarray(hw.bio_time_ms(dep.time_us), float) - t_start
            o = np.lexsort((t_rel, dep.node, dep.trial))
            ev = InputEvents(t_rel[o], dep.node[o].astype(np.int64), dep.trial[o].astype(np.int64))
            traffic = dep.traffic
        if lim.latency_input_ms > 0:  # they reach the membranes the chip's input latency later
            ev = InputEvents(ev.time_ms + lim.latency_input_ms, ev.node, ev.trial)
        if state is not None and len(state.carry_ms):  # delayed spikes of earlier runs still in flight
            ev = InputEvents(np.concatenate([ev.time_ms, state.carry_ms - t_start]),
                             np.concatenate([ev.node, state.carry_node]), np.concatenate([ev.trial, state.carry_trial]))
            o = np.lexsort((ev.time_ms, ev.node, ev.trial))
            ev = InputEvents(ev.time_ms[o], ev.node[o], ev.trial[o])
        n_steps = int(np.ceil(duration / self.dt - 1e-9))
        # acting after this run's last step (see .inputs): carried to the next run
        flying = ev.time_ms > (n_steps - 1 + STEP_EPS) * self.dt
        carry = (ev.time_ms[flying] + t_start, ev.node[flying], ev.trial[flying])
        ev = InputEvents(ev.time_ms[~flying], ev.node[~flying], ev.trial[~flying])
        rank = step_rank(ev, self.dt)
        layout = layout_channels(sd.lif_index, ev, rank)
        batch = self.batch_size(sd, layout, trials)
        built, fresh = self._network(ir, sd, layout, batch, record_lif)
        batch = built.spec.trials
        build_s = time.perf_counter() - start
        n = net.n_lif
        spike_t, spike_n, spike_k, grid_t = [], [], [], []
        v_mV, times_ms = None, np.zeros(0)
        final = {name: np.zeros((trials, n)) for name in STATE_VARIABLES}
        n_batches = -(-trials // batch)
        step0 = int(round(t_start / self.dt))
        for b in range(n_batches):
            ids = np.arange(b * batch, (b + 1) * batch)
            ids = np.where(ids < trials, ids, -1)  # pad the last batch with silent trials
            table, starts = spike_table(ev, rank, layout, ids)
            thr_offset = None
            if noise["threshold_jitter_mV"] > 0:  # per trial and neuron, from (seed, trial)
                thr_offset = np.zeros((batch, n))
                for slot, k in enumerate(ids):
                    if k >= 0:
                        rng = np.random.default_rng([int(seed), int(k), 2])
                        thr_offset[slot] = noise["threshold_jitter_mV"] * rng.standard_normal(n)
            entropy = [int(seed), b, 1] + ([step0] if step0 else [])  # a continued run draws new noise
            noise_seed = int(np.random.SeedSequence(entropy).generate_state(1)[0] & 0x7FFFFFFF)
            initial = None
            if state is not None:
                rows = np.maximum(ids, 0)
                initial = {name: state.variables[name][rows] for name in STATE_VARIABLES}
                initial["lastspike"] = np.maximum(initial["lastspike"] - t_start * 1e-3, NEVER_S)  # s since this start
            out = built.run(table, starts, duration, thr_offset_mV=thr_offset, noise_seed=noise_seed, initial=initial)
            real = ids >= 0
            for name in STATE_VARIABLES:
                final[name][ids[real]] = out.final[name][real]
            copy = out.neuron // n
            keep = (ids[copy] >= 0) & (out.time_ms <= duration + STEP_EPS * self.dt)
            t_out = out.time_ms[keep] + t_start
            grid_t.append(t_out)
            if t_res > 0:  # readout on the timestamp clock
                t_out = np.floor(t_out / t_res) * t_res
            spike_t.append(t_out)
            spike_n.append(out.neuron[keep] % n)
            spike_k.append(ids[copy[keep]])
            if len(rec_nodes):
                if v_mV is None:
                    v_mV = np.zeros((trials, len(rec_nodes), out.v_mV.shape[2]))
                    times_ms = out.times_ms + t_start
                v_mV[ids[real]] = out.v_mV[real]
        t_grid = t_start + n_steps * self.dt
        spiked = final["lastspike"] > 0.5 * NEVER_S
        final["lastspike"] = np.where(spiked, final["lastspike"] + t_start * 1e-3, -np.inf)  # absolute again
        if len(sd.replay_syn):  # LIF spikes whose delayed synapses deliver after this run: the next run replays them
            t_all, n_all, k_all = np.concatenate(grid_t), np.concatenate(spike_n), np.concatenate(spike_k)
            replay = in_flight(sd, net.lif_nodes, t_all, n_all, k_all, t_grid + STEP_EPS * self.dt, self.dt)
            carry = tuple(np.concatenate([c, r]) for c, r in zip(carry, replay))
        end_state = Brian2State(backend=self.name, time_ms=float(t_end), seed=int(seed), trials=int(trials), n_lif=n,
                                dt_ms=self.dt, variables=final,
                                carry_ms=carry[0], carry_node=carry[1], carry_trial=carry[2])
        wall = time.perf_counter() - start
        info = {
            "mode": self.mode, "dt_ms": self.dt, "chip_seed": self.chip_seed,
            "calibrated": self.mode == "chip-replay" and (self.calibration is not None or ir.calibration is not None),
            "codegen_target": target, "trials_per_batch": batch,
            "batches": n_batches, "network_built": fresh, "build_s": build_s,
            "input_channels_per_trial": layout.n, "duplicate_spikes_split": int(np.count_nonzero(rank)),
            "injected": noise,
        }
        if self.mode == "chip-replay":
            info["imperfections_on"] = self.replay_imperfections().switches(ir.hardware())
            info["event_buses"] = traffic
            info["realism"] = lim.as_dict()
        hw = ir.hardware()
        info["readout"] = readout_info(readout, ro, float(hw.chip_time_us(self.dt)), (
            "brian2's V at the start of every step of dt" if ro is None else
            "brian2's V at its grid points, linearly interpolated between them (module docstring)"))
        result = self._result(ir, np.concatenate(spike_t), np.concatenate(spike_n), np.concatenate(spike_k), v_mV,
                              times_ms, rec_nodes, duration, trials, seed, wall, info, ro)
        result.state = end_state
        return result

    def _result(self, ir, t_ms, lif, trial, v_mV, times_ms, rec_nodes, duration, trials, seed, wall, info,
                ro: ReadoutPlan | None = None) -> Result:
        hw = ir.hardware()
        net = ir.network
        pops = split_populations(net, t_ms, lif, trial, trials, hw.timing.speedup)
        tr = None
        if len(rec_nodes):
            v_chip = np.asarray(hw.chip_voltage_V(v_mV), float)
            if ro is None:
                tr = node_traces(net, rec_nodes, times_ms, v_mV, v_chip)
            else:
                tr = readout_traces(net, hw, rec_nodes, ro, np.asarray(hw.chip_time_us(times_ms), float), v_chip,
                                    interpolate=True)
        return Result(
            backend=self.name, duration_ms=float(duration), n_trials=int(trials), seed=int(seed),
            speedup=hw.timing.speedup, hardware_name=hw.name, hardware_hash=hw.content_hash, populations=pops,
            wall_time_s=wall, traces=tr, info_json=json.dumps(info),
        )
