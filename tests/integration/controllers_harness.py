"""Test harness for the controllers: a real API server (embedded, 127.0.0.1, random port, temp state),
`run_controllers` in the test's loop (so a test can stop and restart it), and a fake kubelet.

The fake kubelet is what the node agent is to the control plane, minus Docker: it keeps Node objects
heartbeating (Ready, fresh `lastHeartbeatTime`), turns every pod bound to one of its nodes into a Running
pod with an IP and a Ready condition (unless the test holds readiness back), and finishes graceful
deletions (DELETE with gracePeriodSeconds=0) the way the agent does after stopping the containers.
It uses the same `Informer` as everything else: no polling.
"""
from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
from pathlib import Path
from typing import Callable

import yaml

from minikube_py.client import ApiClient, Informer, NotFound, wait_for
from minikube_py.client.informer import object_key
from minikube_py.client.client import ApiError
from minikube_py.config import ClusterConfig
from minikube_py.controllers.common import format_time, utcnow
from minikube_py.controllers.manager import run_controllers
from minikube_py.controlplane import EmbeddedControlPlane

GUIDE = Path("/work/shared/guide")
REPO_GUIDE = Path(__file__).resolve().parents[2] / "manifests"


def guide_yaml(name: str) -> dict:
    """One of the guide's manifests, unchanged."""
    return yaml.safe_load((GUIDE / name).read_text())


def node_object(name: str, labels: dict | None = None) -> dict:
    now = format_time(utcnow())
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
            "spec": {},
            "status": {"conditions": [
                {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status",
                 "lastHeartbeatTime": now, "lastTransitionTime": now}],
                "addresses": [{"type": "InternalIP", "address": "192.0.2.1"}]}}


class FakeKubelet:
    """Runs pods "instantly" on the named nodes; see the module docstring."""

    def __init__(self, client: ApiClient, nodes: list[str], heartbeat: float = 0.5) -> None:
        self.client = client
        self.node_names = list(nodes)
        self.heartbeat = heartbeat
        self.alive = {n: True for n in nodes}       # False: this node's "agent" is dead (no heartbeat, no work)
        self.hold_ready: Callable[[dict], bool] = lambda pod: False   # True → keep the pod not ready
        self.pods = Informer(client, "pods")
        self._ips = itertools.count(2)
        self._tasks: list[asyncio.Task] = []
        self._busy: set[str] = set()    # pods being handled now
        self._dirty: set[str] = set()   # pods that changed while being handled: look again afterwards

    async def start(self) -> None:
        for n in self.node_names:
            try:
                await self.client.create("nodes", node_object(n))
            except ApiError as e:
                if e.status != 409:
                    raise
        self.pods.add_handlers(on_add=self._on_pod, on_update=lambda o, n: self._on_pod(n))
        await self.pods.start()
        self._tasks.append(asyncio.create_task(self._heartbeats()))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        await self.pods.stop()

    def resync(self) -> None:
        """Look at every pod again (after changing `hold_ready` or reviving a node)."""
        for pod in self.pods.list():
            self._on_pod(pod)

    def _on_pod(self, pod: dict) -> None:
        """Level-triggered, like the agent's pod workers: one handler per pod at a time, and an event
        that arrives meanwhile (or a `resync`) is not dropped but makes the handler look again at the
        pod's latest state once it finishes. Dropping it would leave a pod stuck in whatever state the
        previous `hold_ready` gave it, which under load made rollout tests time out."""
        node = (pod.get("spec") or {}).get("nodeName")
        if node not in self.alive or not self.alive[node]:
            return
        key = object_key(pod)
        if key in self._busy:
            self._dirty.add(key)
            return
        self._busy.add(key)
        task = asyncio.create_task(self._handle(pod))
        task.add_done_callback(lambda _t: self._finished(key))

    def _finished(self, key: str) -> None:
        self._busy.discard(key)
        if key in self._dirty:
            self._dirty.discard(key)
            latest = self.pods.get(key)
            if latest is not None:
                self._on_pod(latest)

    async def _handle(self, pod: dict) -> None:
        meta = pod["metadata"]
        ns = meta.get("namespace") or "default"
        try:
            if meta.get("deletionTimestamp"):
                await self.client.delete("pods", meta["name"], namespace=ns, grace_period_seconds=0,
                                         preconditions={"uid": meta["uid"]})
                return
            status = pod.get("status") or {}
            want_ready = not self.hold_ready(pod)
            ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
            if status.get("phase") == "Running" and ready and (ready.get("status") == "True") == want_ready:
                return
            fresh = copy.deepcopy(pod)
            now = format_time(utcnow())
            st = fresh.setdefault("status", {})
            st["phase"] = "Running"
            st.setdefault("podIP", f"10.244.{self.node_names.index(pod['spec']['nodeName'])}.{next(self._ips) % 250 + 2}")
            st["podIPs"] = [{"ip": st["podIP"]}]
            st.setdefault("startTime", now)
            flag = "True" if want_ready else "False"
            conds = [c for c in st.get("conditions") or [] if c.get("type") not in ("Ready", "ContainersReady", "Initialized")]
            conds += [{"type": "Initialized", "status": "True", "lastTransitionTime": now},
                      {"type": "Ready", "status": flag, "lastTransitionTime": now},
                      {"type": "ContainersReady", "status": flag, "lastTransitionTime": now}]
            st["conditions"] = conds
            st["containerStatuses"] = [{"name": c["name"], "image": c.get("image"), "ready": want_ready,
                                        "restartCount": 0, "started": True,
                                        "state": {"running": {"startedAt": now}}}
                                       for c in pod["spec"].get("containers") or []]
            await self.client.update_status("pods", fresh)
        except (NotFound, ApiError):
            pass  # stale: the next event brings the pod back

    async def _heartbeats(self) -> None:
        while True:
            for n in self.node_names:
                if not self.alive[n]:
                    continue
                try:
                    node = await self.client.get("nodes", n)
                    now = format_time(utcnow())
                    conds = node.setdefault("status", {}).setdefault("conditions", [])
                    ready = next((c for c in conds if c.get("type") == "Ready"), None)
                    if ready is None:
                        conds.append(ready := {"type": "Ready"})
                    if ready.get("status") != "True":
                        ready.update(status="True", lastTransitionTime=now, reason="KubeletReady",
                                     message="kubelet is posting ready status")
                    ready["lastHeartbeatTime"] = now
                    await self.client.update_status("nodes", node)
                except (ApiError, OSError):
                    pass
            await asyncio.sleep(self.heartbeat)


