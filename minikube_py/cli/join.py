"""`init`, `join`, `reset`, `token create`: kubeadm-style verbs for nodes on other machines (Vagrant VMs).

Thin: parse flags, call `minikube_py.cluster.join`, print. Registered lazily in `cli/main.py`.
"""
from __future__ import annotations

import os
from pathlib import Path

import click

from minikube_py.cli.main import profile_option, resolve_profile
from minikube_py.cli.output import console, out, reported
from minikube_py.cluster import join as J
from minikube_py.cluster.lifecycle import ClusterError


def _explicit_profile(ctx: click.Context, value: str | None) -> str | None:
    """`-p` or `$MINIKUBE_PY_PROFILE` if given; None lets `join` use the cluster's own profile name."""
    root = ctx.find_root()
    return value or (root.obj or {}).get("profile") or os.environ.get("MINIKUBE_PY_PROFILE") or None


@click.command("join")
@profile_option
@click.option("--api-url", required=True, metavar="URL", help="The API server, https://IP:8443.")
@click.option("--token", default=None, help="The node token (printed by `init`).")
@click.option("--token-file", type=click.Path(path_type=Path), default=None, help="A file holding the token.")
@click.option("--ca-cert-hash", default=None, metavar="sha256:HEX",
              help="Pin of the cluster CA: SHA-256 of its DER SubjectPublicKeyInfo (as kubeadm's).")
@click.option("--ca-file", type=click.Path(path_type=Path), default=None, help="The cluster CA, instead of a pin.")
@click.option("--node-name", required=True, help="This node's name (RFC 1123).")
@click.option("--node-ip", required=True, help="This machine's address on the node network.")
@click.option("--pod-cidr", default=None, help="Ask for this pod range (inside the cluster's pod CIDR); "
              "by default the control plane assigns the next free /24.")
@click.option("--interface", default=None, help="The interface that must hold --node-ip (e.g. eth1).")
@click.option("--foreground", is_flag=True, help="Exec the node process instead of starting it detached "
              "(for systemd units).")
@click.option("--wait-timeout", type=float, default=120.0, show_default=True, metavar="SECONDS")
@click.pass_context
def join_cmd(ctx: click.Context, profile: str | None, api_url: str, token: str | None, token_file: Path | None,
             ca_cert_hash: str | None, ca_file: Path | None, node_name: str, node_ip: str, pod_cidr: str | None,
             interface: str | None, foreground: bool, wait_timeout: float) -> None:
    """Make this machine (this network namespace) a node of the cluster at --api-url."""
    opts = J.JoinOptions(api_url=api_url, token=token, token_file=token_file, ca_cert_hash=ca_cert_hash,
                         ca_file=ca_file, node_name=node_name, node_ip=node_ip, pod_cidr=pod_cidr,
                         interface=interface, foreground=foreground, wait_timeout=wait_timeout)
    with reported():
        J.join(opts, out(), profile=_explicit_profile(ctx, profile))


@click.command("init")
@profile_option
@click.option("--advertise-address", required=True, metavar="IP",
              help="This machine's address: the API server and DNS listen there, nodes join it.")
@click.option("--pod-cidr", default="10.244.0.0/16", show_default=True)
@click.option("--service-cidr", default="10.96.0.0/12", show_default=True)
@click.option("--print-join-command-only", is_flag=True, help="Print only the join command line (for scripts).")
@click.pass_context
def init_cmd(ctx: click.Context, profile: str | None, advertise_address: str, pod_cidr: str, service_cidr: str,
             print_join_command_only: bool) -> None:
    """Make this machine the control plane (API server, controllers, DNS) of a new cluster."""
    opts = J.InitOptions(advertise_address=advertise_address, profile=resolve_profile(ctx, profile),
                         pod_cidr=pod_cidr, service_cidr=service_cidr)
    with reported():
        _, command = J.init(opts, J.Out() if print_join_command_only else out())
    if print_join_command_only:
        console.print(command, markup=False)


@click.command("reset")
@profile_option
@click.option("--node-name", required=True)
@click.pass_context
def reset_cmd(ctx: click.Context, profile: str | None, node_name: str) -> None:
    """Undo `join` here: stop the node process, remove its containers and its node network."""
    with reported():
        errors = J.reset(resolve_profile(ctx, profile), node_name, out())
        if errors:
            raise ClusterError("RESET", "some state could not be removed:\n  " + "\n  ".join(errors))


@click.group("token")
def token_group() -> None:
    """Node join credentials."""


@token_group.command("create")
@profile_option
@click.option("--print-join-command", is_flag=True, required=True, help="Print the `minikube-py join` line.")
@click.pass_context
def token_create_cmd(ctx: click.Context, profile: str | None, print_join_command: bool) -> None:
    """Print the join command of a running profile (kubeadm's `token create --print-join-command`)."""
    with reported():
        command = J.print_join_command(resolve_profile(ctx, profile), J.Out())
    console.print(command, markup=False)
