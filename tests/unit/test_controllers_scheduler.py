"""Scheduler filters and scoring as tables."""
from __future__ import annotations

from collections import Counter

import pytest

from minikube_py.controllers.scheduler import failure_message, filter_node, pick_node, wants_scheduling


def node(name, ready=True, unschedulable=False, taints=None, labels=None):
    return {"metadata": {"name": name, "labels": labels or {}},
            "spec": {"unschedulable": unschedulable, "taints": taints or []},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


DEFAULT_TOLERATIONS = [
    {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300},
    {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 300},
]


def pod(node_selector=None, tolerations=None, affinity=None):
    spec = {"containers": [], "tolerations": DEFAULT_TOLERATIONS + (tolerations or [])}
    if node_selector:
        spec["nodeSelector"] = node_selector
    if affinity:
        spec["affinity"] = affinity
    return {"metadata": {"name": "p", "namespace": "default"}, "spec": spec, "status": {"phase": "Pending"}}


UNREACHABLE = [{"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
               {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]


@pytest.mark.parametrize("p,n,reason", [
    (pod(), node("a"), None),
    (pod(), node("a", unschedulable=True), "node(s) were unschedulable"),
    (pod(node_selector={"disk": "ssd"}), node("a"), "node(s) didn't match Pod's node affinity/selector"),
    (pod(node_selector={"disk": "ssd"}), node("a", labels={"disk": "ssd"}), None),
    (pod(), node("a", taints=UNREACHABLE), "node(s) had untolerated taint {node.kubernetes.io/unreachable: }"),
    (pod(tolerations=[{"operator": "Exists"}]), node("a", taints=UNREACHABLE), None),
    (pod(), node("a", taints=[{"key": "k", "value": "v", "effect": "PreferNoSchedule"}]), None),
    (pod(tolerations=[{"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule"}]),
     node("a", taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}]), None),
    (pod(), node("a", taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}]),
     "node(s) had untolerated taint {k: v}"),
    (pod(), node("a", ready=False), "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"),
    (pod(affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["z1"]}]}]}}}),
     node("a", labels={"zone": "z2"}), "node(s) didn't match Pod's node affinity/selector"),
], ids=["fits", "cordoned", "selector-miss", "selector-hit", "unreachable-taint", "tolerate-all",
        "prefer-no-schedule-ignored", "tolerated-taint", "untolerated-taint", "not-ready", "affinity-miss"])
def test_filter_node(p, n, reason):
    assert filter_node(p, n) == reason


def test_fewest_pods_first_then_name():
    nodes = [node("c"), node("a"), node("b")]
    assert pick_node(pod(), nodes, Counter({"a": 2, "b": 1, "c": 1}))[0] == "b"
    assert pick_node(pod(), nodes, Counter())[0] == "a"


def test_failure_message_like_kube_scheduler():
    chosen, reasons = pick_node(pod(node_selector={"disk": "ssd"}), [node("a")], Counter())
    assert chosen is None
    assert failure_message(1, reasons) == ("0/1 nodes are available: 1 node(s) didn't match Pod's node "
                                           "affinity/selector. preemption: 0/1 nodes are available: 1 Preemption "
                                           "is not helpful for scheduling.")
    _, reasons = pick_node(pod(node_selector={"disk": "ssd"}),
                           [node("a", unschedulable=True), node("b"), node("c")], Counter())
    assert failure_message(3, reasons) == ("0/3 nodes are available: 1 node(s) were unschedulable, "
                                           "2 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 "
                                           "nodes are available: 3 Preemption is not helpful for scheduling.")


@pytest.mark.parametrize("spec,meta,want", [
    ({}, {}, True),
    ({"nodeName": "x"}, {}, False),
    ({"schedulerName": "other"}, {}, False),
    ({}, {"deletionTimestamp": "2026-01-01T00:00:00Z"}, False),
])
def test_wants_scheduling(spec, meta, want):
    assert wants_scheduling({"metadata": {"name": "p", **meta}, "spec": spec, "status": {}}) is want
