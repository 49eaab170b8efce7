"""The backend interface: run a compiled IR on input spikes, return a :class:`Result`.

Like PyNN's backends or Brian2's devices, a backend is the *how*; the IR is the *what*.
A backend instance holds its own state (e.g. the emulator's chip instance and calibration,
Brian2's mode) and may be reused for many runs.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Mapping, Sequence

import numpy as np

from neuroemu.backends.result import Result
from neuroemu.errors import BackendError, NeuroemuError
from neuroemu.ir.model import IR
from neuroemu.spikes import SpikeTrains


@dataclass
class RunState:
    """Where a simulation stands: every neuron's state at ``time_ms`` (biological ms) in every
    trial. A backend's :meth:`Backend.run` returns it as ``result.state``; passing it back as
    ``run(..., state=...)`` continues the simulation, so ``run(a)`` then ``run(b)`` from its
    state is ``run(a + b)``. Subclasses (one per backend) hold the backend's own variables and
    give the membrane potentials as ``v_mV``: (trials, n_lif), biological mV.
    """

    backend: str
    time_ms: float
    seed: int
    trials: int
    n_lif: int

    def check(self, backend: str, ir: IR, trials: int, seed: int) -> None:
        """Refuse continuing this state with another backend, network size, trial count or seed."""
        if self.backend != backend:
            raise BackendError(f"a '{self.backend}' state cannot be continued on the '{backend}' backend")
        if self.n_lif != ir.network.n_lif:
            raise BackendError(
                f"the state has {self.n_lif} LIF neurons, the network '{ir.network.name}' has {ir.network.n_lif}: "
                "a state continues only the network it came from")
        if trials != self.trials or seed != self.seed:
            raise BackendError(
                f"the state is of a run with {self.trials} trial(s) and seed {self.seed}; continuing it needs the "
                f"same (got trials={trials}, seed={seed})")


class Backend(ABC):
    """Base class of all backends. Subclasses set ``name`` and implement :meth:`run` and
    :meth:`initial_state`."""

    name: ClassVar[str] = ""

    @abstractmethod
    def run(
        self,
        ir: IR,
        inputs: Mapping[str, SpikeTrains] | None = None,
        duration: float = 100.0,
        trials: int = 1,
        seed: int = 0,
        record_v: Sequence[int] | None = None,
        state: RunState | None = None,
        readout: str = "probe",
    ) -> Result:
        """Run ``trials`` trials of ``duration`` biological ms.

        inputs: spike-source population name -> spike trains (biological ms), one trial
        (repeated for every trial) or exactly ``trials`` trials; sources not given use the
        description's default spike times, or stay silent.
        seed: seeds every temporal random draw of the run (noise); same seed, same result.
        record_v: global node ids whose membrane to record (default: the IR's record spec).
        state: continue from this state (a previous ``result.state`` or :meth:`initial_state`;
        same trials and seed): the run covers ``[state.time_ms, state.time_ms + duration]``,
        input spike times are absolute (spikes before ``state.time_ms`` are ignored) and so are
        the result's. None: start at time 0 from rest.
        readout: how the recorded membranes are read (:mod:`neuroemu.backends.readout`):
        ``probe`` (every integration step, exact, any number of neurons), ``madc`` (the config's
        ``voltage.madc``: bss2 10-bit, a sample every 0.034 µs, at most 2 neurons, interleaved) or
        ``cadc`` (``voltage.cadc``: bss2 8-bit, all neurons every 2 µs); more neurons than the
        converter's channels raise :class:`BackendError`. ``result.traces.readout`` and
        ``result.info["readout"]`` say which was used and in which units the values are.
        The result's ``state`` is where the run stopped.
        """

    @abstractmethod
    def initial_state(self, ir: IR, trials: int = 1, seed: int = 0, v_mV: np.ndarray | None = None,
                      time_ms: float = 0.0) -> RunState:
        """The state at ``time_ms`` (on the backend's step grid) with the membrane at ``v_mV``
        (biological mV; scalar, one value per LIF neuron or (trials, n_lif); None: every neuron
        at rest, i.e. at its leak potential ``v_rest + i_offset tau_mem / cm`` as the backend
        realises it), synaptic currents 0, no neuron refractory. Running from it at time 0 is
        running without a state."""

    @abstractmethod
    def grow_state(self, ir: IR, state: RunState, v_mV: np.ndarray) -> RunState:
        """``state`` with LIF neurons added at the end of the LIF order (a network that grew
        after the state was taken: ``ir`` is the grown one), at rest with membranes ``v_mV``
        ((trials, new neurons) or broadcastable, mV)."""

    @abstractmethod
    def set_membrane(self, ir: IR, state: RunState, v_mV: np.ndarray) -> RunState:
        """A copy of ``state`` with the membrane set to ``v_mV`` ((trials, n_lif) biological mV;
        NaN keeps a neuron's value): PyNN's ``initialize(v=...)`` after a run."""

    # --- shared checks --------------------------------------------------------------------
    def check_run_args(self, ir: IR, duration: float, trials: int, seed: int, state: RunState | None = None) -> float:
        """Check the arguments of :meth:`run`; returns the start time (ms: the state's, or 0)."""
        if not np.isfinite(duration) or duration <= 0:
            raise NeuroemuError(f"duration must be a positive number of ms, got {duration}")
        if int(trials) != trials or trials < 1:
            raise NeuroemuError(f"trials must be a positive integer, got {trials}")
        if int(seed) != seed or seed < 0:
            raise NeuroemuError(f"seed must be a non-negative integer, got {seed}")
        t_start = 0.0
        if state is not None:
            state.check(self.name, ir, trials, seed)
            t_start = float(state.time_ms)
        hw = ir.hardware()
        chip_us = float(hw.chip_time_us(t_start + duration))
        if chip_us > hw.timing.max_run_us:
            what = f"duration {duration} ms" if t_start == 0 else f"a run until {t_start + duration} ms"
            raise NeuroemuError(
                f"{what} is {chip_us:.6g} µs on {hw.name}; one run lasts at most {hw.timing.max_run_us:.6g} µs"
            )
        return t_start

    @staticmethod
    def initial_v_mV(ir: IR, trials: int, v_mV: np.ndarray | float) -> np.ndarray:
        """(trials, n_lif) initial membrane potentials (mV) from :meth:`initial_state`'s ``v_mV``."""
        n = ir.network.n_lif
        v = np.asarray(v_mV, dtype=np.float64)
        if v.ndim > 2 or (v.ndim >= 1 and v.shape[-1] != n) or (v.ndim == 2 and v.shape[0] not in (1, trials)):
            raise BackendError(f"initial v: expected a scalar, {n} values or ({trials}, {n}), got shape {v.shape}")
        if not np.all(np.isfinite(v)):
            raise BackendError("initial v must be finite (mV)")
        return np.broadcast_to(v, (trials, n)).copy()

    @staticmethod
    def resolve_inputs(ir: IR, inputs: Mapping[str, SpikeTrains] | None, trials: int) -> dict[str, SpikeTrains]:
        """Inputs for every spike-source population, broadcast to ``trials`` trials."""
        net = ir.network
        sources = {p.name: p for p in net.source_populations()}
        inputs = dict(inputs or {})
        unknown = sorted(set(inputs) - set(sources))
        if unknown:
            raise NeuroemuError(
                f"input for '{unknown[0]}', which is not a spike-source population of '{net.name}' "
                f"(spike sources: {', '.join(sources) or 'none'})"
            )
        out = {}
        for name, pop in sources.items():
            trains = inputs.get(name, net.default_inputs.get(name))
            if trains is None:
                trains = SpikeTrains.empty(pop.size, 1)
            if trains.n_neurons != pop.size:
                raise NeuroemuError(f"input for '{name}' has {trains.n_neurons} sources, the population has {pop.size}")
            if trains.n_trials not in (1, trials):
                raise NeuroemuError(f"input for '{name}' has {trains.n_trials} trials; the run has {trials}")
            out[name] = trains.repeat_trials(trials)
        return out

    @staticmethod
    def recorded_v_nodes(ir: IR, record_v: Sequence[int] | None) -> np.ndarray:
        nodes = ir.network.record_v if record_v is None else np.asarray(record_v, np.int64)
        lif = ir.network.lif_index()
        bad = [int(n) for n in nodes if not (0 <= n < len(lif)) or lif[n] < 0]
        if bad:
            raise BackendError(f"record_v: node {bad[0]} is not a LIF neuron of '{ir.network.name}'")
        return np.asarray(nodes, np.int32)
