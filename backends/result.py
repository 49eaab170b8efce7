"""The result of a run, the same for every backend, with HDF5 save/load.

Spike times are stored in biological ms and in chip µs (``times_us``; on a software backend
the chip time is what the hardware config's speed-up would give). Membrane traces are in
biological mV and chip V, as the run's readout gave them (``Traces.readout``; details of the
converter in ``result.info["readout"]``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neuroemu.hdf5 import create, open_checked, serialize
from neuroemu.spikes import SpikeTrains


@dataclass
class PopulationSpikes:
    """Spikes of one population: ``spikes`` in biological ms, ``times_us`` the same in chip µs."""

    spikes: SpikeTrains
    times_us: np.ndarray


@dataclass
class Traces:
    """Membrane potentials of recorded neurons: (trials, neurons, samples).

    ``readout`` says how they were read (:mod:`neuroemu.backends.readout`): ``probe`` (the exact
    membrane at every integration step, unquantized: ``v_chip_V`` in chip V, ``v_mV`` biological
    mV), ``madc`` or ``cadc`` (the chip's converter at its sampling instants: ``codes`` are its
    readings, ``v_chip_V`` the chip potential each code stands for, ``V_at_code_0 + code x
    V_per_lsb``, and ``v_mV`` that potential in biological mV). Neuron j's k-th sample is at
    ``times_ms[k] + offsets_ms[j]`` (``offsets_ms`` None: all at ``times_ms``; an interleaving
    MADC samples its neurons in turn), see :meth:`sample_times_ms`.
    """

    nodes: np.ndarray  # int32 global node ids
    population: list[str]  # population of each recorded neuron
    index: np.ndarray  # int32 index within its population
    times_ms: np.ndarray  # (samples,) biological ms
    v_mV: np.ndarray  # (trials, neurons, samples) biological mV
    v_chip_V: np.ndarray  # same in chip V
    readout: str = "probe"  # probe | madc | cadc (files written before readouts existed: probe)
    codes: np.ndarray | None = None  # (trials, neurons, samples) ADC readings (madc / cadc), else None
    offsets_ms: np.ndarray | None = None  # (neurons,) biological ms added to times_ms per neuron, or None

    def sample_times_ms(self, j: int) -> np.ndarray:
        """Biological ms of the samples of recorded neuron ``j``."""
        if self.offsets_ms is None:
            return self.times_ms
        return self.times_ms + float(self.offsets_ms[j])


@dataclass
class Result:
    """Spikes (per population), optional traces and run metadata of one ``Backend.run`` call."""

    backend: str
    duration_ms: float
    n_trials: int
    seed: int
    speedup: float
    hardware_name: str
    hardware_hash: str
    populations: dict[str, PopulationSpikes]
    wall_time_s: float
    traces: Traces | None = None
    info_json: str = "{}"  # backend options, imperfections on/off, chip seed, ...
    created_by: str = ""
    #: where the run stopped (a backend's :class:`~neuroemu.backends.base.RunState`): pass it as
    #: ``run(..., state=result.state)`` to continue; not written to files
    state: Any = field(default=None, repr=False, compare=False, metadata={"serialize": False})

    # --- convenience ----------------------------------------------------------------------
    @property
    def info(self) -> dict[str, Any]:
        return json.loads(self.info_json)

    def spikes(self, population: str) -> SpikeTrains:
        """Spike trains of ``population`` (biological ms)."""
        try:
            return self.populations[population].spikes
        except KeyError:
            from neuroemu.errors import NeuroemuError

            raise NeuroemuError(
                f"population '{population}' was not recorded (recorded: {', '.join(self.populations)})"
            ) from None

    def first_spike_times(self, population: str) -> np.ndarray:
        """(trials, neurons) first spike times in biological ms, inf where silent."""
        return self.spikes(population).first_spike_times()

    @property
    def chip_time_us(self) -> float:
        """Emulated chip time of all trials (µs)."""
        return self.duration_ms * self.n_trials * 1000.0 / self.speedup

    @property
    def bio_seconds_per_wall_second(self) -> float:
        """Emulation speed: biological seconds simulated (all trials) per wall-clock second."""
        return (self.duration_ms * self.n_trials / 1000.0) / max(self.wall_time_s, 1e-12)

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary: spike counts and rates per population, speed, metadata."""
        pops = {}
        for name, ps in self.populations.items():
            n = ps.spikes.n_neurons
            count = len(ps.spikes)
            pops[name] = {
                "neurons": n,
                "spikes": count,
                "mean_rate_hz": count / max(n * self.n_trials * self.duration_ms / 1000.0, 1e-300),
            }
        return {
            "backend": self.backend, "hardware": self.hardware_name, "duration_ms": self.duration_ms,
            "trials": self.n_trials, "seed": self.seed, "populations": pops,
            "wall_time_s": self.wall_time_s, "chip_time_us": self.chip_time_us,
            "bio_seconds_per_wall_second": self.bio_seconds_per_wall_second, "info": self.info,
        }


