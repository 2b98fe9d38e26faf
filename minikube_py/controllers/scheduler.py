"""The scheduler: give every pending pod a node, with one POST to `pods/{name}/binding`.

Lifecycle of a pod key: a pod without `spec.nodeName` (not terminating, `schedulerName` default-scheduler)
is enqueued. `sync_pod` filters the nodes (Ready, schedulable, taints tolerated, `nodeSelector` and required
node affinity matched), scores the survivors by how few pods they run (ties by name, so placement is
predictable) and binds. When no node fits, the pod gets `PodScheduled=False/Unschedulable` and a
`FailedScheduling` event worded like Kubernetes', and waits: any node change re-enqueues every pending
pod ("retried when nodes change"), which is what the real scheduler's unschedulable queue does on a node
event. No polling.

Why one worker and an "assumed" table: the pod cache learns about a binding only when the watch delivers
it. Scheduling six pods in a burst would otherwise count 0 pods on every node six times and put all six on
the same node. Like kube-scheduler's assume cache, we count a pod on its node from the moment we bind it
until the informer shows `spec.nodeName`.
"""
from __future__ import annotations

import logging
from collections import Counter

from minikube_py.client import ApiClient, ApiError, Conflict, Controller, EventRecorder, NotFound
from minikube_py.client.informer import object_key
from minikube_py.controllers.common import format_time, get_condition, is_pod_terminating, utcnow

log = logging.getLogger(__name__)

DEFAULT_SCHEDULER = "default-scheduler"

# Filter failure reasons, worded as kube-scheduler's plugins word them.
R_NOT_READY = "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"
R_UNSCHEDULABLE = "node(s) were unschedulable"
R_SELECTOR = "node(s) didn't match Pod's node affinity/selector"


def wants_scheduling(pod: dict) -> bool:
    spec = pod.get("spec") or {}
    if spec.get("nodeName") or is_pod_terminating(pod):
        return False
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return False
    return (spec.get("schedulerName") or DEFAULT_SCHEDULER) == DEFAULT_SCHEDULER


def toleration_matches(tol: dict, taint: dict) -> bool:
    """k8s `Toleration.ToleratesTaint`: effect empty = all effects; operator Exists matches any value;
    an empty key with Exists tolerates everything."""
    if tol.get("effect") and tol.get("effect") != taint.get("effect"):
        return False
    op = tol.get("operator") or "Equal"
    if not tol.get("key"):
        return op == "Exists"
    if tol.get("key") != taint.get("key"):
        return False
    if op == "Exists":
        return True
    return (tol.get("value") or "") == (taint.get("value") or "")


def untolerated_taint(pod: dict, node: dict) -> dict | None:
    """The first NoSchedule/NoExecute taint of *node* the pod doesn't tolerate, or None."""
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        if not any(toleration_matches(t, taint) for t in tolerations):
            return taint
    return None


def _match_node_selector_term(term: dict, node: dict) -> bool:
    labels = node.get("metadata", {}).get("labels") or {}
    for expr in term.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        have = labels.get(key)
        ok = {"In": have is not None and have in values,
              "NotIn": have is None or have not in values,
              "Exists": have is not None,
              "DoesNotExist": have is None,
              "Gt": have is not None and have.lstrip("-").isdigit() and bool(values) and int(have) > int(values[0]),
              "Lt": have is not None and have.lstrip("-").isdigit() and bool(values) and int(have) < int(values[0]),
              }.get(op, False)
        if not ok:
            return False
    for expr in term.get("matchFields") or []:
        if expr.get("key") == "metadata.name":
            name = node["metadata"]["name"]
            values = expr.get("values") or []
            if (expr.get("operator") == "In") != (name in values):
                return False
    return True


