"""The Brian2 backend: a software reference simulation of an IR in biological units.

``Brian2Backend(mode=..., chip=..., calibration=...)`` simulates

* ``ideal``: the IR's logical network as described (weights and parameters as written);
* ``as-deployed``: the same neurons with the 6-bit-quantized weights the chip is given
  (``ir.weights.deployed_weight``);
* ``chip-replay``: per-neuron parameters and per-synapse weights that emulated chip instance
  ``chip`` (with ``calibration``) realises for the IR -- the emulator's fixed pattern run in
  Brian2, taken from :func:`neuroemu.backends.emulator.effective.effective_network` (the one
  source of the effective network) and converted by ``EffectiveNetwork.to_bio``.

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
  timestamp clock (bio units), LIF -> LIF events at their exact times -- as the emulator does;
* spike-time jitter: not expressed (it would move the events the network itself sees):
  :class:`~neuroemu.errors.BackendError` naming it.

How the simulation is made exact and fast is described in :mod:`.network` (closed-form
propagator, exact event times, trial copies) and :mod:`.inputs` (duplicate spikes of a source
in one step); Brian2's compiled-code cache in :mod:`.codegen`.
"""
from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from neuroemu.errors import BackendError
from neuroemu.ir.model import IR, NeuronParams

if TYPE_CHECKING:  # pragma: no cover
    from neuroemu.backends.emulator import Chip, Imperfections
from neuroemu.spikes import SpikeTrains

from neuroemu.backends.base import Backend
from neuroemu.backends.brian2.codegen import canonical_executable, configure_brian2
from neuroemu.backends.brian2.inputs import gather_events, layout_channels, spike_table, step_rank
from neuroemu.backends.brian2.network import Brian2Network, NetworkSpec
from neuroemu.backends.result import Result, node_traces, split_populations

MODES = ("ideal", "as-deployed", "chip-replay")


