"""`minikube-py addons list|enable|disable|configure`, the minikube way.

An addon is a set of objects in `manifests/addons/<name>.yml` applied through the API (what minikube
does with its addon templates); the control plane's controllers (ingress, loadbalancer) act once those
objects exist. Which addons are enabled is also kept in the profile's `cluster.json` for `addons list`.
"""
from __future__ import annotations

import ipaddress
import time
from pathlib import Path
from typing import Any

import click
import yaml

from minikube_py.addons import metallb
from minikube_py.api.resources import resource_for
from minikube_py.cli.main import profile_option, resolve_profile
from minikube_py.cli.output import console, fail
from minikube_py.cluster.apicalls import Api, ApiCallError

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests" / "addons"
ADDONS = {"ingress": "Kubernetes", "metallb": "3rd party (MetalLB)"}
# Objects whose content the cluster owns once created (the rendered nginx.conf, the configured pool):
# re-enabling must not reset them.
KEEP_IF_PRESENT = {"ConfigMap", "Secret"}


def load_manifest(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((MANIFESTS / f"{name}.yml").read_text()) if d]


def _object_path(obj: dict[str, Any]) -> tuple[str, str]:
    """(collection path, object path) of a manifest object."""
    res = resource_for(obj["apiVersion"], obj["kind"])
    ns = obj["metadata"].get("namespace") if res.namespaced else None
    return res.path(ns), res.path(ns, obj["metadata"]["name"])


def apply_objects(api: Api, objs: list[dict[str, Any]]) -> None:
    """Apply an addon's objects in order, all or nothing: when one is refused (or the API goes away),
    the objects this call created are deleted again before the error goes up, so a failed `enable`
    leaves the cluster as it found it instead of half an addon that `addons list` calls disabled.
    Objects that existed before are left alone (a re-enable must not delete a working addon)."""
    created: list[dict[str, Any]] = []
    try:
        for obj in objs:
            collection, path = _object_path(obj)
            existed = api.get_or_none(path) is not None
            if existed and obj["kind"] in KEEP_IF_PRESENT:
                continue
            api.ensure(collection, obj)
            if not existed:
                created.append(obj)
    except (ApiCallError, OSError):
        try:
            delete_objects(api, created)
        except (ApiCallError, OSError):
            pass  # the API is gone: the original error says more than this one
        raise


def delete_objects(api: Api, objs: list[dict[str, Any]]) -> None:
    """Delete in reverse order; the namespace last takes everything in it along."""
    for obj in reversed(objs):
        api.delete(_object_path(obj)[1])


def _context(ctx: click.Context, profile: str | None, running: bool = True):
    """The profile's config and an API client; `running`: refuse a stopped cluster first (exit 83)."""
    from minikube_py.cluster import lifecycle

    name = resolve_profile(ctx, profile)
    try:
        cfg = lifecycle.load_config(name)
        if running:
            lifecycle.require_running(cfg)
    except lifecycle.ClusterError as err:
        fail(err.reason, str(err), err.exit_code)
    return cfg, lifecycle.api_for(cfg, timeout=10)


def _check_name(name: str) -> None:
    if name not in ADDONS:
        fail("MK_ADDON_ENABLE", f'Unknown addon "{name}". Run "minikube-py addons list" to see the addons.', 10)


@click.group()
def addons() -> None:
    """Enable or disable a minikube-py addon."""


@addons.command("list")
@profile_option
@click.pass_context
def list_cmd(ctx: click.Context, profile: str | None) -> None:
    """List the addons and whether they are enabled."""
    from minikube_py.cli.cluster import render_ascii_table
    cfg, _ = _context(ctx, profile, running=False)  # the config says it all, as in minikube
    rows = [[name, cfg.profile, "enabled ✅" if cfg.addons.get(name, False) else "disabled", maintainer]
            for name, maintainer in sorted(ADDONS.items())]
    click.echo(render_ascii_table(["Addon Name", "Profile", "Status", "Maintainer"], rows))


