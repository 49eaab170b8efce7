"""Measurement setups on the emulated chip, run as an experimenter runs the real one.

A setup is a *calibration network* compiled with the normal compiler onto every circuit of
the chip (one LIF neuron per circuit, every membrane recorded) plus spike-source rows that
stimulate all circuits at once, the per-circuit DAC codes of every parameter, the stimulus
(per trial) and the sampling step. :class:`ChipRunner` runs it on
:class:`~neuroemu.backends.emulator.EmulatorBackend` with per-circuit codes and hands back a
:class:`Recording`, which only offers what the chip's readout offers: spike times on the
FPGA clock, CADC reads (8 bit, all circuits in parallel) and MADC traces (10 bit).

The calibration never looks at the chip's hidden fixed pattern; the only way in is
``EmulatorBackend.run`` with codes handed over through :meth:`_Codes.codes_for`.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

import numpy as np

from neuroemu.backends.emulator import Chip, EmulatorBackend, Imperfections
from neuroemu.calibration.targets import CalibrationTarget
from neuroemu.compiler import compile_network
from neuroemu.compiler.quantize import levels
from neuroemu.compiler.translate import description_of_targets
from neuroemu.hardware.config import PARAMETERS, HardwareConfig
from neuroemu.ir.model import IR
from neuroemu.models import dac
from neuroemu.models.lif import NEURON_PARAMETERS
from neuroemu.network import Network
from neuroemu.network.model import FromList
from neuroemu.spikes import SpikeTrains

#: population names of the calibration network
CIRCUITS, EXC, INH = "circuits", "exc", "inh"
#: FPGA clock (µs): stimulus times and sampling steps are put on this grid when the chip has one
CLOCK_US = 0.008


def on_clock(t_us: float, clock_us: float = CLOCK_US) -> float:
    """``t_us`` rounded down to a whole number of clock ticks (at least one tick)."""
    return max(clock_us, np.floor(t_us / clock_us + 1e-9) * clock_us)


class _Codes:
    """Per-circuit DAC codes in the shape the emulator asks for (its ``calibration=`` object)."""

    def __init__(self, codes: dict[str, np.ndarray]):
        self._codes = codes

    def codes_for(self, chip) -> dict[str, np.ndarray]:  # noqa: ARG002  (one chip per runner)
        return self._codes


@dataclass
class Stimulus:
    """Spike-source rows of a calibration network: ``n_exc`` excitatory and ``n_inh`` inhibitory
    sources, each connected to every circuit with weight code ``code_exc`` / ``code_inh`` (1..63)."""

    n_exc: int = 0
    n_inh: int = 0
    code_exc: float = 63.0
    code_inh: float = 63.0

    def code(self, pop: str) -> float:
        return self.code_exc if pop == EXC else self.code_inh

    def key(self) -> tuple:
        return (self.n_exc, self.n_inh, float(self.code_exc), float(self.code_inh))


@dataclass
class Setup:
    """One measurement setup: IR + codes + stimulus + sampling.

    base_codes: per-circuit DAC code of every parameter (circuit order); a run overrides some.
    events: per trial, a list of (population, source indices, time µs) stimulus events.
    """

    name: str
    ir: IR
    lif_circuit: np.ndarray  # circuit of each LIF index
    stimulus: Stimulus
    base_codes: dict[str, np.ndarray]
    trials: int
    duration_us: float
    dt_us: float
    events: list[list[tuple[str, np.ndarray, float]]] = field(default_factory=list)

    def inputs(self, hw: HardwareConfig) -> dict[str, SpikeTrains]:
        """Spike trains (biological ms) of every source population for all trials."""
        out = {}
        for pop, size in ((EXC, self.stimulus.n_exc), (INH, self.stimulus.n_inh)):
            if size == 0:
                continue
            t, n, k = [], [], []
            for trial, evs in enumerate(self.events):
                for p, idx, time_us in evs:
                    if p != pop:
                        continue
                    t.append(np.full(len(idx), time_us))
                    n.append(np.asarray(idx, np.int32))
                    k.append(np.full(len(idx), trial, np.int32))
            cat = (lambda parts, dt: np.concatenate(parts) if parts else np.zeros(0, dt))  # noqa: E731
            out[pop] = SpikeTrains(np.asarray(hw.bio_time_ms(cat(t, float)), float), cat(n, np.int32), cat(k, np.int32),
                                   size, self.trials)
        return out


@dataclass
class Recording:
    """What one run of a setup gives the experimenter: spikes on the FPGA clock and the
    membrane of every circuit, readable only through the chip's ADCs."""

    hw: HardwareConfig
    dt_us: float
    spike_t: np.ndarray  # chip µs (floored to the timestamp clock)
    spike_circuit: np.ndarray
    spike_trial: np.ndarray
    trials: int
    _v: np.ndarray = dataclasses.field(repr=False)  # (trials, circuits, samples), chip V

    @property
    def n_samples(self) -> int:
        return self._v.shape[2]

    @property
    def times_us(self) -> np.ndarray:
        return np.arange(self.n_samples) * self.dt_us

    def madc(self) -> np.ndarray:
        """MADC traces (10 bit), volts: (trials, circuits, samples) at every step of ``dt_us``."""
        return self.hw.adc_volts(self._v, self.hw.voltage.madc)

    def cadc(self, t_from_us: float, t_to_us: float, every_us: float = 2.0) -> np.ndarray:
        """CADC reads (8 bit), volts, of all circuits every ``every_us`` in [t_from, t_to]:
        (trials, circuits, reads)."""
        idx = np.unique(np.rint(np.arange(t_from_us, t_to_us + 1e-9, every_us) / self.dt_us).astype(int))
        idx = idx[(idx >= 0) & (idx < self.n_samples)]
        return self.hw.adc_volts(self._v[:, :, idx], self.hw.voltage.cadc)

    def spike_counts(self) -> np.ndarray:
        """(trials, circuits) spike counts."""
        c = np.zeros((self.trials, self._v.shape[1]), np.int64)
        np.add.at(c, (self.spike_trial, self.spike_circuit), 1)
        return c


