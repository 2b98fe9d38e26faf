"""The real kubectl v1.33 against our API server (no controllers: this is about the API, not pods running).

Each test gets a temp kubeconfig and discovery cache dir, so nothing leaks into ~/.kube."""
from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import yaml


GUIDE = Path("/work/shared/guide")
REDIS = GUIDE / "counter-redis-svc.yml"
GUIDE_ECHO = GUIDE / "echo-deployment.yml"


def test_version_and_api_resources(kubectl):
    out = kubectl("version").stdout
    assert "Server Version: v1.33.0-minikube-py" in out
    out = kubectl("api-resources").stdout
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert {"pods", "services", "deployments", "replicasets", "namespaces", "nodes", "ingresses"} <= set(lines)
    assert "po " in lines["pods"] and "deploy " in lines["deployments"] and "apps/v1" in lines["deployments"]
    assert lines["serviceaccounts"].split() == ["serviceaccounts", "sa", "v1", "true", "ServiceAccount"]


def test_apply_unchanged_configured_get_delete(kubectl, tmp_path):
    out = kubectl("apply", "-f", str(REDIS)).stdout
    assert out.splitlines() == ["deployment.apps/redis created", "service/redis created"]
    out = kubectl("apply", "-f", str(REDIS)).stdout
    assert out.splitlines() == ["deployment.apps/redis unchanged", "service/redis unchanged"]

    docs = list(yaml.safe_load_all(REDIS.read_text()))
    docs[0]["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "X", "value": "1"}]
    changed = tmp_path / "changed.yml"
    changed.write_text(yaml.safe_dump_all(docs))
    out = kubectl("apply", "-f", str(changed)).stdout
    assert out.splitlines() == ["deployment.apps/redis configured", "service/redis unchanged"]

    dep = yaml.safe_load(kubectl("get", "deploy", "redis", "-o", "yaml").stdout)
    assert dep["kind"] == "Deployment" and dep["metadata"]["generation"] == 2
    assert dep["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "X", "value": "1"}]
    assert "kubectl.kubernetes.io/last-applied-configuration" in dep["metadata"]["annotations"]

    out = kubectl("get", "pods").stdout + kubectl("get", "pods").stderr
    assert "No resources found in default namespace." in out
    out = kubectl("get", "all").stdout
    assert "service/kubernetes" in out and "service/redis" in out and "deployment.apps/redis" in out
    out = kubectl("get", "svc", "redis", "-o", "name").stdout
    assert out.strip() == "service/redis"

    out = kubectl("delete", "-f", str(REDIS)).stdout
    assert out.splitlines() == ['deployment.apps "redis" deleted', 'service "redis" deleted']
    out = kubectl("get", "deploy", "redis", check=False)
    assert out.returncode == 1 and 'deployments.apps "redis" not found' in out.stderr


def test_server_side_apply(kubectl):
    out = kubectl("apply", "--server-side", "-f", str(REDIS)).stdout
    assert out.splitlines() == ["deployment.apps/redis serverside-applied", "service/redis serverside-applied"]
    out = kubectl("apply", "--server-side", "-f", str(REDIS)).stdout
    assert out.splitlines() == ["deployment.apps/redis serverside-applied", "service/redis serverside-applied"]
    svc = yaml.safe_load(kubectl("get", "svc", "redis", "-o", "yaml").stdout)
    assert svc["spec"]["clusterIP"].startswith("10.") and svc["spec"]["selector"] == {"app": "counter", "tier": "db"}
    kubectl("delete", "-f", str(REDIS))


def test_server_side_apply_owns_fields_removes_dropped_ones_and_reports_conflicts(kubectl):
    """Server-side apply's contract (managedFields): a field dropped from the manifest goes away, a
    field another manager set is a conflict naming it, `--force-conflicts` takes it over."""
    base = yaml.safe_load(GUIDE_ECHO.read_text())
    base["metadata"]["labels"] = {"team": "a", "tier": "app"}
    kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump(base))
    del base["metadata"]["labels"]["team"]
    kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump(base))
    live = yaml.safe_load(kubectl("get", "deploy", "echo-deploy", "-o", "yaml", "--show-managed-fields").stdout)
    assert live["metadata"]["labels"] == {"tier": "app"}
    assert [(m["manager"], m["operation"]) for m in live["metadata"]["managedFields"]] == [("kubectl", "Apply")]

    kubectl("scale", "deploy/echo-deploy", "--replicas=2")
    p = kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump(base), check=False)
    assert p.returncode == 1
    assert ('Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" using apps/v1: '
            '.spec.replicas') in p.stderr
    kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=yaml.safe_dump(base))
    assert kubectl("get", "deploy", "echo-deploy", "-o", "jsonpath={.spec.replicas}").stdout == "4"
    kubectl("delete", "deploy", "echo-deploy")


def test_server_side_apply_of_an_unknown_field_fails_whatever_the_validation(kubectl):
    """Server-side apply converts the manifest to its typed schema first: an undeclared field is
    structured-merge-diff's error (HTTP 500, no reason), under --validate=false too, and nothing is made."""
    manifest = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: unk\nspec:\n  containers:\n  - name: app\n"
                "    image: busybox\n    imagePolicy: Always\n")
    for flags in ([], ["--validate=false"]):
        p = kubectl("apply", "--server-side", *flags, "-f", "-", input=manifest, check=False)
        assert p.returncode == 1
        assert p.stderr.strip() == ('Error from server: failed to create typed patch object (default/unk; /v1, '
                                    'Kind=Pod): .spec.containers[name="app"].imagePolicy: field not declared in '
                                    'schema')
    assert kubectl("get", "pod", "unk", check=False).returncode == 1


