"""The one serializer: typed dataclasses <-> HDF5 groups (as NIR does for its IR nodes).

Layout, readable with ``h5dump``: scalars (int, float, bool, str) are attributes; numpy arrays
and lists of numbers/strings are datasets; nested dataclasses, lists of dataclasses
(members ``0``, ``1``, ...) and ``dict[str, X]`` are subgroups. ``None`` is written as
nothing and read back as None for Optional fields. Fields marked
``field(metadata={"serialize": False})`` (live objects, e.g. a run's end state) are skipped
and read back as their default. A union of dataclasses records the class
name in the subgroup's ``_type`` attribute. Reading is driven by the type hints, so a round
trip is exact (same dtypes, same values, bit for bit).
"""
from __future__ import annotations

import dataclasses
import types
from typing import Any, Union, get_args, get_origin, get_type_hints

import h5py
import numpy as np

_STR = h5py.string_dtype("utf-8")


def _is_optional(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType) and type(None) in get_args(tp)


def _strip_optional(tp: Any) -> Any:
    if _is_optional(tp):
        args = tuple(a for a in get_args(tp) if a is not type(None))
        return args[0] if len(args) == 1 else Union[args]  # type: ignore[return-value]
    return tp


def write(group: h5py.Group, obj: Any) -> None:
    """Write dataclass ``obj`` into ``group``."""
    group.attrs["_type"] = type(obj).__name__
    hints = get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        if (not f.init and f.name not in hints) or f.metadata.get("serialize") is False:
            continue
        _write_value(group, f.name, getattr(obj, f.name), hints[f.name])


def _write_value(group: h5py.Group, name: str, value: Any, tp: Any) -> None:
    if value is None:
        return
    tp = _strip_optional(tp)
    if dataclasses.is_dataclass(value):
        write(group.create_group(name), value)
    elif isinstance(value, np.ndarray):
        if value.dtype.kind in "UO":
            group.create_dataset(name, data=np.asarray(value, dtype=object).astype(_STR), dtype=_STR)
        else:
            group.create_dataset(name, data=value)
    elif isinstance(value, dict):
        sub = group.create_group(name)
        sub.attrs["_keys"] = np.array(list(value.keys()), dtype=_STR)  # keeps insertion order
        val_tp = get_args(tp)[1] if get_origin(tp) is dict else Any
        for k, v in value.items():
            _write_value(sub, str(k), v, val_tp)
    elif isinstance(value, (list, tuple)):
        item_tp = get_args(tp)[0] if get_args(tp) else Any
        if (value and all(dataclasses.is_dataclass(v) for v in value)
                or dataclasses.is_dataclass(_strip_optional(item_tp))):
            sub = group.create_group(name)
            sub.attrs["_length"] = len(value)
            for i, v in enumerate(value):
                write(sub.create_group(str(i)), v)
        elif value and all(isinstance(v, str) for v in value) or item_tp is str:
            group.create_dataset(name, data=np.array(list(value), dtype=object).astype(_STR), dtype=_STR)
        else:
            group.create_dataset(name, data=np.asarray(value))
    elif isinstance(value, str):
        group.attrs[name] = value
    elif isinstance(value, (bool, np.bool_)):
        group.attrs[name] = np.bool_(value)
    elif isinstance(value, (int, np.integer)):
        group.attrs[name] = np.int64(value)
    elif isinstance(value, (float, np.floating)):
        group.attrs[name] = np.float64(value)
    else:
        raise TypeError(f"cannot serialize field '{name}' of type {type(value).__name__}")


def read(group: h5py.Group, cls: type) -> Any:
    """Read a dataclass of type ``cls`` (or a union of dataclasses, by ``_type``) from ``group``."""
    if get_origin(cls) in (Union, types.UnionType):
        name = str(group.attrs["_type"])
        for candidate in get_args(cls):
            if dataclasses.is_dataclass(candidate) and candidate.__name__ == name:
                cls = candidate
                break
        else:
            raise ValueError(f"unexpected type '{name}' in {group.name}")
    hints = get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if not f.init or f.metadata.get("serialize") is False:
            continue
        tp = hints[f.name]
        if f.name not in group and f.name not in group.attrs:
            if _is_optional(tp):
                kwargs[f.name] = None
                continue
            if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
                continue
            raise KeyError(f"missing '{group.name}/{f.name}'")
        kwargs[f.name] = _read_value(group, f.name, tp)
    return cls(**kwargs)


def _read_value(group: h5py.Group, name: str, tp: Any) -> Any:
    tp = _strip_optional(tp)
    origin = get_origin(tp)
    if name in group.attrs:
        value = group.attrs[name]
        if tp is bool:
            return bool(value)
        if tp is int:
            return int(value)
        if tp is float:
            return float(value)
        if tp is str:
            return str(value)
        if isinstance(value, np.generic):
            return value.item()
        return value
    node = group[name]
    if isinstance(node, h5py.Dataset):
        data = node[()]
        if node.dtype.kind == "O" or h5py.check_string_dtype(node.dtype) is not None:
            strings = np.asarray(node.asstr()[()], dtype=object)
            return [str(s) for s in strings] if origin in (list, tuple) else strings.astype(str)
        if origin is list:
            return data.tolist()
        if origin is tuple:
            return tuple(data.tolist())
        return np.asarray(data)
    # group
    if dataclasses.is_dataclass(tp) or get_origin(tp) in (Union, types.UnionType):
        return read(node, tp)
    if origin is dict:
        val_tp = get_args(tp)[1]
        keys = [str(k) for k in node.attrs["_keys"]]
        return {k: _read_value(node, k, val_tp) for k in keys}
    if origin in (list, tuple):
        item_tp = get_args(tp)[0]
        items = [read(node[str(i)], item_tp) for i in range(int(node.attrs["_length"]))]
        return items if origin is list else tuple(items)
    raise TypeError(f"cannot read '{node.name}' as {tp}")
