"""IR files: ``save_ir`` writes atomically, ``load_ir`` checks header, kind and schema."""
from __future__ import annotations

from pathlib import Path

from neuroemu.hdf5 import create, open_checked, serialize
from neuroemu.ir.model import IR


def save_ir(ir: IR, path: str | Path) -> None:
    """Write ``ir`` to ``path`` (HDF5, atomic)."""
    with create(path, "ir") as f:
        serialize.write(f.create_group("ir"), ir)


def load_ir(path: str | Path) -> IR:
    """Read an IR file; corrupt, foreign, wrong-kind and newer-schema files raise FileFormatError."""
    with open_checked(path, "ir") as f:
        return serialize.read(f["ir"], IR)
