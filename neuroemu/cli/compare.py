"""``neuroemu compare NET.h5 --backends emulator,brian2 ...``: one network, the same inputs, several
backends; reports their agreement (:mod:`neuroemu.comparison`)."""
from __future__ import annotations

from typing import Any

import click

from neuroemu.cli import main
from neuroemu.cli.options import run_input_options
from neuroemu.cli.output import emit, json_option
from neuroemu.errors import NeuroemuError


def _render(rep: dict[str, Any]) -> str:
    lines = [f"{rep['network']}: {rep['trials']} trial(s) x {rep['duration_ms']:g} ms, inputs: {rep['inputs']}"]
    for name, b in rep["backends"].items():
        lines.append(f"  {name:<10} {b['spikes']:>8} spikes  {b['wall_time_s']:8.3f} s wall  {b['setting']}")
    for c in rep["comparisons"]:
        a, b = c["labels"]
        o = c["overall"]
        dt = "-" if o["max_abs_dt_ms"] is None else f"{o['max_abs_dt_ms']:.4g} ms (mean {o['mean_abs_dt_ms']:.3g} ms)"
        lines.append(f"{b} vs {a} (matching window {c['window_ms']:g} ms, van Rossum tau {c['van_rossum_tau_ms']:g} "
                     "ms):")
        lines.append(f"  {'population':<12} {'spikes':>15} {'count diff':>11} {'matched':>8} {'unmatched':>11} "
                     f"{'max |dt| ms':>12} {'mean |dt| ms':>13} {'van Rossum':>11}")
        for name, p in c["populations"].items():
            mx = "-" if p["max_abs_dt_ms"] is None else f"{p['max_abs_dt_ms']:.4g}"
            mn = "-" if p["mean_abs_dt_ms"] is None else f"{p['mean_abs_dt_ms']:.3g}"
            lines.append(f"  {name:<12} {p['spikes'][0]:>7}/{p['spikes'][1]:<7} {p['count_diff']:>+6} "
                         f"({100 * p['count_rel_diff']:.2f}%) {p['matched']:>6} "
                         f"{p['unmatched'][0]:>5}/{p['unmatched'][1]:<5} "
                         f"{mx:>12} {mn:>13} {p['van_rossum_mean']:>11.4g}")
        verdict = "agree" if c["agree"] else "differ"
        lines.append(f"  overall: count diff {o['count_diff']:+d} ({100 * o['count_rel_diff']:.2f} %), max |dt| {dt}: "
                     f"{verdict} (criterion: <= {c['criterion']['max_dt_ms']:g} ms, <= "
                     f"{100 * c['criterion']['max_count_rel']:g} % counts)")
    if rep.get("plot"):
        lines.append(f"wrote {rep['plot']}")
    return "\n".join(lines)


@main.command("compare")
@click.argument("network", type=click.Path(dir_okay=False))
@click.option("--backends", "backend_list", default="emulator,brian2", show_default=True,
              help="Comma-separated backends; the first is the reference.")
@click.option("--chip", type=click.IntRange(min=0), default=0, show_default=True,
              help="Chip instance (seed): the emulator's chip, replayed by brian2 --mode chip-replay.")
@click.option("--mode", type=click.Choice(["ideal", "as-deployed", "chip-replay"]), default="ideal", show_default=True,
              help="Brian2: the description as written, its deployed 6-bit weights, or the emulator chip's effective "
                   "network.")
@click.option("--calibration", type=click.Path(dir_okay=False), default=None,
              help="Calibration file (CAL.h5): emulator and brian2 chip-replay.")
@click.option("--noise/--no-noise", default=False, show_default=True,
              help="Temporal noise of the emulator (and brian2 chip-replay); off by default so differences are "
                   "systematic.")
@click.option("--mismatch/--no-mismatch", default=True, show_default=True,
              help="Fixed-pattern mismatch of the emulator (and brian2 chip-replay).")
@run_input_options
@click.option("--window", "window_ms", type=float, default=1.0, show_default=True,
              help="Spike matching window (biological ms): spikes further apart count as unmatched.")
@click.option("--tau", "tau_ms", type=float, default=5.0, show_default=True, help="van Rossum time constant (ms).")
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Overlay of rasters and membrane traces (trial 0), .png/.pdf/.svg.")
@json_option
def compare_cmd(network, backend_list, chip, mode, calibration, noise, mismatch, duration, trials, seed, input_path,
                poisson_hz, window_ms, tau_ms, plot, as_json) -> None:
    """Run NETWORK (IR .h5) on several backends with the same inputs and report their agreement:
    spike counts, spike times matched per neuron and trial, van Rossum distance."""
    from neuroemu.backends import load_spikes
    from neuroemu.cli.run import make_backend, poisson_inputs
    from neuroemu.comparison import agrees, compare_results
    from neuroemu.ir import load_ir

    names = [b.strip() for b in backend_list.split(",") if b.strip()]
    if len(names) < 2 or len(set(names)) != len(names):
        raise NeuroemuError(f"--backends needs at least two different backends, comma-separated (got '{backend_list}')")
    if input_path and poisson_hz is not None:
        raise NeuroemuError("give either --input or --poisson, not both")
    if not (window_ms > 0 and tau_ms > 0):
        raise NeuroemuError(f"--window and --tau must be > 0 ms, got {window_ms} and {tau_ms}")
    if plot:  # before minutes of simulation
        from neuroemu.plotting.figure import check_path

        check_path(plot)
    ir = load_ir(network)
    inputs, what = None, "the description's spike times"
    if input_path:
        inputs, what = load_spikes(input_path), input_path
    elif poisson_hz is not None:
        inputs = poisson_inputs(ir, poisson_hz, duration, trials, seed)
        what = f"Poisson {poisson_hz:g} Hz (seed {seed})"

    chip_kind = mode == "chip-replay"
    backends, settings = {}, {}
    for name in names:
        if name == "brian2":
            backends[name] = make_backend(name, chip, mode, calibration if chip_kind else None,
                                          noise if chip_kind else None, mismatch if chip_kind else None)
            settings[name] = f"mode {mode}" + (f", chip {chip}" if chip_kind else "")
        else:
            backends[name] = make_backend(name, chip, None, calibration, noise, mismatch)
            settings[name] = (f"chip {chip}, noise {'on' if noise else 'off'}, mismatch {'on' if mismatch else 'off'}"
                              + (", calibrated" if calibration else ""))
    results = {name: be.run(ir, inputs, duration=duration, trials=trials, seed=seed) for name, be in backends.items()}
    ref = names[0]
    comparisons = []
    for name in names[1:]:
        c = compare_results(results[ref], results[name], window_ms, tau_ms, labels=[ref, name])
        c["criterion"] = {"max_dt_ms": 0.1, "max_count_rel": 0.01}
        c["agree"] = agrees(c, **c["criterion"])
        comparisons.append(c)
    if plot:
        from neuroemu.plotting.compare import plot_comparison

        plot_comparison([results[n] for n in names], plot, labels=names, report=comparisons[0])
    rep = {
        "network": ir.network.name, "duration_ms": duration, "trials": trials, "seed": seed, "inputs": what,
        "backends": {n: {"setting": settings[n], "spikes": sum(len(p.spikes) for p in r.populations.values()),
                         "wall_time_s": r.wall_time_s, "info": r.info} for n, r in results.items()},
        "comparisons": comparisons, "plot": plot,
    }
    emit(rep, as_json, _render)
