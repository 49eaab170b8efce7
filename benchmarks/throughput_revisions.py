"""Emulator throughput of two (or more) revisions in one run: W1 and W2 of
``benchmarks/emulator_throughput.py``, alternating between the revisions round by round so that
both see the same machine load. Reports per revision the best and the median over rounds (each
round's figure is already the best of ``--repeats``). Asserts nothing.

Each revision is a checkout with its own environment (the package maps its folders at install
time, so a revision needs its own ``pip install -e``)::

    git worktree add /tmp/before <rev> && python -m venv /tmp/before/.venv && \\
        /tmp/before/.venv/bin/pip install -e /tmp/before
    python benchmarks/throughput_revisions.py /tmp/before .  [--rounds 8] [--samples 10000]

A revision is given by its checkout folder; its interpreter is ``<folder>/.venv/bin/python``.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

# one round in a fresh interpreter of the revision: W1 (best of `repeats` after a warm-up run)
# and W2 (best of `repeats`), the revision's own benchmark functions
_ROUND = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("b", sys.argv[1])
b = importlib.util.module_from_spec(spec); spec.loader.exec_module(b)
w1 = b.w1(int(sys.argv[2]))
w2 = b.w2(int(sys.argv[3]), int(sys.argv[2]))
print(json.dumps({"w1_ms": w1["wall_s"] * 1e3, "w2_per_s": w2["samples_per_s"], "spikes": w1["output_spikes"]}))
"""


def one_round(tree: Path, repeats: int, samples: int) -> dict:
    python = tree / ".venv" / "bin" / "python"
    out = subprocess.run([str(python), "-c", _ROUND, str(tree / "benchmarks" / "emulator_throughput.py"),
                          str(repeats), str(samples)], capture_output=True, text=True, check=True, cwd=tree)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("trees", nargs="+", type=Path, help="checkout folders, each with .venv/")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--samples", type=int, default=10000)
    args = ap.parse_args()
    got: dict[Path, list[dict]] = {t: [] for t in args.trees}
    for r in range(args.rounds):
        for tree in args.trees:
            got[tree].append(one_round(tree.resolve(), args.repeats, args.samples))
            print(f"round {r + 1}: {tree}: {got[tree][-1]}", file=sys.stderr)
    for tree, rows in got.items():
        w1 = np.array([x["w1_ms"] for x in rows])
        w2 = np.array([x["w2_per_s"] for x in rows])
        print(f"{tree}: W1 best {w1.min():.1f} ms, median {np.median(w1):.1f} ms ({rows[0]['spikes']} spikes); "
              f"W2 best {w2.max():.0f} samples/s, median {np.median(w2):.0f} samples/s")
    if len(args.trees) == 2:
        a, b = (got[t] for t in args.trees)
        r1 = np.median([x["w1_ms"] for x in b]) / np.median([x["w1_ms"] for x in a])
        r2 = np.median([x["w2_per_s"] for x in a]) / np.median([x["w2_per_s"] for x in b])
        print(f"second / first, medians: W1 time x{r1:.3f}, W2 time x{r2:.3f}")


if __name__ == "__main__":
    main()
