"""`kubectl explain` (real kubectl v1.33) reads the OpenAPI v3 schemas we serve; and since kubectl's
client-side apply computes its strategic merge patch from the same schemas, lists must still merge by key."""
from __future__ import annotations

import json
import re

import yaml


def test_explain_kind(kubectl):
    out = kubectl("explain", "pods").stdout
    assert out.startswith("KIND:       Pod\nVERSION:    v1\n\nDESCRIPTION:\n")
    assert "Pod is a collection of containers that can run on a host." in out
    assert "FIELDS:" in out
    assert re.search(r"^  spec\t<PodSpec>$", out, re.M)
    assert re.search(r"^  apiVersion\t<string>$", out, re.M)

    out = kubectl("explain", "deploy").stdout
    assert out.startswith("GROUP:      apps\nKIND:       Deployment\nVERSION:    v1\n")


def test_explain_serviceaccount(kubectl):
    out = kubectl("explain", "sa").stdout
    assert out.startswith("KIND:       ServiceAccount\nVERSION:    v1\n")
    assert re.search(r"^  secrets\t<\[\]ObjectReference>$", out, re.M)
    assert re.search(r"^  imagePullSecrets\t<\[\]LocalObjectReference>$", out, re.M)


def test_explain_field_paths(kubectl):
    out = kubectl("explain", "deploy.spec.strategy.rollingUpdate.maxSurge").stdout
    assert "FIELD: maxSurge <IntOrString>" in out
    assert "The maximum number of pods that can be scheduled above the desired number" in out

    out = kubectl("explain", "pod.spec.containers.livenessProbe").stdout
    assert "FIELD: livenessProbe <Probe>" in out
    assert re.search(r"^  httpGet\t<HTTPGetAction>$", out, re.M)

    out = kubectl("explain", "pod.spec.containers.resources.limits").stdout
    assert "FIELD: limits <map[string]Quantity>" in out

    out = kubectl("explain", "ingress.spec.rules.http.paths.pathType").stdout
    assert out.startswith("GROUP:      networking.k8s.io\nKIND:       Ingress\n")
    assert "FIELD: pathType <string>" in out and "Prefix" in out

    p = kubectl("explain", "pod.spec.nosuchfield", check=False)
    assert p.returncode == 1 and 'field "nosuchfield" does not exist' in p.stderr


def test_explain_recursive(kubectl):
    out = kubectl("explain", "pod.spec.containers", "--recursive").stdout
    assert "FIELD: containers <[]Container>" in out
    assert re.search(r"^  livenessProbe\t<Probe>$", out, re.M)
    assert re.search(r"^    httpGet\t<HTTPGetAction>$", out, re.M)
    assert re.search(r"^  name\t<string> -required-$", out, re.M)

    out = kubectl("explain", "deploy.spec.strategy", "--recursive").stdout
    assert re.search(r"^  rollingUpdate\t<RollingUpdateDeployment>$", out, re.M)
    assert re.search(r"^    maxSurge\t<IntOrString>$", out, re.M)


def _patch_body(stderr: str) -> dict:
    """The PATCH body from `kubectl -v=8` output."""
    bodies = [json.loads(json.loads(m.group(1)))
              for m in re.finditer(r'"Request Body" body=("(?:[^"\\]|\\.)+")', stderr)]
    assert bodies, stderr
    return bodies[-1]


def test_client_side_apply_patch_merges_by_key(kubectl, tmp_path):
    """Serving schemas must not change client-side apply: kubectl v1.33 computes the strategic merge patch
    from its built-in types (our PATCH operations declare no strategic-merge request body, and OpenAPI v2
    is empty), so lists are still merged by key and `strategy` replaced with `$retainKeys`."""
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "explain-csa"},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "x"}},
                    "template": {"metadata": {"labels": {"app": "x"}},
                                 "spec": {"containers": [
                                     {"name": "a", "image": "img-a:1", "ports": [{"containerPort": 80}],
                                      "env": [{"name": "E1", "value": "1"}, {"name": "E2", "value": "2"}]},
                                     {"name": "b", "image": "img-b:1"}]}}}}
    f = tmp_path / "dep.yml"
    f.write_text(yaml.safe_dump(dep))
    kubectl("apply", "-f", str(f))
    try:
        c = dep["spec"]["template"]["spec"]["containers"]
        c[0]["image"] = "img-a:2"
        c[0]["env"] = [{"name": "E1", "value": "1"}]
        c[0]["ports"] = []
        dep["spec"]["strategy"] = {"type": "Recreate"}
        f.write_text(yaml.safe_dump(dep))
        p = kubectl("apply", "-f", str(f), "-v=8")
        assert "configured" in p.stdout
        body = _patch_body(p.stderr)
        spec = body["spec"]["template"]["spec"]
        # Merged by name: only container a, with directives; b (unchanged) is not resent.
        assert spec["$setElementOrder/containers"] == [{"name": "a"}, {"name": "b"}]
        assert [x["name"] for x in spec["containers"]] == ["a"]
        assert {"$patch": "delete", "name": "E2"} in spec["containers"][0]["env"]
        assert body["spec"]["strategy"]["$retainKeys"] == ["type"]

        got = json.loads(kubectl("get", "deploy", dep["metadata"]["name"], "-o", "json").stdout)
        cs = got["spec"]["template"]["spec"]["containers"]
        assert [(x["name"], x["image"]) for x in cs] == [("a", "img-a:2"), ("b", "img-b:1")]
        assert cs[0]["env"] == [{"name": "E1", "value": "1"}] and not cs[0].get("ports")
        assert got["spec"]["strategy"] == {"type": "Recreate"}
    finally:
        kubectl("delete", "deploy", dep["metadata"]["name"], "--wait=false", check=False)
