"""Helpers the e2e modules share: where the guide's YAML is, waiting for an outcome, curl from the host,
reading objects and running commands in pods through the real kubectl, and what a profile left on the host.

Everything here observes the cluster the way a user would (kubectl, curl); nothing talks to the store.
`cluster` arguments are `tests.e2e.conftest.Cluster` objects.
"""
from __future__ import annotations

import ipaddress
import json
import subprocess
import time
from pathlib import Path
from typing import Callable

from minikube_py.config import ClusterConfig

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
GUIDE = Path(__file__).resolve().parents[2].parent / "shared" / "guide"


def manifest(name: str) -> Path:
    """The guide's manifest *name* as shipped in manifests/<chapter>/ (our image names)."""
    found = sorted(MANIFESTS.rglob(name))
    if not found:
        raise AssertionError(f"guide manifest {name} is not in {MANIFESTS}")
    return found[0]


def guide(name: str) -> Path:
    """The guide's own YAML (upstream image names; the cluster tags our images under those names), or ours
    from manifests/ when the guide has no such file."""
    path = GUIDE / name
    return path if path.exists() else manifest(name)


def wait_until(check: Callable[[], object], timeout: float = 60, what: str = "condition",
               interval: float = 0.5) -> object:
    """Call *check* until it returns something truthy (returned); an AssertionError, a failed command or a
    parse error counts as "not yet". Raises AssertionError naming *what* and the last result after *timeout*."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (AssertionError, subprocess.SubprocessError, ValueError, KeyError) as err:
            last = err
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def curl(url: str, timeout: float = 3, headers: dict | None = None) -> str:
    """The body of a GET from the host (only to addresses of our test clusters); AssertionError on failure."""
    args = ["curl", "-sS", "-m", str(timeout), url]
    for k, v in (headers or {}).items():
        args += ["-H", f"{k}: {v}"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout + 5)
    if proc.returncode != 0:
        raise AssertionError(f"curl {url}: {proc.stderr.strip()}")
    return proc.stdout


def get_json(cluster, *args: str) -> dict:
    """`kubectl get ARGS -o json`, or {} when it fails (not found yet)."""
    proc = cluster.kubectl("get", *args, "-o", "json")
    return json.loads(proc.stdout) if proc.returncode == 0 else {}


def pod_json(cluster, name: str) -> dict:
    return get_json(cluster, "pod", name)


def wait_pod(cluster, name: str, pred, timeout: float = 60, interval: float = 0.5) -> dict:
    """Pod *name* once *pred(pod)* holds; on timeout the AssertionError shows its last status."""
    deadline = time.time() + timeout
    pod: dict = {}
    while time.time() < deadline:
        pod = pod_json(cluster, name)
        if pod and pred(pod):
            return pod
        time.sleep(interval)
    raise AssertionError(f"pod {name} did not reach the expected state in {timeout}s:\n"
                         f"{json.dumps(pod.get('status'), indent=1)}")


def all_running(pod: dict) -> bool:
    """Every container running and ready."""
    cs = (pod.get("status") or {}).get("containerStatuses") or []
    return bool(cs) and all("running" in c["state"] and c.get("ready") for c in cs)


def delete_pods(cluster, *names: str) -> None:
    """Delete pods *names* (if they exist) with a 1 s grace and wait until they are gone."""
    cluster.kubectl("delete", "pod", *names, "--ignore-not-found", "--grace-period=1", "--wait=true",
                    timeout=90)


def jsonpath(cluster, *args: str) -> str:
    """`kubectl get ARGS` (usually with `-o jsonpath=…`), stripped; AssertionError when kubectl fails."""
    return cluster.kubectl("get", *args, check=True).stdout.strip()


def pod_exec(cluster, pod: str, *cmd: str, container: str | None = None) -> str:
    args = ["exec", pod] + (["-c", container] if container else []) + ["--", *cmd]
    return cluster.kubectl(*args, check=True, timeout=60).stdout


def rollout(cluster, name: str, timeout: int = 180) -> None:
    cluster.kubectl("rollout", "status", f"deployment/{name}", f"--timeout={timeout}s", check=True,
                    timeout=timeout + 10)


def node_ready(cluster) -> dict[str, str]:
    """{node name: status of its Ready condition ("True", "False", "Unknown", "" when absent)}."""
    items = json.loads(cluster.kubectl("get", "nodes", "-o", "json", check=True).stdout)["items"]
    return {i["metadata"]["name"]: {c["type"]: c["status"] for c in i["status"].get("conditions", [])}.get("Ready", "")
            for i in items}


def guard_routes(config: ClusterConfig) -> set[str]:
    """The `unreachable` routes a stopped profile keeps (one per cluster range), as host_leftovers names them."""
    return {f"route {c} unreachable" for c in (config.node_subnet, config.pod_cidr, config.service_cidr)}


def host_leftovers(profile: str, config: ClusterConfig | None, node_count: int = 1,
                   stopped: bool = False) -> list[str]:
    """Everything of *profile* still on the host (containers, namespaces, bridge and veths, routes, iptables
    rules). *stopped*: the profile's guard routes are expected and not listed (their absence is)."""
    found: list[str] = []
    ps = subprocess.run(["docker", "ps", "-a", "--filter", f"label=io.minikube-py.profile={profile}",
                         "--format", "{{.Names}}"], capture_output=True, text=True).stdout.split()
    found += [f"container {n}" for n in ps]
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    if config is not None:
        for i in range(max(node_count, 1)):
            if config.netns_name(i) in netns.split():
                found.append(f"netns {config.netns_name(i)}")
        links = json.loads(subprocess.run(["ip", "-j", "link", "show"], capture_output=True, text=True).stdout)
        found += [f"link {l['ifname']}" for l in links
                  if l["ifname"] == config.bridge or l["ifname"].startswith(config.bridge + "-")]
        ours = [ipaddress.ip_network(c) for c in (config.pod_cidr, config.service_cidr, config.node_subnet)]
        routes = json.loads(subprocess.run(["ip", "-j", "route", "show", "table", "all"], capture_output=True,
                                           text=True).stdout)
        for r in routes:
            dst = r.get("dst", "")
            if dst and dst != "default" and ":" not in dst and r.get("type") not in ("local", "broadcast") and \
                    any(ipaddress.ip_network(dst, strict=False).overlaps(o) for o in ours):
                found.append(f"route {dst} {r.get('type', '')}")
    save = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
    found += [f"iptables {line}" for line in save.splitlines() if f"minikube-py:{profile}\"" in line]
    if stopped and config is not None:
        guards = guard_routes(config)
        found = [f for f in found if f not in guards] + [f"missing {g}" for g in sorted(guards - set(found))]
    return found
