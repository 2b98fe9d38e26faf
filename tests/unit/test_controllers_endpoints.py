"""Endpoints subsets as a pure function: readiness split, named ports, grouping by port set, headless."""
from __future__ import annotations

from minikube_py.controllers.endpoints import compute_subsets, find_port


def pod(name, ip, ready=True, labels=None, ports=None, node="n1", deleting=False, phase="Running", **spec):
    meta = {"name": name, "namespace": "default", "uid": f"u-{name}", "labels": labels or {"app": "web"}}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta,
            "spec": {"nodeName": node, "containers": [{"name": "c", "ports": ports or []}], **spec},
            "status": {"phase": phase, "podIP": ip,
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def service(ports, cluster_ip="10.96.0.20", **spec):
    return {"metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"app": "web"}, "clusterIP": cluster_ip, "ports": ports, **spec}}


def ref(name):
    return {"kind": "Pod", "namespace": "default", "name": name, "uid": f"u-{name}"}


def test_ready_and_not_ready_addresses_sorted_by_ip():
    svc = service([{"port": 80, "targetPort": 8080, "protocol": "TCP"}])
    pods = [pod("b", "10.244.0.10"), pod("a", "10.244.0.9"), pod("c", "10.244.0.11", ready=False),
            pod("no-ip", None), pod("gone", "10.244.0.12", deleting=True), pod("done", "10.244.0.13", phase="Succeeded"),
            pod("other", "10.244.0.14", labels={"app": "other"})]
    assert compute_subsets(svc, pods) == [{
        "addresses": [{"ip": "10.244.0.9", "nodeName": "n1", "targetRef": ref("a")},
                      {"ip": "10.244.0.10", "nodeName": "n1", "targetRef": ref("b")}],
        "notReadyAddresses": [{"ip": "10.244.0.11", "nodeName": "n1", "targetRef": ref("c")}],
        "ports": [{"port": 8080, "protocol": "TCP"}]}]


def test_named_target_port_groups_pods_by_resolved_port():
    svc = service([{"name": "http", "port": 80, "targetPort": "web", "protocol": "TCP"}])
    pods = [pod("a", "10.244.0.2", ports=[{"name": "web", "containerPort": 3000}]),
            pod("b", "10.244.0.3", ports=[{"name": "web", "containerPort": 8080}]),
            pod("c", "10.244.0.4", ports=[{"name": "other", "containerPort": 9090}])]   # serves no such port
    subsets = compute_subsets(svc, pods)
    assert [(s["ports"], [a["ip"] for a in s["addresses"]]) for s in subsets] == [
        ([{"name": "http", "port": 3000, "protocol": "TCP"}], ["10.244.0.2"]),
        ([{"name": "http", "port": 8080, "protocol": "TCP"}], ["10.244.0.3"])]


def test_publish_not_ready_and_headless_hostname():
    svc = service([], cluster_ip="None", publishNotReadyAddresses=True)
    pods = [pod("a", "10.244.0.2", ready=False, hostname="a", subdomain="web")]
    assert compute_subsets(svc, pods) == [{"addresses": [
        {"ip": "10.244.0.2", "nodeName": "n1", "hostname": "a", "targetRef": ref("a")}]}]


def test_find_port():
    p = pod("a", "1.2.3.4", ports=[{"name": "dns", "containerPort": 53, "protocol": "UDP"},
                                    {"name": "dns", "containerPort": 5353, "protocol": "TCP"}])
    assert find_port(p, {"port": 53, "targetPort": "dns", "protocol": "UDP"}) == 53
    assert find_port(p, {"port": 53, "targetPort": "dns", "protocol": "TCP"}) == 5353
    assert find_port(p, {"port": 80}) == 80
    assert find_port(p, {"port": 80, "targetPort": "nope"}) is None
