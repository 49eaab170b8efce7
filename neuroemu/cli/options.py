"""Values of CLI options shared by several commands (parsed into plain Python, errors as
:class:`~neuroemu.errors.NeuroemuError` so the CLI exits with 2 and a clear message)."""
from __future__ import annotations

from neuroemu.errors import NeuroemuError


def parse_vary(values: tuple[str, ...], example: str = "tau_mem=5,10,20") -> list[tuple[str, list[float]]]:
    """``--vary NAME=V1,V2,...`` (repeatable) -> ``[(NAME, [V1, V2, ...]), ...]``."""
    axes = []
    for text in values:
        name, sep, rest = text.partition("=")
        if not sep or not name.strip() or not rest.strip():
            raise NeuroemuError(f"--vary {text!r}: expected KNOB=V1,V2,... (e.g. {example})")
        try:
            vals = [float(v) for v in rest.split(",") if v.strip()]
        except ValueError:
            raise NeuroemuError(f"--vary {text!r}: values must be numbers separated by commas") from None
        axes.append((name.strip(), vals))
    return axes
