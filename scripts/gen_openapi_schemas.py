"""Generate minikube_py/api/openapi_schemas.json.gz: the OpenAPI v3 `components.schemas` we serve.

A dev-time tool, never run by the server or CI; rerun it when a kind is added to
minikube_py/api/resources.py or MERGE_KEYS/RETAIN_KEYS change, and commit the output:

    python scripts/gen_openapi_schemas.py

Why: `kubectl explain` renders these schemas (it finds a kind by `x-kubernetes-group-version-kind`). And
kubectl's client-side `apply`/`diff` compute their 3-way strategic merge patch from them, instead of from
kubectl's built-in Go types, as soon as a PATCH operation declares a strategic-merge request body (ours
don't yet, see openapi.py). So every list the server merges by key says so here
(`x-kubernetes-patch-strategy`/`x-kubernetes-patch-merge-key`), or kubectl would send whole lists; the
tags come from `MERGE_KEYS`/`RETAIN_KEYS` in minikube_py/api/patch.py, the tables the server merges with,
so the two cannot drift.

Sources: the structure, descriptions and required fields come from the official `kubernetes` Python
client's models (pydantic: `openapi_types`, `attribute_map`, `model_fields[...].description`). That
client drops the description of a field whose type is another object (an OpenAPI v2 `$ref` has no
siblings); for those we use the referenced type's own description. Type names are upstream's
(`io.k8s.api.core.v1.Pod`): the package of a type is looked up in kubectl's protobuf descriptors
(minikube_py/api/protobuf_schema.py), which also tell which fields are `IntOrString` and `Quantity` (the
Python client calls them `object` and `str`). Types absent from those descriptors inherit the package of
the type that refers to them. Fields those descriptors lack are newer than the kubectl v1.33 API the
server speaks and are left out.
"""
from __future__ import annotations

import gzip
import inspect
import json
import re
import sys
from pathlib import Path
from typing import Any, get_args

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kubernetes.client import models  # noqa: E402

from minikube_py.api import patch as patchmod  # noqa: E402
from minikube_py.api.protobuf_schema import MESSAGES  # noqa: E402
from minikube_py.api.resources import RESOURCES  # noqa: E402

OUTPUT = ROOT / "minikube_py" / "api" / "openapi_schemas.json.gz"

META = "io.k8s.apimachinery.pkg.apis.meta.v1"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
# Leaf types the Python client flattens; shaped as upstream's v3 document has them (no `type`, a oneOf),
# which is also what makes `kubectl explain` print `<IntOrString>` / `<Quantity>`.
SPECIAL = {
    INT_OR_STRING: {"description": "IntOrString is a type that can hold an int32 or a string. When used in "
                                   "JSON or YAML marshalling and unmarshalling, it produces or consumes the "
                                   "inner type.",
                    "format": "int-or-string", "oneOf": [{"type": "integer"}, {"type": "string"}]},
    QUANTITY: {"description": "Quantity is a fixed-point representation of a number. It provides convenient "
                              "marshaling/unmarshaling in JSON and YAML, in addition to String() and AsInt64() "
                              "accessors. Examples: 100m, 1.5, 2Gi, 500M.",
               "oneOf": [{"type": "string"}, {"type": "number"}]},
}
_PROTO_SPECIAL = {"util.intstr.IntOrString": INT_OR_STRING, "api.resource.Quantity": QUANTITY}

# `x-kubernetes-list-map-keys` where upstream keys a list on more than its patch merge key.
EXTRA_MAP_KEYS = {
    ("Container", "ports"): ["containerPort", "protocol"],
    ("ServiceSpec", "ports"): ["port", "protocol"],
    ("PodSpec", "topologySpreadConstraints"): ["topologyKey", "whenUnsatisfiable"],
}

_SCALARS = {"str": {"type": "string"}, "int": {"type": "integer"}, "bool": {"type": "boolean"},
            "float": {"type": "number", "format": "double"},
            "datetime": {"type": "string", "format": "date-time"}, "date": {"type": "string", "format": "date"},
            "bytes": {"type": "string", "format": "byte"}}