def test_label_and_scale(kubectl):
    kubectl("apply", "-f", str(REDIS))
    assert kubectl("label", "deploy", "redis", "team=a").stdout.strip() == "deployment.apps/redis labeled"
    labels = yaml.safe_load(kubectl("get", "deploy", "redis", "-o", "yaml").stdout)["metadata"]["labels"]
    assert labels == {"team": "a"}
    assert kubectl("label", "deploy", "redis", "team-").stdout.strip() == "deployment.apps/redis unlabeled"
    assert kubectl("scale", "deploy", "redis", "--replicas=3").stdout.strip() == "deployment.apps/redis scaled"
    assert kubectl("get", "deploy", "redis", "-o", "jsonpath={.spec.replicas}").stdout == "3"
    kubectl("delete", "-f", str(REDIS))


def test_get_watch_streams_changes(kubectl):
    kubectl("apply", "-f", "-", input="apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: watched\ndata:\n  a: '1'\n")
    p = subprocess.Popen([kubectl.binary, "--cache-dir", str(kubectl.cache), "get", "configmaps", "-w",
                          "--output-watch-events"],
                         env=kubectl.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)
        kubectl("label", "configmap", "watched", "x=y")
        kubectl("delete", "configmap", "watched")
        time.sleep(1.5)
    finally:
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=10)
    lines = [line.split()[:2] for line in out.splitlines() if "watched" in line]
    assert [line[0] for line in lines] == ["ADDED", "MODIFIED", "DELETED"], out + err


def test_errors_print_kubernetes_messages(kubectl, tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("apiVersion: v1\nkind: Pod\nmetadata:\n  name: Bad_Name\nspec:\n  containers:\n"
                   "  - name: c\n    image: x\n")
    p = kubectl("apply", "-f", str(bad), check=False)
    assert p.returncode == 1
    assert 'Pod "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name"' in p.stderr
    p = kubectl("get", "pod", "ghost", check=False)
    assert p.returncode == 1 and 'pods "ghost" not found' in p.stderr


def test_table_columns_come_from_the_server(kubectl):
    header = kubectl("get", "svc").stdout.splitlines()[0].split()
    assert header == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    row = kubectl("get", "svc", "kubernetes", "--no-headers").stdout.split()
    assert row[:5] == ["kubernetes", "ClusterIP", "10.96.0.1", "<none>", "443/TCP"]
    assert kubectl("get", "ns", "--no-headers").stdout.split()[:2] == ["default", "Active"]


def test_get_in_chunks_lists_everything_once(kubectl):
    """kubectl pages with `limit`/`continue` (`--chunk-size`, 500 by default): small chunks must still
    print every object once, in one table with one header."""
    kubectl("create", "namespace", "chunked")
    for i in range(5):
        kubectl("-n", "chunked", "create", "configmap", f"c{i}", f"--from-literal=k={i}")
    p = kubectl("-n", "chunked", "get", "cm", "--chunk-size=2", "-v=6")
    assert p.stderr.count("continue=") >= 2           # it really paged: three requests for five objects
    out = p.stdout.splitlines()
    rows = [line.split()[0] for line in out[1:]]
    assert out[0].split()[0] == "NAME" and [r for r in rows if r.startswith("c")] == [f"c{i}" for i in range(5)]
    assert len(rows) == len(set(rows))
    kubectl("delete", "namespace", "chunked")


def test_delete_dry_run_server_deletes_nothing(kubectl):
    """`kubectl delete --dry-run=server` (and drain's evictions with it) answers as a delete would and
    writes nothing: the objects, a bound pod's missing deletionTimestamp included, are all still there."""
    kubectl("create", "namespace", "dry")
    kubectl("create", "configmap", "keep", "-n", "dry", "--from-literal=a=b")
    bound = ('{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bound", "namespace": "dry"},'
             ' "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "minikube-py/busybox:1"}]}}')
    kubectl("apply", "-f", "-", input=bound)
    out = kubectl("delete", "configmap/keep", "pod/bound", "-n", "dry", "--dry-run=server").stdout
    assert 'configmap "keep" deleted (server dry run)' in out and 'pod "bound" deleted (server dry run)' in out
    out = kubectl("delete", "namespace", "dry", "--dry-run=server").stdout
    assert 'namespace "dry" deleted (server dry run)' in out
    assert kubectl("get", "configmap", "keep", "-n", "dry", "-o", "name").stdout.strip() == "configmap/keep"
    pod = kubectl("get", "pod", "bound", "-n", "dry", "-o", "jsonpath={.metadata.deletionTimestamp}")
    assert pod.stdout == ""
    ns = kubectl("get", "namespace", "dry", "-o", "jsonpath={.status.phase}").stdout
    assert ns == "Active"
    # An eviction with dryRun (what kubectl drain --dry-run=server posts) leaves the pod too.
    eviction = ('{"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "bound", "namespace": "dry"},'
                ' "deleteOptions": {"dryRun": ["All"]}}')
    kubectl("create", "--raw", "/api/v1/namespaces/dry/pods/bound/eviction", "-f", "-", input=eviction)
    pod = kubectl("get", "pod", "bound", "-n", "dry", "-o", "jsonpath={.metadata.deletionTimestamp}")
    assert pod.stdout == ""
    # The scale subresource too (kubectl scale --dry-run=server).
    kubectl("create", "deployment", "d", "-n", "dry", "--image=minikube-py/echo:v1", "--replicas=1")
    out = kubectl("scale", "deployment", "d", "-n", "dry", "--replicas=5", "--dry-run=server").stdout
    assert "deployment.apps/d scaled (server dry run)" in out
    assert kubectl("get", "deployment", "d", "-n", "dry", "-o", "jsonpath={.spec.replicas}").stdout == "1"
    kubectl("delete", "namespace", "dry", "--wait=false")