class Brian2Backend(Backend):
    """Brian2 (runtime mode, Cython) reference simulation of an IR.

    mode: ``ideal``, ``as-deployed`` or ``chip-replay`` (see the module docstring).
    chip: chip seed (int) or :class:`~neuroemu.backends.emulator.Chip` whose fixed pattern
    ``chip-replay`` replays (other modes record it only). calibration: per-circuit DAC codes for
    ``chip-replay`` (None: the IR's embedded calibration, else nominal codes).
    dt: integration step, biological ms. The propagation is exact and event times are exact,
    so dt only limits how late a crossing caused by a LIF spike within the same step is seen
    and the linear interpolation of spike times; 0.01 ms keeps every spike time within ~0.01 ms
    of the exact solution, 0.1 ms (Brian2's default) is ~10x faster.
    max_synapses_per_batch: trials run as copies inside one network, as many as fit this
    budget of synapses (memory); more trials run in batches through the same compiled network.
    exact_events: False delivers every spike at the end of its step (Brian2's usual grid
    delivery, slightly cheaper, errors up to dt).
    codegen_target: ``auto`` (Cython, numpy with a warning if it cannot compile), ``cython``
    or ``numpy``. imperfections: for ``chip-replay`` only, the emulator's
    :class:`~neuroemu.backends.emulator.Imperfections` to replay (see the module docstring;
    None: fixed pattern of the config, noise off).

    Several spikes of one source inside one step of ``dt`` are not merged or shifted: the k-th
    of them goes through an extra generator channel of that source with the same synapses, so
    each arrives at its exact time with its full weight (:mod:`.inputs`).

    Trials: up to ``max_synapses_per_batch`` worth of trials run as independent copies inside
    one network; further batches restore the same network (``Network.restore``) with a new
    spike table, so N trials never build or compile N networks. The built network is also
    kept for the next ``run`` with the same IR and input layout.
    """

    name = "brian2"

    def __init__(self, mode: str = "ideal", chip: "int | Chip | None" = None, calibration=None,
                 imperfections: "Imperfections | None" = None, *, dt: float = 0.01,
                 max_synapses_per_batch: int = 2_000_000, exact_events: bool = True, codegen_target: str = "auto"):
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
        self.exact_events = bool(exact_events)
        self.codegen_target = codegen_target
        self.imperfections = imperfections
        self._params_cache: tuple | None = None
        self._net_cache: tuple | None = None

    def replay_imperfections(self) -> "Imperfections":
        """The emulator imperfections ``chip-replay`` replays (None given: config fixed pattern, noise off)."""
        from neuroemu.backends.emulator import Imperfections

        if self.imperfections is not None:
            return self.imperfections
        return Imperfections().replace(membrane_noise_scale=0.0, threshold_jitter_scale=0.0, spike_time_jitter_us=0.0)

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
                f"the brian2 backend cannot express spike-time jitter ({eff['spike_time_jitter_us']:g} µs on {hw.name}): "
                "run it on the emulator, or set Imperfections(spike_time_jitter_us=0.0)")
        per_mV = hw.voltage.chip_V_per_bio_mV
        out["membrane_noise_mV"] = float(eff["membrane_noise_V"]) / per_mV
        out["threshold_jitter_mV"] = float(eff["threshold_jitter_V"]) / per_mV
        res = eff["timestamp_resolution_us"]
        out["timestamp_resolution_ms"] = float(hw.bio_time_ms(res)) if res else 0.0
        return out

    # --- what is simulated ------------------------------------------------------------------
    @property
    def chip_seed(self) -> int:
        return int(getattr(self.chip, "seed", self.chip))

    def parameters(self, ir: IR) -> tuple[NeuronParams, np.ndarray, np.ndarray]:
        """(per-neuron parameters, per-synapse weights nA, dead mask) that this mode simulates."""
        key = (id(ir), ir.provenance.created, self.mode, self.chip_seed, id(self.calibration), repr(self.imperfections))
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

            # the emulator's own chip/calibration resolution, then effective_network (one source)
            emu = EmulatorBackend(chip=self.chip, calibration=self.calibration, imperfections=self.replay_imperfections())
            eff = emu.effective(ir)
            params, w = eff.to_bio(ir.hardware(), net.params.cm, net.lif_index()[net.synapses.post])
            dead = np.asarray(eff.dead, bool)
        out = (params, np.asarray(w, float), dead)
        self._params_cache = (key, out, ir)  # keep ir alive: its id stays unique
        return out

    # --- run --------------------------------------------------------------------------------
    def _network(self, ir: IR, layout, batch: int, record_lif: np.ndarray) -> tuple[Brian2Network, bool]:
        """The built network for this IR, mode, input layout and batch size (cached). A cached
        network with up to twice the trial copies needed is reused (the rest run silent), so
        calls with varying trial counts (e.g. a last, smaller minibatch) do not rebuild."""
        noise = self.noise(ir)
        key = (id(ir), ir.provenance.created, self.mode, self.chip_seed, id(self.calibration), repr(self.imperfections),
               self.dt, self.exact_events, layout.key(), record_lif.tobytes())
        if self._net_cache is not None and self._net_cache[0] == key:
            cached = self._net_cache[1]
            if batch <= cached.spec.trials <= 2 * batch:
                return cached, False
        self._net_cache = None  # free the old network first
        params, w, dead = self.parameters(ir)
        net = ir.network
        if np.any(net.synapses.delay > 0):
            raise BackendError("the brian2 backend has no synaptic delays (no hardware config has them)")
        spec = NetworkSpec(
            params=params, dead=dead, syn_pre=net.synapses.pre.astype(np.int64),
            syn_post=net.lif_index()[net.synapses.post].astype(np.int64), syn_weight=w,
            syn_receptor=net.synapses.receptor.astype(np.int64), lif_index=net.lif_index(), layout=layout,
            trials=batch, dt_ms=self.dt, record_lif=record_lif, exact_events=self.exact_events,
            membrane_noise_mV=noise["membrane_noise_mV"])
        with canonical_executable():  # stable compiled-module names (see .codegen)
            built = Brian2Network(spec)
        self._net_cache = (key, built, ir)
        return built, True

    def batch_size(self, ir: IR, layout, trials: int) -> int:
        """Trial copies per network: as many as fit ``max_synapses_per_batch`` (at least one)."""
        net = ir.network
        is_input = net.lif_index()[net.synapses.pre] < 0
        per_source = np.bincount(net.synapses.pre, minlength=net.n_nodes)
        per_trial = int(np.sum(~is_input)) + int(per_source[layout.node].sum())
        return int(max(1, min(trials, self.max_synapses_per_batch // max(per_trial, 1))))

    def run(self, ir: IR, inputs: Mapping[str, SpikeTrains] | None = None, duration: float = 100.0,
            trials: int = 1, seed: int = 0, record_v: Sequence[int] | None = None) -> Result:
        """Run ``trials`` trials of ``duration`` biological ms; ``seed`` seeds the injected noise of
        ``chip-replay`` (other modes are deterministic)."""
        self.check_run_args(ir, duration, trials, seed)
        start = time.perf_counter()
        noise = self.noise(ir)
        target = configure_brian2(self.codegen_target)
        net = ir.network
        resolved = self.resolve_inputs(ir, inputs, trials)
        rec_nodes = self.recorded_v_nodes(ir, record_v)
        record_lif = net.lif_index()[rec_nodes].astype(np.int64)
        t_res = noise["timestamp_resolution_ms"]
        ev = gather_events(ir, resolved, duration, t_res)
        rank = step_rank(ev, self.dt)
        layout = layout_channels(ir, ev, rank)
        batch = self.batch_size(ir, layout, trials)
        built, fresh = self._network(ir, layout, batch, record_lif)
        batch = built.spec.trials
        build_s = time.perf_counter() - start
        n = net.n_lif
        spike_t, spike_n, spike_k = [], [], []
        v_mV, times_ms = None, np.zeros(0)
        n_batches = -(-trials // batch)
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
            noise_seed = int(np.random.SeedSequence([int(seed), b, 1]).generate_state(1)[0] & 0x7FFFFFFF)
            out = built.run(table, starts, duration, thr_offset_mV=thr_offset, noise_seed=noise_seed)
            copy = out.neuron // n
            keep = (ids[copy] >= 0) & (out.time_ms <= duration)
            t_out = out.time_ms[keep]
            if t_res > 0:  # readout on the timestamp clock
                t_out = np.floor(t_out / t_res) * t_res
            spike_t.append(t_out)
            spike_n.append(out.neuron[keep] % n)
            spike_k.append(ids[copy[keep]])
            if len(rec_nodes):
                if v_mV is None:
                    v_mV = np.zeros((trials, len(rec_nodes), out.v_mV.shape[2]))
                    times_ms = out.times_ms
                real = ids >= 0
                v_mV[ids[real]] = out.v_mV[real]
        wall = time.perf_counter() - start
        info = {
            "mode": self.mode, "dt_ms": self.dt, "chip_seed": self.chip_seed,
            "calibrated": self.mode == "chip-replay" and (self.calibration is not None or ir.calibration is not None),
            "codegen_target": target, "exact_events": self.exact_events, "trials_per_batch": batch,
            "batches": n_batches, "network_built": fresh, "build_s": build_s,
            "input_channels_per_trial": layout.n, "duplicate_spikes_split": int(np.count_nonzero(rank)),
            "injected": noise,
        }
        if self.mode == "chip-replay":
            info["imperfections_on"] = self.replay_imperfections().switches(ir.hardware())
        return self._result(ir, np.concatenate(spike_t), np.concatenate(spike_n), np.concatenate(spike_k), v_mV,
                            times_ms, rec_nodes, duration, trials, seed, wall, info)

    def _result(self, ir, t_ms, lif, trial, v_mV, times_ms, rec_nodes, duration, trials, seed, wall, info) -> Result:
        hw = ir.hardware()
        net = ir.network
        pops = split_populations(net, t_ms, lif, trial, trials, hw.timing.speedup)
        tr = None
        if len(rec_nodes):
            tr = node_traces(net, rec_nodes, times_ms, v_mV, np.asarray(hw.chip_voltage_V(v_mV), float))
        return Result(
            backend=self.name, duration_ms=float(duration), n_trials=int(trials), seed=int(seed),
            speedup=hw.timing.speedup, hardware_name=hw.name, hardware_hash=hw.content_hash, populations=pops,
            wall_time_s=wall, traces=tr, info_json=json.dumps(info),
        )
