"""The network description: what to simulate, in biological units (ms, mV, nA, nF).

Current-based LIF neurons with exponential excitatory/inhibitory synapses (PyNN's
``IF_curr_exp``; NIR's ``CubaLIF`` with ``Linear`` weights), spike sources with explicit
spike times, projections built by connectors, and what to record.

The neuron and its parameters are :mod:`neuroemu.models.lif`'s (biological units)::

    cm dV/dt = -(cm/tau_mem) (V - v_rest) + I_exc + I_inh + i_offset
    dI_x/dt = -I_x / tau_syn_x,   I_x += w at each input spike (w in nA)

spike when V reaches v_thresh, then V = v_reset for tau_refrac. The constant bias current
``i_offset`` (nA, PyNN's) is the same as a shifted resting potential: with
``v_inf = v_rest + i_offset * tau_mem / cm`` (nA ms / nF = mV) the first equation reads
``cm dV/dt = -(cm/tau_mem)(V - v_inf) + I_exc + I_inh``, identical for every trajectory.
The compiler realises it that way (the chip's leak potential is set to ``v_inf``; see
:meth:`neuroemu.ir.model.NeuronParams.v_inf`). Nothing here knows about
chips: the compiler turns a description into an IR for a given hardware config.

Weights are synaptic current jumps in nA. Following PyNN for current-based synapses,
excitatory weights are >= 0 and inhibitory weights <= 0; ``receptor="auto"`` chooses the
receptor from the sign of each weight (signed weight matrices, e.g. trained TTFS layers).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Union

import numpy as np

from neuroemu.errors import NetworkError
from neuroemu.models import lif
from neuroemu.spikes import SpikeTrains

#: Parameters of a LIF population and their defaults (biological units), from the schema
#: :data:`neuroemu.models.lif.NEURON_PARAMETERS` (PyNN IF_curr_exp, tau_syn 5 ms for both receptors).
LIF_DEFAULTS: dict[str, float] = lif.DEFAULTS
#: their biological units (ms, mV, nF, nA)
LIF_UNITS: dict[str, str] = lif.UNITS

Receptor = Literal["exc", "inh", "auto"]
ParamValue = Union[float, np.ndarray]


@dataclass
class LIFPopulation:
    """``size`` current-based LIF neurons. Each parameter is a scalar or one value per neuron."""

    name: str
    size: int
    params: dict[str, ParamValue] = field(default_factory=dict)

    kind = "lif"

    def param(self, key: str) -> np.ndarray:
        """Per-neuron values of ``key`` (shape (size,)), defaults filled in."""
        value = np.asarray(self.params.get(key, LIF_DEFAULTS[key]), dtype=np.float64)
        return np.full(self.size, float(value)) if value.ndim == 0 else value.copy()


@dataclass
class SpikeSourcePopulation:
    """``size`` spike sources. ``spike_times``: default input (per trial); a run's inputs override."""

    name: str
    size: int
    spike_times: SpikeTrains | None = None

    kind = "spike_source"


Population = Union[LIFPopulation, SpikeSourcePopulation]


# --- connectors -----------------------------------------------------------------------------
@dataclass(frozen=True)
class AllToAll:
    """Every pre neuron to every post neuron (``allow_self`` only matters for pre == post)."""

    allow_self: bool = True


@dataclass(frozen=True)
class OneToOne:
    """pre i -> post i (equal sizes)."""


@dataclass(frozen=True)
class FixedProbability:
    """Each pair connected independently with probability ``p``, drawn from ``seed``."""

    p: float
    seed: int
    allow_self: bool = True


@dataclass
class FromList:
    """Explicit (pre, post) index pairs, shape (n, 2)."""

    pairs: np.ndarray


@dataclass
class FromMatrix:
    """Dense (n_pre, n_post) weight matrix in nA; every nonzero entry is a synapse.

    The matrix holds the weights: the projection's ``weight`` must be left unset.
    """

    weights: np.ndarray


Connector = Union[AllToAll, OneToOne, FixedProbability, FromList, FromMatrix]