def short_name(cls_name: str) -> str:
    """`V1Pod` → `Pod`, `CoreV1Event` → `Event`, `DiscoveryV1EndpointPort` → `EndpointPort`."""
    return re.sub(r"^[A-Za-z]*?V\d+((alpha|beta)\d+)?(?=[A-Z])", "", cls_name)


def _proto_package(message: str) -> str:
    """`core.v1` → `io.k8s.api.core.v1`, `apis.meta.v1` → `io.k8s.apimachinery.pkg.apis.meta.v1`."""
    return f"io.k8s.apimachinery.pkg.{message}" if message.startswith("apis.meta.") else f"io.k8s.api.{message}"


def _kind_package(group: str, version: str) -> str:
    return f"io.k8s.api.{(group or 'core').split('.')[0]}.{version}"


def _class_doc(cls: type) -> str:
    doc = inspect.cleandoc(cls.__doc__ or "")
    return doc.split("\n\nAttributes:", 1)[0].strip()


def _proto_fields(upstream: str) -> dict[str, str]:
    """JSON name → protobuf type of an upstream type's fields ({} when kubectl's descriptors lack it)."""
    for prefix in ("io.k8s.apimachinery.pkg.", "io.k8s.api."):
        if upstream.startswith(prefix):
            return _message_fields(upstream[len(prefix):])
    return {}


