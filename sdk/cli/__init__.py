"""The ``amlocal`` command line: workspaces, datastores, environments, published pipelines, runs
and models of the local store, with az ml v1's flag names where az has the command.

Every command prints tables for people and, with ``-o json``, JSON for scripts. Any amlocal
error (``amlocal.errors.AmlocalError``, which includes ``UserErrorException`` and
``DockerUnavailableError``) ends the command with exit status 1 and ONE ``Error: ...`` line on
stderr, never a traceback; Ctrl-C ends it with exit status 130.

Importing this package is cheap: click only. rich and the SDK are imported by the commands
that use them.
"""
from __future__ import annotations

import os
import sys

import click

from .. import __version__
from ..errors import AmlocalError
from ._common import EXIT_ERROR, EXIT_INTERRUPTED, one_line


class _AmlocalGroup(click.Group):
    """The root group: turns amlocal errors into one plain line and an exit status."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            _silence_stdout()  # `amlocal ... | head`: the reader left; say nothing more
            ctx.exit(EXIT_ERROR)
        except (AmlocalError, OSError) as exc:
            click.echo(f"Error: {one_line(str(exc) or type(exc).__name__)}", err=True)
            ctx.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(EXIT_INTERRUPTED)


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (tests) or already closed
        pass


@click.group(cls=_AmlocalGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="amlocal")
def cli() -> None:
    """amlocal: the Azure ML SDK v1 workspace and pipeline API on your own machine.

    Select the workspace with -w/--workspace-name (and -g/--resource-group), or run where
    .azureml/config.json is found. Add -o json to list and show commands for scripts.
    """


def _register() -> None:
    from .compute import compute
    from .dataset import dataset
    from .datastore import datastore
    from .env import env
    from .model import model
    from .pipeline import pipeline
    from .run import run
    from .studio import studio
    from .webservice import webservice
    from .workspace import workspace
    for group in (workspace, datastore, dataset, env, compute, pipeline, run, model, webservice,
                  studio):
        cli.add_command(group)


_register()


def main(argv: list[str] | None = None) -> None:
    """The ``amlocal`` console script."""
    cli.main(args=argv, prog_name="amlocal")


__all__ = ["cli", "main"]
