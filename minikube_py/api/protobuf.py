"""Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) → the JSON dicts we store.

Why: kubectl's typed commands (`create namespace|configmap|secret|deployment|service`, `run`, `expose`)
send their object as protobuf and never retry in JSON, so a server that answers 415 breaks the commands
every tutorial starts with. We only ever *read* protobuf (responses stay JSON: kubectl's Accept lists
`application/json` after protobuf).

The body is `k8s\\x00` + a `runtime.Unknown` message: {1: TypeMeta{1: apiVersion, 2: kind}, 2: raw (the
object's own encoding), 3: contentEncoding, 4: contentType}. The object is decoded by a plain wire-format
reader driven by `protobuf_schema.MESSAGES`, a table generated from the descriptors kubectl itself embeds
(`protobuf_gen.py`), so the field numbers are exactly kubectl's.

How proto becomes JSON: Kubernetes' Go encoder writes every non-pointer field, zero or not, and pointer
fields only when set. So a zero scalar is dropped (what JSON `omitempty` does) unless the table marks the
field as a Go pointer (`*int32` replicas: 0 is not "unset"); a message that is present is kept even when
empty (`resources: {}`, as Go's JSON writes structs); repeated/map fields appear only when non-empty.
Unknown field numbers are skipped, as any protobuf reader does.
"""
from __future__ import annotations

import base64
import json
import struct
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

from .protobuf_schema import KINDS, MESSAGES

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5


class ProtobufError(ValueError):
    """The body is not a protobuf encoding we can read."""


class UnknownKind(ProtobufError):
    """A well-formed envelope naming a kind we have no schema for."""

    def __init__(self, api_version: str, kind: str) -> None:
        super().__init__(f"no protobuf schema for {kind} ({api_version})")
        self.api_version, self.kind = api_version, kind


# --- wire format ---------------------------------------------------------------------------------

def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """The base-128 varint at `pos` and the position after it."""
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ProtobufError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise ProtobufError("varint longer than 10 bytes")


def iter_fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) for each field: an int for varints, raw bytes otherwise."""
    pos = 0
    while pos < len(buf):
        key, pos = read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtobufError("field number 0")
        if wire == VARINT:
            value, pos = read_varint(buf, pos)
            yield number, wire, value
            continue
        if wire == LENGTH:
            size, pos = read_varint(buf, pos)
        elif wire == FIXED64:
            size = 8
        elif wire == FIXED32:
            size = 4
        else:  # 3/4 are proto1 groups, which nothing in Kubernetes uses
            raise ProtobufError(f"unsupported wire type {wire} (field {number})")
        if pos + size > len(buf):
            raise ProtobufError(f"truncated field {number}")
        yield number, wire, buf[pos:pos + size]
        pos += size


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _zigzag(value: int) -> int:
    return (value >> 1) ^ -(value & 1)


_SCALARS: dict[str, tuple[int, Callable[[Any], Any]]] = {
    "string": (LENGTH, lambda v: v.decode("utf-8", errors="replace")),
    "bytes": (LENGTH, lambda v: base64.b64encode(v).decode()),  # JSON's []byte is base64
    "bool": (VARINT, bool),
    "int32": (VARINT, lambda v: _signed(v, 32)),  # negative int32s travel as 10-byte 64-bit varints
    "int64": (VARINT, lambda v: _signed(v, 64)),
    "uint32": (VARINT, lambda v: v & 0xFFFFFFFF),
    "uint64": (VARINT, lambda v: v),
    "sint32": (VARINT, _zigzag),
    "sint64": (VARINT, _zigzag),
    "fixed32": (FIXED32, lambda v: struct.unpack("<I", v)[0]),
    "sfixed32": (FIXED32, lambda v: struct.unpack("<i", v)[0]),
    "float": (FIXED32, lambda v: struct.unpack("<f", v)[0]),
    "fixed64": (FIXED64, lambda v: struct.unpack("<Q", v)[0]),
    "sfixed64": (FIXED64, lambda v: struct.unpack("<q", v)[0]),
    "double": (FIXED64, lambda v: struct.unpack("<d", v)[0]),
}


def _unpack_repeated(typ: str, wire: int, value: int | bytes) -> list[Any]:
    """One repeated scalar element, or a packed run of them (proto3 style; accepted either way)."""
    want, conv = _SCALARS[typ]
    if wire == want:
        return [conv(value)]
    if wire != LENGTH or want == LENGTH:
        raise ProtobufError(f"wire type {wire} for a {typ}")
    assert isinstance(value, bytes)
    out, pos = [], 0
    while pos < len(value):
        if want == VARINT:
            v, pos = read_varint(value, pos)
            out.append(conv(v))
        else:
            size = 4 if want == FIXED32 else 8
            out.append(conv(value[pos:pos + size]))
            pos += size
    return out


# --- well-known Kubernetes messages with their own JSON form -------------------------------------

def _time(buf: bytes, fraction: bool) -> str | None:
    """metav1.Time/MicroTime {1: seconds, 2: nanos} → RFC 3339 UTC; the zero time is JSON null."""
    f = decode_fields(buf, {1: ("seconds", "int64"), 2: ("nanos", "int32")})
    seconds, nanos = f.get("seconds", 0), f.get("nanos", 0)
    if not seconds and not nanos:
        return None
    t = datetime.fromtimestamp(seconds, tz=timezone.utc)
    if fraction:
        return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos // 1000:06d}Z"
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _duration(buf: bytes) -> str:
    """metav1.Duration {1: nanoseconds} → Go's duration string (`1h2m3s`, `1.5s`, `0s`)."""
    ns = decode_fields(buf, {1: ("duration", "int64")}).get("duration", 0)
    if ns == 0:
        return "0s"
    sign, ns = ("-", -ns) if ns < 0 else ("", ns)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size or unit == "ns":
                return sign + _trim(ns, size) + unit
    h, rest = divmod(ns, 3_600_000_000_000)
    m, rest = divmod(rest, 60_000_000_000)
    out = (f"{h}h" if h else "") + (f"{m}m" if h or m else "") + _trim(rest, 1_000_000_000) + "s"
    return sign + out


