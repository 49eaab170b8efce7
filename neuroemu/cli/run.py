"""``neuroemu run NET.h5 --backend emulator|brian2 ...`` and ``neuroemu chip show``."""
from __future__ import annotations

from typing import Any

import click
import numpy as np

from neuroemu.cli import main
from neuroemu.cli.options import run_input_options
from neuroemu.cli.output import emit, json_option
from neuroemu.errors import NeuroemuError
from neuroemu.ir.model import IR
from neuroemu.spikes import SpikeTrains


def poisson_inputs(ir: IR, rate_hz: float, duration_ms: float, trials: int, seed: int) -> dict[str, SpikeTrains]:
    """Independent Poisson trains (``rate_hz`` Hz, ``duration_ms`` biological ms) for every
    spike-source population (seeded per population); a rate that is not a number >= 0 or a
    duration that is not > 0 raises :class:`NeuroemuError`."""
    if not (np.isfinite(rate_hz) and rate_hz >= 0):
        raise NeuroemuError(f"--poisson rate must be a finite number >= 0 Hz, got {rate_hz}")
    if not (np.isfinite(duration_ms) and duration_ms > 0):
        raise NeuroemuError(f"duration must be a positive number of ms, got {duration_ms}")
    out = {}
    for i, pop in enumerate(ir.network.source_populations()):
        s = int(np.random.SeedSequence([seed, 7919, i]).generate_state(1)[0])
        out[pop.name] = SpikeTrains.poisson(pop.size, rate_hz, duration_ms, trials, seed=s)
    return out


def make_backend(name: str, chip: int, mode: str | None = None, calibration: str | None = None,
                 noise: bool | None = True, mismatch: bool | None = True):
    """A backend from CLI options (shared by run, compare, evaluate).

    noise / mismatch (None: default on) build the emulator's :class:`Imperfections`; Brian2
    replays the same in ``chip-replay`` mode and refuses them in ``ideal`` / ``as-deployed``
    (where there is no chip) when given explicitly as False."""
    from neuroemu.backends import available_backends, get_backend

    options: dict[str, Any] = {}
    cal = None
    if calibration:
        from neuroemu.calibration import load_calibration

        cal = load_calibration(calibration)

    def imperfections():
        from neuroemu.backends.emulator import Imperfections

        imp = Imperfections()
        if noise is False:
            imp = imp.without_noise()
        if mismatch is False:
            imp = imp.replace(mismatch_scale=0.0, weight_mismatch_scale=0.0)
        return imp

    if name == "emulator":
        if mode is not None:
            raise NeuroemuError("--mode applies to the brian2 backend only")
        options = {"chip": chip, "imperfections": imperfections(), "calibration": cal}
    elif name == "brian2":
        mode = mode or "ideal"
        options = {"mode": mode, "chip": chip}
        if mode == "chip-replay":
            options.update(imperfections=imperfections(), calibration=cal)
        else:
            if cal is not None:
                raise NeuroemuError("--calibration applies to the emulator and brian2 --mode chip-replay, not to "
                                    f"brian2 --mode {mode}")
            if noise is False or mismatch is False:
                raise NeuroemuError(f"--no-noise / --no-mismatch apply to the emulator and brian2 --mode chip-replay; "
                                    f"brian2 --mode {mode} has no noise or mismatch")
    elif name not in available_backends():
        raise NeuroemuError(f"unknown backend '{name}' (available: {', '.join(available_backends())})")
    return get_backend(name, **options)


def _render(rep: dict[str, Any]) -> str:
    from neuroemu.cli.inspect import SUMMARIES

    return SUMMARIES["result"][1](rep) + (f"\nwrote {rep['output']}" if rep.get("output") else "")


@main.command("run")
@click.argument("network", type=click.Path(dir_okay=False))
@click.option("--backend", "-b", default="emulator", show_default=True, help="emulator or brian2.")
@click.option("--chip", type=click.IntRange(min=0), default=0, show_default=True,
              help="Chip instance (seed) of the emulated chip (emulator; brian2 chip-replay).")
@click.option("--mode", type=click.Choice(["ideal", "as-deployed", "chip-replay"]), default=None,
              help="Brian2 only: the description as written (ideal, default), its 6-bit weights (as-deployed), or the "
                   "effective network of emulated chip --chip (chip-replay).")
@click.option("--calibration", type=click.Path(dir_okay=False), default=None,
              help="Calibration file (CAL.h5) to apply.")
@run_input_options
@click.option("--noise/--no-noise", default=None,
              help="Temporal noise on (default) or off: emulator and brian2 chip-replay.")
