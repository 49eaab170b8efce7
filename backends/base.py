"""The backend interface: run a compiled IR on input spikes, return a :class:`Result`.

Like PyNN's backends or Brian2's devices, a backend is the *how*; the IR is the *what*.
A backend instance holds its own state (e.g. the emulator's chip instance and calibration,
Brian2's mode) and may be reused for many runs.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Mapping, Sequence

import numpy as np

from neuroemu.errors import BackendError, NeuroemuError
from neuroemu.ir.model import IR
from neuroemu.spikes import SpikeTrains

from neuroemu.backends.result import Result


class Backend(ABC):
    """Base class of all backends. Subclasses set ``name`` and implement :meth:`run`."""

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
    ) -> Result:
        """Run ``trials`` trials of ``duration`` biological ms.

        inputs: spike-source population name -> spike trains (biological ms), one trial
        (repeated for every trial) or exactly ``trials`` trials; sources not given use the
        description's default spike times, or stay silent.
        seed: seeds every temporal random draw of the run (noise); same seed, same result.
        record_v: global node ids whose membrane to record (default: the IR's record spec).
        """

    # --- shared checks --------------------------------------------------------------------
    @staticmethod
    def check_run_args(ir: IR, duration: float, trials: int, seed: int) -> None:
        if not np.isfinite(duration) or duration <= 0:
            raise NeuroemuError(f"duration must be a positive number of ms, got {duration}")
        if int(trials) != trials or trials < 1:
            raise NeuroemuError(f"trials must be a positive integer, got {trials}")
        if int(seed) != seed or seed < 0:
            raise NeuroemuError(f"seed must be a non-negative integer, got {seed}")
        hw = ir.hardware()
        chip_us = float(hw.chip_time_us(duration))
        if chip_us > hw.timing.max_run_us:
            raise NeuroemuError(
                f"duration {duration} ms is {chip_us:.6g} µs on {hw.name}; one run lasts at most {hw.timing.max_run_us:.6g} µs"
            )

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