class ChipRunner:
    """Runs setups on one emulated chip instance with per-circuit DAC codes.

    chip: a chip seed or a :class:`Chip` (passed to the backend as is, never inspected);
    seed: first run seed (temporal noise); every run uses the next one, so a calibration is
    reproducible and its repeated measurements see independent noise.
    """

    def __init__(self, hw: HardwareConfig, chip: int | Chip, imperfections: Imperfections | None = None, seed: int = 0):
        self.hw = hw
        self.chip = chip
        self.imperfections = imperfections or Imperfections()
        self.seed = int(seed)
        self.runs = 0
        self.emulated_us = 0.0
        eff = self.imperfections.effective(hw)
        #: spike-time resolution the FPGA gives (µs); 0 when exact
        self.t_res = float(eff["timestamp_resolution_us"] or 0.0)
        #: the chip's fixed input latency (µs): an input event reaches the membranes this much later
        #: (known, as the BrainScaleS-2 team's software corrects spike times by it)
        self.input_latency_us = float(eff["latency_input_us"])
        #: trials only help against temporal noise; without it one trial is the whole truth
        self.noisy = eff["membrane_noise_V"] > 0 or eff["threshold_jitter_V"] > 0 or eff["spike_time_jitter_us"] > 0

    @property
    def chip_seed(self) -> int:
        return self.chip.seed if isinstance(self.chip, Chip) else int(self.chip)

    def trials(self, noisy_trials: int) -> int:
        return noisy_trials if self.noisy else 1

    def run(self, setup: Setup, codes: dict[str, np.ndarray] | None = None) -> Recording:
        """Run ``setup`` with its base codes overridden by ``codes`` (per circuit)."""
        full = {name: np.array(c, dtype=float) for name, c in setup.base_codes.items()}
        for name, c in (codes or {}).items():
            full[name] = np.broadcast_to(np.asarray(c, float), full[name].shape).copy()
        # a fresh backend per run: its plan cache is keyed by object ids, codes change every run
        backend = EmulatorBackend(chip=self.chip, calibration=_Codes(full), imperfections=self.imperfections,
                                  dt_us=setup.dt_us)
        ir = setup.ir
        result = backend.run(ir, setup.inputs(self.hw), duration=float(self.hw.bio_time_ms(setup.duration_us)),
                             trials=setup.trials, seed=self.seed + self.runs)
        self.runs += 1
        self.emulated_us += setup.duration_us * setup.trials
        ps = result.populations[CIRCUITS]
        v_lif = result.traces.v_chip_V
        n_circuits = self.hw.neurons.circuits
        if np.array_equal(setup.lif_circuit, np.arange(n_circuits)):
            v = v_lif  # neurons placed in circuit order (the usual case): no copy
        else:
            v = np.empty((v_lif.shape[0], n_circuits, v_lif.shape[2]))
            v[:, setup.lif_circuit, :] = v_lif
        return Recording(
            hw=self.hw, dt_us=float(result.info["dt_us"]), spike_t=np.asarray(ps.times_us, float),
            spike_circuit=setup.lif_circuit[ps.spikes.neuron], spike_trial=ps.spikes.trial.astype(np.int64),
            trials=setup.trials, _v=v,
        )


