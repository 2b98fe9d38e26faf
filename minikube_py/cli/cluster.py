"""`start`, `stop`, `delete`, `status`, `ip`, `profile list`, `service`: the cluster verbs.

Thin: each parses flags, calls `minikube_py.cluster.lifecycle`, and prints. A `ClusterError` becomes
minikube's `❌  Exiting due to REASON: message` with its exit code.
"""
from __future__ import annotations

import json
import unicodedata

import click

from minikube_py.cli.main import main, profile_option, resolve_profile
from minikube_py.cli.output import console, err_console, fail, out, reported
from minikube_py.cluster import layout, lifecycle, supervisor
from minikube_py.cluster.apicalls import ApiCallError
from minikube_py.cluster.lifecycle import ClusterError


@main.command("start")
@profile_option
@click.option("-n", "--nodes", type=click.IntRange(1, 50), default=None,
              help="Number of nodes (a new profile only; default 1).")
@click.option("--proxy-mode", type=click.Choice(["iptables", "ipvs"]), default=None,
              help="How node proxies implement Services (default iptables).")
@click.option("--node-grace", type=float, default=None, metavar="SECONDS",
              help="Silence after which a node becomes NotReady (default 40).")
@click.option("--pod-eviction-timeout", type=float, default=None, metavar="SECONDS",
              help="How long pods stay on a NotReady node before eviction (default 300).")
@click.option("--keep-on-failure", is_flag=True, help="Keep what a failed start made, for debugging.")
@click.option("--wait-timeout", type=float, default=180.0, show_default=True, metavar="SECONDS",
              help="How long to wait for the nodes to be Ready.")
@click.option("--no-image-bootstrap", is_flag=True, help="Don't build missing images; just warn.")
@click.option("--offline/--online", default=None,
              help="Never pull images: a missing one fails at once with ErrImagePull, no registry is asked "
                   "(for machines without one). Kept by the profile; default --online.")
@click.pass_context
def start_cmd(ctx: click.Context, profile: str | None, nodes: int | None, proxy_mode: str | None,
              node_grace: float | None, pod_eviction_timeout: float | None, keep_on_failure: bool,
              wait_timeout: float, no_image_bootstrap: bool, offline: bool | None) -> None:
    """Start a cluster (or ensure a running one is complete)."""
    opts = lifecycle.StartOptions(profile=resolve_profile(ctx, profile), nodes=nodes, proxy_mode=proxy_mode,
                                  node_grace=node_grace, pod_eviction_timeout=pod_eviction_timeout,
                                  keep_on_failure=keep_on_failure, wait_timeout=wait_timeout,
                                  bootstrap_images=not no_image_bootstrap, offline=offline)
    with reported():
        lifecycle.start(opts, out())


@main.command("stop")
@profile_option
@click.pass_context
def stop_cmd(ctx: click.Context, profile: str | None) -> None:
    """Stop a cluster: processes, containers and host network go; the state (objects) stays."""
    with reported():
        lifecycle.stop(resolve_profile(ctx, profile), out())


@main.command("delete")
@profile_option
@click.option("--all", "all_", is_flag=True, help="Delete every profile.")
@click.pass_context
def delete_cmd(ctx: click.Context, profile: str | None, all_: bool) -> None:
    """Delete a cluster and everything it made (containers, namespaces, bridge, routes, rules, state)."""
    with reported():
        profiles = lifecycle.list_profiles() if all_ else [resolve_profile(ctx, profile)]
        for p in profiles:
            lifecycle.delete(p, out())
        if all_:
            console.print("🔥  Successfully deleted all profiles", markup=False)


@main.command("status")
@profile_option
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
def status_cmd(ctx: click.Context, profile: str | None, output: str) -> None:
    """Show the status of each node and of the control plane; the exit code is minikube's bit mask
    (1 host, 2 kubelet/apiserver, 4 kubeconfig: 7 when stopped, 0 when everything runs)."""
    name = resolve_profile(ctx, profile)
    with reported():
        blocks, code = lifecycle.status(name)
    if output == "json":
        # minikube: one object for a single node, a list otherwise; compact, no newline after it.
        objects = lifecycle.status_json(blocks)
        click.echo(json.dumps(objects[0] if len(objects) == 1 else objects, separators=(",", ":")), nl=False)
    else:
        for block in blocks:  # minikube's templates end every block with an empty line
            console.print(block["name"], markup=False)
            for key, value in block.items():
                if key != "name":
                    console.print(f"{key}: {value}", markup=False)
            console.print()
    if code:
        raise click.exceptions.Exit(code)


