"""Hardware configuration: the typed, validated description of a (BrainScaleS-2-like) chip.

A config is read from YAML (``hardware_configs/*.yaml`` or a user's file) by
:func:`neuroemu.hardware.load_hardware`. Units are chip units throughout: time in µs,
potentials in V, synaptic input gain in V/µs per weight code (a current over the membrane
capacitance), unless a key says otherwise.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from neuroemu.models import dac as dac_map
from neuroemu.models.lif import CIRCUIT_NAMES

#: The per-circuit analog parameters set by CapMem DAC codes, in calibration order of calix
#: (the schema's :data:`neuroemu.models.lif.CIRCUIT_PARAMETERS`).
PARAMETERS: tuple[str, ...] = CIRCUIT_NAMES


def _scaled(x: np.ndarray | float, factor: float) -> np.ndarray | float:
    """x * factor, keeping Python floats as floats."""
    return np.asarray(x, dtype=float) * factor if np.ndim(x) else float(x) * factor


def _require(cond: bool, msg: str) -> None:
    if not cond:
        raise ValueError(msg)


@dataclass(frozen=True)
class NeuronResources:
    """Neuron circuits. Adjacent circuits of one hemisphere can be merged into one logical neuron."""

    circuits: int
    hemispheres: int
    max_merge: int

    def __post_init__(self) -> None:
        _require(self.circuits > 0, "circuits must be positive")
        _require(self.hemispheres > 0 and self.circuits % self.hemispheres == 0,
                 "circuits must split evenly into hemispheres")
        _require(1 <= self.max_merge <= self.circuits_per_hemisphere,
                 "max_merge must be between 1 and the circuits of one hemisphere")

    @property
    def circuits_per_hemisphere(self) -> int:
        return self.circuits // self.hemispheres


@dataclass(frozen=True)
class SynapseResources:
    """Synapse array of one hemisphere: rows x (circuits per hemisphere) columns.

    Rows are driven in pairs (or ``rows_per_driver``) by synapse drivers; each row is either
    excitatory or inhibitory; each synapse responds to one of ``labels_per_driver`` source labels.
    ``weight_bits`` None means continuous weights (no quantization).
    """

    rows_per_hemisphere: int
    rows_per_driver: int
    labels_per_driver: int
    weight_bits: int | None
    delays: bool

    def __post_init__(self) -> None:
        _require(self.rows_per_hemisphere > 0, "rows_per_hemisphere must be positive")
        _require(self.rows_per_driver > 0 and self.rows_per_hemisphere % self.rows_per_driver == 0,
                 "rows_per_hemisphere must be a multiple of rows_per_driver")
        _require(self.labels_per_driver > 0, "labels_per_driver must be positive")
        _require(self.weight_bits is None or 1 <= self.weight_bits <= 16, "weight_bits must be 1..16 or null")

    @property
    def drivers_per_hemisphere(self) -> int:
        return self.rows_per_hemisphere // self.rows_per_driver

    @property
    def max_weight_code(self) -> float:
        """Largest weight code (63 for 6 bits); infinite when weights are continuous."""
        return math.inf if self.weight_bits is None else float(2**self.weight_bits - 1)


@dataclass(frozen=True)
class Timing:
    """Time base. ``speedup`` = biological time / chip time (1000: 10 ms biological = 10 µs chip)."""

    speedup: float
    timestamp_resolution_us: float | None
    max_run_us: float
    driver_event_interval_us: float
    dt_us: float

    def __post_init__(self) -> None:
        _require(self.speedup > 0, "speedup must be positive")
        _require(self.timestamp_resolution_us is None or self.timestamp_resolution_us > 0,
                 "timestamp_resolution_us must be positive or null")
        _require(self.max_run_us > 0, "max_run_us must be positive")
        _require(self.driver_event_interval_us >= 0, "driver_event_interval_us must be >= 0")
        _require(self.dt_us > 0, "dt_us must be positive")


@dataclass(frozen=True)
class Adc:
    """An ADC of the membrane: code = (V - V_at_code_0) / V_per_lsb, rounded and clipped to
    0 .. 2**bits - 1; ``bits`` None is an ideal converter (exact, unclipped reads).

    Its sampling (what a ``madc`` / ``cadc`` readout of a run does, :mod:`neuroemu.backends.readout`):
    ``sample_interval_us``: chip µs between two conversions (None: not stated; a readout through
    this converter is then refused); ``channels``: neurons it records at once (None: all);
    ``interleaved``: the recorded neurons share the converter, which samples them in turn (each
    neuron every ``channels used x sample_interval_us``), else all are converted at the same instants.

    CADC: 8-bit, all neurons in parallel. MADC: 10-bit, one or two neurons (interleaved), fast
    sampling. Configs written before the sampling keys existed load with the defaults."""

    bits: int | None
    V_at_code_0: float
    V_per_lsb: float
    sample_interval_us: float | None = None
    channels: int | None = None
    interleaved: bool = False

    def __post_init__(self) -> None:
        _require(self.bits is None or 1 <= self.bits <= 16, "bits must be 1..16 or null")
        _require(self.V_per_lsb > 0, "V_per_lsb must be positive")
        _require(self.sample_interval_us is None or (math.isfinite(self.sample_interval_us)
                                                     and self.sample_interval_us > 0),
                 "sample_interval_us must be a positive number of µs or null")
        _require(self.channels is None or self.channels >= 1, "channels must be >= 1 or null (all neurons)")

    @property
    def top_V(self) -> float:
        """The potential of the highest code (inf for an ideal converter)."""
        return math.inf if self.bits is None else self.V_at_code_0 + (2**self.bits - 1) * self.V_per_lsb


@dataclass(frozen=True)
class VoltageMap:
    """Biological mV <-> chip V: chip = chip_reference_V + (bio - bio_reference_mV) * chip_V_per_bio_mV."""

    bio_reference_mV: float
    chip_reference_V: float
    chip_V_per_bio_mV: float
    cadc: Adc
    madc: Adc

    def __post_init__(self) -> None:
        _require(self.chip_V_per_bio_mV > 0, "chip_V_per_bio_mV must be positive")


@dataclass(frozen=True)
class Dac:
    """CapMem DAC: codes 0..max_code (1023 switches refresh off and is not used).

    ``bits`` None means continuous codes: parameters are set exactly (the ideal config).
    """

    bits: int | None
    max_code: int

    def __post_init__(self) -> None:
        _require(self.max_code > 0, "max_code must be positive")
        _require(self.bits is None or 2**self.bits > self.max_code, "max_code must fit in bits")


@dataclass(frozen=True)
class ParameterSpec:
    """One analog parameter of a neuron circuit.

    ``range``: the target range calibration supports (chip units).
    ``map``: nominal code -> value map (:mod:`neuroemu.models.dac`): ``linear`` (value =
    at_code_0 + slope*code) or ``log`` (ln value linear in code: constant relative step,
    standing in for CapMem bias currents with range switches on time constants).
    Mismatch per circuit: ``mismatch_offset`` = std of the offset (unit of the parameter for
    linear maps; of ln(value) for log maps), ``mismatch_gain`` = relative std of the slope.
    """

    unit: str
    range: tuple[float, float]
    map: Literal["linear", "log"]
    at_code_0: float
    at_code_max: float
    mismatch_offset: float
    mismatch_gain: float

    def __post_init__(self) -> None:
        lo, hi = self.range
        _require(lo < hi, f"range must be [low, high] with low < high, got {list(self.range)}")
        _require(self.at_code_0 != self.at_code_max, "at_code_0 and at_code_max must differ")
        if self.map == "log":
            _require(self.at_code_0 > 0 and self.at_code_max > 0, "log maps need positive at_code_0/at_code_max")
        _require(self.mismatch_offset >= 0 and self.mismatch_gain >= 0, "mismatch spreads must be >= 0")
        dac_map.check_range(self, self.range)


@dataclass(frozen=True)
class SynapseMismatch:
    """Relative std of the multiplicative weight mismatch per synapse-driver row and per synapse."""

    row_gain: float
    synapse: float

    def __post_init__(self) -> None:
        _require(self.row_gain >= 0 and self.synapse >= 0, "spreads must be >= 0")


@dataclass(frozen=True)
class Noise:
    """Temporal noise and defects (emulator defaults; each scalable and switchable per run).

    membrane_V: stationary std of the membrane noise (chip V; white noise filtered by the leak).
    threshold_jitter_V: std of a per-trial, per-circuit threshold offset (chip V).
    spike_time_jitter_us: std of Gaussian jitter on recorded spike times (chip µs).
    dead_fraction: fraction of circuits that never spike, drawn per chip instance.
    """

    membrane_V: float
    threshold_jitter_V: float
    spike_time_jitter_us: float
    dead_fraction: float

    def __post_init__(self) -> None:
        _require(min(self.membrane_V, self.threshold_jitter_V, self.spike_time_jitter_us) >= 0,
                 "noise magnitudes must be >= 0")
        _require(0 <= self.dead_fraction < 1, "dead_fraction must be in [0, 1)")


@dataclass(frozen=True)
class Rails:
    """The analog supply range the membrane cannot leave (chip V): V is clipped to [low_V, high_V]."""

    low_V: float
    high_V: float

    def __post_init__(self) -> None:
        _require(self.low_V < self.high_V, "rails: low_V must be below high_V")


@dataclass(frozen=True)
class SynapticSaturation:
    """Saturating synaptic inputs: each receptor's current (over C_m, chip V/µs) is bounded by
    ``max_current_V_per_us``; an event of weight w moves I towards the bound,
    I <- I + w (1 - |I| / I_max) for an event of I's sign (see docs/realism.md)."""

    max_current_V_per_us: float

    def __post_init__(self) -> None:
        _require(self.max_current_V_per_us > 0, "synaptic_saturation: max_current_V_per_us must be positive")


