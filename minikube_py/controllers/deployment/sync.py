"""The Deployment controller: `sync_deployment(key)` is a dispatcher (Kubernetes `syncDeployment`).

    deployment gone                      → nothing (the garbage collector removes its ReplicaSets)
    being deleted                        → status only
    paused                               → proportional scaling + status, no rollout
    scaled (replicas ≠ an active RS's
      desired-replicas annotation)       → proportional scaling (`scale`) + status
    strategy Recreate                    → recreate.py
    strategy RollingUpdate               → rolling.py

Shared steps live here: claiming ReplicaSets (adopt/release like the ReplicaSet controller does pods),
finding or creating the new ReplicaSet for the current template (`<deploy>-<pod-template-hash>`), keeping
revisions, scaling a ReplicaSet with the `ScalingReplicaSet` event, and cleaning up old ReplicaSets beyond
`revisionHistoryLimit`. Status and conditions are in progress.py.

Why a restart mid-rollout cannot duplicate a ReplicaSet: the new RS is found by template equality in the
cache, and its name is derived from the template hash, so a create for one that exists answers
AlreadyExists; we then take the existing one if it is ours with the same template, and otherwise count a
hash collision (`status.collisionCount`) and try the next name.
"""
from __future__ import annotations

import copy
import logging

from minikube_py.api.selectors import label_selector_from_spec
from minikube_py.client import ApiClient, ApiError, Conflict, Controller, EventRecorder, NotFound
from minikube_py.client.informer import object_key
from minikube_py.controllers.common import (
    ADOPT, RELEASE, claim_decision, controller_ref, new_controller_ref, remove_owner_ref, utcnow)
from minikube_py.controllers.deployment import util
from minikube_py.controllers.deployment.progress import (
    check_paused_conditions, sync_deployment_status)

log = logging.getLogger(__name__)

DEPLOY_API_VERSION, DEPLOY_KIND = "apps/v1", "Deployment"


