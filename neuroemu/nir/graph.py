"""Reading NIR files and flattening nested graphs into one level of named nodes.

A nested :class:`nir.NIRGraph` node ``sub`` becomes its nodes named ``sub.<name>``; an edge to
``sub`` goes to its Input node(s), an edge from ``sub`` leaves from its Output node(s) (or
``sub.<name>`` names one of them). Input/Output nodes of nested graphs pass their values
through; the top level's Input nodes are the network's inputs, its Output nodes its outputs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neuroemu.errors import NetworkError


class NirError(NetworkError):
    """An NIR graph neuroemu cannot import or export (names the node, its type and why)."""


@dataclass
class FlatGraph:
    """One level of nodes (name -> NIR node), edges, and which nodes pass values through."""

    nodes: dict = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)
    passthrough: set[str] = field(default_factory=set)  # Input/Output nodes of nested graphs
    metadata: dict = field(default_factory=dict)

    def predecessors(self, name: str) -> list[str]:
        return [a for a, b in self.edges if b == name]


def _file_nodes(path: str | Path) -> list[tuple[str, str, object]]:
    """(flattened name, type, HDF5 group) of every node written in a NIR file (empty if unreadable)."""
    import h5py

    out: list[tuple[str, str, object]] = []

    def visit(group, prefix: str) -> None:
        for name, node in group.get("nodes", {}).items():
            raw = node["type"][()] if "type" in node else b""
            kind = raw.decode() if isinstance(raw, bytes) else str(raw)
            out.append((prefix + name, kind, node))
            if kind == "NIRGraph":
                visit(node, f"{prefix}{name}.")

    try:
        with h5py.File(path, "r") as f:
            if "node" in f:
                visit(f["node"], "")
                out = [(n, k, set(g.keys())) for n, k, g in out]  # keys only: the file closes
    except (OSError, KeyError, TypeError):
        return []
    return out


def is_nir_file(path: str | Path) -> bool:
    """A NIR graph file: ``.nir``, or HDF5 with NIR's ``node`` group and no neuroemu header."""
    path = Path(path)
    if path.suffix == ".nir":
        return True
    try:
        import h5py

        with h5py.File(path, "r") as f:
            return "node" in f and "neuroemu_kind" not in f.attrs
    except OSError:
        return False


def read_graph(path: str | Path):
    """``nir.read(path)`` with a clear error for missing, corrupt or foreign files and for node
    types nir does not know (named)."""
    import nir

    path = Path(path)
    if not path.is_file():
        raise NirError(f"NIR file {path} does not exist")
    known = {name for name in dir(nir) if isinstance(getattr(nir, name), type)}
    for name, kind, _ in _file_nodes(path):
        if kind not in known:
            raise NirError(f"NIR node '{name}' in {path} has type {kind or '(none)'}, which is not a NIR primitive "
                           "(neuroemu imports Input, Output, CubaLIF, LIF, IF, CubaLI, LI, I, Affine, Linear, Scale, "
                           "Flatten, Conv1d, Conv2d, SumPool2d, AvgPool2d, Delay, nested NIRGraph)")
    errors = (OSError, KeyError, ValueError, TypeError, AttributeError, AssertionError)
    try:
        return nir.read(str(path))
    except ValueError:  # nir's type inference refused it: read as written, the importer names the node
        try:
            return nir.read(str(path), type_check=False)
        except errors as exc:
            raise NirError(f"{path} is not a readable NIR graph ({type(exc).__name__}: {exc})") from None
    except errors as exc:
        raise NirError(f"{path} is not a readable NIR graph ({type(exc).__name__}: {exc})") from None


def missing_resets(path: str | Path) -> list[str]:
    """Spiking nodes whose ``v_reset`` is absent from the file (nir reads it as 0)."""
    return [name for name, kind, keys in _file_nodes(path)
            if kind in ("CubaLIF", "LIF", "IF") and "v_reset" not in keys]


def flatten(graph, prefix: str = "", top: bool = True) -> FlatGraph:
    """The nodes of ``graph`` and its nested graphs on one level (see the module docstring)."""
    import nir

    flat = FlatGraph(metadata=dict(getattr(graph, "metadata", {}) or {}) if top else {})
    ins: dict[str, list[str]] = {}
    outs: dict[str, list[str]] = {}
    for name, node in graph.nodes.items():
        full = prefix + name
        if isinstance(node, nir.NIRGraph):
            sub = flatten(node, full + ".", top=False)
            flat.nodes.update(sub.nodes)
            flat.edges.extend(sub.edges)
            flat.passthrough |= sub.passthrough
            ins[name] = [full + "." + k for k, v in node.nodes.items() if isinstance(v, nir.Input)]
            outs[name] = [full + "." + k for k, v in node.nodes.items() if isinstance(v, nir.Output)]
        else:
            flat.nodes[full] = node
            if not top and isinstance(node, (nir.Input, nir.Output)):
                flat.passthrough.add(full)

    def resolve(ref: str, side: str) -> list[str]:
        if ref in graph.nodes:
            if ref in ins:  # a nested graph as a whole
                ends = ins[ref] if side == "dst" else outs[ref]
                if len(ends) != 1:
                    what = "Input" if side == "dst" else "Output"
                    raise NirError(f"NIR edge {'to' if side == 'dst' else 'from'} nested graph '{prefix + ref}': "
                                   f"it has {len(ends)} {what} nodes; name one ('{prefix + ref}.<node>')")
                return ends
            return [prefix + ref]
        head, _, rest = ref.partition(".")
        if head in ins and rest:
            return [prefix + ref]
        raise NirError(f"NIR edge references node '{prefix + ref}', which the graph does not have")

    for a, b in graph.edges:
        for src in resolve(a, "src"):
            for dst in resolve(b, "dst"):
                for end in (src, dst):
                    if end not in flat.nodes:
                        raise NirError(f"NIR edge {prefix + a} -> {prefix + b} references node '{end}', which the "
                                       "graph does not have")
                flat.edges.append((src, dst))
    return flat


def node_shape(node, which: str) -> tuple[int, ...] | None:
    """The input (``which='input'``) or output shape nir inferred for ``node``, if any."""
    types = getattr(node, f"{which}_type", None) or {}
    value = types.get(which)
    if value is None:
        return None
    arr = np.atleast_1d(np.asarray(value)).astype(int)
    return tuple(int(x) for x in arr) if arr.size else None
