"""Printing reports: the same content as text or as JSON (``--json``)."""
from __future__ import annotations

import json
import math
from typing import Any, Callable

import click
import numpy as np

json_option = click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")


def _default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def _finite(obj: Any) -> Any:
    """inf/NaN are not JSON: write them as null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(_finite(json.loads(json.dumps(report, default=_default))), indent=2)


def emit(report: dict[str, Any], as_json: bool, render: Callable[[dict[str, Any]], str]) -> None:
    """Print ``report`` as JSON or through ``render``."""
    click.echo(to_json(report) if as_json else render(report))
