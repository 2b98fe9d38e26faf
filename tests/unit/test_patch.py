"""PATCH: the exact bodies kubectl sends, plus RFC 6902/7386 edge cases."""
import copy
import json

import pytest

from minikube_py.api.patch import (
    APPLY_PATCH, JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, PatchError, apply_patch,
)
from minikube_py.api.resources import RESOURCES

DEPLOY = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "counter", "namespace": "default", "labels": {"a": "1", "b": "2"},
                 "annotations": {"deployment.kubernetes.io/revision": "2"}, "finalizers": ["x"]},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "counter"}},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
        "template": {
            "metadata": {"labels": {"app": "counter"}},
            "spec": {"containers": [
                {"name": "counter", "image": "ghcr.io/subicura/counter:latest",
                 "env": [{"name": "REDIS_HOST", "value": "redis"}, {"name": "REDIS_PORT", "value": "6379"}],
                 "ports": [{"containerPort": 3000, "protocol": "TCP"}],
                 "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
                {"name": "sidecar", "image": "busybox"},
            ], "volumes": [{"name": "data", "emptyDir": {}}]},
        },
    },
}


def patch(plural, obj, body, ctype):
    raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
    before = copy.deepcopy(obj)
    out = apply_patch(RESOURCES[plural], obj, raw.encode() if isinstance(raw, str) else raw, ctype)
    assert obj == before, "apply_patch must not mutate its input"
    return out


def containers(d):
    return d["spec"]["template"]["spec"]["containers"]


def test_kubectl_set_image():
    body = {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "counter"}, {"name": "sidecar"}],
                                           "containers": [{"image": "ghcr.io/subicura/counter:v2", "name": "counter"}]}}}}
    out = patch("deployments", DEPLOY, body, STRATEGIC_MERGE_PATCH)
    assert [c["image"] for c in containers(out)] == ["ghcr.io/subicura/counter:v2", "busybox"]
    assert containers(out)[0]["env"] == containers(DEPLOY)[0]["env"]  # merged, not replaced


def test_kubectl_apply_changes_env_and_drops_a_container():
    last_applied = '{"apiVersion":"apps/v1","kind":"Deployment"}\n'
    body = {
        "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": last_applied}},
        "spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "counter"}],
            "containers": [
                {"$setElementOrder/env": [{"name": "REDIS_PORT"}, {"name": "REDIS_HOST"}, {"name": "DEBUG"}],
                 "env": [{"name": "REDIS_PORT", "value": "6380"}, {"name": "DEBUG", "value": "1"}],
                 "name": "counter"},
                {"$patch": "delete", "name": "sidecar"},
            ]}}},
    }
    out = patch("deployments", DEPLOY, body, STRATEGIC_MERGE_PATCH)
    assert [c["name"] for c in containers(out)] == ["counter"]
    assert containers(out)[0]["env"] == [{"name": "REDIS_PORT", "value": "6380"},
                                         {"name": "REDIS_HOST", "value": "redis"},
                                         {"name": "DEBUG", "value": "1"}]
    ann = out["metadata"]["annotations"]
    assert ann == {"deployment.kubernetes.io/revision": "2",
                   "kubectl.kubernetes.io/last-applied-configuration": last_applied}


def test_strategic_null_deletes_and_retain_keys():
    body = {"metadata": {"labels": {"a": None}},
            "spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": None}}}
    out = patch("deployments", DEPLOY, body, STRATEGIC_MERGE_PATCH)
    assert out["metadata"]["labels"] == {"b": "2"}
    assert out["spec"]["strategy"] == {"type": "Recreate"}


