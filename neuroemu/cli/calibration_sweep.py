"""``neuroemu calibration-sweep --hardware NAME --vary PARAM=V1,V2 --chips 0-9 -o SWEEP.h5``."""
from __future__ import annotations

import math
from typing import Any

import click

from neuroemu.cli import main
from neuroemu.cli.options import parse_vary
from neuroemu.cli.output import emit, json_option
from neuroemu.errors import NeuroemuError

#: short column names of the table
_SHORT = {"v_leak": "leak", "v_reset": "reset", "v_thresh": "thresh", "tau_mem": "tau_mem", "tau_syn_exc": "tau_se",
          "tau_syn_inh": "tau_si", "tau_refrac": "refrac", "input_gain_exc": "gain_e", "input_gain_inh": "gain_i"}


def parse_chips(text: str) -> list[int]:
    """``"0-9"``, ``"0,3,5"`` or ``"0-3,8"`` -> chip seeds (order kept, no repeats)."""
    chips: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        try:
            if sep:
                a, b = int(lo), int(hi)
                if b < a:
                    raise ValueError
                chips.extend(range(a, b + 1))
            else:
                chips.append(int(part))
        except ValueError:
            raise NeuroemuError(f"--chips {text!r}: expected seeds like 0-9, 0,3,5 or 0-3,8 (non-negative, ascending "
                                "ranges)") from None
    if not chips:
        raise NeuroemuError(f"--chips {text!r}: no chip seeds given")
    if len(set(chips)) != len(chips):
        raise NeuroemuError(f"--chips {text!r}: a chip seed repeats")
    return chips


def _cell(v: Any, bound: Any = 0.0) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return ("<" if bound else "") + f"{v:.3f}"


def _render(rep: dict[str, Any]) -> str:
    axes = rep["axes"]
    params = rep["parameters"]
    lines = [f"calibration sweep on {rep['hardware']}: {len(rep['table'])} points x {len(rep['chips'])} chips "
             f"({rep['chips_text']}), noise {'on' if rep['noise'] else 'off'}",
             "  calibrated / uncalibrated std of the measured values (5 % tails cut), mean over chips; "
             "failed: circuits missing a target per chip;",
             "  '<': calibrated spread below one CADC step (upper bound)"]
    head = [*axes, "chips", *[_SHORT[p] for p in params], "failed"]
    widths = [max(len(h), 7) for h in head]
    lines.append("  " + "  ".join(h.rjust(w) for h, w in zip(head, widths)))
    for row in rep["table"]:
        cells = ([f"{row[a]:g}" for a in axes] + [str(row["chips_done"])]
                 + [_cell(row.get(f"{p}_ratio_mean"), row.get(f"{p}_adc_limited_mean")) for p in params]
                 + [f"{row.get('failed_mean', 0):g}"])
        lines.append("  " + "  ".join(c.rjust(w) for c, w in zip(cells, widths)))
    for key in ("output", "plot"):
        if rep.get(key):
            lines.append(f"wrote {rep[key]}")
    return "\n".join(lines)


@main.command("calibration-sweep")
@click.option("--hardware", "-H", default="bss2", show_default=True, help="Hardware config name or YAML path.")
@click.option("--vary", "vary", multiple=True, required=True, metavar="PARAM=V1,V2,...",
              help="A target parameter and its values (units of a target file: V, µs, V/µs per code); repeat for "
                   "a grid (Cartesian product).")
@click.option("--chips", "chips_text", default="0-9", show_default=True, help="Chip seeds: 0-9, 0,3,5 or 0-3,8.")
@click.option("--target", "target_file", type=click.Path(dir_okay=False), default=None,
              help="Base target file (YAML) the points override; default: calix's targets.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="Sweep store (HDF5).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Noise seed of every calibration (0: as `neuroemu calibrate`, shares its cache).")
@click.option("--noise/--no-noise", default=True, help="Measure with temporal noise on.")
@click.option("--cache/--no-cache", default=True, show_default=True, help="Reuse and fill the calibration cache.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="LocalCluster workers (default: cores).")
@click.option("--scheduler", default=None, help="Address of an existing Dask scheduler (default: a LocalCluster).")
@click.option("--resume", is_flag=True, help="Continue an interrupted sweep in OUTPUT (same arguments).")
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Spread ratio vs the varied target (.png, .pdf, .svg).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@json_option
def calibration_sweep_cmd(hardware: str, vary: tuple[str, ...], chips_text: str, target_file: str | None, output: str,
                          seed: int, noise: bool, cache: bool, workers: int | None, scheduler: str | None,
                          resume: bool, plot: str | None, no_progress: bool, as_json: bool) -> None:
    """Calibrate chip seeds x target points on the sweep engine (Dask, resumable); print the
    achieved spreads per point."""
    from neuroemu.calibration.sweep import build_spec, table
    from neuroemu.calibration.targets import load_targets
    from neuroemu.hardware import load_hardware
    from neuroemu.hardware.config import PARAMETERS
    from neuroemu.sweeps import run_sweep

    if plot:
        from neuroemu.plotting.figure import check_path

        check_path(plot)  # before the sweep, not after it
    hw = load_hardware(hardware)
    axes = parse_vary(vary)
    chips = parse_chips(chips_text)
    spec = build_spec(hw, axes, chips, base=load_targets(target_file, hw), noise=noise, cache=cache, seed=seed)
    records = run_sweep(spec, output, scheduler=scheduler, workers=workers, resume=resume, progress=not no_progress)
    rows = table(spec, records)
    rep = {"hardware": hw.name, "axes": [a for a, _ in axes], "chips": chips, "chips_text": chips_text,
           "noise": noise, "seed": seed, "parameters": list(PARAMETERS), "table": rows, "output": output}
    if plot:
        from neuroemu.plotting.calibration import plot_calibration_sweep

        plot_calibration_sweep(rows, rep["axes"], plot, title=f"calibration sweep on {hw.name}, {len(chips)} chips")
        rep["plot"] = plot
    emit(rep, as_json, _render)
