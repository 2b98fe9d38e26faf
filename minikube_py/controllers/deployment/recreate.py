"""Recreate (Kubernetes `recreate.go`): all old pods go, *then* the new ones come.

1. scale every active old RS to 0 (and stop: the RS controller deletes the pods);
2. wait while any pod of an old RS still exists and has not finished — a terminating pod still holds
   its port, its volume, its database lock; that is why users pick Recreate. The pod-delete handler in
   sync.py brings the deployment back when the last one goes;
3. create the new RS if needed and scale it to `replicas`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from minikube_py.controllers.deployment import util
from minikube_py.controllers.deployment.progress import sync_rollout_status

if TYPE_CHECKING:
    from minikube_py.controllers.deployment.sync import DeploymentController


def old_pods_running(new_rs: dict | None, old_rss: list[dict], pods_by_rs: dict[str, list[dict]]) -> bool:
    """Any old RS still reports pods, or any pod of an old RS is not finished (terminating counts)."""
    if util.actual_replicas(old_rss) > 0:
        return True
    new_uid = (new_rs or {}).get("metadata", {}).get("uid")
    for uid, pods in pods_by_rs.items():
        if uid == new_uid:
            continue
        for pod in pods:
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue
            return True
    return False


async def rollout_recreate(dc: "DeploymentController", d: dict, rs_list: list[dict],
                           pods_by_rs: dict[str, list[dict]]) -> None:
    new_rs, old_rss = await dc.get_all_rss_and_sync_revision(d, rs_list, create=False)

    scaled_down = False
    for rs in util.active(old_rss):
        changed, _ = await dc.scale_rs_and_record(rs, 0, d)
        scaled_down = scaled_down or changed
    if scaled_down:
        await sync_rollout_status(dc, d, old_rss + [new_rs], new_rs)
        return

    if old_pods_running(new_rs, old_rss, pods_by_rs):
        await sync_rollout_status(dc, d, old_rss + [new_rs], new_rs)
        return

    if new_rs is None:
        new_rs, old_rss = await dc.get_all_rss_and_sync_revision(d, rs_list, create=True)
    _, new_rs = await dc.scale_rs_and_record(new_rs, util.replicas_of(d), d)

    if util.deployment_complete(d, d.get("status") or {}):
        await dc.cleanup_deployment(d, old_rss)
    await sync_rollout_status(dc, d, old_rss + [new_rs], new_rs)