def _message_fields(message: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, t in MESSAGES.get(message, {}).values():
        if name:
            out[name] = t
        else:  # an inline struct (ProbeHandler in Probe, LocalObjectReference in ConfigMapKeySelector)
            out.update(_message_fields(t.lstrip("*")))
    if out:
        out.setdefault("apiVersion", "string")  # TypeMeta is no protobuf field
        out.setdefault("kind", "string")
    return out


class Generator:
    def __init__(self) -> None:
        self.schemas: dict[str, dict] = {}
        self.names: dict[str, str] = {}          # Python class → upstream name
        self.merge_type: dict[str, str | None] = {}  # upstream name → MERGE_KEYS type it is merged as

    def upstream_name(self, cls_name: str, parent_package: str) -> str:
        if cls_name in self.names:
            return self.names[cls_name]
        name = short_name(cls_name)
        candidates = sorted({m.rsplit(".", 1)[0] for m in MESSAGES if m.rsplit(".", 1)[1] == name})
        parent_msg = next((c for c in candidates if _proto_package(c) == parent_package), None)
        package = _proto_package(parent_msg or candidates[0]) if candidates else parent_package
        self.names[cls_name] = f"{package}.{name}"
        return self.names[cls_name]

    def add_kind(self, group: str, version: str, kind: str) -> None:
        cls_name = {"Event": "CoreV1Event"}.get(kind, f"V1{kind}")
        name = self.upstream_name(cls_name, _kind_package(group, version))
        mk = kind if kind in patchmod.MERGE_KEYS else "__root__"
        self.add_type(cls_name, name, mk)
        self.schemas[name]["x-kubernetes-group-version-kind"] = [{"group": group, "kind": kind,
                                                                  "version": version}]

    def add_type(self, cls_name: str, name: str, mk: str | None) -> None:
        if name in self.schemas:
            # MERGE_KEYS names a type only on the paths the server needs; upstream's tags are per type, so
            # a type reached once with merge info and once without gets the info. Two different ones clash.
            old, new = patchmod._fields(self.merge_type[name]), patchmod._fields(mk)
            if old == new or not new:
                return
            if old:
                raise SystemExit(f"{name} is merged both as {self.merge_type[name]} and as {mk} in MERGE_KEYS")
        cls = getattr(models, cls_name)
        package = name.rsplit(".", 1)[0]
        schema: dict[str, Any] = {"description": _class_doc(cls), "type": "object", "properties": {}}
        self.schemas[name] = schema
        self.merge_type[name] = mk
        merge_fields = patchmod._fields(mk)
        retain = patchmod.RETAIN_KEYS.get(mk or "", ())
        proto = _proto_fields(name)
        required = []
        by_json = {fi.serialization_alias or fi.alias or f: fi for f, fi in cls.model_fields.items()}
        for attr, pytype in cls.openapi_types.items():
            field = cls.attribute_map[attr]
            if proto and field not in proto:
                continue  # newer than kubectl v1.33's API (the client package may be a later release)
            info = by_json[field]
            spec = merge_fields.get(field)
            child_mk = spec if isinstance(spec, str) else getattr(spec, "elem", None)
            prop = self.type_schema(pytype, info.annotation, proto.get(field, ""), package, child_mk)
            ref_description = prop.pop("_ref_description", None)
            if info.description and "$ref" in prop:
                # upstream's shape: kubectl explain prints the field's description, then the type's
                prop = {"allOf": [prop], "description": info.description}
            elif info.description or ref_description:
                prop["description"] = info.description or ref_description
            strategies = []
            if isinstance(spec, patchmod.Keyed):
                strategies.append("merge")
                prop["x-kubernetes-patch-merge-key"] = spec.key
                prop["x-kubernetes-list-type"] = "map"
                prop["x-kubernetes-list-map-keys"] = EXTRA_MAP_KEYS.get((mk, field), [spec.key])
            elif isinstance(spec, patchmod.Primitives):
                strategies.append("merge")
                prop["x-kubernetes-list-type"] = "set"
            if field in retain:
                strategies.append("retainKeys")
            if strategies:
                prop["x-kubernetes-patch-strategy"] = ",".join(strategies)
            schema["properties"][field] = prop
            if info.is_required():
                required.append(field)
        if required:
            schema["required"] = sorted(required)

    def type_schema(self, pytype: str, annotation: Any, proto: str, package: str, mk: str | None) -> dict:
        if pytype.startswith("List["):
            inner = get_args(get_args(annotation)[0] if _is_optional(annotation) else annotation)
            item = self.type_schema(pytype[5:-1], inner[0] if inner else None, proto.removeprefix("[]"),
                                    package, mk)
            item.pop("_ref_description", None)
            return {"type": "array", "items": item}
        if pytype.startswith("Dict[str, "):
            value = self.type_schema(pytype[len("Dict[str, "):-1], None, proto.removeprefix("map:"), package, mk)
            value.pop("_ref_description", None)
            return {"type": "object", "additionalProperties": value}
        special = _PROTO_SPECIAL.get(proto.lstrip("*").removeprefix("[]").removeprefix("map:"))
        if special:
            self.schemas.setdefault(special, SPECIAL[special])
            return {"$ref": f"#/components/schemas/{special}"}
        if pytype in _SCALARS:
            return dict(_SCALARS[pytype])
        if pytype == "object":
            args = [a for a in get_args(annotation) if a is not type(None)]
            if {getattr(a, "__origin__", a) for a in args} == {int, str}:
                self.schemas.setdefault(INT_OR_STRING, SPECIAL[INT_OR_STRING])
                return {"$ref": f"#/components/schemas/{INT_OR_STRING}"}
            return {"type": "object"}
        name = self.upstream_name(pytype, package)
        self.add_type(pytype, name, mk)
        # When the client lost the field's description: a `$ref` with the type's description beside it (not
        # upstream's `allOf` wrapper), which kubectl explain lists without repeating it under DESCRIPTION.
        return {"$ref": f"#/components/schemas/{name}", "_ref_description": self.schemas[name]["description"]}


def _is_optional(annotation: Any) -> bool:
    return type(None) in get_args(annotation)


def generate() -> dict[str, dict]:
    gen = Generator()
    for r in RESOURCES.values():
        gen.add_kind(r.group, r.version, r.kind)
    return dict(sorted(gen.schemas.items()))


def write(schemas: dict[str, dict], path: Path = OUTPUT) -> None:
    data = json.dumps({"schemas": schemas}, sort_keys=True, separators=(",", ":")).encode()
    path.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))


if __name__ == "__main__":
    out = generate()
    write(out)
    print(f"{len(out)} schemas → {OUTPUT.relative_to(ROOT)} ({OUTPUT.stat().st_size} bytes)")
