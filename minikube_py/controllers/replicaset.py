"""The ReplicaSet controller: keep `spec.replicas` active pods matching `spec.selector`.

`sync_replicaset(key)` is level-triggered (Kubernetes `syncReplicaSet`):
1. read the ReplicaSet and the namespace's pods from the caches;
2. claim pods: keep ours that still match, *release* ours whose labels stopped matching (drop our
   ownerReference; that is the guide's `kubectl label pod x app-` → a new pod appears), *adopt* matching
   orphans (add a controller ownerReference; adding the label back → one pod too many → one is deleted);
3. if the expectations for this key are satisfied (all our earlier creates/deletes have been seen),
   create or delete the difference: creates in slow-start batches 1, 2, 4, … (a broken template fails
   once, not 500 times), deletes ranked by `pod_deletion_order` (least useful pods first);
4. always compute and write status when it changed; requeue after `minReadySeconds` when pods are
   ready but not yet available, since no event will announce that moment.

Terminating and finished pods don't count: a pod being gracefully deleted is already gone for the
ReplicaSet's purposes, so its replacement starts at once (as in Kubernetes).
"""
from __future__ import annotations

import asyncio
import copy
import datetime as dt
import logging

from minikube_py.api.selectors import label_selector_from_spec
from minikube_py.client import ApiClient, ApiError, Conflict, Controller, EventRecorder, NotFound
from minikube_py.client.informer import object_key
from minikube_py.controllers.common import (
    ADOPT, RELEASE, available_in, claim_decision, controller_ref, get_condition, is_pod_active,
    is_pod_ready, new_controller_ref, parse_time, remove_owner_ref, restart_count, utcnow)
from minikube_py.controllers.expectations import Expectations

log = logging.getLogger(__name__)

RS_API_VERSION, RS_KIND = "apps/v1", "ReplicaSet"
BURST_REPLICAS = 500
DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"


# --- pure decisions --------------------------------------------------------------------------------

def _phase_rank(pod: dict) -> int:
    return {"Pending": 0, "Unknown": 1, "Running": 2}.get((pod.get("status") or {}).get("phase") or "Pending", 0)


def _deletion_cost(pod: dict) -> int:
    try:
        return int((pod.get("metadata", {}).get("annotations") or {}).get(DELETION_COST, 0))
    except ValueError:
        return 0


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def pod_deletion_order(pods: list[dict], related: list[dict] | None = None) -> list[dict]:
    """*pods* sorted so the first ones are the best to delete (k8s `ActivePodsWithRanks.Less`):

    1. unscheduled < scheduled;  2. Pending < Unknown < Running;  3. not ready < ready;
    4. lower `pod-deletion-cost` first;  5. pods doubled up on a node (more related pods there) first;
    6. ready for a shorter time first;  7. more container restarts first;  8. newer first.
    """
    related = related if related is not None else pods
    per_node: dict[str, int] = {}
    for p in related:
        node = (p.get("spec") or {}).get("nodeName")
        if node:
            per_node[node] = per_node.get(node, 0) + 1

    def key(p: dict) -> tuple:
        node = (p.get("spec") or {}).get("nodeName")
        ready = is_pod_ready(p)
        ready_at = None
        if ready:
            c = get_condition(p, "Ready") or {}
            ready_at = parse_time(c.get("lastTransitionTime"))
        created = parse_time(p.get("metadata", {}).get("creationTimestamp")) or _EPOCH
        return (
            1 if node else 0,
            _phase_rank(p),
            1 if ready else 0,
            _deletion_cost(p),
            -(per_node.get(node, 0) if node else 0),
            # ready longer → later; a ready pod without a time counts as "just now" (k8s: empty < set)
            -(ready_at.timestamp()) if ready_at else float("-inf") if ready else 0,
            -restart_count(p),
            -created.timestamp(),
        )

    return sorted(pods, key=key)


