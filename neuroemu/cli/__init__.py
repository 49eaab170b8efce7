"""The ``neuroemu`` command line (click).

User errors (:class:`~neuroemu.errors.NeuroemuError`) print one paragraph and exit with 2;
no traceback. Commands live in one module each and register on :data:`main`.
"""
from __future__ import annotations

import click

import neuroemu
from neuroemu.errors import NeuroemuError


class UserError(click.ClickException):
    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True)


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except NeuroemuError as exc:
            raise UserError(str(exc)) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(neuroemu.__version__, prog_name="neuroemu")
def main() -> None:
    """neuroemu: compile spiking networks for a BrainScaleS-2-like chip and run them on its
    emulator or in Brian2.

    \b
    network.yaml --compile--> NET.h5 (IR) --run--> RESULT.h5
    """


from neuroemu.cli import calibrate as _calibrate  # noqa: E402,F401  (registers commands)
from neuroemu.cli import compare as _compare  # noqa: E402,F401
from neuroemu.cli import compile as _compile  # noqa: E402,F401
from neuroemu.cli import demo as _demo  # noqa: E402,F401
from neuroemu.cli import evaluate as _evaluate  # noqa: E402,F401
from neuroemu.cli import hardware as _hardware  # noqa: E402,F401
from neuroemu.cli import inspect as _inspect  # noqa: E402,F401
from neuroemu.cli import nir_commands as _nir_commands  # noqa: E402,F401
from neuroemu.cli import robustness as _robustness  # noqa: E402,F401
from neuroemu.cli import run as _run  # noqa: E402,F401
from neuroemu.cli import train as _train  # noqa: E402,F401
