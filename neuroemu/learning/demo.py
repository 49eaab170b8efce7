"""The end-to-end demo: Yin-Yang, software training, chip calibration, deployment, in-the-loop training.

:func:`run_demo` is what ``neuroemu demo`` runs:

1. generate the published Yin-Yang splits and encode them as spike times;
2. train a 4-120-3 TTFS network in software (closed form);
3. calibrate an emulated ``bss2`` chip for the network's neuron parameters
   (:func:`neuroemu.calibration.calibrate`, cached);
4. deploy: test accuracy on the uncalibrated and on the calibrated chip (default mismatch and noise);
5. retrain in the loop on the calibrated chip and measure again;
6. write the model, a summary plot and the training curves.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .datasets import DatasetSplits, LabeledData
from .deploy import calibration_targets, evaluate_on_backend, train_in_the_loop, weight_limit
from .model import TTFSModel, load_dataset, save_model
from .training import evaluate, train

__all__ = ["DemoSettings", "DemoReport", "run_demo"]


@dataclass(frozen=True)
class DemoSettings:
    """Budgets of the demo. ``full()`` fits 5 minutes on a 2-core machine; ``quick()`` is for CI: a
    4-12-3 network on the 32-circuit ``small`` config (same analog model as ``bss2``), whose
    calibration takes seconds instead of a minute."""

    software_epochs: int = 100
    in_the_loop_epochs: int = 10
    batch_size: int = 50  # software training (150 in the paper; 50 reaches 95 % in fewer epochs here)
    train_samples: int | None = None  # None: all 5000
    in_the_loop_samples: int | None = None  # None: all training samples
    test_samples: int | None = None  # None: all 1000
    hidden: int = 120
    hardware: str = "bss2"
    chip: int = 3
    seed: int = 0

    @classmethod
    def full(cls, **changes: Any) -> "DemoSettings":
        return dataclasses.replace(cls(), **changes)

    @classmethod
    def quick(cls, **changes: Any) -> "DemoSettings":
        return dataclasses.replace(cls(software_epochs=30, in_the_loop_epochs=2, train_samples=2000,
                                       in_the_loop_samples=1000, test_samples=500, hidden=12, hardware="small"),
                                   **changes)


@dataclass
class DemoReport:
    """Accuracies (fractions) per stage, timings (s) and the files written."""

    settings: DemoSettings
    accuracy: dict[str, float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    calibration: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"settings": dataclasses.asdict(self.settings), "accuracy": dict(self.accuracy),
                "seconds": dict(self.seconds), "files": dict(self.files), "calibration": dict(self.calibration)}


def _head(d: LabeledData | None, n: int | None) -> LabeledData | None:
    if d is None or n is None or n >= len(d):
        return d
    return dataclasses.replace(d, x=d.x[:n], y=d.y[:n])


def run_demo(settings: DemoSettings = DemoSettings(), outdir: str | Path = "neuroemu-demo",
             log: Callable[[str], None] = print, progress: bool = False) -> DemoReport:
    """Run the demo, write ``model.h5``, ``demo.png`` and ``curves.png`` into ``outdir``.

    log: called with one line per stage (e.g. ``click.echo``).
    """
    from neuroemu.backends.emulator import EmulatorBackend
    from neuroemu.calibration import calibrate
    from neuroemu.hardware import load_hardware
    from neuroemu.plotting.learning import plot_demo, plot_training_curves

    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    rep = DemoReport(settings)
    s = settings
    t0 = time.perf_counter()

    full = load_dataset("yinyang")
    data = DatasetSplits(full.name, _head(full.train, s.train_samples), full.validation,
                         _head(full.test, s.test_samples))
    loop_data = DatasetSplits(full.name, _head(data.train, s.in_the_loop_samples),
                              _head(full.validation, s.test_samples),
                              data.test)
    rep.seconds["data"] = time.perf_counter() - t0
    log(f"[1/5] Yin-Yang: {len(data.train)} train / {len(data.validation)} validation / {len(data.test)} test samples")

    t = time.perf_counter()
    model = TTFSModel.for_dataset("yinyang", data, hidden=(s.hidden,), seed=s.seed,
                                  description="neuroemu demo: Yin-Yang TTFS")
    hw = load_hardware(s.hardware)
    record = train(model.network, data, epochs=s.software_epochs, batch_size=s.batch_size, seed=s.seed,
                   weight_limit=weight_limit(model, hw), keep_best=True, progress=progress)  # deployable on the chip
    record.hyperparameters["mode"] = "software"
    model.records.append(record)
    rep.accuracy["software"] = evaluate(model.network, data.test).accuracy
    rep.seconds["software_training"] = time.perf_counter() - t
    log(f"[2/5] software training, {s.software_epochs} epochs ({rep.seconds['software_training']:.1f} s): "
        f"test accuracy {100 * rep.accuracy['software']:.1f} %")

    t = time.perf_counter()
    cal = calibrate(hw, s.chip, calibration_targets(model, hw), progress=progress)  # target: 3rd positional
    rep.seconds["calibration"] = time.perf_counter() - t
    n_fail = int((~cal.success).any(axis=0).sum()) if cal.success.ndim == 2 else int((~cal.success).sum())
    rep.calibration = {"id": cal.id, "chip": s.chip, "failed_circuits": n_fail,
                       "from_cache": bool(getattr(cal, "_from_cache", False))}
    log(f"[3/5] calibrated {hw.name} chip {s.chip} for the network's neuron parameters "
        f"({rep.seconds['calibration']:.1f} s{', cached' if rep.calibration['from_cache'] else ''}; "
        f"{n_fail} circuits missed a target)")

    t = time.perf_counter()
    backend = EmulatorBackend(chip=s.chip)
    rep.accuracy["uncalibrated chip"] = evaluate_on_backend(model, backend, data.test, hw, None, seed=s.seed).accuracy
    rep.accuracy["calibrated chip"] = evaluate_on_backend(model, backend, data.test, hw, cal, seed=s.seed).accuracy
    rep.seconds["deployment"] = time.perf_counter() - t
    log(f"[4/5] deployed on emulated chip {s.chip} (default mismatch and noise): uncalibrated "
        f"{100 * rep.accuracy['uncalibrated chip']:.1f} %, calibrated {100 * rep.accuracy['calibrated chip']:.1f} %")

    t = time.perf_counter()
    model, _ = train_in_the_loop(model, backend, loop_data, hw, cal, epochs=s.in_the_loop_epochs, seed=s.seed,
                                 progress=progress)
    rep.accuracy["after in-the-loop"] = evaluate_on_backend(model, backend, data.test, hw, cal,
                                                            seed=s.seed + 1).accuracy
    rep.seconds["in_the_loop_training"] = time.perf_counter() - t
    log(f"[5/5] in-the-loop training, {s.in_the_loop_epochs} epochs on the calibrated chip "
        f"({rep.seconds['in_the_loop_training']:.1f} s): test accuracy {100 * rep.accuracy['after in-the-loop']:.1f} %")

    model_path, plot_path, curves_path = out / "model.h5", out / "demo.png", out / "curves.png"
    save_model(model, model_path)
    plot_demo(rep.accuracy, model.records, plot_path)
    plot_training_curves(model.records, curves_path)
    rep.files = {"model": str(model_path), "plot": str(plot_path), "curves": str(curves_path)}
    rep.seconds["total"] = time.perf_counter() - t0
    return rep
