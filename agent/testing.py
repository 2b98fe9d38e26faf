"""A throwaway node network namespace for integration tests (no API server, no cluster).

    host:  mkt-<tag>h 169.254.<k>.1/30 ══ veth ══ eth0 169.254.<k>.2/30 : netns mkt-<tag>
           unreachable <pod cidr> metric 4242 (safety: nothing leaks to the default route)
           <pod cidr> via 169.254.<k>.2
    netns: cni0 <pod cidr .1>/24, ip_forward=1

Everything is removed by `close()` (also after a failed test): the routes, the veth, the namespace. The
pod CIDR must be one no cluster on this machine uses; callers pass their own.
"""
from __future__ import annotations

import ipaddress
import subprocess
from pathlib import Path


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


class TestNode:
    __test__ = False  # not a pytest class

    def __init__(self, tag: str, pod_cidr: str, link_octet: int) -> None:
        assert len(tag) <= 8
        self.netns = f"mkt-{tag}"
        self.netns_path = f"/run/netns/{self.netns}"
        self.host_if = f"mkt-{tag}h"
        self.pod_cidr = pod_cidr
        net = ipaddress.ip_network(pod_cidr)
        self.gateway = str(net.network_address + 1)
        self.host_ip = f"169.254.{link_octet}.1"
        self.node_ip = f"169.254.{link_octet}.2"

    def open(self) -> "TestNode":
        self.close()
        ns = ["netns", "exec", self.netns]
        _ip("route", "add", "unreachable", self.pod_cidr, "metric", "4242")
        _ip("netns", "add", self.netns)
        _ip("link", "add", self.host_if, "type", "veth", "peer", "name", "eth0", "netns", self.netns)
        _ip("addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
        _ip("link", "set", self.host_if, "up")
        _ip(*ns, "ip", "addr", "add", f"{self.node_ip}/30", "dev", "eth0")
        _ip(*ns, "ip", "link", "set", "eth0", "up")
        _ip(*ns, "ip", "link", "set", "lo", "up")
        _ip(*ns, "ip", "link", "add", "cni0", "type", "bridge")
        _ip(*ns, "ip", "addr", "add", f"{self.gateway}/{ipaddress.ip_network(self.pod_cidr).prefixlen}", "dev", "cni0")
        _ip(*ns, "ip", "link", "set", "cni0", "up")
        _ip(*ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        _ip("route", "add", self.pod_cidr, "via", self.node_ip)
        return self

    def exec(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run a command inside the node namespace."""
        return _ip("netns", "exec", self.netns, *argv, check=check)

    def veths(self) -> list[str]:
        out = self.exec("ip", "-o", "link", "show", "type", "veth", check=False).stdout
        return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if line.strip()]

    def close(self) -> None:
        _ip("route", "del", self.pod_cidr, "via", self.node_ip, check=False)
        _ip("route", "del", "unreachable", self.pod_cidr, "metric", "4242", check=False)
        _ip("link", "del", self.host_if, check=False)
        if Path(self.netns_path).exists():
            _ip("netns", "del", self.netns, check=False)

    def __enter__(self) -> "TestNode":
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()


def remove_containers(profile: str) -> None:
    """Remove every container of *profile* (by label), whatever its state."""
    from minikube_py.images.docker_client import docker_client

    api = docker_client().api
    for c in api.containers(all=True, filters={"label": f"io.minikube-py.profile={profile}"}):
        api.remove_container(c["Id"], force=True)


class FakeApi:
    """Just enough of `ApiClient` for the pod sync without an API server: records what it was sent."""

    def __init__(self) -> None:
        self.statuses: dict[tuple[str, str], dict] = {}
        self.status_history: list[dict] = []  # every status written, in order
        self.status_writes = 0
        self.revision = 100  # the store's revision, bumped by every status write
        self.events: list[dict] = []
        self.deleted: list[tuple[str, str, str]] = []

    async def patch(self, plural: str, name: str, patch: dict, namespace: str | None = None, *,
                    patch_type: str = "merge", subresource: str | None = None, field_manager: str | None = None) -> dict:
        if plural == "pods" and subresource == "status":
            self.statuses[(namespace or "default", name)] = patch["status"]
            self.status_history.append(patch["status"])
            self.status_writes += 1
            self.revision += 1
            return {"metadata": {"name": name, "namespace": namespace, "resourceVersion": str(self.revision)},
                    "status": patch["status"]}
        elif plural == "events":
            for ev in self.events:
                if ev["metadata"]["name"] == name:
                    ev.update(patch)
        return {}

    async def create(self, plural: str, obj: dict, namespace: str | None = None, **kw: object) -> dict:
        if plural == "events":
            self.events.append(obj)
        return obj

    async def delete(self, plural: str, name: str, namespace: str | None = None, **kw: object) -> dict:
        self.deleted.append((plural, namespace or "default", name))
        return {}

    def status_of(self, name: str, namespace: str = "default") -> dict:
        return self.statuses.get((namespace, name), {})

    def reasons(self, name: str) -> list[str]:
        return [e["reason"] for e in self.events if e["involvedObject"].get("name") == name]

    def messages(self, name: str) -> list[str]:
        return [e["message"] for e in self.events if e["involvedObject"].get("name") == name]
