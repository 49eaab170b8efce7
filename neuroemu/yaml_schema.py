"""Typed loading of YAML mappings into dataclasses.

One place that turns a parsed YAML mapping into a (nested) dataclass and refuses unknown keys,
missing keys and wrong types with a message naming the key path and the file. Used by the
hardware configs, calibration targets and anything else read from YAML.
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

from neuroemu.errors import ConfigError

T = TypeVar("T")


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """Parse a YAML file that must hold a mapping; errors name the file."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def _type_name(tp: Any) -> str:
    if tp is type(None):
        return "null"
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp))
    if origin in (list, tuple):
        args = get_args(tp)
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"mapping of {_type_name(get_args(tp)[1])}"
    if dataclasses.is_dataclass(tp):
        return "mapping"
    return getattr(tp, "__name__", str(tp))


def build(cls: type[T], data: Any, *, source: str, path: str = "") -> T:
    """Build dataclass ``cls`` from ``data`` (a parsed YAML mapping), checking every key.

    ``source`` names the file in errors; ``path`` is the dotted key prefix.
    """
    return _convert(cls, data, source, path)


def _where(source: str, path: str) -> str:
    return f"{source}: key '{path}'" if path else f"{source}"


def _convert(tp: Any, value: Any, source: str, path: str) -> Any:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, source, path)
            except ConfigError as exc:
                errors.append(exc)
        if len(errors) == 1 and isinstance(value, dict):  # an optional section: its own error says what is wrong
            raise errors[0]
        raise ConfigError(
            f"{_where(source, path)}: expected {_type_name(tp)}, got {value!r}"
        )
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{_where(source, path)}: expected a mapping, got {value!r}")
        hints = get_type_hints(tp)
        fields = {f.name: f for f in dataclasses.fields(tp) if f.init}
        unknown = sorted(set(value) - set(fields))
        if unknown:
            key = f"{path}.{unknown[0]}" if path else str(unknown[0])
            raise ConfigError(
                f"{source}: unknown key '{key}' (allowed here: {', '.join(sorted(fields))})"
            )
        kwargs = {}
        for name, field in fields.items():
            sub = f"{path}.{name}" if path else name
            if name not in value:
                if field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING:
                    continue
                raise ConfigError(f"{source}: missing key '{sub}' ({_type_name(hints[name])})")
            kwargs[name] = _convert(hints[name], value[name], source, sub)
        try:
            return tp(**kwargs)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{_where(source, path)}: {exc}") from None
    if origin is dict:
        key_tp, val_tp = get_args(tp)
        if not isinstance(value, dict):
            raise ConfigError(f"{_where(source, path)}: expected a mapping, got {value!r}")
        return {
            _convert(key_tp, k, source, path): _convert(val_tp, v, source, f"{path}.{k}" if path else str(k))
            for k, v in value.items()
        }
    if origin in (list, tuple):
        args = get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(f"{_where(source, path)}: expected a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(
                    f"{_where(source, path)}: expected a list of {len(args)} values, got {len(value)}"
                )
            return tuple(_convert(a, v, source, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
        item_tp = args[0] if args else Any
        items = [_convert(item_tp, v, source, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if tp is Any:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{_where(source, path)}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{_where(source, path)}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{_where(source, path)}: expected a number, got {value!r}")
        if math.isnan(value):
            raise ConfigError(f"{_where(source, path)}: NaN is not allowed")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{_where(source, path)}: expected a string, got {value!r}")
        return value
    if typing.get_origin(tp) is typing.Literal:
        allowed = get_args(tp)
        if value not in allowed:
            raise ConfigError(
                f"{_where(source, path)}: expected one of {', '.join(map(str, allowed))}, got {value!r}"
            )
        return value
    raise TypeError(f"yaml_schema: unsupported type {tp!r} at {path}")  # programming error


def to_plain(obj: Any) -> Any:
    """Dataclass -> plain dicts/lists (the inverse of :func:`build`), e.g. for JSON or YAML."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.init}
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    return obj
