"""The real kubectl v1.33's imperative commands against our API server (no controllers).

`kubectl create namespace|configmap|secret|deployment|service|ingress|serviceaccount` POST their object as
`application/vnd.kubernetes.protobuf` and never retry in JSON; `expose` and `run` POST JSON. Each test
checks the object the server stored, read back with `kubectl get -o json`."""
from __future__ import annotations

import base64
import json

import pytest


PROTOBUF = "Content-Type: application/vnd.kubernetes.protobuf"


@pytest.fixture(scope="module")
def cp_options() -> dict:
    return {"controllers": False}


def get(kubectl, *args: str) -> dict:
    return json.loads(kubectl("get", *args, "-o", "json").stdout)


def test_create_namespace_sends_protobuf(kubectl):
    p = kubectl("create", "namespace", "team-a", "-v=8")
    assert p.stdout.strip() == "namespace/team-a created"
    assert PROTOBUF in p.stderr  # the body really was protobuf
    ns = get(kubectl, "namespace", "team-a")
    assert ns["kind"] == "Namespace" and ns["metadata"]["name"] == "team-a"
    assert ns["status"]["phase"] == "Active" and ns["metadata"]["uid"]


def test_create_configmap_from_literal_and_file(kubectl):
    assert kubectl("create", "configmap", "app-config", "--from-literal=color=blue",
                   "--from-literal=size=", "-n", "team-a").stdout.strip() == "configmap/app-config created"
    cm = get(kubectl, "configmap", "app-config", "-n", "team-a")
    assert cm["data"] == {"color": "blue", "size": ""} and cm["metadata"]["namespace"] == "team-a"
    (kubectl.dir / "blob.bin").write_bytes(b"\x00\xffraw")
    (kubectl.dir / "note.txt").write_text("hello\n")
    kubectl("create", "configmap", "files", "--from-file=blob.bin", "--from-file=note.txt")
    cm = get(kubectl, "configmap", "files")
    assert cm["data"] == {"note.txt": "hello\n"}
    assert cm["binaryData"] == {"blob.bin": base64.b64encode(b"\x00\xffraw").decode()}


def test_create_secret_generic_round_trips_base64(kubectl):
    assert kubectl("create", "secret", "generic", "db", "--from-literal=user=admin",
                   "--from-literal=password=s3cr3t!").stdout.strip() == "secret/db created"
    s = get(kubectl, "secret", "db")
    assert s["type"] == "Opaque"
    assert {k: base64.b64decode(v).decode() for k, v in s["data"].items()} == {"user": "admin", "password": "s3cr3t!"}
    out = kubectl("get", "secret", "db", "-o", "jsonpath={.data.password}").stdout
    assert base64.b64decode(out) == b"s3cr3t!"


