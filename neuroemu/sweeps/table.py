"""Tables of sweep records: mean and std over chips per grid point."""
from __future__ import annotations

from typing import Any

import numpy as np

from neuroemu.sweeps.spec import SweepSpec


def aggregate(spec: SweepSpec, records: dict[tuple[int, int], dict[str, Any]],
              fields: list[str] | None = None) -> list[dict[str, Any]]:
    """One row per grid point: the point's parameters, chips done, and mean/std over chips of
    every numeric scalar field (``<field>_mean``, ``<field>_std``)."""
    rows = []
    for p, point in enumerate(spec.grid):
        recs = [records[(p, c)] for c in spec.chips if (p, c) in records]
        row: dict[str, Any] = {**point, "chips_done": len(recs)}
        names = fields or sorted({k for r in recs for k, v in r.items() if np.ndim(v) == 0 and not isinstance(v, str)})
        for k in names:
            vals = np.array([r[k] for r in recs if k in r], float)
            row[f"{k}_mean"] = float(vals.mean()) if len(vals) else float("nan")
            row[f"{k}_std"] = float(vals.std(ddof=1)) if len(vals) > 1 else 0.0
        rows.append(row)
    return rows
