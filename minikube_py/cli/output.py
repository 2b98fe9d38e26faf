"""Consoles and the error exit shared by the CLI commands (minikube's `❌  Exiting due to X: …` shape)."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator, NoReturn

import click
from rich.console import Console

# Piped output (tests, scripts) gets a wide console so tables are not cut at 80 columns.
console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(reason: str, message: str, exit_code: int = 1) -> NoReturn:
    err_console.print(f"\n❌  Exiting due to {reason}: {message}\n", markup=False)
    raise click.exceptions.Exit(exit_code)


def out():
    """Progress lines of `minikube_py.cluster.lifecycle` printed on the console."""
    from minikube_py.cluster.lifecycle import Out
    return Out(lambda line: console.print(line, markup=False))


@contextmanager
def reported() -> Iterator[None]:
    """Turn a `ClusterError` into minikube's exit line and code."""
    from minikube_py.cluster.lifecycle import ClusterError
    try:
        yield
    except ClusterError as err:
        fail(err.reason, str(err), err.exit_code)
    except KeyboardInterrupt:
        fail("INTERRUPTED", "interrupted", 130)
