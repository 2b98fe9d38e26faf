"""Garbage-collector owner classification and node-lifecycle health/taint decisions as tables."""
from __future__ import annotations

import datetime as dt

import pytest

from minikube_py.controllers.garbagecollector import classify_owners
from minikube_py.controllers.nodelifecycle import desired_taints, heartbeat_of, mark_unknown


def ref(uid, kind="ReplicaSet", api="apps/v1"):
    return {"apiVersion": api, "kind": kind, "name": f"o-{uid}", "uid": uid, "controller": True}


OWNERS = {
    "alive": {"metadata": {"uid": "alive"}},
    "fg": {"metadata": {"uid": "fg", "deletionTimestamp": "x", "finalizers": ["foregroundDeletion"]}},
    "bg": {"metadata": {"uid": "bg", "deletionTimestamp": "x", "finalizers": ["orphan"]}},
}


@pytest.mark.parametrize("uids,kind,want", [
    (["alive"], "ReplicaSet", ([1], [], [], [])),
    (["dead"], "ReplicaSet", ([], [1], [], [])),
    (["fg"], "Deployment", ([], [], [1], [])),
    (["bg"], "ReplicaSet", ([1], [], [], [])),
    (["x"], "StatefulSet", ([], [], [], [1])),
], ids=["alive-is-solid", "gone-is-dangling", "foreground-is-waiting", "orphaning-owner-is-solid", "unknown-kind"])
def test_classify_owners(uids, kind, want):
    refs = [ref(u, kind) for u in uids]
    got = classify_owners(refs, lambda r: OWNERS.get(r["uid"]))
    assert tuple(len(x) for x in got) == tuple(len(x) for x in want)


NOW = dt.datetime(2026, 1, 1, 12, tzinfo=dt.timezone.utc)


def node(ready="True", unschedulable=False, taints=None):
    conds = [{"type": "Ready", "status": ready, "lastHeartbeatTime": "2026-01-01T11:59:00Z"},
             {"type": "MemoryPressure", "status": "False"}] if ready else []
    return {"metadata": {"name": "n", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"unschedulable": unschedulable, "taints": taints or []}, "status": {"conditions": conds}}


def keys(taints):
    return sorted((t["key"], t["effect"]) for t in taints)


@pytest.mark.parametrize("n,want", [
    (node("True"), []),
    (node("Unknown"), [("node.kubernetes.io/unreachable", "NoExecute"), ("node.kubernetes.io/unreachable", "NoSchedule")]),
    (node("False"), [("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/not-ready", "NoSchedule")]),
    (node(None), [("node.kubernetes.io/not-ready", "NoSchedule")]),
    (node("True", unschedulable=True), [("node.kubernetes.io/unschedulable", "NoSchedule")]),
    (node("True", taints=[{"key": "user", "effect": "NoSchedule"},
                          {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]), [("user", "NoSchedule")]),
], ids=["healthy", "unknown", "not-ready", "never-posted", "cordoned", "recovered-keeps-user-taint"])
def test_desired_taints(n, want):
    assert keys(desired_taints(n)) == sorted(want)


def test_mark_unknown_sets_every_condition():
    marked = mark_unknown(node("True"), NOW)
    for c in marked["status"]["conditions"]:
        assert (c["status"], c["reason"], c["message"]) == ("Unknown", "NodeStatusUnknown",
                                                            "Kubelet stopped posting node status.")
        assert c["lastTransitionTime"] == "2026-01-01T12:00:00Z"
    assert marked["status"]["conditions"][0]["lastHeartbeatTime"] == "2026-01-01T11:59:00Z"
    never = mark_unknown(node(None), NOW)
    assert never["status"]["conditions"][0]["reason"] == "NodeStatusNeverUpdated"
    assert heartbeat_of(node(None)) == dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