def _trim(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    if not frac:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}.{frac:0{digits}d}".rstrip("0")


def _int_or_string(buf: bytes) -> int | str:
    """intstr.IntOrString {1: type (0 int, 1 string), 2: intVal, 3: strVal}."""
    f = decode_fields(buf, {1: ("type", "int64"), 2: ("intVal", "int32"), 3: ("strVal", "string")})
    return f.get("strVal", "") if f.get("type") == 1 else f.get("intVal", 0)


def _raw_json(buf: bytes) -> Any:
    """runtime.RawExtension / metav1.FieldsV1 {1: raw}: the raw bytes are JSON already."""
    raw = decode_fields(buf, {1: ("raw", "rawbytes")}).get("raw", b"")
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise ProtobufError("embedded raw object is not JSON")


SPECIAL: dict[str, Callable[[bytes], Any]] = {
    "apis.meta.v1.Time": lambda b: _time(b, fraction=False),
    "apis.meta.v1.MicroTime": lambda b: _time(b, fraction=True),
    "apis.meta.v1.Duration": _duration,
    "apis.meta.v1.FieldsV1": _raw_json,
    "runtime.RawExtension": _raw_json,
    "api.resource.Quantity": lambda b: decode_fields(b, {1: ("string", "string")}).get("string", "0"),
    "util.intstr.IntOrString": _int_or_string,
}


# --- schema-driven decoding ----------------------------------------------------------------------

def _value(typ: str, wire: int, value: int | bytes) -> Any:
    if typ == "rawbytes":
        return value
    if typ in _SCALARS:
        want, conv = _SCALARS[typ]
        if wire != want:
            raise ProtobufError(f"wire type {wire} for a {typ}")
        return conv(value)
    if wire != LENGTH:
        raise ProtobufError(f"wire type {wire} for message {typ}")
    assert isinstance(value, bytes)
    return decode_message(value, typ)


_ZERO_WIRE: dict[int, int | bytes] = {VARINT: 0, FIXED32: b"\0" * 4, FIXED64: b"\0" * 8, LENGTH: b""}