@main.command("ip")
@profile_option
@click.option("-n", "--node", "node_name", default=None, help="The node (default: the control-plane node).")
@click.pass_context
def ip_cmd(ctx: click.Context, profile: str | None, node_name: str | None) -> None:
    """Print a node's IP address."""
    with reported():
        cfg = lifecycle.load_config(resolve_profile(ctx, profile))
        nodes = layout.load_nodes(cfg)
        node = lifecycle._node(cfg, node_name) if node_name else nodes[0]
    console.print(node.ip, markup=False)


@main.group("profile")
def profile_group() -> None:
    """Profiles (clusters)."""


@profile_group.command("list")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table")
def profile_list_cmd(output: str) -> None:
    """List profiles like `minikube profile list`: its table (Status OK or Stopped; `*` marks the active
    profile and the profile kubectl's current context points at); exit 14 when there is none."""
    import os
    from urllib.parse import urlsplit
    from minikube_py.cluster import kubeconfig
    from minikube_py.config import ClusterConfig, DEFAULT_PROFILE
    active = os.environ.get("MINIKUBE_PY_PROFILE") or DEFAULT_PROFILE
    current_context = kubeconfig.current_context()
    rows = []
    for name in lifecycle.list_profiles():
        cfg = ClusterConfig.load(name)
        nodes = layout.load_nodes(cfg)
        running = supervisor.is_running(cfg.state_dir, lifecycle.CONTROLPLANE)
        rows.append({"profile": name, "driver": "netns", "ip": nodes[0].ip if nodes else "",
                     "port": urlsplit(cfg.api_url).port, "api": cfg.api_url,
                     "status": "OK" if running else "Stopped", "nodes": len(nodes),
                     "active": name == active, "active_kubecontext": name == current_context})
    if output == "json":
        console.print_json(json.dumps(rows))
        return
    if not rows:
        err_console.print("\n🤹  Exiting due to MK_USAGE_NO_PROFILE: No minikube profile was found.\n"
                          "💡  Suggestion: \n\n    You can create one using 'minikube-py start'.\n", markup=False)
        raise click.exceptions.Exit(14)  # ExProgramUsage
    click.echo(render_ascii_table(PROFILE_LIST_HEADER, [profile_list_row(r) for r in rows], upper=False))


PROFILE_LIST_HEADER = ["Profile", "VM Driver", "Runtime", "IP", "Port", "Version", "Status", "Nodes",
                       "Active Profile", "Active Kubecontext"]


def profile_list_row(r: dict) -> list[str]:
    """One row of minikube's `profile list` table for a profile entry of `profile_list_cmd`. Pure."""
    from minikube_py.api.discovery import GIT_VERSION
    version = GIT_VERSION.split("-")[0]  # the Kubernetes version, as minikube's KubernetesVersion
    return [r["profile"], r["driver"], "docker", r["ip"], str(r["port"]), version, r["status"], str(r["nodes"]),
            "*" if r["active"] else "", "*" if r["active_kubecontext"] else ""]


def port_name(port: dict) -> str:
    """minikube's TARGET PORT cell for a port: `name/port` for a named port, else the port number."""
    return f"{port['name']}/{port.get('port')}" if port.get("name") else str(port.get("port"))


def service_list_urls(services: list[dict], node_ip: str) -> list[dict]:
    """minikube's `service list` data (`service.SvcURL` after `updatePortsAndURLs`), one entry per Service:
    the node-port URLs and their port names, or no URL and the port name `No node port`. Pure."""
    out = []
    for svc in services:
        meta = svc.get("metadata") or {}
        ports = [p for p in (svc.get("spec") or {}).get("ports") or [] if p.get("nodePort")]
        urls = [f"http://{node_ip}:{p['nodePort']}" for p in ports]
        out.append({"Namespace": meta.get("namespace", ""), "Name": meta.get("name", ""), "URLs": urls,
                    "PortNames": [port_name(p) for p in ports] if urls else ["No node port"]})
    return out