# --- building setups ------------------------------------------------------------------------
def _bio_params(hw: HardwareConfig, targets: CalibrationTarget) -> dict[str, float]:
    """LIF parameters (biological units) whose chip targets are ``targets`` (any valid values do:
    every code is set explicitly per run); cm and i_offset at their defaults."""
    bio = description_of_targets(hw, targets.as_dict())
    return {p.name: float(bio[p.name]) if p.name in bio else p.default for p in NEURON_PARAMETERS}


#: compiled calibration networks of this process, by (config hash, targets, stimulus); they do
#: not depend on the chip instance, so sweeps and repeated calibrations compile each once
_IR_CACHE: dict[tuple, tuple[IR, np.ndarray]] = {}
_IR_CACHE_SIZE = 32


def build_ir(hw: HardwareConfig, targets: CalibrationTarget, stimulus: Stimulus) -> tuple[IR, np.ndarray]:
    """The calibration network compiled for ``hw``: one neuron per circuit, all membranes
    recorded, ``stimulus`` rows onto every circuit. Returns (IR, circuit of each LIF index);
    memoized per process (treat the IR as read-only).

    Weight codes below the largest are made by one silent reference synapse per receptor onto
    circuit 0 with the largest weight: the compiler's shared scale then gives every stimulus
    synapse exactly its code."""
    key = (hw.content_hash, targets.canonical_json(), stimulus.key())
    if key not in _IR_CACHE:
        if len(_IR_CACHE) >= _IR_CACHE_SIZE:
            _IR_CACHE.pop(next(iter(_IR_CACHE)))
        _IR_CACHE[key] = _compile_setup(hw, targets, stimulus)
    return _IR_CACHE[key]


def _compile_setup(hw: HardwareConfig, targets: CalibrationTarget, stimulus: Stimulus) -> tuple[IR, np.ndarray]:
    n = hw.neurons.circuits
    lo, hi = hw.parameters["input_gain_exc"].range
    scale_nA = float(hw.bio_current_nA(np.sqrt(lo * hi), 1.0))  # nA per code, inside the gain range
    top = levels(hw)
    net = Network("calibration")
    net.add_lif(CIRCUITS, n, **_bio_params(hw, targets))
    for pop, size, sign in ((EXC, stimulus.n_exc, 1.0), (INH, stimulus.n_inh, -1.0)):
        if size == 0:
            continue
        net.add_spike_source(pop, size)
        net.connect(pop, CIRCUITS, "all_to_all", weight=sign * stimulus.code(pop) * scale_nA, receptor=pop)
        if stimulus.code(pop) < top:
            net.add_spike_source(f"{pop}_reference", 1)  # never spikes
            net.connect(f"{pop}_reference", CIRCUITS, FromList(np.array([[0, 0]])), weight=sign * top * scale_nA,
                        receptor=pop)
    net.record.spikes = [CIRCUITS]
    net.record.v = {CIRCUITS: list(range(n))}
    ir = compile_network(net, hw, source="calibration setup")
    pl = ir.placement
    if np.any(pl.size != 1):
        raise AssertionError("calibration network must put one neuron on each circuit")
    lif_circuit = (pl.hemisphere.astype(np.int64) * hw.neurons.circuits_per_hemisphere + pl.column).astype(np.int64)
    return ir, lif_circuit


def max_stimulus_rows(hw: HardwareConfig, receptors: int = 2, with_reference: bool = True) -> int:
    """Stimulus rows per receptor that fit next to each other (and the reference rows)."""
    return (hw.synapses.rows_per_hemisphere - (receptors if with_reference else 0)) // receptors


def nominal_codes(hw: HardwareConfig, values: dict[str, float]) -> dict[str, np.ndarray]:
    """Per-circuit nominal codes (the uncalibrated chip's) for one value per parameter."""
    n = hw.neurons.circuits
    return {name: np.full(n, float(dac.nominal_code(hw.parameters[name], hw.dac, values[name]))) for name in values}


def extreme_code(hw: HardwareConfig, name: str, high: bool) -> float:
    """The code that gives the highest (``high``) or lowest value of ``name`` on the nominal map."""
    spec = hw.parameters[name]
    increasing = spec.at_code_max > spec.at_code_0
    return float(hw.dac.max_code) if increasing == high else 0.0


def extreme_value(hw: HardwareConfig, name: str, high: bool) -> float:
    """Nominal value at :func:`extreme_code`."""
    return dac.reach(hw.parameters[name])[1 if high else 0]


def imperfections_json(imp: Imperfections) -> str:
    """Canonical JSON of run-level imperfection settings (part of a calibration's identity)."""
    d = dataclasses.asdict(imp)
    d["dead_circuits"] = list(d["dead_circuits"])
    return json.dumps(d, sort_keys=True)


__all__ = ["Setup", "Stimulus", "Recording", "ChipRunner", "build_ir", "nominal_codes", "extreme_code",
           "extreme_value", "max_stimulus_rows", "on_clock", "imperfections_json", "PARAMETERS"]