def _is_zero(value: Any) -> bool:
    return value is None or (not isinstance(value, (dict, list)) and value in ("", 0, False, 0.0))


def decode_fields(buf: bytes, fields: dict[int, tuple[str, str]]) -> dict[str, Any]:
    """Decode `buf` with a field table {number: (json name, type)}.

    Types: a scalar (`string`, `int32`, …), a message name from MESSAGES/SPECIAL, `[]T` repeated,
    `map:T` (map<string, T>); a leading `*` marks a field whose zero value is kept (a Go pointer); the
    JSON name "" marks an inline struct."""
    out: dict[str, Any] = {}
    for number, wire, value in iter_fields(buf):
        spec = fields.get(number)
        if spec is None:
            continue  # a field newer than our table: skip it, as protobuf readers do
        name, typ = spec
        pointer = typ.startswith("*")
        typ = typ.lstrip("*")
        if typ.startswith("[]"):
            elem = typ[2:]
            items = out.setdefault(name, [])
            if elem in _SCALARS:
                items.extend(_unpack_repeated(elem, wire, value))
            else:
                items.append(_value(elem, wire, value))
        elif typ.startswith("map:"):
            if wire != LENGTH:
                raise ProtobufError(f"wire type {wire} for map field {name}")
            assert isinstance(value, bytes)
            vtyp = typ[4:]
            entry = {}
            for n, w, v in iter_fields(value):
                if n in (1, 2):
                    entry[n] = _value("string" if n == 1 else vtyp, w, v)
            if 2 not in entry:  # an absent value is the type's zero: decode a zero encoding of it
                w = _SCALARS[vtyp][0] if vtyp in _SCALARS else LENGTH
                entry[2] = _value(vtyp, w, _ZERO_WIRE[w])
            out.setdefault(name, {})[entry.get(1, "")] = entry[2]
        elif not name:  # an inline (embedded) struct: JSON flattens its fields into ours
            v = _value(typ, wire, value)
            if isinstance(v, dict):
                out.update(v)
        else:
            v = _value(typ, wire, value)
            if v is None or (_is_zero(v) and not pointer):
                out.pop(name, None)  # the zero time, or a zero non-pointer field (JSON omitempty)
                continue
            out[name] = v
    return out


def decode_message(buf: bytes, name: str) -> Any:
    """The JSON value of message `name` (a MESSAGES or SPECIAL key) encoded in `buf`."""
    special = SPECIAL.get(name)
    if special is not None:
        return special(buf)
    fields = MESSAGES.get(name)
    if fields is None:
        raise ProtobufError(f"no schema for message {name}")
    return decode_fields(buf, fields)


def decode_envelope(body: bytes) -> tuple[str, str, bytes]:
    """(apiVersion, kind, raw object bytes) from a `k8s\\x00` + runtime.Unknown body."""
    if not body.startswith(MAGIC):
        raise ProtobufError("the body does not start with the Kubernetes protobuf prefix k8s\\x00")
    api_version = kind = encoding = ""
    raw = b""
    for number, wire, value in iter_fields(body[len(MAGIC):]):
        if wire != LENGTH:
            continue
        assert isinstance(value, bytes)
        if number == 1:
            tm = decode_fields(value, {1: ("apiVersion", "string"), 2: ("kind", "string")})
            api_version, kind = tm.get("apiVersion", ""), tm.get("kind", "")
        elif number == 2:
            raw = value
        elif number == 3:
            encoding = value.decode("utf-8", errors="replace")
    if encoding:
        raise ProtobufError(f"unsupported content encoding {encoding!r}")
    if not kind:
        raise ProtobufError("the protobuf envelope names no kind")
    return api_version, kind, raw


def decode_object(body: bytes) -> dict[str, Any]:
    """A protobuf request body as the JSON dict kubectl would have sent (apiVersion/kind first).

    Raises UnknownKind for a kind outside our schema table, ProtobufError for anything malformed."""
    api_version, kind, raw = decode_envelope(body)
    message = KINDS.get((api_version, kind))
    if message is None:
        raise UnknownKind(api_version, kind)
    obj = decode_message(raw, message)
    return {"apiVersion": api_version, "kind": kind, **obj}
