"""The Node object: registration, heartbeat, and host-gw routes to the other nodes' pod CIDRs.

Registration creates (or, after a restart, updates) Node `NAME` with what `kubectl get/describe node`
shows on minikube: labels, addresses, podCIDR, capacity, nodeInfo, the kubelet endpoint and the four
conditions. The heartbeat re-posts the conditions every `--heartbeat-seconds` with a new
`lastHeartbeatTime`; the node lifecycle controller marks the node NotReady when that stops.

Events, as the kubelet records them about its node (involvedObject kind Node, name *and uid* the node
name, since the kubelet's node reference predates the Node; kubectl describe node looks events up under
both uids): `Starting` and `NodeAllocatableEnforced` once per process, and `Node <n> status is now: R`
whenever a condition we post changes status from what the API held (on first registration, and when we
come back after the node lifecycle controller marked the node Unknown): NodeHasSufficientMemory,
NodeHasNoDiskPressure, NodeHasSufficientPID, NodeReady.

Routes: every other node's `spec.podCIDR via <its InternalIP>` in this node's namespace (host-gw), from a
Node informer: `replace` is idempotent, and routes inside the cluster pod CIDR that no node claims any
more are removed. Only routes inside the cluster pod CIDR are ever touched.
"""
from __future__ import annotations

import asyncio
import copy
import ipaddress
import logging
import os
import platform
from pathlib import Path

from typing import Callable

from minikube_py.client import ApiClient, ApiError, EventRecorder, NotFound
from minikube_py.client.events import now_rfc3339

log = logging.getLogger(__name__)

KUBELET_VERSION = "v1.33.0-minikube-py"
MINIKUBE_PY_VERSION = "v0.1.0"


def _arch() -> str:
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(m, m)


def _os_image() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return "Linux"