def make_population_spikes(spikes: SpikeTrains, speedup: float) -> PopulationSpikes:
    """``spikes`` (biological ms) with their chip times (µs) at the hardware's ``speedup``."""
    return PopulationSpikes(spikes=spikes, times_us=spikes.times * (1000.0 / speedup))


def split_populations(net, t_ms: np.ndarray, lif: np.ndarray, trial: np.ndarray, trials: int,
                      speedup: float) -> dict[str, PopulationSpikes]:
    """Spikes of all LIF neurons of ``net`` (times in biological ms, global LIF indices, trials)
    split into the recorded populations (``net.record_spikes``), as every backend returns them."""
    pops = {}
    for p in net.lif_populations():
        if p.name not in net.record_spikes:
            continue
        sel = (lif >= p.lif_first) & (lif < p.lif_first + p.size)
        pops[p.name] = make_population_spikes(
            SpikeTrains(t_ms[sel], lif[sel] - p.lif_first, trial[sel], p.size, trials), speedup)
    return pops


def node_traces(net, nodes: np.ndarray, times_ms: np.ndarray, v_mV: np.ndarray, v_chip_V: np.ndarray,
                readout: str = "probe", codes: np.ndarray | None = None,
                offsets_ms: np.ndarray | None = None) -> Traces:
    """:class:`Traces` of the recorded global ``nodes`` of ``net`` (population and index derived)."""
    pop_of = net.population_of_node()
    return Traces(
        nodes=np.asarray(nodes).astype(np.int32), population=[net.populations[pop_of[k]].name for k in nodes],
        index=np.array([k - net.populations[pop_of[k]].first for k in nodes], np.int32),
        times_ms=np.asarray(times_ms, float), v_mV=np.asarray(v_mV, float), v_chip_V=v_chip_V, readout=readout,
        codes=codes, offsets_ms=offsets_ms,
    )


def save_result(result: Result, path: str | Path) -> None:
    """Write ``result`` to HDF5 (atomic)."""
    with create(path, "result") as f:
        serialize.write(f.create_group("result"), result)


def load_result(path: str | Path) -> Result:
    """Read a result file (checked header, kind and schema)."""
    with open_checked(path, "result") as f:
        return serialize.read(f["result"], Result)


def save_spikes(inputs: dict[str, SpikeTrains], path: str | Path) -> None:
    """Write input spike trains (population name -> trains, ms) for ``neuroemu run --input``."""
    with create(path, "spikes") as f:
        g = f.create_group("spikes")
        for name, trains in inputs.items():
            serialize.write(g.create_group(name), trains)


def load_spikes(path: str | Path) -> dict[str, SpikeTrains]:
    with open_checked(path, "spikes") as f:
        return {name: serialize.read(f["spikes"][name], SpikeTrains) for name in f["spikes"]}


__all__ = ["PopulationSpikes", "Traces", "Result", "make_population_spikes", "split_populations", "node_traces",
           "save_result", "load_result", "save_spikes", "load_spikes"]