@dataclass(frozen=True)
class Latency:
    """Fixed transport latencies (chip µs): from a spike source's event to the membrane, and from a
    neuron's spike to its on-chip targets' membranes."""

    input_us: float = 0.0
    recurrent_us: float = 0.0

    def __post_init__(self) -> None:
        _require(self.input_us >= 0 and self.recurrent_us >= 0, "latency: input_us and recurrent_us must be >= 0")


@dataclass(frozen=True)
class EventBuses:
    """Shared event paths: per hemisphere ``per_hemisphere`` buses, each passing one event per
    ``event_interval_us``; events that collide wait (serialized) in a queue of ``queue_depth``
    events per bus (null: unbounded), beyond which they are dropped."""

    per_hemisphere: int
    event_interval_us: float
    queue_depth: int | None = None

    def __post_init__(self) -> None:
        _require(self.per_hemisphere >= 1, "event_buses: per_hemisphere must be >= 1")
        _require(self.event_interval_us > 0, "event_buses: event_interval_us must be positive")
        _require(self.queue_depth is None or self.queue_depth >= 1, "event_buses: queue_depth must be >= 1 or null")


@dataclass(frozen=True)
class Refractory:
    """Refractory time as the chip makes it: a digital counter of ``counter_bits`` bits on a clock
    of ``clock_base_MHz`` / 2^(scale + 1) (scale selectable), so refractory times are counter
    values x clock period; the reset pulls the membrane to v_reset through a finite conductance,
    time constant ``reset_tau_us`` (0: instant)."""

    clock_base_MHz: float
    counter_bits: int
    reset_tau_us: float = 0.0

    def __post_init__(self) -> None:
        _require(self.clock_base_MHz > 0, "refractory: clock_base_MHz must be positive")
        _require(1 <= self.counter_bits <= 16, "refractory: counter_bits must be 1..16")
        _require(self.reset_tau_us >= 0, "refractory: reset_tau_us must be >= 0")


