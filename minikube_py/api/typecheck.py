"""The JSON decoder's type errors, from the upstream OpenAPI schemas we serve (openapi_schemas.json.gz).

Why: the API server decodes every body into Go structs before defaulting or validation, so
`replicas: "3"`, `labels: {version: 1}` or a ConfigMap's `data: {port: 8080}` never reach storage: the
request fails with Go's `json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas
of type int32`. Stored, such a value would break every reader that trusts the schema (controllers, the
Table printers).

Go's wording: `json: cannot unmarshal <JSON class> into Go struct field <innermost struct>.<JSON path
from the root without list indices> of type <Go type>`; an integer that doesn't fit (or a fraction) names
the literal: `number 1.5`. The first error in document order wins (Go keeps the first one it saw).

The schemas carry JSON types only, so what they can't tell is supplied here: which integers are int64
(the rest are int32) and which strings are named Go string types (`v1.PullPolicy`, …). Fields whose
decoding is custom in Go are skipped (times, Quantity: their own parse errors) or only checked for the
JSON classes they accept (IntOrString).
`status` is not checked: only our own components write it.
"""
from __future__ import annotations

import functools
import gzip
import json
from typing import Any

from .openapi import SCHEMAS_FILE
from .resources import Resource

_REF = "#/components/schemas/"

# Go int64 fields (by JSON name) of the kinds we check; every other integer is an int32. The schemas we
# serve carry no `format`, so this list is what tells a 3000000000 that fits from one that doesn't.
_INT64 = {"activeDeadlineSeconds", "terminationGracePeriodSeconds", "deletionGracePeriodSeconds", "generation",
          "observedGeneration", "runAsUser", "runAsGroup", "fsGroup", "supplementalGroups", "expirationSeconds",
          "tolerationSeconds", "seconds"}  # Toleration.TolerationSeconds, SleepAction.Seconds
# Named Go string types, by (struct, JSON field).
_NAMED_STRINGS = {
    ("Container", "imagePullPolicy"): "v1.PullPolicy",
    ("Container", "terminationMessagePolicy"): "v1.TerminationMessagePolicy",
    ("ContainerPort", "protocol"): "v1.Protocol",
    ("ServicePort", "protocol"): "v1.Protocol",
    ("PodSpec", "restartPolicy"): "v1.RestartPolicy",
    ("PodSpec", "dnsPolicy"): "v1.DNSPolicy",
    ("PodSpec", "preemptionPolicy"): "v1.PreemptionPolicy",
    ("HTTPGetAction", "scheme"): "v1.URIScheme",
    ("Toleration", "operator"): "v1.TolerationOperator",
    ("Toleration", "effect"): "v1.TaintEffect",
    ("DeploymentStrategy", "type"): "v1.DeploymentStrategyType",
    ("LabelSelectorRequirement", "operator"): "v1.LabelSelectorOperator",
    ("ServiceSpec", "type"): "v1.ServiceType",
    ("Secret", "type"): "v1.SecretType",
}
# Kinds checked: the user-written workload and config kinds (others are written by our own components).
_CHECKED = {"pods", "replicasets", "deployments", "services", "configmaps", "serviceaccounts"}
_GROUP_PACKAGES = {"": "core", "apps": "apps"}


@functools.cache
def _schemas() -> dict[str, dict]:
    return json.loads(gzip.decompress(SCHEMAS_FILE.read_bytes()))["schemas"]


def _deref(schema: dict) -> tuple[str | None, dict]:
    """(schema name, schema) behind a `$ref` or an `allOf: [{$ref}]`; (None, schema) otherwise."""
    ref = schema.get("$ref")
    if ref is None and len(schema.get("allOf") or []) == 1:
        ref = schema["allOf"][0].get("$ref")
    if isinstance(ref, str) and ref.startswith(_REF):
        name = ref[len(_REF):]
        return name, _schemas().get(name, {})
    return None, schema


def _go_name(schema_name: str) -> str:
    """`io.k8s.api.core.v1.PodSpec` → `v1.PodSpec` (Go's package-qualified type name)."""
    parts = schema_name.split(".")
    return f"{parts[-2]}.{parts[-1]}"


