"""Write the trained Yin-Yang classifier as a NIR graph and its test set as NIR event data.

The classifier is neuroemu's trained TTFS model (``docs/robustness/yinyang.h5``, Göltz et al.
2021's network); :func:`neuroemu.nir.to_nir` writes it as any NIR graph: CubaLIF layers and
Linear weights in NIR's own units (seconds, r = 1, w_in = 1), the bias spike sources as Input
nodes. The test samples become :class:`nir.EventData` (one spike per input, times in seconds),
the labels a dataset beside them -- the layout ``neuroemu evaluate`` / ``robustness --data``
read. Then, from the shell::

    neuroemu evaluate yinyang.nir --data yinyang_test.h5 --readout first-spike
    neuroemu robustness yinyang.nir --data yinyang_test.h5 --readout first-spike \\
        --vary mismatch=0,0.5,1,1.5 --chips 4 --samples 300 -o nir_study.h5 --plot nir_robustness.png

    python examples/nir/yinyang_to_nir.py [--out-dir DIR] [--samples N]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

MODEL = Path(__file__).resolve().parents[2] / "docs" / "robustness" / "yinyang.h5"


def write(out_dir: Path, samples: int | None = None) -> tuple[Path, Path]:
    from neuroemu.learning.model import load_model
    from neuroemu.nir import write_nir
    from neuroemu.nir.data import write_labeled_events

    model = load_model(MODEL)
    out_dir.mkdir(parents=True, exist_ok=True)
    graph_path, data_path = out_dir / "yinyang.nir", out_dir / "yinyang_test.h5"
    write_nir(model, graph_path)
    test = model.dataset_splits().test
    x, y = test.x[:samples], test.y[:samples]  # first-spike times (ms, inf = no spike), labels
    idx = np.where(np.isfinite(x), np.arange(x.shape[1])[None, :], -1)
    t = np.where(np.isfinite(x), x / 1000.0, np.inf)  # NIR time: seconds
    write_labeled_events(data_path, {"input": (idx, t, x.shape[1])}, y, t_max=model.duration / 1000.0)
    return graph_path, data_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=Path("."))
    parser.add_argument("--samples", type=int, default=None, help="test samples to write (default: all)")
    args = parser.parse_args()
    graph, data = write(args.out_dir, args.samples)
    print(f"wrote {graph} and {data}")


if __name__ == "__main__":
    main()