def replicaset_status(rs: dict, pods: list[dict], now: dt.datetime) -> dict:
    """The status fields Kubernetes computes (`calculateStatus`), from the RS's active owned pods."""
    template_labels = ((rs["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
    min_ready = int(rs["spec"].get("minReadySeconds") or 0)
    fully = sum(1 for p in pods
                if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in template_labels.items()))
    ready = sum(1 for p in pods if is_pod_ready(p))
    available = sum(1 for p in pods if available_in(p, min_ready, now) == 0.0)
    status = dict(rs.get("status") or {})
    status.update({"replicas": len(pods), "fullyLabeledReplicas": fully, "readyReplicas": ready,
                   "availableReplicas": available,
                   "observedGeneration": rs["metadata"].get("generation", status.get("observedGeneration", 0))})
    return status


def status_differs(old: dict | None, new: dict) -> bool:
    old = old or {}
    fields = ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas", "observedGeneration",
              "conditions")
    return any((old.get(f) or 0) != (new.get(f) or 0) for f in fields)


def slow_start_batches(count: int, initial: int = 1) -> list[int]:
    """Sizes of the create batches: 1, 2, 4, … summing to *count* (k8s `slowStartBatch`)."""
    out, remaining, size = [], count, initial
    while remaining > 0:
        batch = min(size, remaining)
        out.append(batch)
        remaining -= batch
        size *= 2
    return out


def pod_from_template(rs: dict) -> dict:
    """A new pod for *rs*: its template, `generateName: <rs>-` and a controller ownerReference."""
    template = copy.deepcopy(rs["spec"].get("template") or {})
    meta = template.get("metadata") or {}
    pod_meta = {"generateName": f"{rs['metadata']['name']}-",
                "namespace": rs["metadata"].get("namespace") or "default",
                "labels": dict(meta.get("labels") or {}),
                "ownerReferences": [new_controller_ref(rs, RS_API_VERSION, RS_KIND)]}
    if meta.get("annotations"):
        pod_meta["annotations"] = dict(meta["annotations"])
    if meta.get("finalizers"):
        pod_meta["finalizers"] = list(meta["finalizers"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": template.get("spec") or {}}


# --- the controller --------------------------------------------------------------------------------

class ReplicaSetController(Controller):
    name = "replicaset-controller"
    workers = 2

    def __init__(self, client: ApiClient, factory) -> None:
        super().__init__()
        self.client = client
        self.rss = factory.informer("replicasets")
        self.pods = factory.informer("pods")
        self.informers = [self.rss, self.pods]
        self.expectations = Expectations()
        self.recorder = EventRecorder(client, "replicaset-controller")
        self.rss.add_handlers(on_add=self.enqueue, on_update=lambda o, n: self.enqueue(n),
                              on_delete=self._on_rs_delete)
        self.pods.add_handlers(on_add=self._on_pod_add, on_update=self._on_pod_update,
                               on_delete=self._on_pod_delete)

    # --- handlers (k8s addPod/updatePod/deletePod): observe expectations, enqueue the owner ---------
    def _rs_key_of(self, pod: dict) -> str | None:
        ref = controller_ref(pod)
        if not ref or ref.get("kind") != RS_KIND:
            return None
        key = f"{pod['metadata'].get('namespace') or 'default'}/{ref['name']}"
        rs = self.rss.get(key)
        if rs is None or rs["metadata"].get("uid") != ref.get("uid"):
            return None
        return key

    def _matching_rs_keys(self, pod: dict) -> list[str]:
        """Orphan pod: every ReplicaSet in its namespace whose selector matches might adopt it."""
        ns = pod["metadata"].get("namespace") or "default"
        labels = pod["metadata"].get("labels") or {}
        out = []
        for rs in self.rss.list(ns):
            try:
                if label_selector_from_spec(rs["spec"].get("selector")).matches(labels):
                    out.append(object_key(rs))
            except ValueError:
                continue
        return out

    def _on_rs_delete(self, rs: dict) -> None:
        key = object_key(rs)
        self.expectations.forget(key)
        self.queue.add(key)

    def _on_pod_add(self, pod: dict) -> None:
        if pod["metadata"].get("deletionTimestamp"):
            self._on_pod_delete(pod)  # e.g. seen first after a restart, already terminating
            return
        key = self._rs_key_of(pod)
        if key:
            self.expectations.creation_observed(key)
            self.queue.add(key)
            return
        if controller_ref(pod) is None:
            for k in self._matching_rs_keys(pod):
                self.queue.add(k)

    def _on_pod_update(self, old: dict, new: dict) -> None:
        if new["metadata"].get("deletionTimestamp") and not old["metadata"].get("deletionTimestamp"):
            # A graceful delete: the pod stays in the cache for a while but is already gone for us.
            self._on_pod_delete(new)
            return
        old_ref, new_ref = controller_ref(old), controller_ref(new)
        if old_ref and (not new_ref or old_ref.get("uid") != new_ref.get("uid")):
            old_key = self._rs_key_of(old)
            if old_key:
                self.queue.add(old_key)
        key = self._rs_key_of(new)
        if key:
            self.queue.add(key)
            return
        if new_ref is None and (old["metadata"].get("labels") != new["metadata"].get("labels") or old_ref):
            for k in self._matching_rs_keys(new):
                self.queue.add(k)

    def _on_pod_delete(self, pod: dict) -> None:
        key = self._rs_key_of(pod)
        if key:
            self.expectations.deletion_observed(key, object_key(pod))
            self.queue.add(key)

    # --- sync --------------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        await self.sync_replicaset(key)

    async def sync_replicaset(self, key: str) -> None:
        rs = self.rss.get(key)
        if rs is None:
            self.expectations.forget(key)
            return
        needs_sync = self.expectations.satisfied(key)
        try:
            selector = label_selector_from_spec(rs["spec"].get("selector"))
        except ValueError as exc:
            log.warning("replicaset %s: invalid selector: %s", key, exc)
            return
        ns = rs["metadata"].get("namespace") or "default"
        active = [p for p in self.pods.list(ns) if is_pod_active(p)]
        owned = await self._claim_pods(rs, selector, active)

        manage_error: Exception | None = None
        if needs_sync and not rs["metadata"].get("deletionTimestamp"):
            try:
                await self._manage_replicas(key, rs, owned)
            except Exception as exc:  # noqa: BLE001 - status first, then report
                manage_error = exc

        now = utcnow()
        new_status = replicaset_status(rs, owned, now)
        if status_differs(rs.get("status"), new_status):
            await self._write_status(rs, new_status)

        # Availability arrives with time, not with an event: come back when the next pod crosses it.
        min_ready = int(rs["spec"].get("minReadySeconds") or 0)
        if manage_error is None and min_ready > 0:
            waits = [w for p in owned if (w := available_in(p, min_ready, now))]
            if waits:
                self.queue.add_after(key, min(waits) + 0.1)
        if manage_error is not None:
            raise manage_error

    async def _claim_pods(self, rs: dict, selector, pods: list[dict]) -> list[dict]:
        owned: list[dict] = []
        uid = rs["metadata"]["uid"]
        for pod in pods:
            decision = claim_decision(pod, rs, selector)
            if decision == "keep":
                owned.append(pod)
            elif decision == ADOPT:
                if await self._set_owner(pod, add=rs):
                    owned.append(pod)
            elif decision == RELEASE:
                await self._set_owner(pod, remove_uid=uid)
        return owned

    async def _set_owner(self, pod: dict, add: dict | None = None, remove_uid: str | None = None) -> bool:
        """Adopt (add our controller ref) or release (remove it) with a resourceVersion-guarded PUT."""
        fresh = copy.deepcopy(pod)
        refs = list(fresh["metadata"].get("ownerReferences") or [])
        if add is not None:
            refs.append(new_controller_ref(add, RS_API_VERSION, RS_KIND))
        if remove_uid is not None:
            refs = remove_owner_ref(refs, remove_uid)
        fresh["metadata"]["ownerReferences"] = refs
        try:
            await self.client.update("pods", fresh)
            return True
        except NotFound:
            return False
        except Conflict:
            # The pod changed under us; the update event requeues the RS and we decide again.
            return False

    async def _manage_replicas(self, key: str, rs: dict, pods: list[dict]) -> None:
        diff = len(pods) - int(rs["spec"].get("replicas", 1) or 0)
        if diff < 0:
            count = min(-diff, BURST_REPLICAS)
            self.expectations.expect_creations(key, count)
            created = 0
            for batch in slow_start_batches(count):
                results = await asyncio.gather(*(self._create_pod(rs) for _ in range(batch)),
                                               return_exceptions=True)
                errors = [r for r in results if isinstance(r, Exception)]
                created += batch - len(errors)
                if errors:
                    # Creates we skipped or that failed will never be observed: lower the expectation.
                    for _ in range(count - created):
                        self.expectations.creation_observed(key)
                    raise errors[0]
        elif diff > 0:
            count = min(diff, BURST_REPLICAS)
            victims = pod_deletion_order(pods)[:count]
            self.expectations.expect_deletions(key, [object_key(p) for p in victims])
            results = await asyncio.gather(*(self._delete_pod(rs, p) for p in victims), return_exceptions=True)
            for pod, r in zip(victims, results):
                if isinstance(r, Exception):
                    self.expectations.deletion_observed(key, object_key(pod))
            # A pod already gone is what we wanted; any other failure requeues.
            errors = [r for r in results if isinstance(r, Exception) and not isinstance(r, NotFound)]
            if errors:
                raise errors[0]

    async def _create_pod(self, rs: dict) -> None:
        pod = pod_from_template(rs)
        try:
            created = await self.client.create("pods", pod, namespace=pod["metadata"]["namespace"])
        except ApiError as exc:
            await self.recorder.event(rs, "FailedCreate", f"Error creating: {exc.message}", type_="Warning")
            raise
        await self.recorder.event(rs, "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")

    async def _delete_pod(self, rs: dict, pod: dict) -> None:
        name, ns = pod["metadata"]["name"], pod["metadata"].get("namespace") or "default"
        try:
            await self.client.delete("pods", name, namespace=ns,
                                     preconditions={"uid": pod["metadata"]["uid"]})
        except NotFound:
            raise  # already gone: the caller lowers the expectation and moves on
        except ApiError as exc:
            await self.recorder.event(rs, "FailedDelete", f"Error deleting: {exc.message}", type_="Warning")
            raise
        await self.recorder.event(rs, "SuccessfulDelete", f"Deleted pod: {name}")

    async def _write_status(self, rs: dict, status: dict) -> None:
        fresh = copy.deepcopy(rs)
        fresh["status"] = status
        try:
            await self.client.update_status("replicasets", fresh)
        except NotFound:
            return
        except Conflict:
            # Our cache is behind: write onto the current object (status is ours alone to compute).
            try:
                current = await self.client.get("replicasets", rs["metadata"]["name"],
                                                rs["metadata"].get("namespace") or "default")
            except NotFound:
                return
            if current["metadata"]["uid"] != rs["metadata"]["uid"]:
                return
            status = dict(status)
            current["status"] = {**(current.get("status") or {}), **status}
            await self.client.update_status("replicasets", current)
