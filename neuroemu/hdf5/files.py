"""neuroemu HDF5 files: a header on the root group and checked opening.

Every file neuroemu writes carries three root attributes: ``neuroemu_kind`` (what the file
holds: ir, result, chip, calibration, ...), ``neuroemu_schema`` (version of that kind's
layout) and ``neuroemu_version``. Opening checks all three and turns every failure (missing,
corrupt, truncated, foreign, wrong kind, newer schema, missing member) into a
:class:`~neuroemu.errors.FileFormatError` that says which.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

import h5py

import neuroemu
from neuroemu.errors import FileFormatError
from neuroemu.hdf5.atomic import atomic_path

#: Schema version written for each file kind; readers accept this version or older.
SCHEMAS: dict[str, int] = {
    "ir": 2,  # 2: NeuronParams.i_offset
    "result": 1,
    "spikes": 1,
    "chip": 1,
    "calibration": 1,
    "model": 1,
    "sweep": 1,
    "comparison": 1,
}


@contextlib.contextmanager
def create(path: str | Path, kind: str) -> Iterator[h5py.File]:
    """Open a new neuroemu file of ``kind`` for writing; it appears at ``path`` atomically on success."""
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["neuroemu_kind"] = kind
            f.attrs["neuroemu_schema"] = SCHEMAS[kind]
            f.attrs["neuroemu_version"] = neuroemu.__version__
            yield f


def file_kind(path: str | Path) -> tuple[str, int, str]:
    """(kind, schema, version) of a neuroemu file; FileFormatError if it is not one."""
    with _open(path) as f:
        return _header(path, f)


def _header(path, f: h5py.File) -> tuple[str, int, str]:
    if "neuroemu_kind" not in f.attrs:
        raise FileFormatError(f"{path}: not a neuroemu file (an HDF5 file without a neuroemu header)")
    return (str(f.attrs["neuroemu_kind"]), int(f.attrs.get("neuroemu_schema", -1)),
            str(f.attrs.get("neuroemu_version", "?")))


@contextlib.contextmanager
def _open(path: str | Path, mode: str = "r") -> Iterator[h5py.File]:
    path = Path(path)
    if not path.exists():
        raise FileFormatError(f"{path}: file not found")
    try:
        f = h5py.File(path, mode)
    except OSError:
        raise FileFormatError(f"{path}: not a readable HDF5 file (corrupt, truncated or another format)") from None
    with f:
        yield f


@contextlib.contextmanager
def open_checked(path: str | Path, kind: str | tuple[str, ...], mode: str = "r") -> Iterator[h5py.File]:
    """Open a neuroemu file that must be of ``kind``; errors while reading it name the file.

    Missing groups/datasets/attributes and undecodable content inside the ``with`` block become
    "corrupt or incomplete" errors.
    """
    kinds = (kind,) if isinstance(kind, str) else kind
    with _open(path, mode) as f:
        found, schema, version = _header(path, f)
        if found not in kinds:
            raise FileFormatError(f"{path}: is a neuroemu '{found}' file, expected "
                                  f"{' or '.join(repr(k) for k in kinds)}")
        if schema > SCHEMAS[found]:
            raise FileFormatError(
                f"{path}: '{found}' schema version {schema} (written by neuroemu {version}) is newer than "
                f"this neuroemu {neuroemu.__version__} reads (up to {SCHEMAS[found]}); upgrade neuroemu"
            )
        if schema < 1:
            raise FileFormatError(f"{path}: invalid schema version {schema}")
        try:
            yield f
        except (KeyError, OSError, ValueError, TypeError) as exc:
            raise FileFormatError(f"{path}: corrupt or incomplete '{found}' file ({exc})") from None
