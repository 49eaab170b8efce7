"""``neuroemu calibrate --hardware NAME --chip SEED [--target FILE] -o CAL.h5``."""
from __future__ import annotations

from typing import Any

import click

from neuroemu.cli import main
from neuroemu.cli.output import emit, json_option


def _render(rep: dict[str, Any]) -> str:
    from neuroemu.calibration import render_report

    text = render_report(rep)
    if rep.get("from_cache"):
        text += f"\n  (from the cache: {rep.get('cache_file', '')}; --no-cache recomputes)"
    if rep.get("output"):
        text += f"\nwrote {rep['output']}"
    if rep.get("plot"):
        text += f"\nwrote {rep['plot']}"
    return text


def _calibration_summary(path: str) -> dict[str, Any]:
    from neuroemu.calibration import calibration_report, load_calibration

    return calibration_report(load_calibration(path))


def _calibration_render(rep: dict[str, Any]) -> str:
    from neuroemu.calibration import render_report

    return render_report(rep)


def _register_inspect() -> None:
    from neuroemu.cli.inspect import SUMMARIES

    SUMMARIES["calibration"] = (_calibration_summary, _calibration_render)


_register_inspect()


@main.command("calibrate")
@click.option("--hardware", "-H", default="bss2", show_default=True, help="Hardware config name or YAML path.")
@click.option("--chip", type=click.IntRange(min=0), default=0, show_default=True,
              help="Chip instance (seed) to calibrate.")
@click.option("--target", "target_file", type=click.Path(dir_okay=False), default=None,
              help="Target file (YAML); default: calix's targets (leak 80, reset 70, threshold 125 CADC; "
                   "tau_mem 10, tau_syn 10, refractory 2 µs).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True,
              help="Calibration file to write (HDF5).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Noise seed of the measurement runs.")
@click.option("--noise/--no-noise", default=True,
              help="Measure with temporal noise (membrane noise, threshold jitter) on.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Histograms before/after (.png, .pdf, .svg).")
@click.option("--cache/--no-cache", default=True, show_default=True,
              help="Reuse a cached calibration of the same chip and targets.")
@json_option
def calibrate_cmd(hardware: str, chip: int, target_file: str | None, output: str, seed: int, noise: bool,
                  plot: str | None, cache: bool, as_json: bool) -> None:
    """Calibrate every neuron circuit of an emulated chip by measuring it; print the report."""
    from neuroemu.backends.emulator import Imperfections
    from neuroemu.calibration import calibrate, calibration_report
    from neuroemu.calibration.cache import cache_path
    from neuroemu.calibration.targets import load_targets
    from neuroemu.hardware import load_hardware

    if plot:
        from neuroemu.plotting.figure import check_path

        check_path(plot)  # before the calibration, not after it
    hw = load_hardware(hardware)
    targets = load_targets(target_file, hw)
    imp = Imperfections() if noise else Imperfections().without_noise()
    cal = calibrate(hw, chip, targets, imperfections=imp, seed=seed, cache=cache, progress=None)
    cal.save(output)
    if plot:
        from neuroemu.plotting.calibration import plot_calibration

        plot_calibration(cal, plot)
    rep = calibration_report(cal)
    rep.update(output=output, plot=plot, from_cache=bool(getattr(cal, "_from_cache", False)))
    if rep["from_cache"]:
        rep["cache_file"] = str(cache_path(cal.id))
    emit(rep, as_json, _render)


from neuroemu.cli import calibration_sweep as _calibration_sweep  # noqa: E402,F401  (registers calibration-sweep)
