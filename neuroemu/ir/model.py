"""The intermediate representation: a network compiled for one hardware config.

Plain typed dataclasses of numpy arrays, written to HDF5 by the one serializer
(:mod:`neuroemu.hdf5.serialize`). An IR holds

* ``network``: the logical network after validation, in biological units (what Brian2 runs);
* ``placement``: logical neurons on (merged) circuits, sources on synapse drivers and labels,
  every synapse on a (row, column);
* ``weights``: 6-bit codes, scales and the quantization error;
* ``targets``: per-neuron analog targets in chip units (what the emulator sets via DAC codes);
* ``provenance``: hardware name, content hash and full content, neuroemu version, calibration.

Indices: every neuron of every population has a global *node id* (populations in order, see
``IRPopulation.first``). LIF neurons additionally have a *LIF index* (0..n_lif-1, LIF
populations in order); per-neuron arrays (params, placement, targets) are in LIF index order.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from neuroemu.spikes import SpikeTrains

EXC, INH = 0, 1
RECEPTORS = ("exc", "inh")


@dataclass
class IRPopulation:
    name: str
    kind: str  # "lif" or "spike_source"
    first: int  # first global node id
    size: int
    lif_first: int = -1  # first LIF index (LIF populations only)

    @property
    def nodes(self) -> np.ndarray:
        return np.arange(self.first, self.first + self.size)


@dataclass
class NeuronParams:
    """Per LIF neuron, biological units: ms, mV, nF, nA (``i_offset``, the constant bias
    current; IR files written before it existed read as 0)."""

    tau_mem: np.ndarray
    tau_syn_exc: np.ndarray
    tau_syn_inh: np.ndarray
    v_rest: np.ndarray
    v_reset: np.ndarray
    v_thresh: np.ndarray
    tau_refrac: np.ndarray
    cm: np.ndarray
    i_offset: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.i_offset is None:
            self.i_offset = np.zeros_like(np.asarray(self.tau_mem, dtype=np.float64))

    def v_inf(self) -> np.ndarray:
        """The potential the membrane relaxes to without synaptic input (mV):
        ``v_rest + i_offset * tau_mem / cm``. A constant bias current is exactly a shift of the
        leak potential: ``cm dV/dt = -(cm/tau_mem)(V - v_rest) + i_offset = -(cm/tau_mem)(V - v_inf)``."""
        return self.v_rest + self.i_offset * self.tau_mem / self.cm


@dataclass
class Synapses:
    """One entry per synapse, projections in order. ``weight`` in nA (signed: inh <= 0)."""

    pre: np.ndarray  # int32 global node id
    post: np.ndarray  # int32 global node id (always a LIF neuron)
    weight: np.ndarray  # float64 nA
    receptor: np.ndarray  # int8: 0 exc, 1 inh
    delay: np.ndarray  # float64 ms; 0 = the hardware's fixed latency
    projection: np.ndarray  # int32 index into LogicalNetwork.projections

    def __len__(self) -> int:
        return len(self.pre)


@dataclass
class IRProjection:
    name: str
    pre: str
    post: str
    receptor: str  # as described: exc, inh or auto
    first: int  # first synapse index
    count: int


@dataclass
class LogicalNetwork:
    """The validated network with connectors expanded, biological units."""

    name: str
    populations: list[IRPopulation]
    params: NeuronParams
    lif_nodes: np.ndarray  # int32 global node id of each LIF index
    projections: list[IRProjection]
    synapses: Synapses
    record_spikes: list[str]
    record_v: np.ndarray  # int32 global node ids whose membrane is recorded
    default_inputs: dict[str, SpikeTrains] = field(default_factory=dict)

    @property
    def n_nodes(self) -> int:
        return sum(p.size for p in self.populations)

    @property
    def n_lif(self) -> int:
        return len(self.lif_nodes)

    def population(self, name: str) -> IRPopulation:
        for p in self.populations:
            if p.name == name:
                return p
        raise KeyError(name)

    def lif_index(self) -> np.ndarray:
        """Map global node id -> LIF index (-1 for spike sources)."""
        out = np.full(self.n_nodes, -1, np.int64)
        out[self.lif_nodes] = np.arange(self.n_lif)
        return out

    def population_of_node(self) -> np.ndarray:
        """Population index of every global node id."""
        return np.repeat(np.arange(len(self.populations)), [p.size for p in self.populations])

    def source_populations(self) -> list[IRPopulation]:
        return [p for p in self.populations if p.kind == "spike_source"]

    def lif_populations(self) -> list[IRPopulation]:
        return [p for p in self.populations if p.kind == "lif"]


@dataclass
class Placement:
    """Where everything sits on the chip.

    Per LIF neuron: hemisphere, first column (circuit index within the hemisphere) and the
    number of merged adjacent circuits. Per synapse: row (within the hemisphere of its post
    neuron), column and source label. Per hemisphere row: receptor (-1 unused). Routes: which
    source node reaches which synapse driver under which label.
    """

    hemisphere: np.ndarray  # int16 per LIF neuron
    column: np.ndarray  # int16 per LIF neuron
    size: np.ndarray  # int16 per LIF neuron
    syn_row: np.ndarray  # int16 per synapse
    syn_column: np.ndarray  # int16 per synapse
    syn_label: np.ndarray  # int16 per synapse
    row_receptor: np.ndarray  # int8 (hemispheres, rows)
    route_node: np.ndarray  # int32
    route_hemisphere: np.ndarray  # int16
    route_driver: np.ndarray  # int16
    route_label: np.ndarray  # int16

    def circuits_of(self, lif: int, circuits_per_hemisphere: int) -> np.ndarray:
        """Global circuit indices of LIF neuron ``lif``."""
        start = int(self.hemisphere[lif]) * circuits_per_hemisphere + int(self.column[lif])
        return np.arange(start, start + int(self.size[lif]))

    def circuit_owner(self, n_circuits: int, circuits_per_hemisphere: int) -> np.ndarray:
        """LIF index owning each global circuit (-1 unused)."""
        owner = np.full(n_circuits, -1, np.int64)
        for lif in range(len(self.size)):
            owner[self.circuits_of(lif, circuits_per_hemisphere)] = lif
        return owner


@dataclass
class WeightQuantization:
    """Weight codes (magnitude; the row gives the sign) and scales.

    Weights into one (post population, receptor) share a scale, ``group_scale`` nA per code:
    on the chip the scale is the synaptic input gain of the target circuits. Codes are integral
    when the hardware quantizes weights, fractional otherwise. Errors are per projection.
    """

    code: np.ndarray  # float64 per synapse
    group: np.ndarray  # int32 per synapse
    group_population: list[str]
    group_receptor: np.ndarray  # int8
    group_scale: np.ndarray  # float64 nA per code
    rms_error: np.ndarray  # float64 nA, per projection
    max_error: np.ndarray  # float64 nA, per projection
    relative_rms_error: np.ndarray  # float64, per projection (rms error / rms |w|)
    zeroed: np.ndarray  # int64 per projection: nonzero weights that became code 0
    saturated: np.ndarray  # int64 per projection: weights clipped to the largest code

    def deployed_weight(self, receptor: np.ndarray) -> np.ndarray:
        """The weights the chip realises without mismatch (nA, signed)."""
        sign = np.where(receptor == INH, -1.0, 1.0)
        return sign * self.code * self.group_scale[self.group]


@dataclass
class ChipTargets:
    """Per LIF neuron analog targets in chip units (V, µs, V/µs per weight code per circuit)."""

    v_leak: np.ndarray
    v_reset: np.ndarray
    v_thresh: np.ndarray
    tau_mem: np.ndarray
    tau_syn_exc: np.ndarray
    tau_syn_inh: np.ndarray
    tau_refrac: np.ndarray
    input_gain_exc: np.ndarray
    input_gain_inh: np.ndarray

    def get(self, name: str) -> np.ndarray:
        return getattr(self, name)


@dataclass
class Provenance:
    hardware_name: str
    hardware_hash: str
    hardware_json: str  # the full config: an IR is self-contained
    neuroemu_version: str
    created: str  # ISO 8601
    description_source: str = ""
    calibration_id: str | None = None


@dataclass
class IRCalibration:
    """Per-circuit DAC codes of one calibrated chip instance, embedded by ``compile --calibration``."""

    id: str
    chip_seed: int
    hardware_hash: str
    parameters: list[str]
    codes: np.ndarray  # float64 (parameters, circuits)

    def codes_for(self, chip) -> dict[str, np.ndarray]:
        """Codes per parameter for ``chip``; refuses another chip instance or config."""
        from neuroemu.errors import BackendError

        if chip.hardware.content_hash != self.hardware_hash or chip.seed != self.chip_seed:
            raise BackendError(
                f"the calibration {self.id} is for chip {self.chip_seed} of config {self.hardware_hash[:12]}; "
                f"this run uses chip {chip.seed} of config {chip.hardware.short_hash}: calibrate that chip or run on "
                f"chip {self.chip_seed}"
            )
        return {name: self.codes[i] for i, name in enumerate(self.parameters)}


@dataclass
class IR:
    network: LogicalNetwork
    placement: Placement
    weights: WeightQuantization
    targets: ChipTargets
    provenance: Provenance
    calibration: IRCalibration | None = None

    def hardware(self):
        """The hardware config this IR was compiled for (parsed once per distinct content)."""
        return _hardware_from_json(self.provenance.hardware_json, self.provenance.hardware_name)


@functools.lru_cache(maxsize=16)
def _hardware_from_json(text: str, name: str):
    from neuroemu.hardware import hardware_from_json

    return hardware_from_json(text, source=f"IR for {name}")