def _go_type(schema: dict, struct: str, field: str) -> str:
    name, target = _deref(schema)
    if name is not None and name.endswith("IntOrString"):
        return "int32"  # its UnmarshalJSON decodes a non-string into the int32 half
    if name is not None:
        return _go_name(name)
    kind = target.get("type")
    if kind == "integer":
        return "int64" if field in _INT64 else "int32"
    if kind == "number":
        return "float64"
    if kind == "boolean":
        return "bool"
    if kind == "string":
        return _NAMED_STRINGS.get((struct, field), "string")
    if kind == "array":
        return "[]" + _go_type(target.get("items") or {}, struct, field)
    if kind == "object" and "additionalProperties" in target:
        return "map[string]" + _go_type(target["additionalProperties"] or {}, struct, field)
    return "interface {}"


def json_class(value: Any) -> str:
    """The JSON value class Go's decoder names in `cannot unmarshal <class> into …`."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _mismatch(value: Any, schema: dict, go_type: str) -> str | None:
    """The JSON class Go names when *value* can't decode into *schema*; None when it can (or is null)."""
    if value is None:
        return None
    name, target = _deref(schema)
    if name is not None and name.endswith("IntOrString"):
        return None if isinstance(value, (int, str)) and not isinstance(value, bool) else json_class(value)
    if name is not None and (name.endswith(".Time") or name.endswith("MicroTime") or name.endswith("Quantity") or name.endswith("FieldsV1")
                             or name.endswith("RawExtension")):
        return None
    kind = target.get("type") if name is None else "object"
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return json_class(value)
        bits = 63 if go_type == "int64" else 31
        if isinstance(value, float) and not value.is_integer() or not -(2 ** bits) <= value < 2 ** bits:
            return f"number {value}"
        return None
    if kind == "number":
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) else json_class(value)
    if kind == "boolean":
        return None if isinstance(value, bool) else json_class(value)
    if kind == "string":
        if target.get("format") in ("date-time", "byte"):
            return None
        return None if isinstance(value, str) else json_class(value)
    if kind == "array":
        return None if isinstance(value, list) else json_class(value)
    if kind == "object":
        return None if isinstance(value, dict) else json_class(value)
    return None


def _walk(value: Any, schema: dict, struct: str, path: str, field: str) -> str | None:
    go_type = _go_type(schema, struct, field)
    bad = _mismatch(value, schema, go_type)
    if bad is not None:
        return f"json: cannot unmarshal {bad} into Go struct field {struct}.{path} of type {go_type}"
    if value is None:
        return None
    name, target = _deref(schema)
    if name is not None and isinstance(value, dict):
        return _walk_struct(value, name, target, path)
    if target.get("type") == "array" and isinstance(value, list):
        for item in value:
            if (err := _walk(item, target.get("items") or {}, struct, path, field)) is not None:
                return err
    elif target.get("type") == "object" and isinstance(value, dict) and "additionalProperties" in target:
        for item in value.values():
            if (err := _walk(item, target["additionalProperties"] or {}, struct, path, field)) is not None:
                return err
    return None


def _walk_struct(obj: dict, name: str, schema: dict, prefix: str) -> str | None:
    struct = name.rsplit(".", 1)[-1]
    props = schema.get("properties") or {}
    if any(name.endswith(s) for s in ("IntOrString", "Quantity", ".Time", "MicroTime", "FieldsV1")):
        return None
    for key, value in obj.items():
        if key not in props or (not prefix and key == "status"):
            continue  # unknown fields are strict validation's business; status is ours
        path = f"{prefix}.{key}" if prefix else key
        if (err := _walk(value, props[key], struct, path, key)) is not None:
            return err
    return None


def decode_error(resource: Resource, obj: dict) -> str | None:
    """Go's decoder error for *obj* of *resource* (see the module docstring), or None if it decodes."""
    if resource.plural not in _CHECKED:
        return None
    package = _GROUP_PACKAGES.get(resource.group)
    if package is None:
        return None
    name = f"io.k8s.api.{package}.{resource.version}.{resource.kind}"
    schema = _schemas().get(name)
    if schema is None:
        return None
    return _walk_struct(obj, name, schema, "")
