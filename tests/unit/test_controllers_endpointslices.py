"""EndpointSlice content as pure functions: conditions (ready/serving/terminating), port sets, the
placeholder, labels and owner, and the create/update/delete plan that makes a resync write nothing."""
from __future__ import annotations

import copy

from minikube_py.api.defaults import apply_defaults
from minikube_py.api.resources import RESOURCES
from minikube_py.controllers.endpointslices import (CONTROLLER_NAME, compute_slices, new_slice, plan,
                                                    slice_labels)


def pod(name, ip, ready=True, labels=None, ports=None, node="n1", deleting=False, phase="Running", **spec):
    meta = {"name": name, "namespace": "default", "uid": f"u-{name}", "labels": labels or {"app": "web"}}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta,
            "spec": {"nodeName": node, "containers": [{"name": "c", "ports": ports or []}], **spec},
            "status": {"phase": phase, "podIP": ip, "podIPs": [{"ip": ip}] if ip else [],
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def service(ports, cluster_ip="10.96.0.20", labels=None, **spec):
    return {"metadata": {"name": "web", "namespace": "default", "uid": "svc-uid", "labels": labels or {}},
            "spec": {"selector": {"app": "web"}, "clusterIP": cluster_ip, "ports": ports, **spec}}


def endpoint(name, ip, ready=True, serving=True, terminating=False):
    return {"addresses": [ip], "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
            "targetRef": {"kind": "Pod", "namespace": "default", "name": name, "uid": f"u-{name}"},
            "nodeName": "n1"}


def test_conditions_follow_readiness_and_termination():
    svc = service([{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}])
    pods = [pod("b", "10.244.0.10"), pod("a", "10.244.0.9"), pod("c", "10.244.0.11", ready=False),
            pod("no-ip", None), pod("bye", "10.244.0.12", deleting=True),
            pod("done", "10.244.0.13", phase="Succeeded"), pod("other", "10.244.0.14", labels={"app": "x"})]
    assert compute_slices(svc, pods) == [{
        "addressType": "IPv4",
        "endpoints": [endpoint("a", "10.244.0.9"), endpoint("b", "10.244.0.10"),
                      endpoint("c", "10.244.0.11", ready=False, serving=False),
                      endpoint("bye", "10.244.0.12", ready=False, serving=True, terminating=True)],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]


def test_publish_not_ready_hostname_and_named_ports_split_slices():
    svc = service([{"port": 80, "targetPort": "web", "protocol": "TCP"}], publishNotReadyAddresses=True)
    pods = [pod("a", "10.244.0.2", ready=False, ports=[{"name": "web", "containerPort": 3000}],
                hostname="a", subdomain="web"),
            pod("b", "10.244.0.3", ports=[{"name": "web", "containerPort": 8080}])]
    out = compute_slices(svc, pods)
    assert [(s["ports"], [e["addresses"][0] for e in s["endpoints"]]) for s in out] == [
        ([{"name": "", "port": 3000, "protocol": "TCP"}], ["10.244.0.2"]),
        ([{"name": "", "port": 8080, "protocol": "TCP"}], ["10.244.0.3"])]
    first = out[0]["endpoints"][0]
    assert first["conditions"] == {"ready": True, "serving": False, "terminating": False}
    assert first["hostname"] == "a"


def test_no_pods_is_one_placeholder_in_stored_form():
    content = compute_slices(service([{"port": 80, "protocol": "TCP"}]), [])
    assert content == [{"addressType": "IPv4", "endpoints": None, "ports": None}]
    # What the API server stores for it is the same (so a resync sees no change).
    stored = new_slice(service([]), content[0])
    apply_defaults(RESOURCES["endpointslices"], stored)
    assert {k: stored[k] for k in ("addressType", "endpoints", "ports")} == content[0]


def test_labels_and_owner():
    svc = service([], cluster_ip="None", labels={"team": "a", "kubernetes.io/service-name": "forged"})
    es = new_slice(svc, compute_slices(svc, [])[0])
    assert es["metadata"]["generateName"] == "web-"
    assert es["metadata"]["labels"] == {"team": "a", "service.kubernetes.io/headless": "",
                                        "kubernetes.io/service-name": "web",
                                        "endpointslice.kubernetes.io/managed-by": CONTROLLER_NAME}
    assert es["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Service", "name": "web",
                                                  "uid": "svc-uid", "controller": True,
                                                  "blockOwnerDeletion": True}]


def _stored(es, name):
    es = copy.deepcopy(es)
    es["metadata"].update(name=name, uid=f"uid-{name}", resourceVersion="5")
    return es


def test_plan_creates_updates_in_place_and_is_idempotent():
    svc = service([{"port": 80, "targetPort": 8080, "protocol": "TCP"}])
    desired = compute_slices(svc, [pod("a", "10.244.0.2")])
    create, update, delete = plan(svc, desired, [])
    assert len(create) == 1 and not update and not delete
    current = _stored(create[0], "web-abcde")
    assert plan(svc, desired, [current]) == ([], [], [])          # a resync writes nothing
    # A pod more: the same slice is updated (same name, same uid), nothing created.
    desired = compute_slices(svc, [pod("a", "10.244.0.2"), pod("b", "10.244.0.3")])
    create, update, delete = plan(svc, desired, [current])
    assert not create and not delete and [u["metadata"]["name"] for u in update] == ["web-abcde"]
    assert len(update[0]["endpoints"]) == 2
    # Everything gone: the slice becomes the placeholder.
    create, update, delete = plan(svc, compute_slices(svc, []), [current])
    assert not create and not delete and update[0]["ports"] is None and update[0]["endpoints"] is None
    # Two slices where one will do: the one already right stays, the other is deleted.
    extra = _stored(create_one(svc), "web-zzzzz")
    create, update, delete = plan(svc, compute_slices(svc, []), [current, extra])
    assert not create and not update and [d["metadata"]["name"] for d in delete] == ["web-abcde"]


def create_one(svc):
    return plan(svc, compute_slices(svc, []), [])[0][0]


def test_plan_deletes_slices_of_an_earlier_service_with_the_same_name():
    old = service([{"port": 80, "protocol": "TCP"}])
    stale = _stored(create_one(old), "web-old11")
    new = copy.deepcopy(old)
    new["metadata"]["uid"] = "svc-uid-2"
    create, update, delete = plan(new, compute_slices(new, []), [stale])
    assert len(create) == 1 and not update and [d["metadata"]["name"] for d in delete] == ["web-old11"]
    assert create[0]["metadata"]["ownerReferences"][0]["uid"] == "svc-uid-2"


def test_labels_follow_the_service():
    svc = service([{"port": 80, "protocol": "TCP"}])
    current = _stored(create_one(svc), "web-abcde")
    svc["metadata"]["labels"] = {"tier": "front"}
    _, update, _ = plan(svc, compute_slices(svc, []), [current])
    assert update[0]["metadata"]["labels"] == slice_labels(svc) and update[0]["metadata"]["labels"]["tier"] == "front"
