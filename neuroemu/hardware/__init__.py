"""Hardware configs: load a chip description by name (``bss2``, ``ideal``, ``small``) or path."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from neuroemu.errors import ConfigError
from neuroemu.hardware.config import PARAMETERS, HardwareConfig, ParameterSpec
from neuroemu.yaml_schema import build, read_yaml_mapping

__all__ = ["HardwareConfig", "ParameterSpec", "PARAMETERS", "load_hardware", "list_hardware", "builtin_path",
           "hardware_from_json"]


def _builtin_dir():
    return resources.files("neuroemu.hardware_configs")


def builtin_path(name: str) -> Path:
    """Path of the built-in config ``name`` (e.g. to copy and edit it)."""
    resource = _builtin_dir() / f"{name}.yaml"
    if not resource.is_file():
        raise ConfigError(f"unknown hardware config '{name}' (built-in: {', '.join(list_hardware())})")
    return Path(str(resource))


def list_hardware() -> list[str]:
    """Names of the built-in hardware configs."""
    return sorted(p.name[:-5] for p in _builtin_dir().iterdir() if p.name.endswith(".yaml"))


def _is_path(name: str) -> bool:
    return name.endswith((".yaml", ".yml")) or "/" in name or Path(name).is_file()


def load_hardware(name_or_path: str | Path) -> HardwareConfig:
    """Load a built-in config by name or a user's YAML file by path.

    Unknown keys, missing keys and wrong types raise :class:`ConfigError` naming key and file.
    """
    name = str(name_or_path)
    if _is_path(name):
        path = Path(name)
        data = read_yaml_mapping(path)
        source = str(path)
    else:
        resource = _builtin_dir() / f"{name}.yaml"
        if not resource.is_file():
            raise ConfigError(
                f"unknown hardware config '{name}' (built-in: {', '.join(list_hardware())}; "
                "or give the path of a YAML file)"
            )
        with resources.as_file(resource) as path:
            data = read_yaml_mapping(path)
        source = f"{name}.yaml (built-in)"
    config = build(HardwareConfig, data, source=source)
    object.__setattr__(config, "source", source)
    return config


def hardware_from_json(text: str, source: str = "stored config") -> HardwareConfig:
    """Rebuild a config from :meth:`HardwareConfig.canonical_json` (as stored in IR files)."""
    import json

    config = build(HardwareConfig, json.loads(text), source=source)
    object.__setattr__(config, "source", source)
    return config
