"""Server-side Tables: kubectl's columns and cells, AGE formatting, and kubectl's text layout (golden files).

Regenerate the golden files after an intended change with `UPDATE_GOLDEN=1 pytest tests/unit/test_tables.py`
and read the diff: it must still look like a real `kubectl get`.
"""
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from minikube_py.api.resources import RESOURCES
from minikube_py.api.tables import format_age, pod_status_reason, render_text, to_table

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
GOLDEN = Path(__file__).parent / "golden" / "tables"


def ago(seconds: float) -> str:
    return (NOW - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("seconds,text", [
    (-5, "<invalid>"), (-1, "0s"), (0, "0s"), (5, "5s"), (119, "119s"), (120, "2m"), (150, "2m30s"),
    (599, "9m59s"), (600, "10m"), (3 * 3600 - 1, "179m"), (3 * 3600, "3h"), (3 * 3600 + 4 * 60, "3h4m"),
    (8 * 3600, "8h"), (47 * 3600 + 59 * 60, "47h"), (2 * 86400 + 3 * 3600, "2d3h"), (3 * 86400, "3d"),
    (8 * 86400, "8d"), (400 * 86400, "400d"), (800 * 86400, "2y70d"), (365 * 2 * 86400, "2y"),
    (9 * 365 * 86400, "9y"),
])
def test_format_age(seconds, text):
    assert format_age(seconds) == text


def container_status(name="app", ready=True, restarts=0, state=None, last=None):
    return {"name": name, "ready": ready, "restartCount": restarts, "state": state or {"running": {}},
            "lastState": last or {}}


def pod(statuses, phase="Running", init=None, init_statuses=None, **extra):
    spec = {"containers": [{"name": s["name"], "image": "x"} for s in statuses] or [{"name": "app", "image": "x"}],
            "nodeName": "minikube-py"}
    if init:
        spec["initContainers"] = init
    status = {"phase": phase, "containerStatuses": statuses, "podIPs": [{"ip": "10.244.0.5"}]}
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    obj = {"metadata": {"name": "p", "namespace": "default", "creationTimestamp": ago(90)}, "spec": spec,
           "status": status}
    for k, v in extra.items():
        obj.setdefault(k.split("__")[0], {})[k.split("__")[1]] = v
    return obj


POD_CASES = [
    ("running", pod([container_status()]), "1/1", "Running", "0"),
    ("pending-no-status", {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]},
                           "status": {"phase": "Pending"}}, "0/1", "Pending", "0"),
    ("creating", pod([container_status(ready=False, state={"waiting": {"reason": "ContainerCreating"}})],
                     phase="Pending"), "0/1", "ContainerCreating", "0"),
    ("not-ready", pod([container_status(ready=False)]), "0/1", "Running", "0"),
    ("crashloop", pod([container_status(ready=False, restarts=3,
                                        state={"waiting": {"reason": "CrashLoopBackOff"}},
                                        last={"terminated": {"exitCode": 137, "reason": "Error",
                                                             "finishedAt": ago(10)}})]),
     "0/1", "CrashLoopBackOff", "3 (10s ago)"),
    ("pull-backoff", pod([container_status(ready=False, state={"waiting": {"reason": "ImagePullBackOff"}})],
                         phase="Pending"), "0/1", "ImagePullBackOff", "0"),
    ("completed", pod([container_status(ready=False, state={"terminated": {"exitCode": 0, "reason": "Completed"}})],
                      phase="Succeeded"), "0/1", "Completed", "0"),
    ("error", pod([container_status(ready=False, state={"terminated": {"exitCode": 1, "reason": "Error"}})],
                  phase="Failed"), "0/1", "Error", "0"),
    ("exit-code", pod([container_status(ready=False, state={"terminated": {"exitCode": 2}})], phase="Failed"),
     "0/1", "ExitCode:2", "0"),
    ("one-of-two", pod([container_status("app"), container_status("db", ready=False)]), "1/2", "Running", "0"),
    ("completed-with-running", pod([container_status("a", state={"terminated": {"exitCode": 0, "reason": "Completed"}},
                                                     ready=False), container_status("b")]),
     "1/2", "NotReady", "0"),
    ("init-waiting", pod([container_status(ready=False, state={"waiting": {"reason": "PodInitializing"}})],
                         phase="Pending", init=[{"name": "init", "image": "x"}],
                         init_statuses=[{"name": "init", "ready": False, "restartCount": 0,
                                         "state": {"running": {}}}]), "0/1", "Init:0/1", "0"),
    ("init-error", pod([container_status(ready=False)], phase="Pending", init=[{"name": "init", "image": "x"}],
                       init_statuses=[{"name": "init", "restartCount": 2,
                                       "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]),
     "0/1", "Init:Error", "2"),
    ("terminating", pod([container_status()], metadata__deletionTimestamp=ago(1)), "1/1", "Terminating", "0"),
]


@pytest.mark.parametrize("case,obj,ready,status,restarts", POD_CASES, ids=[c[0] for c in POD_CASES])
def test_pod_cells(case, obj, ready, status, restarts):
    row = to_table(RESOURCES["pods"], [obj], now=NOW)["rows"][0]
    assert row["cells"][1:4] == [ready, status, restarts]
    assert pod_status_reason(obj, NOW) == status


def test_table_shape_and_include_object():
    obj = pod([container_status()])
    t = to_table(RESOURCES["pods"], [obj], now=NOW, resource_version="42")
    assert t["kind"] == "Table" and t["apiVersion"] == "meta.k8s.io/v1"
    assert t["metadata"] == {"resourceVersion": "42"}
    assert [(c["name"], c["type"], c["priority"]) for c in t["columnDefinitions"]] == [
        ("Name", "string", 0), ("Ready", "string", 0), ("Status", "string", 0), ("Restarts", "string", 0),
        ("Age", "string", 0), ("IP", "string", 1), ("Node", "string", 1), ("Nominated Node", "string", 1),
        ("Readiness Gates", "string", 1)]
    assert t["columnDefinitions"][0]["format"] == "name"
    assert t["rows"][0]["cells"] == ["p", "1/1", "Running", "0", "90s", "10.244.0.5", "minikube-py", "<none>", "<none>"]
    assert t["rows"][0]["object"]["kind"] == "Pod" and t["rows"][0]["object"]["spec"] == obj["spec"]
    meta = to_table(RESOURCES["pods"], [obj], include_object="Metadata", now=NOW)["rows"][0]["object"]
    assert meta == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}
    assert "object" not in to_table(RESOURCES["pods"], [obj], include_object="None", now=NOW)["rows"][0]
    done = pod([container_status(ready=False, state={"terminated": {"exitCode": 0, "reason": "Completed"}})],
               phase="Succeeded")
    assert to_table(RESOURCES["pods"], [done], now=NOW)["rows"][0]["conditions"][0]["reason"] == "Succeeded"


def meta(name, age=600, **labels):
    m = {"name": name, "namespace": "default", "creationTimestamp": ago(age)}
    if labels:
        m["labels"] = labels
    return m


SERVICES = [
    {"metadata": meta("kubernetes", 86400 * 3), "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1",
                                                          "clusterIPs": ["10.96.0.1"],
                                                          "ports": [{"name": "https", "port": 443, "protocol": "TCP",
                                                                     "targetPort": 8443}]}},
    {"metadata": meta("redis"), "spec": {"type": "ClusterIP", "clusterIPs": ["10.96.12.7"],
                                         "selector": {"tier": "db", "app": "counter"},
                                         "ports": [{"port": 6379, "protocol": "TCP", "targetPort": 6379}]}},
    {"metadata": meta("counter-np", 150), "spec": {"type": "NodePort", "clusterIPs": ["10.96.40.2"],
                                                   "selector": {"app": "counter", "tier": "app"},
                                                   "ports": [{"port": 3000, "nodePort": 31000, "protocol": "TCP"}]}},
    {"metadata": meta("counter-lb", 45), "spec": {"type": "LoadBalancer", "clusterIPs": ["10.96.40.3"],
                                                  "selector": {"app": "counter", "tier": "app"},
                                                  "ports": [{"port": 30000, "nodePort": 30526, "protocol": "TCP"}]},
     "status": {"loadBalancer": {}}},
    {"metadata": meta("counter-lb2", 45), "spec": {"type": "LoadBalancer", "clusterIPs": ["10.96.40.4"],
                                                   "selector": {"app": "counter"},
                                                   "ports": [{"port": 30000, "nodePort": 30527, "protocol": "TCP"}]},
     "status": {"loadBalancer": {"ingress": [{"ip": "192.168.49.100", "ipMode": "VIP"}]}}},
    {"metadata": meta("kube-dns", 86400 * 3), "spec": {"type": "ClusterIP", "clusterIPs": ["10.96.0.10"],
                                                        "selector": {"k8s-app": "kube-dns"},
                                                        "ports": [{"name": "dns", "port": 53, "protocol": "UDP"},
                                                                  {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]}},
    {"metadata": meta("ext"), "spec": {"type": "ExternalName", "externalName": "example.com"}},
]

ENDPOINTS = [
    {"metadata": meta("redis"), "subsets": [{"addresses": [{"ip": "10.244.0.5"}], "ports": [{"port": 6379}]}]},
    {"metadata": meta("echo"), "subsets": [{"addresses": [{"ip": f"10.244.0.{i}"} for i in range(5, 9)],
                                            "ports": [{"port": 3000, "protocol": "TCP"}]}]},
    {"metadata": meta("empty")},
    {"metadata": meta("not-ready"), "subsets": [{"notReadyAddresses": [{"ip": "10.244.0.9"}],
                                                 "ports": [{"port": 3000}]}]},
]

TEMPLATE = {"metadata": {"labels": {"app": "echo", "tier": "app"}},
            "spec": {"containers": [{"name": "echo", "image": "ghcr.io/subicura/echo:v1"}]}}
DEPLOYMENTS = [
    {"metadata": meta("echo-deploy", 130), "spec": {"replicas": 4, "selector": {"matchLabels": {"tier": "app",
                                                                                              "app": "echo"}},
                                                    "template": TEMPLATE},
     "status": {"replicas": 4, "readyReplicas": 3, "updatedReplicas": 4, "availableReplicas": 3}},
    {"metadata": meta("redis", 7200), "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "counter", "tier": "db"}},
                                               "template": {"spec": {"containers": [
                                                   {"name": "redis", "image": "redis"},
                                                   {"name": "exporter", "image": "exporter:1"}]}}},
     "status": {}},
]
REPLICASETS = [
    {"metadata": meta("echo-deploy-5d8f9c7b6", 130), "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "echo"}},
                                                              "template": TEMPLATE},
     "status": {"replicas": 4, "readyReplicas": 4}},
    {"metadata": meta("echo-deploy-6b7c8d9e0", 3600), "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "echo"}},
                                                               "template": TEMPLATE}, "status": {"replicas": 0}},
]
NODES = [
    {"metadata": {"name": "minikube-py", "creationTimestamp": ago(86400 * 2 + 3600 * 5),
                  "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/hostname": "minikube-py"}},
     "spec": {},
     "status": {"conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
                "addresses": [{"type": "InternalIP", "address": "192.168.49.2"},
                              {"type": "Hostname", "address": "minikube-py"}],
                "nodeInfo": {"kubeletVersion": "v1.33.0-minikube-py", "osImage": "Debian GNU/Linux 12 (bookworm)",
                             "kernelVersion": "6.1.0-18-amd64", "containerRuntimeVersion": "docker://20.10.24"}}},
    {"metadata": {"name": "minikube-py-m02", "creationTimestamp": ago(3600)},
     "spec": {"unschedulable": True},
     "status": {"conditions": [{"type": "Ready", "status": "Unknown"}],
                "addresses": [{"type": "InternalIP", "address": "192.168.49.3"}],
                "nodeInfo": {"kubeletVersion": "v1.33.0-minikube-py"}}},
]
EVENTS = [
    {"metadata": {"name": "counter.17a", "namespace": "default"}, "type": "Normal", "reason": "Scheduled",
     "message": "Successfully assigned default/counter to minikube-py",
     "involvedObject": {"kind": "Pod", "name": "counter", "namespace": "default"},
     "source": {"component": "default-scheduler"}, "firstTimestamp": ago(75), "lastTimestamp": ago(75), "count": 1},
    {"metadata": {"name": "echo-lp.17b", "namespace": "default"}, "type": "Warning", "reason": "Unhealthy",
     "message": "Liveness probe failed: HTTP probe failed with statuscode: 404\n",
     "involvedObject": {"kind": "Pod", "name": "echo-lp", "fieldPath": "spec.containers{app}"},
     "source": {"component": "kubelet", "host": "minikube-py"}, "firstTimestamp": ago(300),
     "lastTimestamp": ago(5), "count": 12},
    {"metadata": {"name": "x.17c", "namespace": "default"}, "type": "Normal", "reason": "ScalingReplicaSet",
     "message": "Scaled up replica set echo-deploy-5d8f9c7b6 to 4",
     "involvedObject": {"kind": "Deployment", "name": "echo-deploy"}, "reportingComponent": "deployment-controller",
     "eventTime": "2026-01-01T11:59:00.000000Z"},
]
INGRESSES = [
    {"metadata": meta("echo-v1"), "spec": {"ingressClassName": "nginx", "rules": [
        {"host": "v1.echo.192.168.49.2.sslip.io", "http": {"paths": []}}]},
     "status": {"loadBalancer": {"ingress": [{"ip": "192.168.49.2"}]}}},
    {"metadata": meta("many"), "spec": {"rules": [{"host": f"h{i}.example.com"} for i in range(5)],
                                        "tls": [{"hosts": ["h0.example.com"]}]}},
    {"metadata": meta("default-only"), "spec": {"defaultBackend": {"service": {"name": "x", "port": {"number": 80}}}}},
]
PODS = [
    pod([container_status()]),
    {**pod([container_status(ready=False, restarts=3, state={"waiting": {"reason": "CrashLoopBackOff"}},
                             last={"terminated": {"exitCode": 137, "finishedAt": ago(42)}})]),
     "metadata": meta("echo-lp", 200, app="echo")},
    {**pod([container_status("app"), container_status("db")]), "metadata": meta("counter", 30, app="counter")},
    {"metadata": meta("echo-rp", 12), "spec": {"containers": [{"name": "app"}]}, "status": {"phase": "Pending"}},
]
OTHERS = {
    "namespaces": [{"metadata": {"name": "default", "creationTimestamp": ago(86400)}, "status": {"phase": "Active"}},
                   {"metadata": {"name": "ingress-nginx", "creationTimestamp": ago(400)},
                    "status": {"phase": "Terminating"}}],
    "configmaps": [{"metadata": meta("kube-root-ca.crt", 86400), "data": {"ca.crt": "x"}},
                   {"metadata": meta("nginx-conf", 40), "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}],
    "secrets": [{"metadata": meta("db", 60), "type": "Opaque", "data": {"user": "YQ==", "pass": "Yg=="}},
                {"metadata": meta("tls", 60), "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}}],
    "ingressclasses": [{"metadata": {"name": "nginx", "creationTimestamp": ago(86400)},
                        "spec": {"controller": "k8s.io/ingress-nginx"}},
                       {"metadata": {"name": "custom", "creationTimestamp": ago(60)},
                        "spec": {"controller": "example.com/c",
                                 "parameters": {"apiGroup": "k8s.example.com", "kind": "Params", "name": "p"}}}],
}

GOLDEN_CASES = [
    ("pods", PODS), ("services", SERVICES), ("endpoints", ENDPOINTS), ("deployments", DEPLOYMENTS),
    ("replicasets", REPLICASETS), ("nodes", NODES), ("events", EVENTS), ("ingresses", INGRESSES),
    *OTHERS.items(),
]


@pytest.mark.parametrize("plural,objs", GOLDEN_CASES, ids=[c[0] for c in GOLDEN_CASES])
def test_golden_text(plural, objs):
    table = to_table(RESOURCES[plural], objs, now=NOW)
    text = render_text(table) + "--- wide\n" + render_text(table, wide=True)
    path = GOLDEN / f"{plural}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert text == path.read_text()


def test_render_options():
    table = to_table(RESOURCES["pods"], PODS[2:3], now=NOW)
    assert render_text(table, no_headers=True) == "counter   2/2   Running   0     30s\n"
    assert render_text(table, show_labels=True, namespace_column=True) == (
        "NAMESPACE   NAME      READY   STATUS    RESTARTS   AGE   LABELS\n"
        "default     counter   2/2     Running   0          30s   app=counter\n")
    assert render_text(to_table(RESOURCES["pods"], [], now=NOW)) == "NAME   READY   STATUS   RESTARTS   AGE\n"
