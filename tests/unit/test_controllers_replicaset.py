"""ReplicaSet decisions as tables: which pod to delete first, adopt/release, status, slow start,
expectations."""
from __future__ import annotations

import datetime as dt

import pytest

from minikube_py.api.selectors import label_selector_from_spec
from minikube_py.controllers.common import ADOPT, IGNORE, KEEP, RELEASE, claim_decision
from minikube_py.controllers.expectations import Expectations
from minikube_py.controllers.replicaset import (
    pod_deletion_order, pod_from_template, replicaset_status, slow_start_batches)

NOW = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.timezone.utc)


def ts(seconds_ago: int) -> str:
    return (NOW - dt.timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(name, node="n1", phase="Running", ready=True, ready_ago=100, created_ago=100, restarts=0,
        labels=None, owner_uid=None, deleting=False, cost=None):
    meta = {"name": name, "namespace": "default", "uid": f"uid-{name}", "creationTimestamp": ts(created_ago),
            "labels": labels if labels is not None else {"app": "echo"}}
    if owner_uid:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": owner_uid,
                                    "controller": True}]
    if deleting:
        meta["deletionTimestamp"] = ts(0)
    if cost is not None:
        meta["annotations"] = {"controller.kubernetes.io/pod-deletion-cost": str(cost)}
    conds = [{"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": ts(ready_ago)}]
    return {"metadata": meta, "spec": {"nodeName": node} if node else {},
            "status": {"phase": phase, "conditions": conds,
                       "containerStatuses": [{"name": "c", "restartCount": restarts}]}}


@pytest.mark.parametrize("pods,first", [
    ([pod("scheduled"), pod("unscheduled", node=None, phase="Pending", ready=False)], "unscheduled"),
    ([pod("running"), pod("pending", phase="Pending", ready=False)], "pending"),
    ([pod("ready"), pod("notready", ready=False)], "notready"),
    ([pod("cheap", cost=-5), pod("dear", cost=5)], "cheap"),
    ([pod("a1", node="a"), pod("a2", node="a", created_ago=500), pod("b1", node="b", created_ago=50)], "a1"),
    ([pod("long", ready_ago=500), pod("short", ready_ago=10)], "short"),
    ([pod("calm"), pod("crashy", restarts=3)], "crashy"),
    ([pod("old", created_ago=500), pod("new", created_ago=5)], "new"),
], ids=["unscheduled-first", "pending-first", "not-ready-first", "lower-cost-first", "doubled-up-first",
        "ready-shorter-first", "more-restarts-first", "newer-first"])
def test_pod_deletion_order(pods, first):
    assert pod_deletion_order(pods)[0]["metadata"]["name"] == first


RS = {"metadata": {"name": "rs", "namespace": "default", "uid": "rs-uid", "generation": 3},
      "spec": {"replicas": 2, "minReadySeconds": 30, "selector": {"matchLabels": {"app": "echo"}},
               "template": {"metadata": {"labels": {"app": "echo", "tier": "app"}}, "spec": {"containers": []}}}}


@pytest.mark.parametrize("obj,owner,want", [
    (pod("p", owner_uid="rs-uid"), RS, KEEP),
    (pod("p", owner_uid="rs-uid", labels={"app": "other"}), RS, RELEASE),
    (pod("p", owner_uid="other-uid"), RS, IGNORE),
    (pod("p"), RS, ADOPT),
    (pod("p", labels={"app": "other"}), RS, IGNORE),
    (pod("p", deleting=True), RS, IGNORE),
    (pod("p"), {**RS, "metadata": {**RS["metadata"], "deletionTimestamp": ts(0)}}, IGNORE),
], ids=["ours-matching", "ours-unlabelled", "someone-elses", "orphan-matching", "orphan-not-matching",
        "orphan-terminating", "owner-deleting"])
def test_claim_decision(obj, owner, want):
    assert claim_decision(obj, owner, label_selector_from_spec(owner["spec"]["selector"])) == want


def test_status_counts_ready_available_and_fully_labeled():
    pods = [pod("a", labels={"app": "echo", "tier": "app"}, ready_ago=100),
            pod("b", labels={"app": "echo"}, ready_ago=10),
            pod("c", ready=False)]
    st = replicaset_status(RS, pods, NOW)
    assert st == {"replicas": 3, "fullyLabeledReplicas": 1, "readyReplicas": 2, "availableReplicas": 1,
                  "observedGeneration": 3}


def test_pod_from_template_uses_generate_name_and_controller_ref():
    p = pod_from_template(RS)
    assert p["metadata"]["generateName"] == "rs-"
    assert p["metadata"]["labels"] == {"app": "echo", "tier": "app"}
    assert p["metadata"]["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs",
                                                 "uid": "rs-uid", "controller": True, "blockOwnerDeletion": True}]


@pytest.mark.parametrize("n,batches", [(0, []), (1, [1]), (4, [1, 2, 1]), (10, [1, 2, 4, 3])])
def test_slow_start_batches(n, batches):
    assert slow_start_batches(n) == batches


def test_expectations_block_until_observed_or_expired():
    clock = [0.0]
    e = Expectations(ttl=300, clock=lambda: clock[0])
    assert e.satisfied("ns/rs")
    e.expect_creations("ns/rs", 2)
    assert not e.satisfied("ns/rs")
    e.creation_observed("ns/rs")
    assert not e.satisfied("ns/rs")
    e.creation_observed("ns/rs")
    assert e.satisfied("ns/rs")
    e.expect_deletions("ns/rs", ["ns/p1"])
    e.deletion_observed("ns/rs", "ns/other")
    assert not e.satisfied("ns/rs")
    clock[0] = 301
    assert e.satisfied("ns/rs")  # TTL: a lost event must not wedge the controller forever
    e.forget("ns/rs")
    assert e.pending("ns/rs") == (0, 0)
