"""Wall time of ``neuroemu demo --quick`` (a fresh calibration cache, as a first run on a machine).
Reports figures, asserts nothing (the unit test checks what the demo prints, not how fast).

    python benchmarks/demo_quick.py [--repeats 3] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")
    seconds = []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "NEUROEMU_CACHE_DIR": os.path.join(tmp, "cache")}
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "neuroemu", "demo", "--quick", "-o", os.path.join(tmp, "demo"),
                            "--json"], check=True, capture_output=True, env=env)
            seconds.append(time.perf_counter() - start)
    if args.json:
        print(json.dumps({"demo_quick_wall_s": seconds}))
    else:
        print("neuroemu demo --quick: " + ", ".join(f"{s:.1f} s" for s in seconds))


if __name__ == "__main__":
    main()
