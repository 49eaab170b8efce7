"""What an NIR import did: the convention used, every node and what it became, and every
approximation with its size."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from neuroemu.nir.units import Convention


@dataclass
class NodeReport:
    """One NIR node: its (flattened) name, NIR type, size and what it became."""

    name: str
    type: str
    size: int
    became: str


@dataclass
class ImportReport:
    """The import of one NIR graph (see :func:`neuroemu.nir.import_nir`)."""

    source: str
    convention: Convention
    nodes: list[NodeReport] = field(default_factory=list)
    approximations: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    populations: int = 0
    neurons: int = 0
    synapses: int = 0
    #: population -> its time constants that come from the file (they scale with time_scale;
    #: the others stand in for what NIR leaves out, at the hardware's extremes)
    time_constants_from_file: dict[str, list[str]] = field(default_factory=dict)
    #: the neuron populations that feed the graph's Output nodes
    outputs: list[str] = field(default_factory=list)
    #: projection -> the Delay node its delays come from
    delay_nodes: dict[str, str] = field(default_factory=dict)

    @property
    def convention_text(self) -> str:
        c = self.convention
        time = (f"discrete time, dt = {c.dt:g} s (r = tau_mem/dt, w_in = tau_syn/dt exports: the Euler update of "
                "CubaLIF / CubaLI nodes is realised exactly at the step times, of nodes without a synaptic filter "
                "through the chip's shortest one)" if c.discrete else
                "continuous time, as the file literally describes it (no dt given; a discrete-time export "
                "needs dt=)")
        return (f"{time}; 1 s of NIR time = {1000 * c.time_scale:g} ms biological (time_scale {c.time_scale:g}); "
                f"V = {c.v_offset:g} mV + {c.v_scale:g} mV x v; cm {c.cm:g} nF")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["convention"] = asdict(self.convention)
        out["convention_text"] = self.convention_text
        return out

    def format(self) -> str:
        lines = [f"NIR import of {self.source}: {self.populations} populations, {self.neurons} neurons, "
                 f"{self.synapses} synapses", f"  convention: {self.convention_text}", "  nodes:"]
        width = max([len(n.name) for n in self.nodes] + [4])
        for n in self.nodes:
            lines.append(f"    {n.name:<{width}}  {n.type:<9} {n.size:>6}  -> {n.became}")
        if self.approximations:
            lines.append("  approximations:")
            lines += [f"    - {a}" for a in self.approximations]
        if self.notes:
            lines.append("  notes:")
            lines += [f"    - {a}" for a in self.notes]
        return "\n".join(lines)