def test_strategic_lists_by_their_merge_keys():
    body = {"spec": {"template": {"spec": {
        "containers": [{"name": "counter",
                        "ports": [{"containerPort": 3001}],
                        "volumeMounts": [{"mountPath": "/data", "readOnly": True}]}],
        "volumes": [{"name": "cache", "emptyDir": {}}]}}},
        "metadata": {"finalizers": ["y", "x"]}}
    out = patch("deployments", DEPLOY, body, STRATEGIC_MERGE_PATCH)
    c = containers(out)[0]
    assert c["ports"] == [{"containerPort": 3000, "protocol": "TCP"}, {"containerPort": 3001}]
    assert c["volumeMounts"] == [{"name": "data", "mountPath": "/data", "readOnly": True}]
    assert [v["name"] for v in out["spec"]["template"]["spec"]["volumes"]] == ["data", "cache"]
    assert out["metadata"]["finalizers"] == ["x", "y"]  # primitive merge list: union


def test_strategic_replace_directives_and_unkeyed_lists():
    body = {"spec": {"template": {"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "x"}]}}}}
    out = patch("deployments", DEPLOY, body, STRATEGIC_MERGE_PATCH)
    assert containers(out) == [{"name": "only", "image": "x"}]
    out = patch("deployments", DEPLOY, {"spec": {"selector": {"$patch": "replace", "matchLabels": {"z": "1"}}}},
                STRATEGIC_MERGE_PATCH)
    assert out["spec"]["selector"] == {"matchLabels": {"z": "1"}}
    # command/args have no merge key: replaced
    pod = {"spec": {"containers": [{"name": "a", "args": ["1", "2"]}]}}
    out = patch("pods", pod, {"spec": {"containers": [{"name": "a", "args": ["3"]}]}}, STRATEGIC_MERGE_PATCH)
    assert out["spec"]["containers"] == [{"name": "a", "args": ["3"]}]


def test_strategic_service_ports_merge_by_port():
    svc = {"spec": {"ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}, {"port": 443, "protocol": "TCP"}]}}
    out = patch("services", svc, {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}, STRATEGIC_MERGE_PATCH)
    assert out["spec"]["ports"] == [{"port": 80, "targetPort": 9090, "protocol": "TCP"}, {"port": 443, "protocol": "TCP"}]


def test_strategic_delete_from_primitive_list_and_status_conditions():
    node = {"spec": {"podCIDRs": ["10.244.0.0/24", "10.244.9.0/24"]},
            "status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "MemoryPressure", "status": "False"}]}}
    body = {"spec": {"$deleteFromPrimitiveList/podCIDRs": ["10.244.9.0/24"]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    out = patch("nodes", node, body, STRATEGIC_MERGE_PATCH)
    assert out["spec"]["podCIDRs"] == ["10.244.0.0/24"]
    assert out["status"]["conditions"][0] == {"type": "Ready", "status": "True"}
    assert len(out["status"]["conditions"]) == 2


def test_strategic_missing_merge_key_is_an_error():
    with pytest.raises(PatchError) as e:
        patch("pods", {"spec": {"containers": []}}, {"spec": {"containers": [{"image": "x"}]}}, STRATEGIC_MERGE_PATCH)
    assert e.value.code == 422


def test_kubectl_rollout_undo_json_patch():
    template = {"metadata": {"labels": {"app": "counter"}}, "spec": {"containers": [{"name": "counter", "image": "v1"}]}}
    body = [{"op": "replace", "path": "/spec/template", "value": template},
            {"op": "replace", "path": "/metadata/annotations", "value": {"deployment.kubernetes.io/revision": "3"}}]
    out = patch("deployments", DEPLOY, body, JSON_PATCH)
    assert out["spec"]["template"] == template
    assert out["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "3"}


def test_kubectl_label_removal_and_scale_merge_patches():
    out = patch("deployments", DEPLOY, {"metadata": {"labels": {"a": None}}}, MERGE_PATCH)
    assert out["metadata"]["labels"] == {"b": "2"}
    out = patch("deployments", DEPLOY, {"spec": {"replicas": 3}}, MERGE_PATCH)
    assert out["spec"]["replicas"] == 3 and out["spec"]["template"] == DEPLOY["spec"]["template"]
    # lists are replaced wholesale by a merge patch
    out = patch("deployments", DEPLOY, {"spec": {"template": {"spec": {"containers": [{"name": "x"}]}}}},
                "application/merge-patch+json; charset=utf-8")
    assert containers(out) == [{"name": "x"}]


DOC = {"a": {"b~c": 1, "d/e": 2}, "list": [1, 2, 3]}
JSON_PATCH_CASES = [
    ([{"op": "add", "path": "/list/-", "value": 4}], {"a": {"b~c": 1, "d/e": 2}, "list": [1, 2, 3, 4]}),
    ([{"op": "add", "path": "/list/0", "value": 0}], {"a": {"b~c": 1, "d/e": 2}, "list": [0, 1, 2, 3]}),
    ([{"op": "remove", "path": "/a/b~0c"}], {"a": {"d/e": 2}, "list": [1, 2, 3]}),
    ([{"op": "replace", "path": "/a/d~1e", "value": 5}], {"a": {"b~c": 1, "d/e": 5}, "list": [1, 2, 3]}),
    ([{"op": "move", "from": "/a/d~1e", "path": "/x"}], {"a": {"b~c": 1}, "list": [1, 2, 3], "x": 2}),
    ([{"op": "copy", "from": "/list/1", "path": "/y"}], {"a": {"b~c": 1, "d/e": 2}, "list": [1, 2, 3], "y": 2}),
    ([{"op": "test", "path": "/list/2", "value": 3}, {"op": "remove", "path": "/list/2"}],
     {"a": {"b~c": 1, "d/e": 2}, "list": [1, 2]}),
]


@pytest.mark.parametrize("ops,want", JSON_PATCH_CASES, ids=[c[0][-1]["op"] for c in JSON_PATCH_CASES])
def test_json_patch_ops(ops, want):
    assert patch("configmaps", DOC, ops, JSON_PATCH) == want


@pytest.mark.parametrize("ops", [
    [{"op": "test", "path": "/list/0", "value": 9}],
    [{"op": "remove", "path": "/nope"}],
    [{"op": "replace", "path": "/nope", "value": 1}],
    [{"op": "add", "path": "/list/9", "value": 1}],
    [{"op": "add", "path": "/missing/deep", "value": 1}],
    [{"op": "jump", "path": "/a"}],
    [{"op": "add", "path": "/x", "value": 1}, {"op": "test", "path": "/x", "value": 2}],  # atomic: nothing applied
])
def test_json_patch_failures(ops):
    with pytest.raises(PatchError):
        patch("configmaps", DOC, ops, JSON_PATCH)


def test_merge_patch_rfc7386_examples():
    target = {"title": "Goodbye!", "author": {"givenName": "John", "familyName": "Doe"}, "tags": ["example", "sample"],
              "content": "This will be unchanged"}
    body = {"title": "Hello!", "phoneNumber": "+01-123-456-7890", "author": {"familyName": None}, "tags": ["example"]}
    assert patch("configmaps", target, body, MERGE_PATCH) == {
        "title": "Hello!", "author": {"givenName": "John"}, "tags": ["example"], "content": "This will be unchanged",
        "phoneNumber": "+01-123-456-7890"}


def test_server_side_apply_yaml():
    body = b"""
apiVersion: apps/v1
kind: Deployment
metadata:
  name: counter
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: counter
          image: ghcr.io/subicura/counter:v3
"""
    out = patch("deployments", DEPLOY, body, APPLY_PATCH)
    assert out["spec"]["replicas"] == 2
    assert containers(out)[0]["image"] == "ghcr.io/subicura/counter:v3"
    assert containers(out)[0]["env"] == containers(DEPLOY)[0]["env"]
    created = patch("deployments", {}, body, APPLY_PATCH)
    assert created["metadata"] == {"name": "counter"}


@pytest.mark.parametrize("body,ctype,code", [
    (b"{not json", MERGE_PATCH, 400),
    (b"[1]", MERGE_PATCH, 400),
    (b'{"op": "add"}', JSON_PATCH, 400),
    (b"{}", "application/xml", 415),
    (b"- a\n- b", APPLY_PATCH, 400),
])
def test_patch_decode_errors(body, ctype, code):
    with pytest.raises(PatchError) as e:
        apply_patch(RESOURCES["pods"], {}, body, ctype)
    assert e.value.code == code
