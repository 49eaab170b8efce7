"""Benchmark of a robustness study (issue 7): 100 grid points x 10 chips on the Yin-Yang test set.

Goal: the full study (1,000 tasks x 1,000 test samples) in at most 5 minutes on this 2-core
machine, and 2 workers close to 2x faster than 1. Prints figures, asserts nothing.

    python benchmarks/robustness_study.py                      # full study on 2 workers + 1-vs-2 ratio
    python benchmarks/robustness_study.py --model yy.h5 --points 20 --chips 5

Without ``--model`` a 5-120-3 Yin-Yang model is trained in software first (cached in
``out/bench_yinyang.h5``; not timed). Wall times include starting the Dask LocalCluster.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def trained_model(path: Path, epochs: int) -> Path:
    from neuroemu.learning.model import TTFSModel, load_dataset, save_model
    from neuroemu.learning.training import train

    if path.exists():
        return path
    splits = load_dataset("yinyang")
    model = TTFSModel.for_dataset("yinyang", splits, seed=0)
    model.records.append(train(model.network, splits, epochs=epochs, seed=0, progress=True))
    path.parent.mkdir(parents=True, exist_ok=True)
    save_model(model, path)
    return path


def grid_axes(points: int) -> list[tuple[str, list[float]]]:
    """``points`` grid points: mismatch scale x membrane-noise scale (a square grid when possible)."""
    a = int(np.ceil(np.sqrt(points)))
    b = int(np.ceil(points / a))
    return [("mismatch", list(np.round(np.linspace(0.0, 2.0, a), 4))),
            ("membrane_noise", list(np.round(np.linspace(0.0, 2.0, b), 4)))]


def run(model: Path, axes, chips: int, samples: int, workers: int) -> tuple[float, list[dict]]:
    from neuroemu.studies.robustness import build_spec
    from neuroemu.sweeps import aggregate, run_sweep

    spec = build_spec(model, axes, list(range(chips)), samples=samples)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        records = run_sweep(spec, Path(tmp) / "study.h5", workers=workers, progress=True)
        wall = time.perf_counter() - t0
    return wall, aggregate(spec, records, fields=["accuracy"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--epochs", type=int, default=60, help="software epochs of the default model")
    ap.add_argument("--points", type=int, default=100)
    ap.add_argument("--chips", type=int, default=10)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--ratio-points", type=int, default=16, help="grid points of the 1-vs-2-worker comparison")
    ap.add_argument("--skip-full", action="store_true")
    args = ap.parse_args()
    model = args.model or trained_model(Path("out/bench_yinyang.h5"), args.epochs)
    out: dict = {"model": str(model), "samples": args.samples, "chips": args.chips}
    if not args.skip_full:
        axes = grid_axes(args.points)
        n_points = int(np.prod([len(v) for _, v in axes]))
        wall, rows = run(model, axes, args.chips, args.samples, workers=2)
        out["full"] = {"points": n_points, "tasks": n_points * args.chips, "workers": 2, "wall_s": round(wall, 1),
                       "goal_s": 300, "accuracy_range": [min(r["accuracy_mean"] for r in rows),
                                                          max(r["accuracy_mean"] for r in rows)]}
        print(json.dumps(out["full"]), flush=True)
    axes = grid_axes(args.ratio_points)
    walls = {w: run(model, axes, args.chips, args.samples, workers=w) for w in (1, 2)}
    assert walls[1][1] == walls[2][1], "tables differ between 1 and 2 workers"
    out["ratio"] = {"points": int(np.prod([len(v) for _, v in axes])), "chips": args.chips,
                    "wall_1_worker_s": round(walls[1][0], 1), "wall_2_workers_s": round(walls[2][0], 1),
                    "speedup": round(walls[1][0] / walls[2][0], 2), "identical_tables": True}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
