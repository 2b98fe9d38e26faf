"""RollingUpdate (Kubernetes `rolling.go`): grow the new ReplicaSet and shrink the old ones in steps
bounded by maxSurge (how far above `replicas` the total may go) and maxUnavailable (how far below
`replicas` the *available* count may go).

One sync does at most one kind of step, then waits for the cluster to catch up (the RS events bring it
back): scale the new RS up if the surge allows → else scale old RSs down if availability allows → else,
when complete, clean up old history. Each step only reads spec.replicas and status.availableReplicas of
the ReplicaSets, so running it twice changes nothing the second time.

Worked example — the guide's echo-strategy.yml: replicas 4, maxSurge 3, maxUnavailable 3,
minReadySeconds 5; the old RS has 4 available pods and the image changes.

  surge = 3, unavailable = 3 (ResolveFenceposts: ints are taken as is; percentages round surge up and
  unavailable down; both 0 would make unavailable 1). maxTotal = 4 + 3 = 7, minAvailable = 4 - 3 = 1.

  sync 1  the new RS is created at NewRSNewReplicas = min(7 - 4, 4 - 0) = 3
          ("Scaled up replica set …-new from 0 to 3").
          reconcileOld: allPods 7, new RS unavailable 3 - 0 = 3,
          maxScaledDown = 7 - 1 - 3 = 3; no unhealthy old pods to clean up;
          available 4 - minAvailable 1 = 3 may go → old 4 → 1 ("Scaled down … from 4 to 1").
  sync 2  total 1 + 3 = 4 < 7 → new = 3 + min(7 - 4, 4 - 3) = 4 ("Scaled up … from 3 to 4").
  sync 3… new pods become Ready, and 5 s later available. Until then maxScaledDown =
          5 - 1 - 4 = 0: nothing. Once new has 4 available: maxScaledDown = 5 - 1 - 0 = 4, available
          1 + 4 = 5 > 1 → old 1 → 0 ("Scaled down … from 1 to 0"). Complete.

The same arithmetic with the defaults (25%/25%) on 10 replicas: surge = ceil(2.5) = 3, unavailable =
floor(2.5) = 2 → at most 13 pods, at least 8 available at every moment of the rollout.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from minikube_py.controllers.deployment import util
from minikube_py.controllers.deployment.progress import sync_rollout_status

if TYPE_CHECKING:
    from minikube_py.controllers.deployment.sync import DeploymentController


async def rollout_rolling(dc: "DeploymentController", d: dict, rs_list: list[dict]) -> None:
    new_rs, old_rss = await dc.get_all_rss_and_sync_revision(d, rs_list, create=True)
    all_rss: list[dict | None] = old_rss + [new_rs]

    scaled_up, new_rs = await reconcile_new_replicaset(dc, all_rss, new_rs, d)
    if scaled_up:
        await sync_rollout_status(dc, d, old_rss + [new_rs], new_rs)
        return

    scaled_down, old_rss = await reconcile_old_replicasets(dc, old_rss + [new_rs], util.active(old_rss),
                                                           old_rss, new_rs, d)
    if scaled_down:
        await sync_rollout_status(dc, d, old_rss + [new_rs], new_rs)
        return

    if util.deployment_complete(d, d.get("status") or {}):
        await dc.cleanup_deployment(d, old_rss)
    await sync_rollout_status(dc, d, old_rss + [new_rs], new_rs)


def new_replicas_target(d: dict, all_rss: list[dict | None], new_rs: dict) -> int:
    """What reconcile_new_replicaset scales the new RS to (pure; see the module example)."""
    want = util.replicas_of(d)
    if util.replicas_of(new_rs) >= want:
        return want  # equal: nothing to do; above (scaled down mid-rollout): shrink to the target
    return util.new_rs_new_replicas(d, all_rss, new_rs)


async def reconcile_new_replicaset(dc: "DeploymentController", all_rss: list[dict | None], new_rs: dict,
                                   d: dict) -> tuple[bool, dict]:
    target = new_replicas_target(d, all_rss, new_rs)
    return await dc.scale_rs_and_record(new_rs, target, d)


def max_scaled_down(all_rss: list[dict | None], new_rs: dict | None, d: dict) -> int:
    """How many old pods may go now without dropping below minAvailable, counting the new RS's not yet
    available pods as unavailable (k8s reconcileOldReplicaSets)."""
    all_pods = util.spec_replicas(all_rss)
    min_available = util.replicas_of(d) - util.max_unavailable(d)
    new_unavailable = util.replicas_of(new_rs) - int(((new_rs or {}).get("status") or {}).get("availableReplicas") or 0)
    return all_pods - min_available - new_unavailable


def cleanup_plan(old_rss: list[dict], max_cleanup: int) -> list[tuple[dict, int]]:
    """(rs, new size) for old RSs with unhealthy (not available) pods, oldest first, at most
    *max_cleanup* pods in all: removing pods that serve nobody costs no availability."""
    plan = []
    total = 0
    for rs in util.by_creation(old_rss):
        if total >= max_cleanup:
            break
        replicas = util.replicas_of(rs)
        available = int((rs.get("status") or {}).get("availableReplicas") or 0)
        if replicas == 0 or replicas == available:
            continue
        count = min(max_cleanup - total, replicas - available)
        plan.append((rs, replicas - count))
        total += count
    return plan


def scale_down_plan(all_rss: list[dict | None], old_rss: list[dict], d: dict) -> list[tuple[dict, int]]:
    """(rs, new size) for old RSs, oldest first, taking down only what stays above minAvailable
    (k8s scaleDownOldReplicaSetsForRollingUpdate)."""
    min_available = util.replicas_of(d) - util.max_unavailable(d)
    available = util.available_replicas(all_rss)
    if available <= min_available:
        return []
    to_scale = available - min_available
    plan, done = [], 0
    for rs in util.by_creation(old_rss):
        if done >= to_scale:
            break
        replicas = util.replicas_of(rs)
        if replicas == 0:
            continue
        count = min(replicas, to_scale - done)
        plan.append((rs, replicas - count))
        done += count
    return plan


async def reconcile_old_replicasets(dc: "DeploymentController", all_rss: list[dict | None],
                                    active_old: list[dict], old_rss: list[dict], new_rs: dict | None,
                                    d: dict) -> tuple[bool, list[dict]]:
    """Scale old RSs down: first their unhealthy pods, then as availability allows. Returns whether
    anything was scaled and the old RSs as updated."""
    if util.spec_replicas(active_old) == 0:
        return False, old_rss
    limit = max_scaled_down(all_rss, new_rs, d)
    if limit <= 0:
        return False, old_rss

    updated: dict[str, dict] = {rs["metadata"]["uid"]: rs for rs in old_rss}
    scaled = 0
    for rs, size in cleanup_plan(active_old, limit):
        _, after = await dc.scale_rs_and_record(rs, size, d)
        scaled += util.replicas_of(rs) - size
        updated[rs["metadata"]["uid"]] = after
    active_now = util.active(updated[rs["metadata"]["uid"]] for rs in active_old)
    for rs, size in scale_down_plan(active_now + [new_rs], active_now, d):
        _, after = await dc.scale_rs_and_record(rs, size, d)
        scaled += util.replicas_of(rs) - size
        updated[rs["metadata"]["uid"]] = after
    return scaled > 0, [updated[rs["metadata"]["uid"]] for rs in old_rss]