@click.option("--mismatch/--no-mismatch", default=None,
              help="Fixed-pattern mismatch on (default) or off: emulator and brian2 chip-replay.")
@click.option("--readout", type=click.Choice(["probe", "madc", "cadc"]), default="probe", show_default=True,
              help="How the recorded membranes (the network's record.v) are read: probe (every integration step, "
                   "exact, any number of neurons), madc (the chip's 10-bit MADC: at most 2 neurons, a sample every "
                   "0.034 µs on bss2) or cadc (8-bit, all neurons every 2 µs on bss2).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Result file to write (HDF5).")
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Raster (and trace) plot, .png, .pdf or .svg.")
@json_option
def run_cmd(network, backend, chip, mode, calibration, duration, trials, seed, input_path, poisson_hz, noise,
            mismatch, readout, output, plot, as_json) -> None:
    """Run the compiled network NETWORK (IR .h5) on a backend."""
    from neuroemu.backends import load_spikes, save_result
    from neuroemu.ir import load_ir

    if input_path and poisson_hz is not None:
        raise NeuroemuError("give either --input or --poisson, not both")
    if plot:  # before the run
        from neuroemu.plotting.figure import check_path

        check_path(plot)
    ir = load_ir(network)
    inputs = None
    if input_path:
        inputs = load_spikes(input_path)
    elif poisson_hz is not None:
        inputs = poisson_inputs(ir, poisson_hz, duration, trials, seed)
    be = make_backend(backend, chip, mode, calibration, noise, mismatch)
    result = be.run(ir, inputs, duration=duration, trials=trials, seed=seed, readout=readout)
    if output:
        save_result(result, output)
    if plot:
        from neuroemu.plotting.raster import plot_raster

        plot_raster(result, plot)
    rep = result.summary()
    rep["output"] = output
    emit(rep, as_json, _render)


@main.group("chip")
def chip_group() -> None:
    """Emulated chip instances (a chip is a hardware config and a seed)."""


def _chip_render(rep: dict[str, Any]) -> str:
    lines = [f"chip {rep['chip_seed']} of {rep['hardware']} (config {rep['hardware_hash']}): spread of each parameter "
             "at the nominal code of its calibration-default target (uncalibrated)",
             f"  {'parameter':<16} {'target':>10} {'code':>6} {'mean':>10} {'std':>10} {'rel std':>8}  unit"]
    for name, p in rep["parameters"].items():
        rc = p.get("refractory_counter")
        if rc:  # digital: no DAC code, no spread
            lines.append(f"  {name:<16} {p['target']:>10.4g} {'-':>6} {p['mean']:>10.4g} {p['std']:>10.3g} "
                         f"{100 * p['relative_std']:>7.1f}%  {p['unit']} (counter {rc['counter']} x "
                         f"{1000 * rc['period_us']:g} ns, clock scale {rc['clock_scale']})")
            continue
        lines.append(f"  {name:<16} {p['target']:>10.4g} {p['nominal_code']:>6.0f} {p['mean']:>10.4g} "
                     f"{p['std']:>10.3g} "
                     f"{100 * p['relative_std']:>7.1f}%  {p['unit']}")
    lines.append(f"  synapse-driver row gain: std {rep['row_gain']['std']:.3f}; synapse factor: std "
                 f"{rep['synapse_factor']['std']:.3f}")
    lines.append(f"  dead circuits: {len(rep['dead_circuits'])} {rep['dead_circuits'][:20]}")
    return "\n".join(lines)


def _chip_summary(path: str) -> dict[str, Any]:
    from neuroemu.backends.emulator import Chip

    return Chip.load(path).summary()


def _register_inspect() -> None:
    from neuroemu.cli.inspect import SUMMARIES

    SUMMARIES["chip"] = (_chip_summary, _chip_render)


_register_inspect()


@chip_group.command("show")
@click.option("--hardware", "-H", default="bss2", show_default=True, help="Hardware config name or YAML path.")
@click.option("--chip", type=click.IntRange(min=0), default=0, show_default=True, help="Chip seed.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Also save the chip (HDF5).")
@json_option
def chip_show(hardware: str, chip: int, output: str | None, as_json: bool) -> None:
    """Summarise the fixed pattern drawn for chip seed CHIP."""
    from neuroemu.backends.emulator import Chip
    from neuroemu.hardware import load_hardware

    c = Chip(load_hardware(hardware), chip)
    if output:
        c.save(output)
    emit(c.summary(), as_json, _chip_render)