def _wait_ingress_ready(api: Api, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    path = "/api/v1/namespaces/ingress-nginx/pods?labelSelector=app.kubernetes.io/name%3Dingress-nginx"
    while time.monotonic() < deadline:
        try:
            for pod in api.get(path).get("items", []):
                conds = {c["type"]: c["status"] for c in (pod.get("status") or {}).get("conditions") or []}
                if conds.get("Ready") == "True":
                    return True
        except (ApiCallError, OSError):
            pass
        time.sleep(1)
    return False


@addons.command("enable")
@click.argument("name")
@profile_option
@click.option("--wait/--no-wait", default=True, help="Wait until the addon's pods are ready.")
@click.pass_context
def enable(ctx: click.Context, name: str, profile: str | None, wait: bool) -> None:
    """Enable an addon (ingress, metallb)."""
    _check_name(name)
    cfg, api = _context(ctx, profile)
    if ADDONS[name].startswith("3rd party"):  # minikube's words for an addon it does not maintain
        console.print(f"❗  {name} is a 3rd party addon and is not maintained or verified by minikube maintainers, "
                      "enable at your own risk.", markup=False)
        console.print(f"❗  {name} does not currently have an associated maintainer.", markup=False)
    try:
        apply_objects(api, load_manifest(name))
    except (ApiCallError, OSError) as err:
        fail("MK_ADDON_ENABLE", f"enabling {name}: {err}", 10)
    cfg.addons[name] = True
    cfg.save()
    if name == "ingress":
        console.print("    ▪ Using image minikube-py/nginx:1")
        if wait:
            console.print("🔎  Verifying ingress addon...")
            if not _wait_ingress_ready(api, 180):
                fail("MK_ADDON_ENABLE", "the ingress-nginx controller pod did not become ready within 180s "
                     "(kubectl -n ingress-nginx describe pod)", 10)
    if name == "metallb" and not metallb.parse_pool(_metallb_config(api)):
        console.print("    ▪ No address pool yet: run `minikube-py addons configure metallb`")
    console.print(f"🌟  The '{name}' addon is enabled")


@addons.command("disable")
@click.argument("name")
@profile_option
@click.pass_context
def disable(ctx: click.Context, name: str, profile: str | None) -> None:
    """Disable an addon and remove its objects."""
    _check_name(name)
    cfg, api = _context(ctx, profile)
    try:
        delete_objects(api, load_manifest(name))
    except (ApiCallError, OSError) as err:
        fail("MK_ADDON_DISABLE", f"disabling {name}: {err}", 11)
    cfg.addons[name] = False
    cfg.save()
    console.print(f"🌑  \"The '{name}' addon is disabled\"")


def _metallb_config(api: Api) -> str | None:
    cm = api.get_or_none(f"/api/v1/namespaces/{metallb.NAMESPACE}/configmaps/{metallb.CONFIGMAP}")
    return ((cm or {}).get("data") or {}).get("config")


def ask_ip(prompt: str) -> str:
    """minikube's AskForStaticValidatedValue with an IP validator: ask until the answer parses as an IP,
    saying `--Error, please enter a value:` for an empty one and `--Invalid input, please enter a value:`
    for anything else (on stderr, no newline, then the prompt again). The range checks come after."""
    while True:
        answer = click.prompt(prompt, default="", show_default=False, prompt_suffix="").strip()
        if not answer:
            click.echo("--Error, please enter a value:", nl=False, err=True)
            continue
        try:
            ipaddress.ip_address(answer)
        except ValueError:
            click.echo("--Invalid input, please enter a value:", nl=False, err=True)
            continue
        return answer


@addons.command("configure")
@click.argument("name")
@profile_option
@click.option("--start-ip", help="First IP of the LoadBalancer pool (metallb).")
@click.option("--end-ip", help="Last IP of the LoadBalancer pool (metallb).")
@click.pass_context
def configure(ctx: click.Context, name: str, profile: str | None, start_ip: str | None,
              end_ip: str | None) -> None:
    """Configure an addon: for metallb, the pool of LoadBalancer IPs (inside the node network)."""
    if name != "metallb":  # minikube's default case: a failure line, exit 0
        console.print(f"❌  {name} has no available configuration options", markup=False)
        return
    cfg, api = _context(ctx, profile)
    start_ip = start_ip or ask_ip("-- Enter Load Balancer Start IP: ")
    end_ip = end_ip or ask_ip("-- Enter Load Balancer End IP: ")
    try:
        pool = metallb.parse_range(f"{start_ip}-{end_ip}")
        from minikube_py.cluster.layout import load_nodes

        reserved = {cfg.gateway_ip} | {n.ip for n in load_nodes(cfg)}
        # Keep room for nodes added later: the first 16 addresses after the gateway are for nodes.
        net = ipaddress.IPv4Network(cfg.node_subnet)
        reserved |= {str(net.network_address + i) for i in range(1, 18)}
        metallb.check_pool_inside(pool, cfg.node_subnet, reserved)
    except metallb.PoolError as err:
        fail("MK_ADDON_CONFIGURE", f"{err} (choose addresses in {cfg.node_subnet} above "
             f"{ipaddress.IPv4Network(cfg.node_subnet).network_address + 17})", 10)
    try:
        apply_objects(api, [o for o in load_manifest("metallb") if o["kind"] == "Namespace"])
        cm = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": metallb.CONFIGMAP, "namespace": metallb.NAMESPACE, "labels": {"app": "metallb"}},
              "data": {"config": metallb.render_config(start_ip, end_ip)}}
        api.ensure(f"/api/v1/namespaces/{metallb.NAMESPACE}/configmaps", cm)
    except (ApiCallError, OSError) as err:
        fail("MK_ADDON_CONFIGURE", f"configuring metallb: {err}", 10)
    cfg.addons["metallb"] = True
    cfg.metallb_pool = [f"{start_ip}-{end_ip}"]
    cfg.save()
    console.print("✅  metallb was successfully configured")
