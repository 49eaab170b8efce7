"""``calibrate``: all routines in order on one emulated chip, cached."""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import json
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

import neuroemu
from neuroemu.backends.emulator import Chip, Imperfections
from neuroemu.calibration import cache as _cache
from neuroemu.calibration.result import Calibration, CalibrationError, calibration_id
from neuroemu.calibration.routines import ROUTINES, Context
from neuroemu.calibration.search import SearchOptions
from neuroemu.calibration.setups import ChipRunner, imperfections_json
from neuroemu.calibration.targets import CalibrationTarget
from neuroemu.hardware import HardwareConfig, load_hardware
from neuroemu.hardware.config import PARAMETERS

TargetsLike = CalibrationTarget | Mapping[str, Any] | str | Path | None


def resolve_targets(targets: TargetsLike, hw: HardwareConfig) -> CalibrationTarget:
    """Targets from None (calix defaults), a :class:`CalibrationTarget`, a mapping (as in a
    target file) or a target file path; checked against ``hw``'s calibratable ranges."""
    if targets is None:
        return CalibrationTarget.default(hw)
    if isinstance(targets, CalibrationTarget):
        targets.check(hw)
        return targets
    if isinstance(targets, (str, Path)):
        return CalibrationTarget.load(targets, hw)
    return CalibrationTarget.from_mapping(targets, hw)


def _key_json(options: SearchOptions) -> str:
    return json.dumps(dataclasses.asdict(options), sort_keys=True)


def calibrate(hardware: HardwareConfig | str, chip: int | Chip = 0, target: TargetsLike = None,
              imperfections: Imperfections | None = None, progress: bool | None = False, cache: bool = True, *,
              seed: int = 0, options: SearchOptions | None = None) -> Calibration:
    """Calibrate every circuit of an emulated chip for ``target`` by measuring through the emulator.

    hardware: config or its name/path; chip: chip seed or :class:`Chip` (used as a black box);
    target: see :func:`resolve_targets` (chip units: V, µs, V/µs per weight code);
    imperfections: run-level imperfections the chip is measured with (default: the config's,
    membrane noise included); seed: noise seed of the first measurement run; cache: reuse and
    store results in :func:`~neuroemu.calibration.cache.cache_dir`; progress: a progress bar on
    stderr (None: only on a terminal); options: search settings.

    Returns a :class:`Calibration`; circuits that miss a target are flagged in ``success`` and
    listed by ``failures()``, not hidden."""
    hw = load_hardware(hardware) if isinstance(hardware, (str, Path)) else hardware
    tgt = resolve_targets(target, hw)
    imp = imperfections or Imperfections()
    options = options or SearchOptions()
    if isinstance(chip, Chip):
        if chip.hardware.content_hash != hw.content_hash:
            raise CalibrationError(f"chip {chip.seed} is a '{chip.hardware.name}' chip (config "
                                   f"{chip.hardware.short_hash}); "
                                   f"calibrating for '{hw.name}' (config {hw.short_hash})")
        chip_seed = chip.seed
    else:
        if int(chip) != chip or chip < 0:
            raise CalibrationError(f"chip seed must be a non-negative integer, got {chip!r}")
        chip_seed = int(chip)
        chip = Chip(hw, chip_seed)
    imp_json = imperfections_json(imp)
    key_imp = imp_json if options == SearchOptions() else json.dumps(
        {"imperfections": json.loads(imp_json), "options": json.loads(_key_json(options))}, sort_keys=True)
    cal_id = calibration_id(hw.content_hash, chip_seed, tgt, key_imp, seed)
    if cache:
        hit = _cache.lookup(cal_id)
        if hit is not None:
            hit._from_cache = True  # noqa: SLF001  (transient, not serialized)
            return hit

    start = time.perf_counter()
    with single_threaded():
        cal = _run_routines(hw, chip, chip_seed, tgt, imp, imp_json, cal_id, seed, options, progress, start)
    if cache:
        _cache.store(cal)
    return cal


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """numba kernels on one thread while calibrating: a calibration makes ~130 short runs, for
    which starting the kernel's thread team costs far more than it saves (it dominates on a busy
    machine); the previous thread count is restored afterwards."""
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def _run_routines(hw: HardwareConfig, chip: Chip, chip_seed: int, tgt: CalibrationTarget, imp: Imperfections,
                  imp_json: str, cal_id: str, seed: int, options: SearchOptions, progress: bool | None,
                  start: float) -> Calibration:
    runner = ChipRunner(hw, chip, imp, seed)
    bar = _progress(len(ROUTINES), progress)
    tick = (lambda: bar.set_postfix(runs=runner.runs, refresh=False)) if bar is not None else None
    ctx = Context(hw, tgt, runner, options, tick=tick)
    try:
        for label, _names, routine in ROUTINES:
            if bar is not None:
                bar.set_description(f"calibrating {label}")
            routine(ctx)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    out = [ctx.outcomes[name] for name in PARAMETERS]
    return Calibration(
        id=cal_id, hardware_name=hw.name, hardware_hash=hw.content_hash, chip_seed=chip_seed,
        neuroemu_version=neuroemu.__version__,
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), targets=tgt,
        parameters=list(PARAMETERS), codes=np.stack([o.codes for o in out]).astype(np.float64),
        achieved=np.stack([o.achieved for o in out]).astype(np.float64),
        uncalibrated=np.stack([o.uncalibrated for o in out]).astype(np.float64),
        nominal_codes=np.array([o.nominal_code for o in out], np.float64),
        success=np.stack([o.success for o in out]).astype(bool), imperfections_json=imp_json,
        cadc_V_per_lsb=hw.voltage.cadc.V_per_lsb, seed=int(seed),
        runs=runner.runs, emulated_us=runner.emulated_us, wall_time_s=time.perf_counter() - start,
        refractory_json=json.dumps(ctx.digital["tau_refrac"], sort_keys=True) if "tau_refrac" in ctx.digital else "",
    )


def calibrate_chip(hardware: HardwareConfig | str, chip_seed: int, target: TargetsLike = None,
                   imperfections: Imperfections | None = None, progress: bool = False) -> Calibration:
    """Calibrate chip ``chip_seed`` of ``hardware`` (cached): the per-chip entry point of sweeps
    and robustness studies. Same as :func:`calibrate` with default search settings and seed 0."""
    return calibrate(hardware, chip_seed, target, imperfections=imperfections, progress=progress)


def _progress(total: int, progress: bool | None):
    if progress is False:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="step", file=sys.stderr, disable=None if progress is None else False, leave=False)
