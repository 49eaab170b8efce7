"""The sweep store: one HDF5 file, and a journal of one atomically written record per task.

Each finished task is written at once to ``STORE.journal/<key>.h5`` (temp file + rename), so a
kill loses nothing finished. The store file ``STORE`` (kind ``sweep``) is rewritten
atomically from the journal every few seconds and at the end, after which the journal is
removed. Reading merges both, so an interrupted sweep is complete up to its last record.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from neuroemu.errors import FileFormatError, NeuroemuError
from neuroemu.hdf5 import create, open_checked
from neuroemu.sweeps.spec import SweepSpec, task_key


def journal_dir(store: Path) -> Path:
    return store.with_name(store.name + ".journal")


def _write_values(group, record: dict[str, Any]) -> None:
    for k, v in record.items():
        if isinstance(v, str):
            group.attrs[k] = v
        elif np.ndim(v) == 0:
            group.attrs[k] = np.float64(v) if not isinstance(v, (bool, np.bool_)) else np.bool_(v)
        else:
            group.create_dataset(k, data=np.asarray(v, dtype=np.float64))


def _read_values(group) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in group.attrs.items():
        if k.startswith("_"):
            continue
        out[k] = v.item() if isinstance(v, np.generic) else (str(v) if isinstance(v, str) else v)
    for k in group:
        out[k] = group[k][()].tolist()
    return out


def write_record(store: Path, point: int, chip: int, record: dict[str, Any]) -> None:
    """Journal one finished task (atomic)."""
    path = journal_dir(store) / f"{task_key(point, chip)}.h5"
    with create(path, "sweep") as f:
        g = f.create_group("record")
        g.attrs["_point"] = point
        g.attrs["_chip"] = chip
        _write_values(g, record)


def _read_journal(store: Path) -> dict[tuple[int, int], dict[str, Any]]:
    out = {}
    jd = journal_dir(store)
    if not jd.is_dir():
        return out
    for p in sorted(jd.glob("p*_c*.h5")):
        try:
            with open_checked(p, "sweep") as f:
                g = f["record"]
                out[(int(g.attrs["_point"]), int(g.attrs["_chip"]))] = _read_values(g)
        except FileFormatError:
            continue  # only complete files are ever renamed into place; skip anything foreign
    return out


def read_store(store: Path) -> tuple[SweepSpec | None, dict[tuple[int, int], dict[str, Any]]]:
    """(spec, records) from the store file and its journal; (None, {}) if neither exists."""
    spec, records = None, {}
    if store.exists():
        with open_checked(store, "sweep") as f:
            spec = SweepSpec.from_json(str(f.attrs["spec_json"]))
            for key in f["records"]:
                g = f["records"][key]
                records[(int(g.attrs["_point"]), int(g.attrs["_chip"]))] = _read_values(g)
    elif journal_dir(store).is_dir():
        spec_file = journal_dir(store) / "spec.json"
        if spec_file.exists():
            spec = SweepSpec.from_json(spec_file.read_text())
    records.update(_read_journal(store))
    return spec, records


def start_store(store: Path, spec: SweepSpec, resume: bool) -> dict[tuple[int, int], dict[str, Any]]:
    """Prepare ``store`` for ``spec``; returns the records already finished (when resuming)."""
    old_spec, records = read_store(store) if (store.exists() or journal_dir(store).is_dir()) else (None, {})
    if old_spec is not None or records:
        if not resume:
            raise NeuroemuError(f"{store} already holds a sweep; pass --resume to continue it or choose another output "
                                "file")
        if old_spec is None or old_spec.to_json() != spec.to_json():
            raise NeuroemuError(
                f"{store} holds a different sweep (other grid, chips, settings or seed); resume it with the same "
                "arguments or choose another output file"
            )
    jd = journal_dir(store)
    jd.mkdir(parents=True, exist_ok=True)
    (jd / "spec.json").write_text(spec.to_json())
    return records


def consolidate(store: Path, spec: SweepSpec, records: dict[tuple[int, int], dict[str, Any]], final: bool) -> None:
    """Rewrite the store file atomically with all ``records``; on ``final`` drop the journal."""
    with create(store, "sweep") as f:
        f.attrs["spec_json"] = spec.to_json()
        f.attrs["complete"] = np.bool_(len(records) == len(spec.keys()))
        g = f.create_group("records")
        for (p, c) in sorted(records):
            r = g.create_group(task_key(p, c))
            r.attrs["_point"] = p
            r.attrs["_chip"] = c
            _write_values(r, records[(p, c)])
    if final:
        shutil.rmtree(journal_dir(store), ignore_errors=True)


def records_json(records: dict[tuple[int, int], dict[str, Any]]) -> str:
    return json.dumps({f"{p},{c}": r for (p, c), r in sorted(records.items())}, sort_keys=True)
