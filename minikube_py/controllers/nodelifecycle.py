"""The node lifecycle controller: notice nodes that stopped talking, fence them, move their pods away
(Kubernetes `pkg/controller/nodelifecycle`, taint-based eviction).

Per node, `sync_node(name)` reads the node and its pods from the caches and walks this timeline:

    heartbeat fresh ─(no heartbeat for node_grace_seconds)→ Unknown ─(pod_eviction_seconds)→ evict pods
         ↑                                                    │
         └──────────────── heartbeat again ───────────────────┘ (taints removed)

- Unknown: every node condition becomes `Unknown`, reason `NodeStatusUnknown`, message `Kubelet stopped
  posting node status.`; taints `node.kubernetes.io/unreachable` NoSchedule (the scheduler stops placing
  pods there) and NoExecute (the eviction clock). A node whose agent reports Ready=False gets the
  `not-ready` taints instead.
- The pods of an unreachable node get `Ready=False`, so the Endpoints controller moves them to
  `notReadyAddresses` and Services stop sending traffic into a black hole.
- After `pod_eviction_seconds` NotReady the pods are deleted (their ReplicaSets make new ones elsewhere).
  A pod with a node is only *marked* for deletion (the agent finishes it); a dead agent never will, so
  once its grace period has passed we delete it with `gracePeriodSeconds=0`.
- `spec.unschedulable` (kubectl cordon) is mirrored as the `node.kubernetes.io/unschedulable:NoSchedule`
  taint, as Kubernetes does.
- Events (source `node-controller`, about the Node by its uid, in namespace `default`): `RegisteredNode`
  the first time this controller sees a node, `NodeNotReady` when it turns a Ready node Unknown (each pod
  there gets a Warning `NodeNotReady`), `RemovingNode` when the node is deleted. A deleted node's Lease
  (`kube-node-lease/<node>`, owned by the Node) is deleted here: Kubernetes' garbage collector does that,
  ours knows only workloads.

Time passes without events, so each sync ends by asking the queue to come back at the next deadline
(heartbeat expiry, eviction time, force-delete time): timers on the local queue, not polling the API.
"""
from __future__ import annotations

import copy
import datetime as dt
import logging

from minikube_py.client import ApiClient, ApiError, Controller, EventRecorder, NotFound
from minikube_py.client.informer import object_key
from minikube_py.config import ClusterConfig
from minikube_py.controllers.common import format_time, get_condition, parse_time, utcnow

log = logging.getLogger(__name__)

UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
OUR_TAINT_KEYS = (UNREACHABLE, NOT_READY, UNSCHEDULABLE)
FORCE_DELETE_MARGIN = 1.0
NODE_LEASE_NAMESPACE = "kube-node-lease"


def node_ref(node: dict) -> dict:
    """The node controller's reference for events: apiVersion v1, kind Node, name and uid."""
    meta = node.get("metadata") or {}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": meta.get("name"), "uid": meta.get("uid")}}


def heartbeat_of(node: dict) -> dt.datetime | None:
    """Last sign of life: the Ready condition's lastHeartbeatTime, else the node's creation time."""
    ready = get_condition(node, "Ready")
    when = parse_time((ready or {}).get("lastHeartbeatTime"))
    return when or parse_time(node.get("metadata", {}).get("creationTimestamp"))


def mark_unknown(node: dict, now: dt.datetime) -> dict:
    """A copy of *node* with every condition Unknown (k8s `tryUpdateNodeHealth`)."""
    fresh = copy.deepcopy(node)
    status = fresh.setdefault("status", {})
    conds = status.setdefault("conditions", [])
    stamp = format_time(now)
    if not any(c.get("type") == "Ready" for c in conds):
        conds.append({"type": "Ready", "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                      "message": "Kubelet never posted node status.", "lastHeartbeatTime": None,
                      "lastTransitionTime": stamp})
    for c in conds:
        if c.get("status") != "Unknown":
            c["status"] = "Unknown"
            c["reason"] = "NodeStatusUnknown"
            c["message"] = "Kubelet stopped posting node status."
            c["lastTransitionTime"] = stamp
    return fresh


