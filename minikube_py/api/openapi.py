"""A minimal OpenAPI v3 for kubectl.

kubectl's default `apply` downloads OpenAPI before anything else and fails without it (KUBECTL.md). It
needs, per kind, a PATCH operation tagged with `x-kubernetes-group-version-kind` that accepts the
`fieldValidation` query parameter; seeing that, kubectl leaves validation to the server (we reject unknown
fields with 422 under `fieldValidation=Strict`).

`components.schemas` carry the upstream types of our kinds, for `kubectl explain`, with upstream's
strategic-merge tags. They are generated at dev time from the
`kubernetes` client's models and patch.py's MERGE_KEYS (scripts/gen_openapi_schemas.py) into
openapi_schemas.json.gz, loaded on first use; each group-version document gets its kinds' schemas and
every schema they reach, as the real API server serves them.

The PATCH operations declare no `requestBody`: kubectl computes a client-side apply patch from the v3
schemas only when that lists `application/strategic-merge-patch+json`; without it (and with our empty v2)
it uses its built-in Go types, which carry upstream's exact merge tags. The schemas carry the same tags
(with the body declared, kubectl's patches for container/env/port/strategy changes were the same).
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import json
from pathlib import Path

from .resources import groups

SCHEMAS_FILE = Path(__file__).with_name("openapi_schemas.json.gz")
_REF = "#/components/schemas/"


@functools.cache
def _all_schemas() -> dict[str, dict]:
    return json.loads(gzip.decompress(SCHEMAS_FILE.read_bytes()))["schemas"]


def _refs(value: object, out: set[str]) -> None:
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF):
            out.add(ref[len(_REF):])
        for v in value.values():
            _refs(v, out)
    elif isinstance(value, list):
        for v in value:
            _refs(v, out)


def schemas_for(group_version: str) -> dict[str, dict]:
    """The schemas of *group_version*'s kinds and all the types they reach, by upstream name."""
    all_schemas = _all_schemas()
    kinds = {(r.group, r.version, r.kind) for r in groups().get(group_version, [])}
    todo = [name for name, s in all_schemas.items()
            if any((g.get("group", ""), g.get("version"), g.get("kind")) in kinds
                   for g in s.get("x-kubernetes-group-version-kind", []))]
    out: dict[str, dict] = {}
    while todo:
        name = todo.pop()
        if name in out or name not in all_schemas:
            continue
        out[name] = all_schemas[name]
        found: set[str] = set()
        _refs(all_schemas[name], found)
        todo.extend(sorted(found - out.keys()))
    return dict(sorted(out.items()))


def _gv_path(group_version: str) -> str:
    return f"api/{group_version}" if "/" not in group_version else f"apis/{group_version}"


def group_version_document(group_version: str) -> dict | None:
    """The document kubectl fetches from `/openapi/v3/<api|apis>/<gv>` (shared: callers must not change it)."""
    return _document(group_version)


@functools.cache
def _document(group_version: str) -> dict | None:
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
            "paths": paths, "components": {"schemas": schemas_for(group_version)}}


@functools.cache
def _hash(group_version: str) -> str:
    """The `?hash=` of the document's URL: changes with its content, so kubectl's caches never go stale."""
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

