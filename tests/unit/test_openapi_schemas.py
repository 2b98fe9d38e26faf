"""The OpenAPI v3 schemas (scripts/gen_openapi_schemas.py): upstream names, GVKs, and the strategic-merge
tags taken from patch.MERGE_KEYS, in both the generator's output and the committed data we serve."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from minikube_py.api import openapi

ROOT = Path(__file__).resolve().parents[2]
CORE = "io.k8s.api.core.v1."


def _generator():
    spec = importlib.util.spec_from_file_location("gen_openapi_schemas", ROOT / "scripts" / "gen_openapi_schemas.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _check_pod_types(schemas: dict) -> None:
    pod = schemas[CORE + "Pod"]
    assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Pod", "version": "v1"}]
    assert pod["properties"]["metadata"]["$ref"] == \
        "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    containers = schemas[CORE + "PodSpec"]["properties"]["containers"]
    assert containers["items"]["$ref"] == f"#/components/schemas/{CORE}Container"
    assert (containers["x-kubernetes-patch-strategy"], containers["x-kubernetes-patch-merge-key"]) == ("merge", "name")
    volumes = schemas[CORE + "PodSpec"]["properties"]["volumes"]
    assert volumes["x-kubernetes-patch-strategy"] == "merge,retainKeys"
    c = schemas[CORE + "Container"]
    assert c["required"] == ["name"]
    assert c["properties"]["ports"]["x-kubernetes-patch-merge-key"] == "containerPort"
    assert c["properties"]["ports"]["x-kubernetes-list-map-keys"] == ["containerPort", "protocol"]
    assert c["properties"]["env"]["x-kubernetes-patch-merge-key"] == "name"
    assert c["properties"]["env"]["x-kubernetes-patch-strategy"] == "merge"
    assert "x-kubernetes-patch-strategy" not in c["properties"]["args"]
    assert c["properties"]["image"]["description"].startswith("Container image name.")
    # the client's flattened types, as upstream has them (kubectl explain prints <IntOrString>)
    assert schemas[CORE + "HTTPGetAction"]["properties"]["port"]["allOf"] == \
        [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString"}]
    assert "httpGet" in schemas[CORE + "Probe"]["properties"]  # inline ProbeHandler


def test_generator_output_for_pod():
    gen = _generator().Generator()
    gen.add_kind("", "v1", "Pod")
    _check_pod_types(gen.schemas)


def test_served_document_matches():
    doc = openapi.group_version_document("v1")
    _check_pod_types(doc["components"]["schemas"])
    apps = openapi.group_version_document("apps/v1")["components"]["schemas"]
    strategy = apps["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"]
    assert strategy["x-kubernetes-patch-strategy"] == "retainKeys"
    assert CORE + "Container" in apps and CORE + "Service" not in apps  # only what apps/v1 reaches
    assert openapi.root_document()["paths"]["apis/apps/v1"]["serverRelativeURL"].startswith(
        "/openapi/v3/apis/apps/v1?hash=")
