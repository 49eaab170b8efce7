"""Values of CLI options shared by several commands (parsed into plain Python, errors as
:class:`~neuroemu.errors.NeuroemuError` so the CLI exits with 2 and a clear message)."""
from __future__ import annotations

from typing import Any, Callable

import click

from neuroemu.errors import NeuroemuError
from neuroemu.nir.graph import is_nir_file


def parse_vary(values: tuple[str, ...], example: str = "tau_mem=5,10,20") -> list[tuple[str, list[float]]]:
    """``--vary NAME=V1,V2,...`` (repeatable) -> ``[(NAME, [V1, V2, ...]), ...]``."""
    axes = []
    for text in values:
        name, sep, rest = text.partition("=")
        if not sep or not name.strip() or not rest.strip():
            raise NeuroemuError(f"--vary {text!r}: expected KNOB=V1,V2,... (e.g. {example})")
        try:
            vals = [float(v) for v in rest.split(",") if v.strip()]
        except ValueError:
            raise NeuroemuError(f"--vary {text!r}: values must be numbers separated by commas") from None
        axes.append((name.strip(), vals))
    return axes


def _v_scale(value: str | None) -> float | str | None:
    if value is None or value == "auto":
        return value
    try:
        return float(value)
    except ValueError:
        raise NeuroemuError(f"--v-scale must be a number (mV per NIR unit) or 'auto', got {value!r}") from None


def run_input_options(f: Callable) -> Callable:
    """--duration, --trials, --seed, --input, --poisson (one run of a network: `run`, `compare`)."""
    options = [
        click.option("--duration", type=float, default=100.0, show_default=True, help="Biological ms per trial."),
        click.option("--trials", type=click.IntRange(min=1), default=1, show_default=True),
        click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
                     help="Run seed (noise, Poisson input)."),
        click.option("--input", "input_path", type=click.Path(dir_okay=False), default=None,
                     help="Input spikes (neuroemu spikes HDF5)."),
        click.option("--poisson", "poisson_hz", type=float, default=None,
                     help="Drive every spike source with Poisson spikes (Hz)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def nir_options(f: Callable) -> Callable:
    """--time-scale, --dt, --v-scale, --v-offset (for NIR graphs only)."""
    options = [
        click.option("--time-scale", type=click.FloatRange(min=0, min_open=True), default=None,
                     help="NIR graphs: biological ms per NIR ms (1 s of NIR time = 1000 x this ms) [default 1]."),
        click.option("--dt", type=click.FloatRange(min=0, min_open=True), default=None,
                     help="NIR graphs: the time step (s) of a discrete-time export (snnTorch, Norse, Lava, Rockpool "
                          "write r = tau_mem/dt, w_in = tau_syn/dt); without it the continuous model is imported."),
        click.option("--v-scale", default=None, metavar="MV|auto",
                     help="NIR graphs: mV per NIR voltage unit [default auto: the largest threshold-to-leak distance "
                          "at 15 mV, less where the graph's potentials would leave the chip's ranges]."),
        click.option("--v-offset", type=float, default=None, help="NIR graphs: mV of NIR's v = 0 (with --v-scale)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def nir_kwargs(path: str, time_scale, dt, v_scale, v_offset) -> dict[str, Any]:
    """The import options for ``path``; refuses them for a file that is not a NIR graph."""
    given = {k: v for k, v in (("--time-scale", time_scale), ("--dt", dt), ("--v-scale", v_scale),
                               ("--v-offset", v_offset)) if v is not None}
    if not is_nir_file(path):
        if given:
            raise NeuroemuError(f"{', '.join(given)} apply to NIR graphs only; {path} is not one")
        return {}
    return {"time_scale": 1.0 if time_scale is None else float(time_scale), "dt": dt, "v_scale": _v_scale(v_scale),
            "v_offset": v_offset}


def readout_options(f: Callable) -> Callable:
    """--data, --readout, --output-layer, --duration: a network classifier on labelled inputs."""
    from neuroemu.studies.classify import READOUTS

    options = [
        click.option("--data", "data_path", type=click.Path(dir_okay=False), default=None,
                     help="Labelled inputs (DATA.h5: NIR event data or a neuroemu spikes file, with 'labels') for a "
                          "network MODEL: a NIR graph or a network description (YAML; evaluate: also a compiled IR)."),
        click.option("--readout", type=click.Choice(READOUTS), default=None,
                     help="With --data: class = most spikes, earliest spike, or highest membrane (CubaLI/LI readout "
                          "layer) [default: max-v for a readout layer, else count]."),
        click.option("--output-layer", default=None,
                     help="With --data: the population that reads out the class [default: the one feeding the NIR "
                          "Output, else the last]."),
        click.option("--duration", type=click.FloatRange(min=0, min_open=True), default=None,
                     help="With --data: run length per sample, biological ms [default: the data's t_max]."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def refuse_without_data(**given: Any) -> None:
    """Options of network classifiers (keyword = option name with _ for -) used without --data."""
    named = [f"--{k.replace('_', '-')}" for k, v in given.items() if v is not None]
    if named:
        raise NeuroemuError(f"{', '.join(named)} need --data (a network classifier)")
