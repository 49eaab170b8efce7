"""Command-line options for PyNN scripts that run on neuroemu.pynn or any PyNN backend.

PyNN's own ``pyNN.utility.get_simulator`` imports ``pyNN.<name>`` only; this does the same for
any module and adds neuroemu.pynn's ``setup()`` options::

    sim, setup, args = script_arguments(__doc__, ("--plot", dict(help="a PNG to write")))
    sim.setup(timestep=0.1, **setup)

``--simulator`` (default ``neuroemu.pynn``; e.g. ``pyNN.brian2``), ``--backend``, ``--mode``,
``--hardware``, ``--chip`` and ``--calibration`` (neuroemu.pynn only: given to another
simulator they are an error).
"""
from __future__ import annotations

import argparse
import importlib
from types import ModuleType
from typing import Any

_SETUP = {
    "--backend": dict(choices=["emulator", "brian2"], help="neuroemu.pynn: emulator (default) or brian2"),
    "--mode": dict(choices=["ideal", "as-deployed", "chip-replay"], help="neuroemu.pynn, brian2 backend"),
    "--hardware": dict(help="neuroemu.pynn: hardware config name or YAML (default bss2)"),
    "--chip": dict(type=int, help="neuroemu.pynn: chip seed (default 0)"),
    "--calibration": dict(help="neuroemu.pynn: a calibration file of the chip, or 'auto'"),
}


def script_arguments(description: str | None,
                     *extra: tuple[str, dict[str, Any]]) -> tuple[ModuleType, dict, argparse.Namespace]:
    """Parse the command line: (simulator module, its setup() keywords, all arguments)."""
    parser = argparse.ArgumentParser(description=(description or "").strip().splitlines()[0] if description else None)
    parser.add_argument("--simulator", default="neuroemu.pynn", help="PyNN backend module (default neuroemu.pynn)")
    for flag, options in _SETUP.items():
        parser.add_argument(flag, **options)
    for flag, options in extra:
        parser.add_argument(flag, **options)
    args = parser.parse_args()
    setup = {flag[2:]: getattr(args, flag[2:]) for flag in _SETUP if getattr(args, flag[2:]) is not None}
    if setup and args.simulator != "neuroemu.pynn":
        parser.error(f"{', '.join('--' + k for k in setup)} apply to neuroemu.pynn, not to {args.simulator}")
    if args.simulator == "neuroemu.pynn":  # refuse bad options here, not as a traceback from setup()
        from pyNN import errors

        from neuroemu.pynn.control import _settings
        from neuroemu.pynn.session import hardware_config

        try:
            _settings(setup.get("hardware", "bss2"), setup.get("chip", 0), setup.get("backend", "emulator"),
                      setup.get("mode"), setup.get("calibration"), True, 0)
            hardware_config(setup.get("hardware", "bss2"))
        except errors.InvalidParameterValueError as exc:
            parser.error(str(exc))
    try:
        return importlib.import_module(args.simulator), setup, args
    except ImportError as exc:
        parser.error(f"--simulator {args.simulator}: cannot import it ({exc})")


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def existing_file(text: str) -> str:
    """An argparse type: a path to an existing file."""
    import os

    if not os.path.isfile(text):
        raise argparse.ArgumentTypeError(f"{text} is not a file")
    return text
