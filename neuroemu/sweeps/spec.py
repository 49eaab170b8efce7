"""What a sweep is: a grid of points x chip seeds, one task function, fixed settings, a seed."""
from __future__ import annotations

import hashlib
import importlib
import json
from dataclasses import dataclass, field
from typing import Any, Callable

from neuroemu.errors import NeuroemuError


@dataclass
class SweepSpec:
    """A sweep: ``task(point, chip, settings, seed) -> record`` for every (point, chip).

    task: import path ``"module:function"`` (workers import it; a record is a flat dict of
    numbers, strings or lists of numbers). grid: the points (JSON-ready dicts). Every random
    draw of a task must flow from (seed, point index, chip), so results do not depend on the
    number of workers or the order tasks finish in.
    """

    kind: str
    task: str
    grid: list[dict[str, Any]]
    chips: list[int]
    settings: dict[str, Any] = field(default_factory=dict)
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.grid:
            raise NeuroemuError("sweep: the grid has no points")
        if not self.chips:
            raise NeuroemuError("sweep: no chip seeds given")
        if any(int(c) != c or c < 0 for c in self.chips):
            raise NeuroemuError(f"sweep: chip seeds must be non-negative integers, got {self.chips}")
        if len(set(self.chips)) != len(self.chips):
            raise NeuroemuError(f"sweep: chip seeds repeat in {self.chips}")

    def to_json(self) -> str:
        return json.dumps({"kind": self.kind, "task": self.task, "grid": self.grid, "chips": list(self.chips),
                           "settings": self.settings, "seed": self.seed}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "SweepSpec":
        return cls(**json.loads(text))

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]

    def keys(self) -> list[tuple[int, int]]:
        """(point index, chip) of every task, in table order."""
        return [(p, c) for p in range(len(self.grid)) for c in self.chips]

    def function(self) -> Callable[..., dict[str, Any]]:
        module, name = self.task.split(":")
        return getattr(importlib.import_module(module), name)


def task_key(point: int, chip: int) -> str:
    return f"p{point:05d}_c{chip:06d}"
