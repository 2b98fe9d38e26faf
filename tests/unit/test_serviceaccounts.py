"""The ServiceAccount kind on the API side (registry, kubectl's table from printers.go printServiceAccount,
Kubernetes' ValidateServiceAccount, the decoder's type errors, strict fields, strategic merge) and the
service account controller's pure decision."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from minikube_py.api import discovery
from minikube_py.api.patch import strategic_merge_patch
from minikube_py.api.resources import RESOURCES, lookup
from minikube_py.api.tables import render_text, to_table
from minikube_py.api.typecheck import decode_error
from minikube_py.api.validation import unknown_fields, validate
from minikube_py.controllers.serviceaccount import missing_accounts, service_account

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
SA = RESOURCES["serviceaccounts"]


def sa(name, age=90, **fields):
    return {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": "default",
                         "creationTimestamp": (NOW - timedelta(seconds=age)).strftime("%Y-%m-%dT%H:%M:%SZ")},
            **fields}


def test_registered_like_kubernetes():
    for name in ("sa", "serviceaccount", "serviceaccounts", "ServiceAccount"):
        assert lookup(name) is SA
    assert SA.api_version == "v1" and SA.namespaced and SA.subresources == ()
    entry = next(r for r in discovery.api_resource_list("v1")["resources"] if r["name"] == "serviceaccounts")
    assert entry["kind"] == "ServiceAccount" and entry["shortNames"] == ["sa"] and entry["namespaced"]
    assert entry["singularName"] == "serviceaccount"


def test_table_columns_and_cells():
    objs = [sa("default", age=3600 * 5),
            sa("builder", age=30, secrets=[{"name": "a"}, {"name": "b"}], imagePullSecrets=[{"name": "reg"}])]
    table = to_table(SA, objs, now=NOW)
    assert [(c["name"], c["type"]) for c in table["columnDefinitions"]] == [
        ("Name", "string"), ("Secrets", "string"), ("Age", "string")]
    assert [r["cells"] for r in table["rows"]] == [["default", 0, "5h"], ["builder", 2, "30s"]]
    assert render_text(table) == ("NAME      SECRETS   AGE\n"
                                  "default   0         5h\n"
                                  "builder   2         30s\n")


def messages(obj, old=None):
    return [f"{c['field']}: {c['message']}" for c in validate(SA, obj, old)]


def test_validation_is_the_object_meta_of_a_dns_subdomain():
    assert messages(sa("build.bot-1", secrets=[{"name": "no-such-secret"}], imagePullSecrets=[{}])) == []
    (msg,) = messages(sa("Builder"))
    assert msg.startswith('metadata.name: Invalid value: "Builder": a lowercase RFC 1123 subdomain')
    assert messages({"metadata": {"namespace": "default"}}) == [
        "metadata.name: Required value: name or generateName is required"]


@pytest.mark.parametrize("fields,want", [
    ({"secrets": "db"}, "json: cannot unmarshal string into Go struct field ServiceAccount.secrets of type "
                        "[]v1.ObjectReference"),
    ({"secrets": ["db"]}, "json: cannot unmarshal string into Go struct field ServiceAccount.secrets of type "
                          "v1.ObjectReference"),
    ({"secrets": [{"name": 5}]}, "json: cannot unmarshal number into Go struct field ObjectReference.secrets.name "
                                 "of type string"),
    ({"imagePullSecrets": {"name": "reg"}}, "json: cannot unmarshal object into Go struct field "
                                            "ServiceAccount.imagePullSecrets of type []v1.LocalObjectReference"),
    ({"imagePullSecrets": [{"name": True}]}, "json: cannot unmarshal bool into Go struct field "
                                             "LocalObjectReference.imagePullSecrets.name of type string"),
    ({"automountServiceAccountToken": "false"}, "json: cannot unmarshal string into Go struct field "
                                                "ServiceAccount.automountServiceAccountToken of type bool"),
    ({"secrets": None, "imagePullSecrets": [None, {"name": "reg"}], "automountServiceAccountToken": False}, None),
])
def test_decoder_type_errors(fields, want):
    assert decode_error(SA, sa("x", **fields)) == want


def test_strict_fields_of_the_entries():
    obj = sa("x", secrets=[{"name": "a", "key": "k"}], imagePullSecrets=[{"name": "r", "namespace": "n"}],
             automountServiceAccountToken=False, spec={})
    assert unknown_fields(SA, obj) == ["secrets[0].key", "imagePullSecrets[0].namespace", "spec"]


def test_strategic_merge_keys_secrets_by_name():
    obj = sa("x", secrets=[{"name": "a"}], imagePullSecrets=[{"name": "r1"}])
    merged = strategic_merge_patch(obj, {"secrets": [{"name": "b"}], "imagePullSecrets": [{"name": "r2"}]},
                                   "ServiceAccount")
    assert merged["secrets"] == [{"name": "a"}, {"name": "b"}]
    assert merged["imagePullSecrets"] == [{"name": "r2"}]  # no patch strategy upstream: replaced


def ns(name, phase="Active", deleting=False):
    meta = {"name": name, **({"deletionTimestamp": "2026-01-01T00:00:00Z"} if deleting else {})}
    return {"metadata": meta, "status": {"phase": phase} if phase else {}}


def test_controller_creates_default_only_in_active_namespaces():
    assert missing_accounts(ns("team-a"), set()) == ["default"]
    assert missing_accounts(ns("team-a", phase=None), set()) == ["default"]
    assert missing_accounts(ns("team-a"), {"default"}) == []
    assert missing_accounts(ns("team-a", phase="Terminating", deleting=True), set()) == []
    assert missing_accounts(None, set()) == []
    assert service_account("default", "team-a") == {
        "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": "team-a"}}