def test_create_deployment_replicas_and_port(kubectl):
    out = kubectl("create", "deployment", "web", "--image=minikube-py/echo:v1", "--replicas=2", "--port=3000")
    assert out.stdout.strip() == "deployment.apps/web created"
    d = get(kubectl, "deployment", "web")
    assert d["spec"]["replicas"] == 2
    assert d["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert d["spec"]["template"]["metadata"]["labels"] == {"app": "web"}
    (c,) = d["spec"]["template"]["spec"]["containers"]
    assert c["name"] == "echo" and c["image"] == "minikube-py/echo:v1"
    assert [p["containerPort"] for p in c["ports"]] == [3000]
    assert d["metadata"]["generation"] == 1 and d["metadata"]["labels"] == {"app": "web"}


def test_create_deployment_zero_replicas_and_command(kubectl):
    kubectl("create", "deployment", "idle", "--image=minikube-py/busybox:1", "--replicas=0", "--",
            "sleep", "3600")
    d = get(kubectl, "deployment", "idle")
    assert d["spec"]["replicas"] == 0  # a Go pointer: 0 is not "unset" (which would default to 1)
    assert d["spec"]["template"]["spec"]["containers"][0]["command"] == ["sleep", "3600"]


def test_create_service_clusterip_and_nodeport(kubectl):
    assert kubectl("create", "service", "clusterip", "web", "--tcp=80:3000").stdout.strip() == "service/web created"
    svc = get(kubectl, "service", "web")
    assert svc["spec"]["type"] == "ClusterIP" and svc["spec"]["selector"] == {"app": "web"}
    (port,) = svc["spec"]["ports"]
    assert (port["name"], port["port"], port["targetPort"], port["protocol"]) == ("80-3000", 80, 3000, "TCP")
    assert svc["spec"]["clusterIP"].count(".") == 3
    kubectl("create", "service", "nodeport", "web-np", "--tcp=80:3000", "--node-port=30080")
    svc = get(kubectl, "service", "web-np")
    assert svc["spec"]["type"] == "NodePort" and svc["spec"]["ports"][0]["nodePort"] == 30080
    kubectl("create", "service", "clusterip", "web-headless", "--clusterip=None")
    assert get(kubectl, "service", "web-headless")["spec"]["clusterIP"] == "None"


def test_expose_deployment(kubectl):
    kubectl("create", "deployment", "api", "--image=minikube-py/echo:v1", "--port=3000")
    assert kubectl("expose", "deployment", "api", "--port=8080", "--target-port=3000").stdout.strip() == \
        "service/api exposed"
    svc = get(kubectl, "service", "api")
    assert svc["spec"]["selector"] == {"app": "api"}
    assert [(p["port"], p["targetPort"]) for p in svc["spec"]["ports"]] == [(8080, 3000)]


def test_run_pod(kubectl):
    out = kubectl("run", "box", "--image=minikube-py/busybox:1", "--labels=app=box,tier=x", "--env=GREETING=hi",
                  "--port=80", "--", "sleep", "3600")
    assert out.stdout.strip() == "pod/box created"
    pod = get(kubectl, "pod", "box")
    assert pod["metadata"]["labels"] == {"app": "box", "tier": "x"}
    (c,) = pod["spec"]["containers"]
    assert c["image"] == "minikube-py/busybox:1" and c["args"] == ["sleep", "3600"]
    assert c["env"] == [{"name": "GREETING", "value": "hi"}] and c["ports"][0]["containerPort"] == 80


def test_create_ingress(kubectl):
    kubectl("create", "ingress", "site", "--class=nginx", "--rule=shop.example/api*=api:8080",
            "--rule=shop.example/=web:http")
    ing = get(kubectl, "ingress", "site")
    assert ing["spec"]["ingressClassName"] == "nginx"
    (rule,) = ing["spec"]["rules"]
    assert rule["host"] == "shop.example"
    assert [(p["path"], p["pathType"], p["backend"]["service"]["name"], p["backend"]["service"]["port"])
            for p in rule["http"]["paths"]] == [("/api", "Prefix", "api", {"number": 8080}),
                                                ("/", "Exact", "web", {"name": "http"})]


def test_create_serviceaccount(kubectl):
    p = kubectl("create", "sa", "builder", "-v=8")
    assert p.stdout.strip() == "serviceaccount/builder created" and PROTOBUF in p.stderr
    assert kubectl("get", "sa", "builder", "-o", "name").stdout.strip() == "serviceaccount/builder"
    sa = get(kubectl, "serviceaccount", "builder")
    assert sa["kind"] == "ServiceAccount" and sa["metadata"]["namespace"] == "default" and "secrets" not in sa
    p = kubectl("create", "serviceaccount", "Builder", check=False)
    assert p.returncode == 1 and 'ServiceAccount "Builder" is invalid: metadata.name: Invalid value' in p.stderr


def test_server_dry_run_stores_nothing(kubectl):
    out = kubectl("create", "configmap", "dry", "--from-literal=a=b", "--dry-run=server", "-o", "json").stdout
    assert json.loads(out)["data"] == {"a": "b"}
    p = kubectl("get", "configmap", "dry", check=False)
    assert p.returncode == 1 and 'configmaps "dry" not found' in p.stderr


def test_errors_come_back_as_kubectl_messages(kubectl):
    p = kubectl("create", "configmap", "x", "--from-literal=a=b", "-n", "nowhere", check=False)
    assert p.returncode == 1 and 'namespaces "nowhere" not found' in p.stderr
    p = kubectl("create", "namespace", "team-a", check=False)
    assert p.returncode == 1 and 'namespaces "team-a" already exists' in p.stderr


def _node_with_a_bound_pod(kubectl, node: str, pod: str) -> None:
    manifest = kubectl.dir / f"{node}.yml"
    manifest.write_text(f"apiVersion: v1\nkind: Node\nmetadata:\n  name: {node}\n---\n"
                        f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {pod}\nspec:\n  nodeName: {node}\n"
                        "  containers:\n  - name: c\n    image: minikube-py/busybox:1\n")
    kubectl("apply", "-f", str(manifest))


def test_drain_evicts_pods(kubectl):
    """kubectl drain POSTs a policy/v1 Eviction to pods/<name>/eviction, as on a real cluster:
    `evicting pod default/bound`, then `pod/bound evicted` once it is gone (its deleteOptions carry
    gracePeriodSeconds 0, so it goes at once)."""
    _node_with_a_bound_pod(kubectl, "drain-me", "bound")
    p = kubectl("drain", "drain-me", "--force", "--grace-period=0", "--timeout=20s", "-v=8")
    assert "evicting pod default/bound" in p.stdout, p.stdout
    assert "pod/bound evicted" in p.stdout and "node/drain-me drained" in p.stdout, p.stdout
    assert 'verb="POST" url="https://' in p.stderr and '/api/v1/namespaces/default/pods/bound/eviction"' in p.stderr
    assert '"deleteOptions":{"gracePeriodSeconds":0}' in p.stderr  # sent as JSON by kubectl's expansion
    gone = kubectl("get", "pod", "bound", check=False)
    assert gone.returncode == 1 and 'pods "bound" not found' in gone.stderr
    assert get(kubectl, "node", "drain-me")["spec"]["unschedulable"] is True


def test_drain_without_eviction_deletes_pods_with_protobuf_delete_options(kubectl):
    """`--disable-eviction` DELETEs each pod with a protobuf DeleteOptions body instead."""
    _node_with_a_bound_pod(kubectl, "drain-me-too", "bound-too")
    p = kubectl("drain", "drain-me-too", "--force", "--disable-eviction", "--grace-period=0", "--timeout=20s",
                "-v=8")
    assert "pod/bound-too deleted" in p.stdout and "node/drain-me-too drained" in p.stdout, p.stdout
    assert PROTOBUF in p.stderr
    gone = kubectl("get", "pod", "bound-too", check=False)
    assert gone.returncode == 1 and 'pods "bound-too" not found' in gone.stderr


def test_eviction_errors_in_kubernetes_words(kubectl):
    """An Eviction for a pod that does not exist is the pod's 404; a name mismatch is a 400."""
    ev = kubectl.dir / "ev.json"
    ev.write_text('{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"other"}}')
    p = kubectl("create", "--raw", "/api/v1/namespaces/default/pods/ghost/eviction", "-f", str(ev), check=False)
    assert p.returncode == 1 and "name in URL does not match name in Eviction object" in p.stderr, p.stderr
    ev.write_text('{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"ghost"}}')
    p = kubectl("create", "--raw", "/api/v1/namespaces/default/pods/ghost/eviction", "-f", str(ev), check=False)
    assert p.returncode == 1 and 'pods "ghost" not found' in p.stderr, p.stderr
