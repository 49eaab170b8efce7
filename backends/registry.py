"""Backends by name. Entries are import paths, so choosing one backend never imports another
(Brian2 is not imported to run the emulator)."""
from __future__ import annotations

import importlib
from typing import Any

from neuroemu.errors import BackendError

_REGISTRY: dict[str, str] = {
    "emulator": "neuroemu.backends.emulator:EmulatorBackend",
    "brian2": "neuroemu.backends.brian2:Brian2Backend",
}


def register_backend(name: str, target: str) -> None:
    """Register ``target`` ("module:Class") under ``name``."""
    _REGISTRY[name] = target


def available_backends() -> list[str]:
    return sorted(_REGISTRY)


def backend_class(name: str) -> type:
    try:
        target = _REGISTRY[name]
    except KeyError:
        raise BackendError(f"unknown backend '{name}' "
                           f"(available: {', '.join(available_backends()) or 'none'})") from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


def get_backend(name: str, **options: Any):
    """An instance of backend ``name`` with its options (e.g. ``chip=3`` for the emulator)."""
    return backend_class(name)(**options)