def _mem_kib() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def node_conditions(now: str, old: list[dict] | None = None) -> list[dict]:
    """The four conditions a healthy kubelet posts; lastTransitionTime kept while the status holds."""
    prev = {c.get("type"): c for c in old or []}
    rows = [("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            ("Ready", "True", "KubeletReady", "kubelet is posting ready status")]
    out = []
    for ctype, status, reason, message in rows:
        p = prev.get(ctype) or {}
        ltt = p.get("lastTransitionTime") if p.get("status") == status and p.get("lastTransitionTime") else now
        out.append({"type": ctype, "status": status, "reason": reason, "message": message,
                    "lastHeartbeatTime": now, "lastTransitionTime": ltt})
    return out


# The event each condition's status records when it changes to it (kubelet `nodestatus` setters).
_STATUS_EVENTS = {("MemoryPressure", "False"): "NodeHasSufficientMemory",
                  ("MemoryPressure", "True"): "NodeHasInsufficientMemory",
                  ("DiskPressure", "False"): "NodeHasNoDiskPressure",
                  ("DiskPressure", "True"): "NodeHasDiskPressure",
                  ("PIDPressure", "False"): "NodeHasSufficientPID",
                  ("PIDPressure", "True"): "NodeHasInsufficientPID",
                  ("Ready", "True"): "NodeReady",
                  ("Ready", "False"): "NodeNotReady"}


def status_events(old: list[dict] | None, new: list[dict]) -> list[str]:
    """Reasons of the events a status write records: one per condition whose status differs from what
    the API held (a missing condition counts as Unknown), in the order of *new*. Pure."""
    before = {c.get("type"): c.get("status") for c in old or []}
    out = []
    for c in new:
        status = c.get("status")
        reason = _STATUS_EVENTS.get((c.get("type"), status))
        if reason and before.get(c.get("type"), "Unknown") != status:
            out.append(reason)
    return out


def build_node(*, name: str, profile: str, node_ip: str, pod_cidr: str, primary: bool, runtime_version: str,
               storage_path: Path, now: str) -> dict:
    """The Node object this agent registers (pure apart from reading host facts)."""
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": _arch(),
              "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": _arch(),
              "minikube.k8s.io/name": profile, "minikube.k8s.io/version": MINIKUBE_PY_VERSION,
              "minikube.k8s.io/primary": "true" if primary else "false"}
    if primary:
        labels["node-role.kubernetes.io/control-plane"] = ""
    try:
        st = os.statvfs(storage_path)
        storage_kib = st.f_blocks * st.f_frsize // 1024
    except OSError:
        storage_kib = 0
    capacity = {"cpu": str(os.cpu_count() or 1), "memory": f"{_mem_kib()}Ki", "pods": "110",
                "ephemeral-storage": f"{storage_kib}Ki", "hugepages-2Mi": "0"}
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": labels,
                     "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                     "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
        "spec": {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]},
        "status": {
            "capacity": capacity, "allocatable": dict(capacity),
            "addresses": [{"type": "InternalIP", "address": node_ip}, {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {"kubeletVersion": KUBELET_VERSION, "kubeProxyVersion": KUBELET_VERSION,
                         "containerRuntimeVersion": f"docker://{runtime_version}", "osImage": _os_image(),
                         "kernelVersion": platform.release(), "architecture": _arch(),
                         "operatingSystem": "linux", "machineID": _read("/etc/machine-id"),
                         "systemUUID": _read("/sys/class/dmi/id/product_uuid") or _read("/etc/machine-id"),
                         "bootID": _read("/proc/sys/kernel/random/boot_id")},
            "conditions": node_conditions(now),
        },
    }


class NodeAgent:
    """Registers the node, keeps its heartbeat, and keeps routes to the other nodes' pod CIDRs."""

    def __init__(self, client: ApiClient, *, name: str, profile: str, node_ip: str, pod_cidr: str,
                 cluster_pod_cidr: str, primary: bool, runtime_version: str, storage_path: Path,
                 heartbeat_seconds: float = 10.0, recorder: EventRecorder | None = None,
                 cached_node: Callable[[], dict | None] | None = None) -> None:
        """*recorder* writes the node's events (none without it); *cached_node* returns this Node from
        an informer, so a heartbeat sees what the API holds (an Unknown the controller wrote) for free."""
        self.client = client
        self.recorder = recorder
        self.cached_node = cached_node
        self._started_recorded = False
        self.name = name
        self.profile = profile
        self.node_ip = node_ip
        self.pod_cidr = pod_cidr
        self.cluster_pod_cidr = cluster_pod_cidr
        self.primary = primary
        self.runtime_version = runtime_version
        self.storage_path = storage_path
        self.heartbeat_seconds = heartbeat_seconds
        self._conditions: list[dict] = []
        self._routes_lock = asyncio.Lock()

    def _desired(self) -> dict:
        return build_node(name=self.name, profile=self.profile, node_ip=self.node_ip, pod_cidr=self.pod_cidr,
                          primary=self.primary, runtime_version=self.runtime_version,
                          storage_path=self.storage_path, now=now_rfc3339())

    async def register(self) -> dict:
        """Create or update the Node; retries until the API answers (respecting cancellation)."""
        delay = 0.5
        while True:
            try:
                return await self._register_once()
            except (ApiError, OSError, asyncio.TimeoutError) as exc:
                log.warning("node registration failed (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)

    async def _register_once(self) -> dict:
        want = self._desired()
        try:
            current = await self.client.get("nodes", self.name)
        except NotFound:
            current = None
        if current is None:
            try:
                current = await self.client.create("nodes", {k: v for k, v in want.items() if k != "status"})
                log.info("registered node %s", self.name)
            except ApiError as exc:
                if exc.status != 409:
                    raise
                current = await self.client.get("nodes", self.name)
        else:
            meta_patch = {"metadata": {"labels": want["metadata"]["labels"],
                                       "annotations": want["metadata"]["annotations"]},
                          "spec": want["spec"]}
            current = await self.client.patch("nodes", self.name, meta_patch)
            log.info("node %s already registered; updated", self.name)
        status = copy.deepcopy(want["status"])
        held = (current.get("status") or {}).get("conditions")
        status["conditions"] = node_conditions(now_rfc3339(), held)
        current = await self.client.patch("nodes", self.name, {"status": status}, subresource="status")
        self._conditions = status["conditions"]
        if not self._started_recorded:
            self._started_recorded = True
            await self.node_event("Starting", "Starting kubelet.")
            await self.node_event("NodeAllocatableEnforced", "Updated Node Allocatable limit across pods")
        await self._record_status_events(held, self._conditions)
        return current

    async def node_event(self, reason: str, message: str, type_: str = "Normal") -> None:
        """An event about this node as the kubelet writes it: its node reference has the name as uid."""
        if self.recorder is not None:
            ref = {"kind": "Node", "metadata": {"name": self.name, "uid": self.name}}
            await self.recorder.event(ref, reason, message, type_)

    async def _record_status_events(self, held: list[dict] | None, posted: list[dict]) -> None:
        for reason in status_events(held, posted):
            await self.node_event(reason, f"Node {self.name} status is now: {reason}")

    async def heartbeat_once(self) -> None:
        cached = self.cached_node() if self.cached_node is not None else None
        # What the API holds (the informer's copy) when we have it: after the node lifecycle controller
        # marked us Unknown, the conditions transition again (new lastTransitionTime, NodeReady event).
        held = (cached.get("status") or {}).get("conditions") if cached is not None else self._conditions
        self._conditions = node_conditions(now_rfc3339(), held)
        try:
            await self.client.patch("nodes", self.name, {"status": {"conditions": self._conditions}},
                                    subresource="status")
        except NotFound:
            log.warning("node %s was deleted; registering again", self.name)
            await self._register_once()
            return
        await self._record_status_events(held, self._conditions)

    async def run_heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            try:
                await self.heartbeat_once()
            except (ApiError, OSError, asyncio.TimeoutError) as exc:
                log.warning("heartbeat failed: %s", exc)

    # --- host-gw routes ----------------------------------------------------------------------------
    def desired_routes(self, nodes: list[dict]) -> dict[str, str]:
        """Pure: {other node's podCIDR: its InternalIP} for nodes inside the cluster pod CIDR."""
        cluster = ipaddress.ip_network(self.cluster_pod_cidr, strict=False)
        out = {}
        for n in nodes:
            if n["metadata"]["name"] == self.name:
                continue
            cidr = (n.get("spec") or {}).get("podCIDR")
            ip = next((a["address"] for a in (n.get("status") or {}).get("addresses") or []
                       if a.get("type") == "InternalIP"), None)
            if not cidr or not ip:
                continue
            try:
                net = ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                continue
            if net.subnet_of(cluster) and str(net) != str(ipaddress.ip_network(self.pod_cidr, strict=False)):
                out[str(net)] = ip
        return out

    async def sync_routes(self, nodes: list[dict]) -> None:
        want = self.desired_routes(nodes)
        async with self._routes_lock:
            await asyncio.to_thread(_apply_routes, want, self.cluster_pod_cidr, self.pod_cidr)


def _apply_routes(want: dict[str, str], cluster_cidr: str, own_cidr: str) -> None:
    """`replace` each wanted route; delete gateway routes inside the cluster CIDR nobody wants."""
    import socket

    from pyroute2 import IPRoute

    cluster = ipaddress.ip_network(cluster_cidr, strict=False)
    own = ipaddress.ip_network(own_cidr, strict=False)
    with IPRoute() as ipr:
        for dst, via in want.items():
            try:
                ipr.route("replace", dst=dst, gateway=via)
            except Exception as exc:  # noqa: BLE001 - e.g. the gateway not on-link yet
                log.warning("route %s via %s: %s", dst, via, exc)
        for r in ipr.get_routes(family=socket.AF_INET):
            dst = r.get_attr("RTA_DST")
            gw = r.get_attr("RTA_GATEWAY")
            if not dst or not gw:
                continue
            net = ipaddress.ip_network(f"{dst}/{r['dst_len']}", strict=False)
            if net.subnet_of(cluster) and net != own and str(net) not in want:
                try:
                    ipr.route("del", dst=str(net), gateway=gw)
                    log.info("removed route %s via %s (node gone)", net, gw)
                except Exception as exc:  # noqa: BLE001
                    log.debug("route del %s: %s", net, exc)