class Cluster:
    """One test's cluster: control plane + controllers + fake kubelet + a client for the test."""

    def __init__(self, tmp: Path, nodes: list[str], config: ClusterConfig) -> None:
        self.cp = EmbeddedControlPlane(tmp)
        self.nodes = nodes
        self.config = config
        self.client: ApiClient | None = None
        self.kubelet: FakeKubelet | None = None
        self._ctl_client: ApiClient | None = None
        self._controllers: asyncio.Task | None = None

    def new_client(self) -> ApiClient:
        return ApiClient(self.cp.url, token=self.cp.pki.admin_token, ca_file=self.cp.pki.ca_cert)

    async def start(self) -> "Cluster":
        self.cp.start()
        self.client = self.new_client()
        self.kubelet = FakeKubelet(self.new_client(), self.nodes)
        await self.kubelet.start()
        await self.start_controllers()
        return self

    async def start_controllers(self) -> None:
        self._ctl_client = self.new_client()
        self._controllers = asyncio.create_task(run_controllers(self._ctl_client, self.config))
        await asyncio.sleep(0.3)  # let the informers list

    async def stop_controllers(self) -> None:
        if self._controllers is not None:
            self._controllers.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._controllers
            self._controllers = None
        if self._ctl_client is not None:
            await self._ctl_client.close()
            self._ctl_client = None

    async def stop(self) -> None:
        try:
            await self.stop_controllers()
            if self.kubelet is not None:
                await self.kubelet.stop()
                await self.kubelet.client.close()
            if self.client is not None:
                await self.client.close()
        finally:
            self.cp.stop()

    # --- helpers for assertions --------------------------------------------------------------------
    async def apply(self, obj: dict, ns: str = "default") -> dict:
        """Create, or replace the spec of, an object (what `kubectl apply` amounts to here)."""
        from minikube_py.api.resources import resource_for

        plural = resource_for(obj["apiVersion"], obj["kind"]).plural
        try:
            return await self.client.create(plural, obj, namespace=ns)
        except ApiError as e:
            if e.status != 409:
                raise
        current = await self.client.get(plural, obj["metadata"]["name"], ns)
        current["spec"] = obj["spec"]
        return await self.client.update(plural, current)

    async def patch(self, plural: str, name: str, body, ns: str = "default", **kw) -> dict:
        """PATCH; the API server retries a patch that races a controller's write itself (as the
        apiserver's GuaranteedUpdate does), so no retry here."""
        return await self.client.patch(plural, name, body, namespace=ns, **kw)

    async def pods(self, ns: str = "default", selector: str | None = None, active: bool = True) -> list[dict]:
        items = (await self.client.list("pods", ns, label_selector=selector))["items"]
        if active:
            items = [p for p in items if not p["metadata"].get("deletionTimestamp")]
        return items

    async def rss(self, ns: str = "default") -> list[dict]:
        return (await self.client.list("replicasets", ns))["items"]

    async def events(self, name: str, reason: str | None = None, ns: str = "default") -> list[dict]:
        """Events about *name*, in the order they were written (resourceVersion is a global revision)."""
        items = (await self.client.list("events", ns, field_selector=f"involvedObject.name={name}"))["items"]
        if reason:
            items = [e for e in items if e.get("reason") == reason]
        return sorted(items, key=lambda e: int(e["metadata"]["resourceVersion"]))

    async def wait(self, predicate, timeout: float = 20.0, interval: float = 0.1):
        return await wait_for(predicate, timeout, interval)


@contextlib.asynccontextmanager
async def running_cluster(tmp: Path, nodes: list[str], config: ClusterConfig | None = None):
    """A started `Cluster` with a kubeconfig for the real kubectl (`cluster.kubeconfig`), stopped on exit
    (on failure too): what every controllers test module's `cluster` fixture yields."""
    c = Cluster(tmp, nodes, config or ClusterConfig(profile="mkt-ctl"))
    await c.start()
    c.kubeconfig = c.cp.write_kubeconfig(tmp / "kubeconfig")
    try:
        yield c
    finally:
        await c.stop()