class DeploymentController(Controller):
    name = "deployment-controller"
    workers = 2

    def __init__(self, client: ApiClient, factory) -> None:
        super().__init__()
        self.client = client
        self.deployments = factory.informer("deployments")
        self.rss = factory.informer("replicasets")
        self.pods = factory.informer("pods")
        self.informers = [self.deployments, self.rss, self.pods]
        self.recorder = EventRecorder(client, "deployment-controller")
        self.deployments.add_handlers(on_add=self.enqueue, on_update=lambda o, n: self.enqueue(n),
                                      on_delete=self.enqueue)
        self.rss.add_handlers(on_add=self._on_rs, on_update=self._on_rs_update, on_delete=self._on_rs)
        self.pods.add_handlers(on_delete=self._on_pod_delete)

    # --- handlers ----------------------------------------------------------------------------------
    def _owner_key(self, obj: dict) -> str | None:
        ref = controller_ref(obj)
        if not ref or ref.get("kind") != DEPLOY_KIND:
            return None
        key = f"{obj['metadata'].get('namespace') or 'default'}/{ref['name']}"
        d = self.deployments.get(key)
        return key if d is not None and d["metadata"].get("uid") == ref.get("uid") else None

    def _matching_deployments(self, rs: dict) -> list[str]:
        labels = rs["metadata"].get("labels") or {}
        out = []
        for d in self.deployments.list(rs["metadata"].get("namespace") or "default"):
            try:
                if label_selector_from_spec(d["spec"].get("selector")).matches(labels):
                    out.append(object_key(d))
            except ValueError:
                continue
        return out

    def _on_rs(self, rs: dict) -> None:
        key = self._owner_key(rs)
        if key:
            self.queue.add(key)
        elif controller_ref(rs) is None:
            for k in self._matching_deployments(rs):
                self.queue.add(k)

    def _on_rs_update(self, old: dict, new: dict) -> None:
        old_key = self._owner_key(old)
        if old_key and old_key != self._owner_key(new):
            self.queue.add(old_key)
        self._on_rs(new)

    def _on_pod_delete(self, pod: dict) -> None:
        # Only Recreate waits for pods (old pods must be gone before new ones start).
        ref = controller_ref(pod)
        if not ref or ref.get("kind") != "ReplicaSet":
            return
        rs = self.rss.get(f"{pod['metadata'].get('namespace') or 'default'}/{ref['name']}")
        if rs is None:
            return
        key = self._owner_key(rs)
        if key:
            d = self.deployments.get(key)
            if d is not None and not util.is_rolling(d):
                self.queue.add(key)

    # --- the dispatcher ----------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        await self.sync_deployment(key)

    async def sync_deployment(self, key: str) -> None:
        cached = self.deployments.get(key)
        if cached is None:
            return
        d = copy.deepcopy(cached)
        try:
            selector = label_selector_from_spec(d["spec"].get("selector"))
        except ValueError as exc:
            log.warning("deployment %s: invalid selector: %s", key, exc)
            return
        if selector.empty():
            # An empty selector would select every pod in the namespace: refuse, but say we saw it.
            await self.recorder.event(d, "SelectingAll", "This deployment is selecting all pods. A non-empty "
                                      "selector is required.", type_="Warning")
            if (d.get("status") or {}).get("observedGeneration", 0) < d["metadata"].get("generation", 0):
                status = dict(d.get("status") or {})
                status["observedGeneration"] = d["metadata"].get("generation", 0)
                await self.write_status(d, status)
            return

        rs_list = await self.get_replicasets_for_deployment(d, selector)

        if d["metadata"].get("deletionTimestamp"):
            await sync_status_only(self, d, rs_list)
            return
        await check_paused_conditions(self, d)
        if d["spec"].get("paused"):
            await self.sync_scale(d, rs_list)
            return
        if await self.is_scaling_event(d, rs_list):
            await self.sync_scale(d, rs_list)
            return
        if util.is_rolling(d):
            from minikube_py.controllers.deployment.rolling import rollout_rolling
            await rollout_rolling(self, d, rs_list)
        else:
            from minikube_py.controllers.deployment.recreate import rollout_recreate
            await rollout_recreate(self, d, rs_list, self.pods_by_rs(rs_list))

    # --- claiming ----------------------------------------------------------------------------------
    async def get_replicasets_for_deployment(self, d: dict, selector) -> list[dict]:
        """Our ReplicaSets after adopting matching orphans and releasing ones that stopped matching."""
        out = []
        for rs in self.rss.list(d["metadata"].get("namespace") or "default"):
            decision = claim_decision(rs, d, selector)
            if decision == "keep":
                out.append(rs)
            elif decision in (ADOPT, RELEASE):
                fresh = copy.deepcopy(rs)
                refs = list(fresh["metadata"].get("ownerReferences") or [])
                if decision == ADOPT:
                    refs.append(new_controller_ref(d, DEPLOY_API_VERSION, DEPLOY_KIND))
                else:
                    refs = remove_owner_ref(refs, d["metadata"]["uid"])
                fresh["metadata"]["ownerReferences"] = refs
                try:
                    updated = await self.client.update("replicasets", fresh)
                except (NotFound, Conflict):
                    continue  # the RS event will bring us back
                if decision == ADOPT:
                    out.append(updated)
        return out

    def pods_by_rs(self, rs_list: list[dict]) -> dict[str, list[dict]]:
        """Pods of each of our ReplicaSets, by RS uid (controller ref), for Recreate's "old pods gone?"."""
        uids = {rs["metadata"]["uid"] for rs in rs_list}
        out: dict[str, list[dict]] = {u: [] for u in uids}
        for rs in rs_list:
            ns = rs["metadata"].get("namespace") or "default"
            break
        else:
            return out
        for pod in self.pods.list(ns):
            ref = controller_ref(pod)
            if ref and ref.get("uid") in uids:
                out[ref["uid"]].append(pod)
        return out

    # --- new and old ReplicaSets -------------------------------------------------------------------
    @staticmethod
    def find_new_rs(d: dict, rs_list: list[dict]) -> dict | None:
        """The oldest RS whose template equals the deployment's (k8s `FindNewReplicaSet`)."""
        for rs in util.by_creation(rs_list):
            if util.equal_ignore_hash(rs["spec"].get("template"), d["spec"].get("template")):
                return rs
        return None

    async def get_all_rss_and_sync_revision(self, d: dict, rs_list: list[dict],
                                            create: bool) -> tuple[dict | None, list[dict]]:
        new_rs = self.find_new_rs(d, rs_list)
        old_rss = [rs for rs in rs_list if new_rs is None or rs["metadata"]["uid"] != new_rs["metadata"]["uid"]]
        new_rs = await self.get_new_rs(d, rs_list, new_rs, old_rss, create)
        return new_rs, old_rss

    async def get_new_rs(self, d: dict, rs_list: list[dict], existing: dict | None, old_rss: list[dict],
                         create: bool) -> dict | None:
        """Bring the existing new RS's annotations up to date, or create it (k8s `getNewReplicaSet`)."""
        new_revision = util.max_revision(old_rss) + 1
        now = utcnow()
        if existing is not None:
            rs = copy.deepcopy(existing)
            changed = util.set_new_rs_annotations(d, rs, new_revision, exists=True)
            min_ready = int(d["spec"].get("minReadySeconds") or 0)
            if int(rs["spec"].get("minReadySeconds") or 0) != min_ready:
                rs["spec"]["minReadySeconds"] = min_ready
                changed = True
            if changed:
                rs = await self.client.update("replicasets", rs)
            await self.set_deployment_revision(d, str(util.revision(rs)))
            if util.has_progress_deadline(d) and util.get_condition(d.get("status"), "Progressing") is None:
                status = copy.deepcopy(d.get("status") or {})
                util.set_condition(status, util.new_condition(
                    "Progressing", "True", util.FOUND_NEW_RS,
                    f'Found new replica set "{rs["metadata"]["name"]}"', now))
                await self.write_status(d, status)
            return rs
        if not create:
            return None

        collision = (d.get("status") or {}).get("collisionCount")
        template = copy.deepcopy(d["spec"].get("template") or {})
        pod_hash = util.compute_hash(template, collision)
        template.setdefault("metadata", {}).setdefault("labels", {})[util.POD_TEMPLATE_HASH] = pod_hash
        selector = copy.deepcopy(d["spec"].get("selector") or {})
        selector.setdefault("matchLabels", {})[util.POD_TEMPLATE_HASH] = pod_hash
        ns = d["metadata"].get("namespace") or "default"
        rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
              "metadata": {"name": f"{d['metadata']['name']}-{pod_hash}", "namespace": ns,
                           "labels": dict(template["metadata"]["labels"]),
                           "ownerReferences": [new_controller_ref(d, DEPLOY_API_VERSION, DEPLOY_KIND)]},
              "spec": {"replicas": 0, "minReadySeconds": int(d["spec"].get("minReadySeconds") or 0),
                       "selector": selector, "template": template}}
        rs["spec"]["replicas"] = util.new_rs_new_replicas(d, old_rss + [rs], rs)
        util.set_new_rs_annotations(d, rs, new_revision, exists=False)
        try:
            created = await self.client.create("replicasets", rs, namespace=ns)
        except Conflict:
            # AlreadyExists: ours with the same template (a restart, or a cache behind) → use it.
            current = await self.client.get("replicasets", rs["metadata"]["name"], ns)
            ref = controller_ref(current)
            if (ref and ref.get("uid") == d["metadata"]["uid"]
                    and util.equal_ignore_hash(current["spec"].get("template"), d["spec"].get("template"))):
                return current
            # A real hash collision: bump collisionCount so the next attempt hashes differently.
            status = copy.deepcopy(d.get("status") or {})
            status["collisionCount"] = int(collision or 0) + 1
            await self.write_status(d, status)
            raise RuntimeError(f"hash collision for {rs['metadata']['name']}; collisionCount now "
                               f"{status['collisionCount']}")
        except ApiError as exc:
            status = copy.deepcopy(d.get("status") or {})
            util.set_condition(status, util.new_condition("Progressing", "False", util.FAILED_RS_CREATE,
                                                          str(exc.message), now))
            await self.write_status(d, status)
            raise
        replicas = util.replicas_of(created)
        if replicas > 0:
            await self.recorder.event(d, "ScalingReplicaSet",
                                      f"Scaled up replica set {created['metadata']['name']} from 0 to {replicas}")
        await self.set_deployment_revision(d, str(new_revision))
        if util.has_progress_deadline(d):
            status = copy.deepcopy(d.get("status") or {})
            util.set_condition(status, util.new_condition(
                "Progressing", "True", util.NEW_RS_CREATED,
                f'Created new replica set "{created["metadata"]["name"]}"', now))
            await self.write_status(d, status)
        return created

    async def set_deployment_revision(self, d: dict, rev: str) -> None:
        """Keep `deployment.kubernetes.io/revision` on the Deployment equal to its new RS's (kubectl
        rollout reads it). A metadata-only patch: it does not bump `generation`."""
        ann = d["metadata"].get("annotations") or {}
        if ann.get(util.REVISION) == rev:
            return
        updated = await self.client.patch("deployments", d["metadata"]["name"],
                                          {"metadata": {"annotations": {util.REVISION: rev}}},
                                          namespace=d["metadata"].get("namespace") or "default")
        d["metadata"] = updated["metadata"]

    # --- scaling -----------------------------------------------------------------------------------
    async def scale_rs(self, rs: dict, new_scale: int, d: dict, operation: str | None = None) -> dict:
        """Set *rs* to *new_scale* replicas (and refresh its desired/max annotations); event when the
        size changed: `Scaled up replica set x from 0 to 1` (k8s `scaleReplicaSet`)."""
        old_scale = util.replicas_of(rs)
        size_changed = old_scale != new_scale
        desired, maximum = util.replicas_of(d), util.replicas_of(d) + util.max_surge(d)
        if not size_changed and not util.replicas_annotations_need_update(rs, desired, maximum):
            return rs
        fresh = copy.deepcopy(rs)
        fresh["spec"]["replicas"] = new_scale
        util.set_replicas_annotations(fresh, desired, maximum)
        updated = await self.client.update("replicasets", fresh)
        if size_changed:
            op = operation or ("up" if new_scale > old_scale else "down")
            await self.recorder.event(d, "ScalingReplicaSet",
                                      f"Scaled {op} replica set {rs['metadata']['name']} from {old_scale} to {new_scale}")
        return updated

    async def scale_rs_and_record(self, rs: dict, new_scale: int, d: dict) -> tuple[bool, dict]:
        if util.replicas_of(rs) == new_scale:
            return False, rs
        return True, await self.scale_rs(rs, new_scale, d)

    async def is_scaling_event(self, d: dict, rs_list: list[dict]) -> bool:
        """The deployment's replicas differ from what an active RS was last told (desired-replicas)."""
        new_rs, old_rss = await self.get_all_rss_and_sync_revision(d, rs_list, create=False)
        for rs in util.active(old_rss + [new_rs]):
            desired = (rs["metadata"].get("annotations") or {}).get(util.DESIRED_REPLICAS)
            if desired is not None and desired.isdigit() and int(desired) != util.replicas_of(d):
                return True
        return False

    async def sync_scale(self, d: dict, rs_list: list[dict]) -> None:
        """Scale-only path (k8s `sync`): used for scaling events and paused deployments."""
        new_rs, old_rss = await self.get_all_rss_and_sync_revision(d, rs_list, create=False)
        await self.scale(d, new_rs, old_rss)
        if d["spec"].get("paused"):
            await self.cleanup_deployment(d, old_rss)
        await sync_deployment_status(self, d, self.refreshed([new_rs] + old_rss), new_rs)

    async def scale(self, d: dict, new_rs: dict | None, old_rss: list[dict]) -> None:
        """Proportional scaling (k8s `scale`).

        One active RS (or none) takes the whole change. A saturated new RS means old ones go to 0.
        Otherwise, mid-rollout, the difference between the allowed size (`replicas + maxSurge`) and the
        current sum is spread over the active RSs in proportion to their size (largest first when adding,
        smallest-newest first when removing), leftovers to the first one. Example: 10 replicas mid-rollout
        as old 8 + new 5 (maxSurge 3), scaled to 15 (surge 4 → allowed 19): to add 19-13 = 6; old gets
        round(8*19/13)-8 = 4, new gets min(round(5*19/13)-5, 6-4) = 2 → old 12, new 7.
        """
        target = util.find_active_or_latest(new_rs, old_rss)
        if target is not None:
            if util.replicas_of(target) != util.replicas_of(d):
                await self.scale_rs_and_record(target, util.replicas_of(d), d)
            return
        if util.is_saturated(d, new_rs):
            for old in util.active(old_rss):
                await self.scale_rs_and_record(old, 0, d)
            return
        if not util.is_rolling(d):
            return
        all_rss = util.active(old_rss + [new_rs])
        allowed = util.replicas_of(d) + util.max_surge(d) if util.replicas_of(d) > 0 else 0
        to_add = allowed - util.spec_replicas(all_rss)
        operation = None
        if to_add > 0:
            # bigger first; equal size → newer first
            all_rss.sort(key=lambda rs: (-util.replicas_of(rs), -util._created(rs)[0]))
            operation = "up"
        elif to_add < 0:
            # bigger first; equal size → older first
            all_rss.sort(key=lambda rs: (-util.replicas_of(rs), util._created(rs)))
            operation = "down"
        sizes: dict[str, int] = {}
        added = 0
        for rs in all_rss:
            share = util.proportion(rs, d, to_add, added) if to_add else 0
            sizes[rs["metadata"]["name"]] = util.replicas_of(rs) + share
            added += share
        for i, rs in enumerate(all_rss):
            name = rs["metadata"]["name"]
            if i == 0 and to_add:
                sizes[name] = max(sizes[name] + to_add - added, 0)
            await self.scale_rs(rs, sizes[name], d, operation)

    def refreshed(self, rss: list[dict | None]) -> list[dict | None]:
        """The cache's current copy of each RS (after our writes the watch may already be ahead)."""
        out: list[dict | None] = []
        for rs in rss:
            if rs is None:
                out.append(None)
                continue
            cur = self.rss.get(object_key(rs))
            if (cur is not None and cur["metadata"]["uid"] == rs["metadata"]["uid"]
                    and _rv(cur) >= _rv(rs)):
                out.append(cur)
            else:
                out.append(rs)
        return out

    # --- cleanup -----------------------------------------------------------------------------------
    async def cleanup_deployment(self, d: dict, old_rss: list[dict]) -> None:
        """Delete the oldest old RSs beyond `revisionHistoryLimit`, only those already at 0 replicas."""
        limit = d["spec"].get("revisionHistoryLimit")
        if limit is None:
            return
        alive = [rs for rs in old_rss if not rs["metadata"].get("deletionTimestamp")]
        diff = len(alive) - int(limit)
        if diff <= 0:
            return
        alive.sort(key=lambda rs: (util.revision(rs), util._created(rs)))
        for rs in alive[:diff]:
            st = rs.get("status") or {}
            if (int(st.get("replicas") or 0) != 0 or util.replicas_of(rs) != 0
                    or int(rs["metadata"].get("generation") or 0) > int(st.get("observedGeneration") or 0)):
                continue
            try:
                await self.client.delete("replicasets", rs["metadata"]["name"],
                                         namespace=rs["metadata"].get("namespace") or "default")
            except NotFound:
                pass

    # --- status ------------------------------------------------------------------------------------
    async def write_status(self, d: dict, status: dict) -> None:
        """PUT the status; on a stale resourceVersion write it onto the current object instead."""
        fresh = copy.deepcopy(d)
        fresh["status"] = status
        try:
            updated = await self.client.update_status("deployments", fresh)
        except NotFound:
            return
        except Conflict:
            try:
                current = await self.client.get("deployments", d["metadata"]["name"],
                                                d["metadata"].get("namespace") or "default")
            except NotFound:
                return
            if current["metadata"]["uid"] != d["metadata"]["uid"]:
                return
            current["status"] = status
            updated = await self.client.update_status("deployments", current)
        d["metadata"] = updated["metadata"]
        d["status"] = updated.get("status") or status


def _rv(obj: dict) -> int:
    try:
        return int(obj["metadata"].get("resourceVersion") or 0)
    except ValueError:
        return 0


async def sync_status_only(dc: DeploymentController, d: dict, rs_list: list[dict]) -> None:
    new_rs, old_rss = await dc.get_all_rss_and_sync_revision(d, rs_list, create=False)
    await sync_deployment_status(dc, d, [new_rs] + old_rss, new_rs)
