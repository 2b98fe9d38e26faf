"""PATCH bodies: JSON merge patch, JSON patch, Kubernetes strategic merge patch, and (simplified) apply.

Why strategic merge matters: `kubectl apply`, `kubectl set image` and `kubectl edit` send it, and it
differs from a merge patch exactly where Kubernetes objects are lists of named things. A merge patch
replaces `spec.containers` wholesale; a strategic merge patch merges the element whose `name` matches
and leaves the others alone. Which lists merge, and on which key, is per field (Kubernetes' Go struct
tags `patchStrategy:"merge" patchMergeKey:"…"`); `MERGE_KEYS` below is that table for our kinds.

Directives understood (all of kubectl's): `$patch: replace|delete|merge` in maps and list elements,
`$retainKeys`, `$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>`, and `null` deleting a key.

`application/apply-patch+yaml` (server-side apply) is handled by fieldmanager.py (ownership, removals,
conflicts) on top of the strategic merge here; `apply_patch` itself, for callers without managed fields,
merges the applied configuration like a strategic merge patch.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

import yaml

from minikube_py.api.resources import Resource

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)


class PatchError(Exception):
    """A patch that can't be decoded (code 400), applied (422), or whose type we don't take (415)."""

    def __init__(self, message: str, code: int = 422):
        super().__init__(message)
        self.message = message
        self.code = code


def apply_patch(resource: Resource, obj: dict, patch_body: bytes, content_type: str) -> dict:
    """The patched copy of *obj*; *obj* itself is left untouched."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media == JSON_PATCH:
        ops = _decode_json(patch_body)
        if not isinstance(ops, list):
            raise PatchError("json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp", 400)
        return json_patch(obj, ops)
    if media == MERGE_PATCH:
        patch = _decode_json(patch_body)
        if not isinstance(patch, dict):
            raise PatchError("merge patch must be a JSON object", 400)
        return merge_patch(obj, patch)
    if media == STRATEGIC_MERGE_PATCH:
        patch = _decode_json(patch_body)
        if not isinstance(patch, dict):
            raise PatchError("strategic merge patch must be a JSON object", 400)
        return strategic_merge_patch(obj, patch, resource.kind)
    if media == APPLY_PATCH:
        return strategic_merge_patch(obj, decode_apply(patch_body), resource.kind)
    raise PatchError(f"the body of the request was in an unknown format - accepted media types include: "
                     f"{', '.join(PATCH_TYPES)}", 415)


def decode_apply(body: bytes | str) -> dict:
    """An `application/apply-patch+yaml` body (YAML or JSON) as an object; 400 when it isn't one."""
    try:
        applied = yaml.safe_load(body.decode("utf-8") if isinstance(body, bytes) else body)
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise PatchError(f"error decoding YAML: {e}", 400) from None
    if not isinstance(applied, dict):
        raise PatchError("apply patch must be a YAML object", 400)
    return applied


def _decode_json(body: bytes | str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise PatchError(f"couldn't get patch: {e}", 400) from None


# --- RFC 7386 merge patch --------------------------------------------------------------------------

def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, `null` deletes, everything else (lists too) replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


# --- RFC 6902 JSON patch ---------------------------------------------------------------------------

def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise PatchError(f"invalid JSON pointer: {path!r}")
    if path == "":
        return []
    return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]


def _index(container: list, token: str, path: str, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token[0] == "0"):
        raise PatchError(f"invalid array index {token!r} in path {path!r}")
    i = int(token)
    limit = len(container) if allow_end else len(container) - 1
    if i > limit:
        raise PatchError(f"array index {i} out of bounds in path {path!r}")
    return i


def _parent(doc: Any, tokens: list[str], path: str) -> Any:
    cur = doc
    for t in tokens[:-1]:
        if isinstance(cur, dict):
            if t not in cur:
                raise PatchError(f"doc is missing path: {path!r}: missing value")
            cur = cur[t]
        elif isinstance(cur, list):
            cur = cur[_index(cur, t, path, False)]
        else:
            raise PatchError(f"doc is missing path: {path!r}: missing value")
    return cur


def _get(doc: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return doc
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"doc is missing path: {path!r}: missing value")
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, path, False)]
    raise PatchError(f"doc is missing path: {path!r}: missing value")


def _add(doc: Any, path: str, value: Any) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, path, True), value)
    else:
        raise PatchError(f"doc is missing path: {path!r}: missing value")
    return doc


def _remove(doc: Any, path: str) -> tuple[Any, Any]:
    tokens = _pointer(path)
    if not tokens:
        raise PatchError("unable to remove the whole document")
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"unable to remove nonexistent key: {last}: missing value")
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, last, path, False))
    raise PatchError(f"doc is missing path: {path!r}: missing value")