@dataclass(frozen=True)
class RandomWeights:
    """Weights drawn per synapse: ``normal`` (a = mean, b = std) or ``uniform`` (a = low, b = high), nA."""

    distribution: Literal["normal", "uniform"]
    a: float
    b: float
    seed: int


WeightSpec = Union[float, np.ndarray, RandomWeights, None]


@dataclass
class Projection:
    """Synapses from population ``pre`` onto LIF population ``post``.

    weight: nA; a scalar, one value per synapse (connector order), a (n_pre, n_post) matrix
    indexed by the connected pairs, or :class:`RandomWeights`.
    receptor: ``exc`` (weights >= 0), ``inh`` (weights <= 0) or ``auto`` (by sign).
    delay: ms, a scalar or one value per synapse (connector order); None = the hardware's
    fixed transmission latency (no programmable delay).
    """

    pre: str
    post: str
    connector: Connector = field(default_factory=AllToAll)
    weight: WeightSpec = None
    receptor: Receptor = "auto"
    delay: float | np.ndarray | None = None
    name: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            self.name = f"{self.pre}->{self.post}"


@dataclass
class Record:
    """What to record: spikes of named populations; membrane potential of chosen neurons.

    ``spikes`` None records every LIF population.
    """

    spikes: list[str] | None = None
    v: dict[str, list[int]] = field(default_factory=dict)


@dataclass
class Network:
    """A spiking network in biological units. Build with :meth:`add_lif`, :meth:`add_spike_source`,
    :meth:`connect`, or load from YAML with :func:`neuroemu.network.load_network`."""

    name: str = "network"
    populations: list[Population] = field(default_factory=list)
    projections: list[Projection] = field(default_factory=list)
    record: Record = field(default_factory=Record)

    # --- builder API ----------------------------------------------------------------------
    def add_lif(self, name: str, size: int, **params: ParamValue) -> LIFPopulation:
        """Add ``size`` LIF neurons; ``params`` are any of :data:`LIF_DEFAULTS` (ms, mV, nF, nA)."""
        unknown = sorted(set(params) - set(LIF_DEFAULTS))
        if unknown:
            raise NetworkError(
                f"population '{name}': unknown parameter '{unknown[0]}' (known: {', '.join(LIF_DEFAULTS)})"
            )
        pop = LIFPopulation(name, size,
                            {k: (np.asarray(v, float) if np.ndim(v) else float(v)) for k, v in params.items()})
        self._add(pop)
        return pop

    def add_spike_source(self, name: str, size: int, spike_times=None) -> SpikeSourcePopulation:
        """Add ``size`` spike sources; ``spike_times``: a :class:`SpikeTrains`, or per-neuron
        lists of times (ms) for one trial."""
        if spike_times is not None and not isinstance(spike_times, SpikeTrains):
            spike_times = SpikeTrains.from_lists(spike_times, n_neurons=size)
        pop = SpikeSourcePopulation(name, size, spike_times)
        self._add(pop)
        return pop

    def connect(
        self,
        pre: str,
        post: str,
        connector: Connector | str = "all_to_all",
        weight: WeightSpec = None,
        receptor: Receptor = "auto",
        delay: float | np.ndarray | None = None,
        name: str = "",
    ) -> Projection:
        """Add a projection. ``connector`` is a connector object or ``"all_to_all"``/``"one_to_one"``."""
        if isinstance(connector, str):
            table = {"all_to_all": AllToAll(), "one_to_one": OneToOne()}
            if connector not in table:
                raise NetworkError(f"projection {pre}->{post}: unknown connector '{connector}' ({', '.join(table)})")
            connector = table[connector]
        proj = Projection(pre, post, connector, weight, receptor, delay, name)
        self.projections.append(proj)
        return proj

    def _add(self, pop: Population) -> None:
        if any(p.name == pop.name for p in self.populations):
            raise NetworkError(f"population '{pop.name}' is defined twice")
        self.populations.append(pop)

    # --- lookup ---------------------------------------------------------------------------
    def population(self, name: str) -> Population:
        for p in self.populations:
            if p.name == name:
                return p
        raise NetworkError(f"unknown population '{name}' (known: {', '.join(p.name for p in self.populations)})")
