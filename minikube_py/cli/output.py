"""Consoles and the error exit shared by the CLI commands (minikube's `❌  Exiting due to X: …` shape)."""
from __future__ import annotations

import sys
from typing import NoReturn

import click
from rich.console import Console

# Piped output (tests, scripts) gets a wide console so tables are not cut at 80 columns.
console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(reason: str, message: str, exit_code: int = 1) -> NoReturn:
    err_console.print(f"\n❌  Exiting due to {reason}: {message}\n", markup=False)
    raise click.exceptions.Exit(exit_code)
