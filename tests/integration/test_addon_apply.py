"""`addons enable` applies an addon's objects all or nothing (against a real embedded API server).

Why this matters: an addon is several objects (a namespace, config, a Deployment, a Service…). If the
API refuses the fourth one, the first three must not stay behind silently while `addons list` still
says "disabled" — the user would find a half-running controller with no command that owns it.
"""
from __future__ import annotations

import copy

import pytest

from minikube_py.addons.cli import apply_objects, load_manifest
from minikube_py.cluster.apicalls import Api, ApiCallError


@pytest.fixture
def api(cp) -> Api:
    return Api(cp.url, cp.pki.ca_cert, token=cp.pki.admin_token)


def _names(api: Api, path: str) -> set[str]:
    return {o["metadata"]["name"] for o in api.get(path)["items"]}


def test_a_refused_object_rolls_back_what_this_enable_created(api):
    objs = load_manifest("ingress")
    bad = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": "broken", "namespace": "ingress-nginx"},
           "spec": {"selector": {"app": "x"}, "ports": [{"port": 70000}]}}
    with pytest.raises(ApiCallError) as err:
        apply_objects(api, objs + [bad])
    assert err.value.status == 422 and "spec.ports[0].port" in err.value.message

    assert "nginx" not in _names(api, "/apis/networking.k8s.io/v1/ingressclasses")
    assert api.get_or_none("/apis/apps/v1/namespaces/ingress-nginx/deployments/ingress-nginx-controller") is None
    ns = api.get_or_none("/api/v1/namespaces/ingress-nginx")
    assert ns is None or ns["status"]["phase"] == "Terminating"


def test_objects_that_existed_before_survive_a_failed_reenable(api):
    objs = load_manifest("metallb")
    apply_objects(api, objs)
    before = _names(api, "/api/v1/namespaces")
    bad = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Not_A_Name", "namespace": "metallb-system"}}
    with pytest.raises(ApiCallError) as err:
        apply_objects(api, objs + [bad])
    assert err.value.status == 422
    assert _names(api, "/api/v1/namespaces") == before and "metallb-system" in before
