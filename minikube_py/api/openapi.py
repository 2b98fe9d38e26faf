"""A minimal OpenAPI v3 for kubectl.

kubectl's default `apply` downloads OpenAPI before anything else and fails without it (KUBECTL.md). It
needs, per kind, a PATCH operation tagged with `x-kubernetes-group-version-kind` that accepts the
`fieldValidation` query parameter; seeing that, kubectl leaves validation to the server (we reject unknown
fields with 422 under `fieldValidation=Strict`). Schemas are not served: writing them by hand would be a
second, drifting copy of validation.py.
"""
from __future__ import annotations

import hashlib
import json

from .resources import groups


def _gv_path(group_version: str) -> str:
    return f"api/{group_version}" if "/" not in group_version else f"apis/{group_version}"


def group_version_document(group_version: str) -> dict | None:
    resources = groups().get(group_version)
    if resources is None:
        return None
    paths: dict[str, dict] = {}
    for r in resources:
        gvk = [{"group": r.group, "version": r.version, "kind": r.kind}]
        params = [{"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
                  {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
                  {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": True}}]
        op = {"parameters": params, "x-kubernetes-group-version-kind": gvk[0],
              "responses": {"200": {"description": "OK"}}}
        ns = "namespaces/{namespace}/" if r.namespaced else ""
        paths[f"{r.prefix}/{ns}{r.plural}/{{name}}"] = {
            "get": {**op, "x-kubernetes-action": "get"}, "put": {**op, "x-kubernetes-action": "put"},
            "patch": {**op, "x-kubernetes-action": "patch"}, "delete": {**op, "x-kubernetes-action": "delete"}}
        paths[f"{r.prefix}/{ns}{r.plural}"] = {"post": {**op, "x-kubernetes-action": "post"},
                                               "get": {**op, "x-kubernetes-action": "list"}}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.33.0-minikube-py"},
            "paths": paths, "components": {"schemas": {}}}


def _hash(group_version: str) -> str:
    doc = json.dumps(group_version_document(group_version), sort_keys=True).encode()
    return hashlib.sha512(doc).hexdigest()[:128].upper()


def root_document() -> dict:
    return {"paths": {_gv_path(gv): {"serverRelativeURL": f"/openapi/v3/{_gv_path(gv)}?hash={_hash(gv)}"}
                      for gv in groups()}}


def document_for_path(path: str) -> dict | None:
    """`api/v1` or `apis/apps/v1` (the part after /openapi/v3/) → its document."""
    path = path.strip("/")
    if path.startswith("api/"):
        gv = path[len("api/"):]
    elif path.startswith("apis/"):
        gv = path[len("apis/"):]
    else:
        return None
    return group_version_document(gv)