def display_width(text: str) -> int:
    """Terminal columns of *text*: East Asian wide/fullwidth characters (✅, 한글) take two, as in the
    runewidth package tablewriter measures with, so a cell holding `enabled ✅` keeps the pipes aligned."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def render_ascii_table(header: list[str], rows: list[list[str]], upper: bool = True) -> str:
    """The table minikube prints with tablewriter: `|---|` rules, upper-case centred headers (as typed
    with `upper=False`: `profile list` turns auto-formatting off), text cells left-aligned and numbers
    right-aligned, a cell with newlines spread over several lines. Pure."""
    split = [[cell.split("\n") for cell in row] for row in rows]
    widths = [max([display_width(h)] + [display_width(line) for row in split for line in row[i]])
              for i, h in enumerate(header)]
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"

    def centred(text: str, w: int) -> str:
        left = (w - display_width(text)) // 2
        return " " * left + text + " " * (w - display_width(text) - left)

    def aligned(text: str, w: int) -> str:
        pad = " " * (w - display_width(text))
        return pad + text if text.strip().lstrip("-").replace(".", "", 1).isdigit() else text + pad

    lines = [rule, "| " + " | ".join(centred(h.upper() if upper else h, w) for h, w in zip(header, widths)) + " |",
             rule]
    for row in split:
        for i in range(max(len(cell) for cell in row)):
            cells = [cell[i] if i < len(cell) else "" for cell in row]
            lines.append("| " + " | ".join(aligned(c, w) for c, w in zip(cells, widths)) + " |")
    lines.append(rule)
    return "\n".join(lines)


def service_list(cfg, namespace: str | None, output: str) -> None:
    """`minikube service list [-n NS] [-o table|json]`: every Service (all namespaces unless -n) with
    its NodePort URLs on the control-plane node's IP."""
    path = f"/api/v1/namespaces/{namespace}/services" if namespace else "/api/v1/services"
    try:
        services = lifecycle.api_for(cfg).get(path).get("items") or []
    except (ApiCallError, OSError) as err:
        err_console.print("❌  Failed to get service URL - check that minikube is running and that you have "
                          f"specified the correct namespace (-n flag) if required: {err}", markup=False)
        raise click.exceptions.Exit(119)  # ExSvcUnavailable
    urls = service_list_urls(services, layout.load_nodes(cfg)[0].ip)
    if output == "json":
        click.echo(json.dumps(urls, separators=(",", ":")), nl=False)
        return
    rows = [[u["Namespace"], u["Name"], "\n".join(u["PortNames"]), "\n".join(u["URLs"])] for u in urls]
    click.echo(render_ascii_table(["Namespace", "Name", "Target Port", "URL"], rows))


@main.command("service")
@profile_option
@click.argument("name")
@click.option("--url", is_flag=True, help="Print the URL(s) only.")
@click.option("-n", "--namespace", default=None,
              help="The service namespace (default: default; `service list`: all namespaces).")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table",
              help="`service list` output format.")
@click.pass_context
def service_cmd(ctx: click.Context, profile: str | None, name: str, url: bool, namespace: str | None,
                output: str) -> None:
    """Print the URL(s) of a NodePort or LoadBalancer Service (`minikube service NAME [--url]`: minikube's
    table, or the bare URLs), or list every Service's URLs (`minikube service list [-n NS]`). We open no
    browser: the node IP is reachable from the host, so the URL is the whole answer."""
    with reported():
        cfg = lifecycle.load_config(resolve_profile(ctx, profile))
        lifecycle.require_running(cfg)
        if name == "list":  # minikube's `service list` subcommand: a Service named "list" can't be opened
            service_list(cfg, namespace, output)
            return
        namespace = namespace or "default"
        try:
            svc = lifecycle.api_for(cfg).get_or_none(f"/api/v1/namespaces/{namespace}/services/{name}")
        except (ApiCallError, OSError) as err:
            raise ClusterError("SVC_CHECK", f"cannot reach the API server: {err}") from err
    if svc is None:
        fail("SVC_NOT_FOUND", f"Service '{name}' was not found in '{namespace}' namespace.\n"
                              f"You may select another namespace by using 'minikube-py service {name} -n <namespace>'. "
                              "Or list out all the services using 'minikube-py service list'", 115)
    entry = service_list_urls([svc], layout.load_nodes(cfg)[0].ip)[0]
    if not url:  # minikube's WaitForService prints the same table as `service list`
        cells = ["\n".join(entry["PortNames"]), "\n".join(entry["URLs"])] if entry["URLs"] else ["", "No node port"]
        click.echo(render_ascii_table(["Namespace", "Name", "Target Port", "URL"], [[namespace, name] + cells]))
    if not entry["URLs"]:
        # Not an error in minikube: a ClusterIP Service just has no node port (exit 0, nothing to open).
        console.print(f"😿  service {namespace}/{name} has no node port", markup=False)
        return
    if url:
        for u in entry["URLs"]:
            console.print(u, markup=False)