def json_patch(obj: dict, ops: list) -> dict:
    """RFC 6902 (add, remove, replace, move, copy, test), applied atomically to a copy."""
    doc: Any = copy.deepcopy(obj)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op:
            raise PatchError("json patch operation must be an object with an \"op\"", 400)
        kind, path = op["op"], op.get("path")
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f"{kind} operation must have a \"value\"")
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            doc, _ = _remove(doc, path)
        elif kind == "replace":
            if _pointer(path):
                _get(doc, path)  # must exist
                doc, _ = _remove(doc, path)
                doc = _add(doc, path, copy.deepcopy(op["value"]))
            else:
                doc = copy.deepcopy(op["value"])
        elif kind == "move":
            src = op.get("from")
            if isinstance(src, str) and isinstance(path, str) and path.startswith(src + "/"):
                raise PatchError(f"move operation: {path!r} is a child of {src!r}")
            doc, value = _remove(doc, src)
            doc = _add(doc, path, value)
        elif kind == "copy":
            doc = _add(doc, path, copy.deepcopy(_get(doc, op.get("from"))))
        elif kind == "test":
            if _get(doc, path) != op["value"]:
                raise PatchError(f"testing value {path} failed: test failed")
        else:
            raise PatchError(f"Unexpected kind: {kind}")
    if not isinstance(doc, dict):
        raise PatchError("the patched document is not an object")
    return doc


# --- strategic merge patch -------------------------------------------------------------------------

@dataclass(frozen=True)
class Keyed:
    """A list of objects merged by *key*, whose elements are of object type *elem* (or untyped)."""

    key: str
    elem: str | None = None


@dataclass(frozen=True)
class Primitives:
    """A list of scalars merged as a set (e.g. `metadata.finalizers`)."""


# Per object type: the fields whose merge behaviour isn't "maps merge, lists replace", and the types of
# nested objects that contain such fields. From the `patchStrategy`/`patchMergeKey` tags of k8s.io/api.
MERGE_KEYS: dict[str, dict[str, Any]] = {
    "ObjectMeta": {"finalizers": Primitives(), "ownerReferences": Keyed("uid")},
    "PodTemplateSpec": {"metadata": "ObjectMeta", "spec": "PodSpec"},
    "PodSpec": {
        "containers": Keyed("name", "Container"),
        "initContainers": Keyed("name", "Container"),
        "ephemeralContainers": Keyed("name", "Container"),
        "volumes": Keyed("name"),
        "imagePullSecrets": Keyed("name"),
        "hostAliases": Keyed("ip"),
        "topologySpreadConstraints": Keyed("topologyKey"),
        "schedulingGates": Keyed("name"),
        "resourceClaims": Keyed("name"),
    },
    "Container": {
        "ports": Keyed("containerPort"),
        "env": Keyed("name"),
        "volumeMounts": Keyed("mountPath"),
        "volumeDevices": Keyed("devicePath"),
    },
    "PodStatus": {"conditions": Keyed("type"), "podIPs": Keyed("ip"), "hostIPs": Keyed("ip")},
    "ServiceSpec": {"ports": Keyed("port")},
    "WorkloadStatus": {"conditions": Keyed("type")},
    "NodeSpec": {"podCIDRs": Primitives()},
    "NodeStatus": {"conditions": Keyed("type"), "addresses": Keyed("type")},
    "NamespaceStatus": {"conditions": Keyed("type")},
    # Roots, by kind.
    "Pod": {"metadata": "ObjectMeta", "spec": "PodSpec", "status": "PodStatus"},
    "Service": {"metadata": "ObjectMeta", "spec": "ServiceSpec"},
    "Deployment": {"metadata": "ObjectMeta", "spec": "WorkloadSpec", "status": "WorkloadStatus"},
    "ReplicaSet": {"metadata": "ObjectMeta", "spec": "WorkloadSpec", "status": "WorkloadStatus"},
    "WorkloadSpec": {"template": "PodTemplateSpec"},
    "Node": {"metadata": "ObjectMeta", "spec": "NodeSpec", "status": "NodeStatus"},
    "Namespace": {"metadata": "ObjectMeta", "status": "NamespaceStatus"},
    "ServiceAccount": {"metadata": "ObjectMeta", "secrets": Keyed("name")},
}
_ROOT_DEFAULT = {"metadata": "ObjectMeta"}  # every other kind: only metadata has special lists

# Fields tagged `patchStrategy:"retainKeys"` upstream (same type names as MERGE_KEYS). The server needs no
# table for them: kubectl puts a `$retainKeys` directive in its patch (handled in `_merge_map`), e.g. so
# that switching `strategy.type` to Recreate drops the defaulted `rollingUpdate`. The OpenAPI schemas we
# serve carry them, as upstream's do (scripts/gen_openapi_schemas.py reads this table).
RETAIN_KEYS: dict[str, tuple[str, ...]] = {
    "PodSpec": ("volumes", "resourceClaims"),
    "PodStatus": ("resourceClaimStatuses",),
    "WorkloadSpec": ("strategy",),
}

