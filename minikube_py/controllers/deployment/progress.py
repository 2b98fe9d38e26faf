"""Deployment status and conditions (Kubernetes `sync.go` calculateStatus/syncRolloutStatus and
`progress.go`).

Two conditions, as `kubectl describe deploy` shows them:
- `Available`: True/MinimumReplicasAvailable when `availableReplicas ≥ replicas - maxUnavailable`, else
  False/MinimumReplicasUnavailable.
- `Progressing`: NewReplicaSetCreated / FoundNewReplicaSet when the new RS appears, ReplicaSetUpdated each
  time the rollout makes progress (its lastUpdateTime is the progress clock), NewReplicaSetAvailable when
  complete, ProgressDeadlineExceeded (False) when no progress for `progressDeadlineSeconds`, and
  DeploymentPaused / DeploymentResumed (Unknown) around a pause.

Why a requeue for stuck deployments: nothing happens in the cluster at the deadline itself, so no event
would wake us; we ask the queue to bring the key back when the deadline passes (a timer on the local
queue, not a poll of the API).
"""
from __future__ import annotations

import copy
import datetime as dt
from typing import TYPE_CHECKING

from minikube_py.controllers.common import parse_time, utcnow
from minikube_py.controllers.deployment import util

if TYPE_CHECKING:
    from minikube_py.controllers.deployment.sync import DeploymentController


def calculate_status(all_rss: list[dict | None], new_rs: dict | None, d: dict, now: dt.datetime) -> dict:
    available = util.available_replicas(all_rss)
    total = util.spec_replicas(all_rss)
    old = d.get("status") or {}
    status: dict = {
        "observedGeneration": int(d["metadata"].get("generation") or 0),
        "replicas": util.actual_replicas(all_rss),
        "updatedReplicas": util.actual_replicas([new_rs]),
        "readyReplicas": util.ready_replicas(all_rss),
        "availableReplicas": available,
        "unavailableReplicas": max(total - available, 0),
        "conditions": copy.deepcopy(old.get("conditions") or []),
    }
    if old.get("collisionCount") is not None:
        status["collisionCount"] = old["collisionCount"]
    if available >= util.replicas_of(d) - util.max_unavailable(d):
        cond = util.new_condition("Available", "True", util.MIN_AVAILABLE, "Deployment has minimum availability.", now)
    else:
        cond = util.new_condition("Available", "False", util.MIN_UNAVAILABLE,
                                  "Deployment does not have minimum availability.", now)
    util.set_condition(status, cond)
    return status


def _status_equal(a: dict | None, b: dict) -> bool:
    a = a or {}
    keys = ("observedGeneration", "replicas", "updatedReplicas", "readyReplicas", "availableReplicas",
            "unavailableReplicas", "collisionCount")
    if any((a.get(k) or 0) != (b.get(k) or 0) for k in keys):
        return False
    return sorted(map(repr, a.get("conditions") or [])) == sorted(map(repr, b.get("conditions") or []))


async def sync_deployment_status(dc: "DeploymentController", d: dict, all_rss: list[dict | None],
                                 new_rs: dict | None) -> None:
    """Status only (scaling path): write when changed."""
    status = calculate_status(all_rss, new_rs, d, utcnow())
    if not _status_equal(d.get("status"), status):
        await dc.write_status(d, status)


async def sync_rollout_status(dc: "DeploymentController", d: dict, all_rss: list[dict | None],
                              new_rs: dict | None) -> None:
    """Status plus the Progressing condition (k8s `syncRolloutStatus`)."""
    now = utcnow()
    all_rss = dc.refreshed(all_rss)
    new_rs = dc.refreshed([new_rs])[0]
    status = calculate_status(all_rss, new_rs, d, now)
    if not util.has_progress_deadline(d):
        util.remove_condition(status, "Progressing")
    current = util.get_condition(d.get("status"), "Progressing")
    complete_already = (status["replicas"] == status["updatedReplicas"] and current is not None
                        and current.get("reason") == util.NEW_RS_AVAILABLE)
    name = d["metadata"]["name"]
    if util.has_progress_deadline(d) and not complete_already:
        if util.deployment_complete(d, status):
            msg = (f'ReplicaSet "{new_rs["metadata"]["name"]}" has successfully progressed.' if new_rs
                   else f'Deployment "{name}" has successfully progressed.')
            util.set_condition(status, util.new_condition("Progressing", "True", util.NEW_RS_AVAILABLE, msg, now))
        elif util.deployment_progressing(d, status):
            msg = (f'ReplicaSet "{new_rs["metadata"]["name"]}" is progressing.' if new_rs
                   else f'Deployment "{name}" is progressing.')
            cond = util.new_condition("Progressing", "True", util.RS_UPDATED, msg, now)
            # Progress refreshes lastUpdateTime even with the same reason (the deadline clock).
            if current is not None:
                if current.get("status") == "True":
                    cond["lastTransitionTime"] = current.get("lastTransitionTime")
                util.remove_condition(status, "Progressing")
            util.set_condition(status, cond)
        elif util.deployment_timed_out(d, status, now):
            msg = (f'ReplicaSet "{new_rs["metadata"]["name"]}" has timed out progressing.' if new_rs
                   else f'Deployment "{name}" has timed out progressing.')
            util.set_condition(status, util.new_condition("Progressing", "False", util.TIMED_OUT, msg, now))
    if _status_equal(d.get("status"), status):
        requeue_stuck_deployment(dc, d, status, now)
        return
    await dc.write_status(d, status)


def requeue_stuck_deployment(dc: "DeploymentController", d: dict, status: dict, now: dt.datetime) -> None:
    cond = util.get_condition(status, "Progressing")
    if (not util.has_progress_deadline(d) or cond is None
            or cond.get("reason") in (util.NEW_RS_AVAILABLE, util.TIMED_OUT)
            or util.deployment_complete(d, status)):
        return
    since = parse_time(cond.get("lastUpdateTime"))
    if since is None:
        return
    after = (since + dt.timedelta(seconds=int(d["spec"]["progressDeadlineSeconds"])) - now).total_seconds()
    dc.queue.add_after(f"{d['metadata'].get('namespace') or 'default'}/{d['metadata']['name']}",
                       max(after, 0) + 1.0)


async def check_paused_conditions(dc: "DeploymentController", d: dict) -> None:
    """Progressing=Unknown/DeploymentPaused while paused, DeploymentResumed when resumed; a timed-out
    deployment keeps its ProgressDeadlineExceeded."""
    if not util.has_progress_deadline(d):
        return
    cond = util.get_condition(d.get("status"), "Progressing")
    if cond is not None and cond.get("reason") == util.TIMED_OUT:
        return
    paused_cond = cond is not None and cond.get("reason") == util.PAUSED
    status = copy.deepcopy(d.get("status") or {})
    now = utcnow()
    if d["spec"].get("paused") and not paused_cond:
        util.set_condition(status, util.new_condition("Progressing", "Unknown", util.PAUSED,
                                                      "Deployment is paused", now))
    elif not d["spec"].get("paused") and paused_cond:
        util.set_condition(status, util.new_condition("Progressing", "Unknown", util.RESUMED,
                                                      "Deployment is resumed", now))
    else:
        return
    await dc.write_status(d, status)
