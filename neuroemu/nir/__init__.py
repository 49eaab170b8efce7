"""NIR (Neuromorphic Intermediate Representation) import and export.

``from_nir(graph_or_path, time_scale=1.0, dt=None) -> Network`` reads what snnTorch, Norse,
Sinabs, Rockpool, Lava or hxtorch wrote; ``import_nir`` also returns the import report;
``to_nir(network | IR | TTFS model) -> nir.NIRGraph`` writes neuroemu networks for them.
The unit conventions are in :mod:`neuroemu.nir.units`, the linear nodes in
:mod:`neuroemu.nir.linear`.
"""
from __future__ import annotations

from neuroemu.nir.exporter import to_nir, write_nir
from neuroemu.nir.fit import compile_nir
from neuroemu.nir.graph import NirError, read_graph
from neuroemu.nir.importer import from_nir, import_nir
from neuroemu.nir.report import ImportReport
from neuroemu.nir.units import Convention

__all__ = ["Convention", "ImportReport", "NirError", "compile_nir", "from_nir", "import_nir", "read_graph", "to_nir",
           "write_nir"]
