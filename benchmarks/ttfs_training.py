"""TTFS learning figures: software accuracy and speed, inference speed, deployment on an emulated
bss2 chip (uncalibrated, calibrated, after in-the-loop training), digits.

Reference (issue 6, fastAndDeep v1.0.0 with 2 PyTorch threads on this machine): 3.6 s per Yin-Yang
epoch, 95 % validation first at epoch 75 (~4.5 min), 300 epochs ~18 min for 96.0-96.1 % test;
inference 0.5 s per 1,000 samples.

    python benchmarks/ttfs_training.py                       # everything (~15 min on 2 shared cores)
    python benchmarks/ttfs_training.py --part software --epochs 300
    python benchmarks/ttfs_training.py --part chip --model /tmp/yy.h5 --loop-epochs 20

Prints one line per figure; no assertions (timings are noisy on a shared machine).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from neuroemu.learning import TTFSModel, evaluate, load_dataset, load_model, save_model, train
from neuroemu.learning.deploy import calibration_targets, evaluate_on_backend, train_in_the_loop, weight_limit
from neuroemu.learning.model import training_defaults

PAPER_EPOCH_S = 3.6
PAPER_INFER_S_PER_1000 = 0.5


def software(epochs: int, seed: int, save: str | None) -> TTFSModel:
    data = load_dataset("yinyang")
    model = TTFSModel.for_dataset("yinyang", data, seed=seed)
    train(model.network, data, epochs=1, batch_size=50, progress=False)  # numba JIT warm-up (cached on disk)
    model = TTFSModel.for_dataset("yinyang", data, seed=seed)
    test_at: dict[int, float] = {}
    start = time.perf_counter()
    first_min: list[float] = []

    def cb(epoch, rec, net):
        elapsed = time.perf_counter() - start
        if elapsed <= 60.0:
            first_min[:] = [epoch, evaluate(net, data.test).accuracy]
        if epoch in (50, 100, 150, 200, 300):
            test_at[epoch] = evaluate(net, data.test).accuracy

    rec = train(model.network, data, epochs=epochs, seed=seed, progress=False, callback=cb, keep_best=True,
                weight_limit=weight_limit(model, "bss2"), **training_defaults("yinyang"))
    rec.hyperparameters["mode"] = "software"
    model.records.append(rec)
    total = time.perf_counter() - start
    per_epoch = float(np.median(rec.epoch_seconds))
    test = evaluate(model.network, data.test).accuracy
    first95 = rec.first_epoch_reaching(0.95)
    print(f"software Yin-Yang 4-120-3, {epochs} epochs, batch 50: test {100 * test:.1f} % with the weights of the best "
          f"validation epoch ({rec.best_epoch}: {100 * max(rec.validation_accuracy):.1f} %), total {total:.0f} s")
    print(f"  test accuracy at epochs {', '.join(f'{e}: {100 * a:.1f} %' for e, a in test_at.items())}")
    print(f"  {per_epoch:.2f} s per epoch (median, incl. validation) -> {PAPER_EPOCH_S / per_epoch:.1f}x faster than "
          f"fastAndDeep's {PAPER_EPOCH_S} s")
    if first95 is not None:
        print(f"  95 % validation first at epoch {first95} "
              f"({sum(rec.epoch_seconds[:first95]):.0f} s; paper: epoch 75, ~270 s)")
    else:
        print("  95 % validation not reached")
    if first_min:
        print(f"  after 60 s of training: epoch {first_min[0]}, test {100 * first_min[1]:.1f} %")
    x = np.repeat(data.test.x, 10, axis=0)
    model.network.forward(x)  # warm-up of the threaded kernel (>= 2048 samples; evaluate's 1,000 do not use it)
    t = time.perf_counter()
    model.network.forward(x)
    infer = (time.perf_counter() - t) / len(x) * 1000
    print(f"  inference (closed form): {infer * 1000:.1f} ms per 1,000 samples -> "
          f"{PAPER_INFER_S_PER_1000 / infer:.0f}x faster than fastAndDeep's {PAPER_INFER_S_PER_1000} s")
    if save:
        save_model(model, save)
    return model


def chip(model: TTFSModel, chip_seed: int, loop_epochs: int, loop_lr: float | None, seed: int) -> None:
    from neuroemu.backends.emulator import EmulatorBackend
    from neuroemu.calibration import calibrate
    from neuroemu.hardware import load_hardware

    hw = load_hardware("bss2")
    data = model.dataset_splits()
    t = time.perf_counter()
    cal = calibrate(hw, chip_seed, calibration_targets(model, hw))
    print(f"bss2 chip {chip_seed}: calibration {time.perf_counter() - t:.0f} s "
          f"({'cached' if getattr(cal, '_from_cache', False) else 'measured'})")
    be = EmulatorBackend(chip=chip_seed)
    print(f"  software test {100 * evaluate(model.network, data.test).accuracy:.1f} %")
    t = time.perf_counter()
    unc = evaluate_on_backend(model, be, data.test, hw, None, seed=seed)
    t_unc = time.perf_counter() - t
    print(f"  uncalibrated chip {100 * unc.accuracy:.1f} % ({t_unc:.2f} s for 1,000 samples incl. compile)")
    cal_acc = evaluate_on_backend(model, be, data.test, hw, cal, seed=seed).accuracy
    print(f"  calibrated chip   {100 * cal_acc:.1f} %")
    options = {} if loop_lr is None else {"lr": loop_lr}
    t = time.perf_counter()
    trained, rec = train_in_the_loop(model, be, data, hw, cal, epochs=loop_epochs, seed=seed, **options)
    secs = time.perf_counter() - t
    after = evaluate_on_backend(trained, be, data.test, hw, cal, seed=seed + 1).accuracy
    per_epoch = ", ".join(f"{100 * a:.1f}" for a in rec.validation_accuracy)
    print(f"  after {loop_epochs} in-the-loop epochs ({secs:.0f} s, {secs / loop_epochs:.1f} s/epoch): test "
          f"{100 * after:.1f} %  (validation per epoch: {per_epoch})")


def digits(epochs: int, seed: int) -> None:
    data = load_dataset("digits")
    model = TTFSModel.for_dataset("digits", data, seed=seed)
    t = time.perf_counter()
    rec = train(model.network, data, epochs=epochs, seed=seed, progress=False, weight_limit=weight_limit(model, "bss2"),
                keep_best=True, **training_defaults("digits"))
    print(f"digits 64-100-10, {epochs} epochs ({time.perf_counter() - t:.0f} s, "
          f"best validation epoch {rec.best_epoch}): test "
          f"{100 * evaluate(model.network, data.test).accuracy:.1f} %")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=["all", "software", "chip", "digits"], default="all")
    ap.add_argument("--epochs", type=int, default=300, help="software Yin-Yang epochs")
    ap.add_argument("--model", default=None, help="chip part: start from this model file (else train)")
    ap.add_argument("--save", default=None, help="software part: save the trained model here")
    ap.add_argument("--chip", type=int, default=3)
    ap.add_argument("--loop-epochs", type=int, default=20)
    ap.add_argument("--loop-lr", type=float, default=None, help="in-the-loop Adam lr (nA)")
    ap.add_argument("--digits-epochs", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    model = None
    if a.part in ("all", "software"):
        model = software(a.epochs, a.seed, a.save)
    if a.part in ("all", "chip"):
        model = load_model(a.model) if a.model else (model or software(a.epochs, a.seed, a.save))
        chip(model, a.chip, a.loop_epochs, a.loop_lr, a.seed)
    if a.part in ("all", "digits"):
        digits(a.digits_epochs, a.seed)


if __name__ == "__main__":
    main()