def matches_node_selector(pod: dict, node: dict) -> bool:
    """`spec.nodeSelector` (all labels equal) and required node affinity (any term matches)."""
    spec = pod.get("spec") or {}
    labels = node.get("metadata", {}).get("labels") or {}
    for k, v in (spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = required.get("nodeSelectorTerms") or []
    if terms and not any(_match_node_selector_term(t, node) for t in terms):
        return False
    return True


def is_node_ready(node: dict) -> bool:
    c = get_condition(node, "Ready")
    return bool(c) and c.get("status") == "True"


def filter_node(pod: dict, node: dict) -> str | None:
    """Why *pod* cannot go to *node* (a reason string as kube-scheduler counts them), or None if it fits.

    Order as in the scheduler's filter plugins: unschedulable, node selector/affinity, taints. A node that
    is not Ready without a taint (a node lifecycle controller that has not caught up) counts as not-ready.
    """
    if (node.get("spec") or {}).get("unschedulable"):
        tol = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
        if not any(toleration_matches(t, tol) for t in (pod.get("spec") or {}).get("tolerations") or []):
            return R_UNSCHEDULABLE
    if not matches_node_selector(pod, node):
        return R_SELECTOR
    taint = untolerated_taint(pod, node)
    if taint is not None:
        return f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value') or ''}}}"
    if not is_node_ready(node):
        return R_NOT_READY
    return None


def failure_message(total: int, reasons: Counter) -> str:
    """`0/3 nodes are available: 1 node(s) didn't match …, 2 node(s) were unschedulable.` (sorted, as k8s),
    then what kube-scheduler's DefaultPreemption PostFilter adds: every reason we filter by is
    UnschedulableAndUnresolvable (evicting pods can't fix it), so preemption rules out every node:
    ` preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.`"""
    if total == 0:
        return "no nodes available to schedule pods"
    parts = sorted(f"{n} {reason}" for reason, n in reasons.items())
    return (f"0/{total} nodes are available: {', '.join(parts)}. "
            f"preemption: 0/{total} nodes are available: {total} Preemption is not helpful for scheduling.")


def pick_node(pod: dict, nodes: list[dict], pods_per_node: Counter) -> tuple[str | None, Counter]:
    """(chosen node name or None, Counter of failure reasons). Fewest pods first, ties by name."""
    reasons: Counter = Counter()
    fits: list[str] = []
    for node in nodes:
        why = filter_node(pod, node)
        if why is None:
            fits.append(node["metadata"]["name"])
        else:
            reasons[why] += 1
    if not fits:
        return None, reasons
    return min(fits, key=lambda n: (pods_per_node.get(n, 0), n)), reasons


class Scheduler(Controller):
    name = "scheduler"
    workers = 1  # see module docstring: one scheduling decision at a time

    def __init__(self, client: ApiClient, factory) -> None:
        super().__init__()
        self.client = client
        self.pods = factory.informer("pods")
        self.nodes = factory.informer("nodes")
        self.informers = [self.pods, self.nodes]
        self.recorder = EventRecorder(client, DEFAULT_SCHEDULER)
        self._assumed: dict[str, str] = {}  # pod key -> node name, until the cache shows the binding
        self.pods.add_handlers(on_add=self._on_pod, on_update=lambda old, new: self._on_pod(new),
                               on_delete=self._on_pod_delete)
        self.nodes.add_handlers(on_add=self._on_node, on_update=self._on_node_update,
                                on_delete=self._on_node)

    # --- handlers: compute keys, enqueue ----------------------------------------------------------
    def _on_pod(self, pod: dict) -> None:
        key = object_key(pod)
        if (pod.get("spec") or {}).get("nodeName"):
            self._assumed.pop(key, None)
        if wants_scheduling(pod):
            self.queue.add(key)

    def _on_pod_delete(self, pod: dict) -> None:
        self._assumed.pop(object_key(pod), None)

    def _on_node(self, node: dict) -> None:
        self._requeue_pending()

    def _on_node_update(self, old: dict, new: dict) -> None:
        # Heartbeats change only times; re-trying every pending pod on each one would be wasted work.
        if (old.get("spec") != new.get("spec")
                or old.get("metadata", {}).get("labels") != new.get("metadata", {}).get("labels")
                or is_node_ready(old) != is_node_ready(new)):
            self._requeue_pending()

    def _requeue_pending(self) -> None:
        for pod in self.pods.list():
            if wants_scheduling(pod):
                self.queue.add(object_key(pod))

    # --- sync --------------------------------------------------------------------------------------
    def pods_per_node(self) -> Counter:
        counts: Counter = Counter()
        for pod in self.pods.list():
            node = (pod.get("spec") or {}).get("nodeName")
            if node and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                counts[node] += 1
        for key, node in self._assumed.items():
            cached = self.pods.get(key)
            if cached is None or not (cached.get("spec") or {}).get("nodeName"):
                counts[node] += 1
        return counts

    async def sync(self, key: str) -> None:
        await self.sync_pod(key)

    async def sync_pod(self, key: str) -> None:
        pod = self.pods.get(key)
        if pod is None or not wants_scheduling(pod) or key in self._assumed:
            return
        ns, name = pod["metadata"].get("namespace") or "default", pod["metadata"]["name"]
        nodes = sorted(self.nodes.list(), key=lambda n: n["metadata"]["name"])
        chosen, reasons = pick_node(pod, nodes, self.pods_per_node())
        if chosen is None:
            await self._mark_unschedulable(pod, failure_message(len(nodes), reasons))
            return
        try:
            await self.client.bind(name, ns, chosen)
        except NotFound:
            return  # deleted meanwhile
        except Conflict:
            return  # bound by someone else (or already bound): the informer will tell us
        self._assumed[key] = chosen
        await self.recorder.event(pod, "Scheduled", f"Successfully assigned {ns}/{name} to {chosen}")

    async def _mark_unschedulable(self, pod: dict, message: str) -> None:
        cond = get_condition(pod, "PodScheduled")
        if cond and cond.get("status") == "False" and cond.get("message") == message:
            return  # already said so; a node event will bring us back
        await self.recorder.event(pod, "FailedScheduling", message, type_="Warning")
        import copy

        fresh = copy.deepcopy(pod)
        status = fresh.setdefault("status", {})
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        conditions.append({"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                           "message": message, "lastProbeTime": None,
                           "lastTransitionTime": format_time(utcnow())})
        status["conditions"] = conditions
        status.setdefault("phase", "Pending")
        try:
            await self.client.update_status("pods", fresh)
        except NotFound:
            return
        except ApiError as exc:
            if exc.status == 409:
                raise  # stale cache: requeue and decide again on the fresh pod
            log.warning("scheduler: cannot write PodScheduled for %s: %s", object_key(pod), exc)
