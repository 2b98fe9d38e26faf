"""`node add|delete|list|stop|start`: local nodes of a running profile (network namespaces)."""
from __future__ import annotations

import click

from minikube_py.cli.main import main, profile_option, resolve_profile
from minikube_py.cli.output import out, reported
from minikube_py.cluster import layout, lifecycle


@main.group("node")
def node_group() -> None:
    """Add, remove, stop and start nodes."""


@node_group.command("add")
@profile_option
@click.option("--wait-timeout", type=float, default=180.0, show_default=True, metavar="SECONDS")
@click.pass_context
def node_add_cmd(ctx: click.Context, profile: str | None, wait_timeout: float) -> None:
    """Add a node (named like minikube's: <profile>-m02, -m03, …) and wait until it is Ready."""
    with reported():
        lifecycle.node_add(resolve_profile(ctx, profile), wait_timeout, out())


@node_group.command("delete")
@profile_option
@click.argument("name")
@click.pass_context
def node_delete_cmd(ctx: click.Context, profile: str | None, name: str) -> None:
    """Delete a node: its process, containers, namespace, routes and Node object."""
    with reported():
        lifecycle.node_delete(resolve_profile(ctx, profile), name, out())


@node_group.command("stop")
@profile_option
@click.argument("name")
@click.pass_context
def node_stop_cmd(ctx: click.Context, profile: str | None, name: str) -> None:
    """Simulate a node failure: its agent and proxy stop and its link goes down; containers keep running."""
    with reported():
        lifecycle.node_stop(resolve_profile(ctx, profile), name, out())


@node_group.command("start")
@profile_option
@click.argument("name")
@click.option("--wait-timeout", type=float, default=180.0, show_default=True, metavar="SECONDS")
@click.pass_context
def node_start_cmd(ctx: click.Context, profile: str | None, name: str, wait_timeout: float) -> None:
    """Heal a stopped node: link up, process started again, wait Ready."""
    with reported():
        lifecycle.node_start(resolve_profile(ctx, profile), name, wait_timeout, out())


@node_group.command("list")
@profile_option
@click.pass_context
def node_list_cmd(ctx: click.Context, profile: str | None) -> None:
    """List nodes as `NAME<TAB>IP` (like `minikube node list`)."""
    with reported():
        cfg = lifecycle.load_config(resolve_profile(ctx, profile))
    for node in layout.load_nodes(cfg):
        click.echo(f"{node.name}\t{node.ip}")  # plain: scripts split on the tab