def desired_taints(node: dict) -> list[dict]:
    """The node's taints with ours set as its Ready condition and `spec.unschedulable` say; other taints
    are kept as they are (timeAdded of an existing taint is preserved)."""
    existing = (node.get("spec") or {}).get("taints") or []
    ready = get_condition(node, "Ready")
    status = (ready or {}).get("status")
    want: list[tuple[str, str]] = []
    if status == "Unknown":
        want = [(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")]
    elif status == "False":
        want = [(NOT_READY, "NoSchedule"), (NOT_READY, "NoExecute")]
    elif ready is None:
        want = [(NOT_READY, "NoSchedule")]
    if (node.get("spec") or {}).get("unschedulable"):
        want.append((UNSCHEDULABLE, "NoSchedule"))
    out = [t for t in existing if t.get("key") not in OUR_TAINT_KEYS
           or (t.get("key"), t.get("effect")) in want]
    have = {(t.get("key"), t.get("effect")) for t in out}
    for key, effect in want:
        if (key, effect) not in have:
            taint = {"key": key, "effect": effect}
            if effect == "NoExecute":
                taint["timeAdded"] = format_time(utcnow())
            out.append(taint)
    return out


def _taint_set(taints: list[dict]) -> set:
    return {(t.get("key"), t.get("value"), t.get("effect")) for t in taints}


class NodeLifecycleController(Controller):
    name = "node-lifecycle-controller"
    workers = 1

    def __init__(self, client: ApiClient, factory, config: ClusterConfig) -> None:
        super().__init__()
        self.client = client
        self.config = config
        self.recorder = EventRecorder(client, "node-controller")
        self.known: dict[str, str] = {}  # node name -> uid, of nodes this controller has registered
        self.nodes = factory.informer("nodes")
        self.pods = factory.informer("pods")
        self.informers = [self.nodes, self.pods]
        self.nodes.add_handlers(on_add=self.enqueue, on_update=lambda o, n: self.enqueue(n),
                                on_delete=self.enqueue)
        self.pods.add_handlers(on_add=self._on_pod, on_update=lambda o, n: self._on_pod(n))

    def _on_pod(self, pod: dict) -> None:
        node = (pod.get("spec") or {}).get("nodeName")
        if not node:
            return
        cached = self.nodes.get(node)
        ready = get_condition(cached, "Ready") if cached else None
        if cached is not None and (ready is None or ready.get("status") != "True"):
            self.queue.add(node)  # a pod on a sick node: it may need marking or evicting

    def pods_on(self, node_name: str) -> list[dict]:
        return [p for p in self.pods.list() if (p.get("spec") or {}).get("nodeName") == node_name]

    async def sync(self, key: str) -> None:
        await self.sync_node(key)

    async def sync_node(self, name: str) -> None:
        node = self.nodes.get(name)
        if node is None:
            await self.forget_node(name)
            return
        await self.register_node(node)
        now = utcnow()
        grace = float(self.config.node_grace_seconds)
        heartbeat = heartbeat_of(node)
        ready = get_condition(node, "Ready")
        silent_for = (now - heartbeat).total_seconds() if heartbeat else 0.0

        # 1. Health: a node that stopped posting becomes Unknown.
        if silent_for > grace and (ready is None or ready.get("status") != "Unknown"):
            log.info("node %s: no heartbeat for %.0fs; marking Unknown", name, silent_for)
            was = (ready or {}).get("status")
            try:
                node = await self.client.update_status("nodes", mark_unknown(node, now))
            except NotFound:
                return
            ready = get_condition(node, "Ready")
            if was == "True":
                await self.recorder.event(node_ref(node), "NodeNotReady", f"Node {name} status is now: NodeNotReady")

        # 2. Taints follow the condition (and cordon).
        taints = desired_taints(node)
        if _taint_set(taints) != _taint_set((node.get("spec") or {}).get("taints") or []):
            fresh = copy.deepcopy(node)
            fresh.setdefault("spec", {})["taints"] = taints
            if not taints:
                fresh["spec"].pop("taints")
            node = await self.client.update("nodes", fresh)  # 409 → requeue with a fresher cache

        status = (ready or {}).get("status")
        if status == "True":
            # Healthy: come back when the heartbeat would expire.
            self.queue.add_after(name, max(grace - silent_for, 0) + 0.5)
            return

        # 3. Unreachable: the pods there are not ready, whatever they last said.
        if status == "Unknown":
            await self.mark_pods_not_ready(name, now)

        # 4. Eviction after pod_eviction_seconds NotReady, forced once the grace period is over.
        since = parse_time((ready or {}).get("lastTransitionTime")) or now
        not_ready_for = (now - since).total_seconds()
        evict_in = float(self.config.pod_eviction_seconds) - not_ready_for
        next_check = evict_in if evict_in > 0 else None
        if evict_in <= 0:
            next_check = await self.evict_pods(name, now)
        if next_check is not None:
            self.queue.add_after(name, max(next_check, 0) + 0.2)

    async def register_node(self, node: dict) -> None:
        """`RegisteredNode` once per node (and again for a node re-created under a new uid)."""
        meta = node["metadata"]
        if self.known.get(meta["name"]) == meta.get("uid"):
            return
        self.known[meta["name"]] = meta.get("uid") or ""
        await self.recorder.event(node_ref(node), "RegisteredNode",
                                  f"Node {meta['name']} event: Registered Node {meta['name']} in Controller")

    async def forget_node(self, name: str) -> None:
        """A registered node is gone: `RemovingNode`, and its Lease goes with it (if it still names it)."""
        uid = self.known.pop(name, None)
        if uid is None:
            return
        gone = {"metadata": {"name": name, "uid": uid}}
        await self.recorder.event(node_ref(gone), "RemovingNode",
                                  f"Node {name} event: Removing Node {name} from Controller")
        try:
            lease = await self.client.get("leases", name, namespace=NODE_LEASE_NAMESPACE)
            if any(r.get("kind") == "Node" and r.get("uid") == uid
                   for r in lease["metadata"].get("ownerReferences") or []):
                await self.client.delete("leases", name, namespace=NODE_LEASE_NAMESPACE,
                                         preconditions={"uid": lease["metadata"]["uid"]})
        except NotFound:
            pass
        except ApiError as exc:
            log.warning("lease of deleted node %s not removed: %s", name, exc)

    async def mark_pods_not_ready(self, node_name: str, now: dt.datetime) -> None:
        for pod in self.pods_on(node_name):
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue
            cond = get_condition(pod, "Ready")
            if cond is not None and cond.get("status") == "False":
                continue
            fresh = copy.deepcopy(pod)
            conds = fresh.setdefault("status", {}).setdefault("conditions", [])
            if cond is None:
                conds.append({"type": "Ready", "status": "False", "lastProbeTime": None,
                              "lastTransitionTime": format_time(now), "reason": "NodeNotReady"})
            else:
                for c in conds:
                    if c.get("type") == "Ready":
                        c.update(status="False", lastTransitionTime=format_time(now), reason="NodeNotReady")
            try:
                await self.client.update_status("pods", fresh)
            except NotFound:
                continue
            log.info("node %s unreachable: pod %s marked not ready", node_name, object_key(pod))
            await self.recorder.event(pod, "NodeNotReady", "Node is not ready", type_="Warning")

    async def evict_pods(self, node_name: str, now: dt.datetime) -> float | None:
        """Delete the node's pods; force-delete those whose grace has run out. Returns seconds until the
        next force-delete is due (None when nothing is left to wait for)."""
        next_due: float | None = None
        for pod in self.pods_on(node_name):
            meta = pod["metadata"]
            ns = meta.get("namespace") or "default"
            if not meta.get("deletionTimestamp"):
                log.info("node %s: evicting pod %s/%s", node_name, ns, meta["name"])
                try:
                    await self.client.delete("pods", meta["name"], namespace=ns,
                                             preconditions={"uid": meta.get("uid")})
                except NotFound:
                    continue
                grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
                due = float(30 if grace is None else grace) + FORCE_DELETE_MARGIN
            else:
                deadline = parse_time(meta["deletionTimestamp"]) or now
                due = (deadline - now).total_seconds() + FORCE_DELETE_MARGIN
                if due <= 0:
                    log.info("node %s: force-deleting pod %s/%s", node_name, ns, meta["name"])
                    try:
                        await self.client.delete("pods", meta["name"], namespace=ns, grace_period_seconds=0,
                                                 preconditions={"uid": meta.get("uid")})
                    except NotFound:
                        pass
                    continue
            next_due = due if next_due is None else min(next_due, due)
        return next_due