@dataclass(frozen=True)
class Realism:
    """The chip at its limits (docs/realism.md); each part null/zero is off (the ``ideal`` config,
    and configs written before these existed)."""

    rails: Rails | None = None
    synaptic_saturation: SynapticSaturation | None = None
    latency: Latency = field(default_factory=Latency)
    event_buses: EventBuses | None = None
    refractory: Refractory | None = None

    @property
    def is_off(self) -> bool:
        """True when the chip has none of these limits."""
        return (self.rails is None and self.synaptic_saturation is None and self.latency == Latency()
                and self.event_buses is None and self.refractory is None)


@dataclass(frozen=True)
class HardwareConfig:
    """A chip: resources, time base, voltage map, DAC maps with mismatch, noise, limits (realism).

    ``source`` (file it came from) and ``content_hash`` (sha256 of the canonical content,
    independent of comments and formatting) are set by the loader.
    """

    name: str
    description: str
    neurons: NeuronResources
    synapses: SynapseResources
    timing: Timing
    voltage: VoltageMap
    dac: Dac
    parameters: dict[str, ParameterSpec]
    synapse_mismatch: SynapseMismatch
    noise: Noise
    realism: Realism = field(default_factory=Realism)
    source: str = field(default="", init=False, compare=False)
    content_hash: str = field(default="", init=False, compare=False)

    def __post_init__(self) -> None:
        missing = [p for p in PARAMETERS if p not in self.parameters]
        unknown = [p for p in self.parameters if p not in PARAMETERS]
        _require(not missing, f"parameters: missing {', '.join(missing)}")
        _require(not unknown, f"parameters: unknown {', '.join(unknown)} (known: {', '.join(PARAMETERS)})")
        object.__setattr__(self, "content_hash", hashlib.sha256(self.canonical_json().encode()).hexdigest())

    # --- identity -------------------------------------------------------------------------
    def canonical_json(self) -> str:
        """The content as sorted JSON: what the hash covers and what an IR stores."""
        from neuroemu.yaml_schema import to_plain

        return json.dumps(to_plain(self), sort_keys=True)

    @property
    def short_hash(self) -> str:
        return self.content_hash[:12]

    @property
    def is_ideal(self) -> bool:
        """True when nothing is mismatched, noisy or quantized (membrane ADCs included)."""
        no_mismatch = all(p.mismatch_offset == 0 and p.mismatch_gain == 0 for p in self.parameters.values())
        n = self.noise
        return (
            no_mismatch
            and self.synapse_mismatch.row_gain == 0
            and self.synapse_mismatch.synapse == 0
            and n.membrane_V == 0
            and n.threshold_jitter_V == 0
            and n.spike_time_jitter_us == 0
            and n.dead_fraction == 0
            and self.synapses.weight_bits is None
            and self.dac.bits is None
            and self.timing.timestamp_resolution_us is None
            and self.voltage.madc.bits is None
            and self.voltage.cadc.bits is None
            and self.realism.is_off
        )

    # --- unit translation (biological <-> chip) -------------------------------------------
    def chip_time_us(self, t_ms: np.ndarray | float) -> np.ndarray | float:
        """Biological ms -> chip µs (divide by the speed-up, ms -> µs)."""
        return _scaled(t_ms, 1000.0 / self.timing.speedup)

    def bio_time_ms(self, t_us: np.ndarray | float) -> np.ndarray | float:
        """Chip µs -> biological ms."""
        return _scaled(t_us, self.timing.speedup / 1000.0)

    def chip_voltage_V(self, v_mV: np.ndarray | float) -> np.ndarray | float:
        """Biological potential (mV) -> chip potential (V)."""
        vm = self.voltage
        return vm.chip_reference_V + (np.asarray(v_mV, dtype=float) - vm.bio_reference_mV) * vm.chip_V_per_bio_mV

    def bio_voltage_mV(self, v_V: np.ndarray | float) -> np.ndarray | float:
        """Chip potential (V) -> biological potential (mV)."""
        vm = self.voltage
        return vm.bio_reference_mV + (np.asarray(v_V, dtype=float) - vm.chip_reference_V) / vm.chip_V_per_bio_mV

    def chip_current_V_per_us(self, w_nA: np.ndarray | float, cm_nF: np.ndarray | float) -> np.ndarray:
        """Synaptic current jump (nA, biological) over C_m (nF) -> chip V/µs.

        w/C_m in nA/nF = mV/ms (biological); voltages scale by chip_V_per_bio_mV, rates by
        speedup/1000 (a biological ms is 1000/speedup chip µs).
        """
        return (np.asarray(w_nA, float) / np.asarray(cm_nF, float)) * self.voltage.chip_V_per_bio_mV * (
            self.timing.speedup / 1000.0
        )

    def bio_current_nA(self, j_V_per_us: np.ndarray | float, cm_nF: np.ndarray | float) -> np.ndarray:
        """Inverse of :meth:`chip_current_V_per_us`."""
        return (np.asarray(j_V_per_us, float) / (self.voltage.chip_V_per_bio_mV * (self.timing.speedup / 1000.0))
                * np.asarray(cm_nF, float))

    def cadc_code(self, v_V: np.ndarray | float) -> np.ndarray:
        """Chip potential (V) -> CADC reading (float, before rounding/clipping)."""
        c = self.voltage.cadc
        return (np.asarray(v_V, float) - c.V_at_code_0) / c.V_per_lsb

    def adc_read(self, v_V: np.ndarray | float, adc: Adc) -> np.ndarray:
        """What ``adc`` (``voltage.cadc`` or ``voltage.madc``) reads for chip potential ``v_V``:
        integer codes (an ideal ADC, ``bits`` None: the exact fractional code)."""
        code = (np.asarray(v_V, float) - adc.V_at_code_0) / adc.V_per_lsb
        if adc.bits is None:
            return code
        return np.clip(np.floor(code + 0.5), 0, 2**adc.bits - 1)

    def adc_volts(self, v_V: np.ndarray | float, adc: Adc) -> np.ndarray:
        """The potential (V) that ``adc``'s reading of ``v_V`` stands for: read, then scaled back."""
        return adc.V_at_code_0 + self.adc_read(v_V, adc) * adc.V_per_lsb

    def cadc_voltage_V(self, code: np.ndarray | float) -> np.ndarray:
        """CADC code -> chip potential (V)."""
        c = self.voltage.cadc
        return c.V_at_code_0 + np.asarray(code, float) * c.V_per_lsb

    def with_overrides(self, **changes) -> "HardwareConfig":
        """A copy with top-level sections replaced (content hash recomputed)."""
        new = dataclasses.replace(self, **changes)
        object.__setattr__(new, "source", self.source)
        return new