_DELETE = object()  # a map element or value removed by `$patch: delete`


def strategic_merge_patch(obj: dict, patch: dict, kind: str) -> dict:
    """Kubernetes strategic merge of *patch* into a copy of *obj* (a *kind* object)."""
    result = _merge_map(copy.deepcopy(obj) if isinstance(obj, dict) else {}, patch, kind if kind in MERGE_KEYS else
                        "__root__")
    if result is _DELETE:
        return {}
    return result


def _fields(type_name: str | None) -> dict[str, Any]:
    if type_name == "__root__":
        return _ROOT_DEFAULT
    return MERGE_KEYS.get(type_name or "", {})


def _strip(value: Any) -> Any:
    """A patch value stored as is: drop directives (`$patch`, `$retainKeys`, `$setElementOrder/...`)."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if not k.startswith("$") and v is not None}
    if isinstance(value, list):
        return [_strip(v) for v in value if not (isinstance(v, dict) and v.get("$patch") == "delete")]
    return value


def _merge_map(original: dict, patch: dict, type_name: str | None) -> Any:
    directive = patch.get("$patch")
    if directive == "delete":
        return _DELETE
    if directive == "replace":
        return _strip(patch)
    if directive not in (None, "merge"):
        raise PatchError(f"Unknown patch type: {directive}")
    fields = _fields(type_name)
    result = dict(original)

    retain = patch.get("$retainKeys")
    if retain is not None:
        if not isinstance(retain, list):
            raise PatchError("$retainKeys must be a list")
        result = {k: v for k, v in result.items() if k in retain}

    orders: dict[str, list] = {}
    for k, v in patch.items():
        if k.startswith("$setElementOrder/"):
            orders[k.split("/", 1)[1]] = v if isinstance(v, list) else []
        elif k.startswith("$deleteFromPrimitiveList/"):
            name = k.split("/", 1)[1]
            if isinstance(result.get(name), list) and isinstance(v, list):
                result[name] = [x for x in result[name] if x not in v]

    for k, v in patch.items():
        if k.startswith("$"):
            continue
        spec = fields.get(k)
        if v is None:
            result.pop(k, None)
        elif isinstance(v, dict):
            base = result.get(k)
            merged = _merge_map(base if isinstance(base, dict) else {}, v,
                                spec if isinstance(spec, str) else None)
            if merged is _DELETE:
                result.pop(k, None)
            else:
                result[k] = merged
        elif isinstance(v, list):
            base = result.get(k)
            base = base if isinstance(base, list) else []
            if isinstance(spec, Keyed):
                result[k] = _merge_keyed_list(base, v, spec, k)
            elif isinstance(spec, Primitives):
                result[k] = _merge_primitive_list(base, v)
            else:
                result[k] = _strip(v)
        else:
            result[k] = v

    for name, order in orders.items():
        if isinstance(result.get(name), list):
            spec = fields.get(name)
            result[name] = _apply_order(result[name], order, spec.key if isinstance(spec, Keyed) else None)
    return result


def _merge_keyed_list(original: list, patch: list, spec: Keyed, field: str) -> list:
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return [_strip(p) for p in patch if not (isinstance(p, dict) and p.get("$patch") == "replace")]
    result = list(original)
    for item in patch:
        if not isinstance(item, dict):
            raise PatchError(f"the list {field!r} expects objects merged by {spec.key!r}, got {item!r}")
        if spec.key not in item:
            raise PatchError(f"map: {item} does not contain declared merge key: {spec.key}")
        key = item[spec.key]
        at = next((i for i, o in enumerate(result) if isinstance(o, dict) and o.get(spec.key) == key), None)
        if item.get("$patch") == "delete":
            result = [o for o in result if not (isinstance(o, dict) and o.get(spec.key) == key)]
            continue
        if at is None:
            result.append(_strip(item))
        else:
            merged = _merge_map(result[at], item, spec.elem)
            if merged is _DELETE:
                result.pop(at)
            else:
                result[at] = merged
    return result


def _merge_primitive_list(original: list, patch: list) -> list:
    result = list(original)
    for v in patch:
        if v not in result:
            result.append(v)
    return result


def _apply_order(items: list, order: list, key: str | None) -> list:
    """`$setElementOrder`: listed elements first, in the given order; any others keep their order after."""
    def ident(x: Any) -> Any:
        return x.get(key) if key is not None and isinstance(x, dict) else x

    wanted = [ident(o) for o in order]
    by_id = {}
    for x in items:
        by_id.setdefault(json.dumps(ident(x), sort_keys=True), x)
    ordered = [by_id[json.dumps(w, sort_keys=True)] for w in wanted if json.dumps(w, sort_keys=True) in by_id]
    listed = {json.dumps(w, sort_keys=True) for w in wanted}
    rest = [x for x in items if json.dumps(ident(x), sort_keys=True) not in listed]
    return ordered + rest
