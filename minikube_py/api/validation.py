"""Validation: reject what Kubernetes rejects, with Kubernetes' own words and field paths.

Why the exact words: learners read these messages (`kubectl apply` prints them verbatim), search the
web for them, and compare them with the guide. A 422 from us should look like a 422 from a real cluster:

    Pod "A" is invalid: metadata.name: Invalid value: "A": a lowercase RFC 1123 subdomain must …

`validate(resource, obj, old)` returns *causes*, the `details.causes` of the 422 `Status`:
`{"reason": "FieldValueInvalid", "message": "Invalid value: \"A\": …", "field": "metadata.name"}`
(the message is the error body without the field, as in apimachinery's `NewInvalid`), and
`format_invalid_message` builds the top-level message. Objects are validated *after* defaulting, as the
real API server does, so required-but-defaulted fields are present.

`unknown_fields(resource, obj)` backs `fieldValidation=Strict`: it knows the common kinds' fields, and
says nothing about parts it doesn't model (being generous beats rejecting valid YAML).

The rules mirror `pkg/apis/core/validation`, `pkg/apis/apps/validation` and
`pkg/apis/networking/validation`, trimmed to the kinds and fields this project serves.
"""
from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any, Iterable

from minikube_py.api.quantity import QUANTITY_ERROR, parse_quantity
from minikube_py.api.resources import Resource
from minikube_py.api.selectors import label_selector_from_spec

# --- field errors ----------------------------------------------------------------------------------

INVALID = "FieldValueInvalid"
REQUIRED = "FieldValueRequired"
DUPLICATE = "FieldValueDuplicate"
NOT_SUPPORTED = "FieldValueNotSupported"
FORBIDDEN = "FieldValueForbidden"
TOO_LONG = "FieldValueTooLong"
NOT_FOUND = "FieldValueNotFound"
TOO_MANY = "FieldValueTooMany"

_TYPE_TEXT = {
    INVALID: "Invalid value", REQUIRED: "Required value", DUPLICATE: "Duplicate value",
    NOT_SUPPORTED: "Unsupported value", FORBIDDEN: "Forbidden", TOO_LONG: "Too long", NOT_FOUND: "Not found",
    TOO_MANY: "Too many",
}
_NO_VALUE = (REQUIRED, FORBIDDEN, TOO_LONG)


class GoValue:
    """A bad value that must print as Go's `%#v` would (a struct, a typed map), given verbatim."""

    def __init__(self, text: str):
        self.text = text


def go_quote(s: str) -> str:
    """Go's `%q` for the strings we see (JSON escaping is the same for printable text)."""
    return json.dumps(s, ensure_ascii=False)


def go_value(v: Any) -> str:
    """How apimachinery's `field.Error` prints a bad value."""
    if isinstance(v, GoValue):
        return v.text
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return go_quote(v)
    if isinstance(v, dict):
        return go_string_map(v)
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return "[]string{" + ", ".join(go_quote(x) for x in v) + "}"
    return json.dumps(v, sort_keys=True)


def go_string_map(m: dict | None) -> str:
    """`map[string]string{"a":"b", "c":"d"}` (keys sorted, as fmt prints maps); nil → `(nil)`."""
    if m is None:
        return "map[string]string(nil)"
    return "map[string]string{" + ", ".join(f"{go_quote(str(k))}:{go_quote(str(m[k]))}" for k in sorted(m)) + "}"


def go_int_or_string(v: Any) -> str:
    """An `intstr.IntOrString` as `%#v` prints it (it has no value-receiver String method)."""
    if isinstance(v, str):
        return f'intstr.IntOrString{{Type:1, IntVal:0, StrVal:{go_quote(v)}}}'
    return f'intstr.IntOrString{{Type:0, IntVal:{int(v or 0)}, StrVal:""}}'


def go_label_selector(sel: dict | None) -> str:
    """A `metav1.LabelSelector` as `%#v` prints it."""
    sel = sel or {}
    labels = sel.get("matchLabels")
    exprs = sel.get("matchExpressions")
    ml = go_string_map(labels) if labels is not None else "map[string]string(nil)"
    if not exprs:
        me = "[]v1.LabelSelectorRequirement(nil)" if exprs is None else "[]v1.LabelSelectorRequirement{}"
    else:
        parts = []
        for e in exprs:
            vals = e.get("values")
            vs = "[]string(nil)" if vals is None else "[]string{" + ", ".join(go_quote(str(x)) for x in vals) + "}"
            parts.append(f'v1.LabelSelectorRequirement{{Key:{go_quote(str(e.get("key", "")))}, '
                         f'Operator:{go_quote(str(e.get("operator", "")))}, Values:{vs}}}')
        me = "[]v1.LabelSelectorRequirement{" + ", ".join(parts) + "}"
    return f"v1.LabelSelector{{MatchLabels:{ml}, MatchExpressions:{me}}}"


@dataclass
class FieldError:
    type: str
    field: str
    value: Any = None
    detail: str = ""

    def body(self) -> str:
        """apimachinery's `ErrorBody`: the message without the field path."""
        text = _TYPE_TEXT[self.type]
        if self.type == NOT_SUPPORTED or self.type not in _NO_VALUE:
            text = f"{text}: {go_value(self.value)}"
        if self.detail:
            text = f"{text}: {self.detail}"
        return text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}" if self.field else self.body()

    def cause(self) -> dict:
        return {"reason": self.type, "message": self.body(), "field": self.field}


def _invalid(field: str, value: Any, detail: str) -> FieldError:
    return FieldError(INVALID, field, value, detail)


def _required(field: str, detail: str = "") -> FieldError:
    return FieldError(REQUIRED, field, None, detail)


def _forbidden(field: str, detail: str) -> FieldError:
    return FieldError(FORBIDDEN, field, None, detail)


def _not_supported(field: str, value: Any, supported: Iterable[str]) -> FieldError:
    return FieldError(NOT_SUPPORTED, field, value, "supported values: " + ", ".join(go_quote(s) for s in supported))


def _duplicate(field: str, value: Any) -> FieldError:
    return FieldError(DUPLICATE, field, value)


def _too_long(field: str, max_bytes: int) -> FieldError:
    return FieldError(TOO_LONG, field, None, f"may not be more than {max_bytes} bytes")


# --- message helpers (apimachinery's util/validation) ---------------------------------------------

def _regex_error(msg: str, regex: str, *examples: str) -> str:
    if not examples:
        return f"{msg} (regex used for validation is '{regex}')"
    ex = ",  or ".join(f"'{e}'" for e in examples)
    return f"{msg} (e.g. {ex}, regex used for validation is '{regex}')"


def _max_len_error(n: int) -> str:
    return f"must be no more than {n} characters"


_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + r"(\." + _DNS1123_LABEL_FMT + ")*"
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE_FMT = "(" + _QUALIFIED_NAME_FMT + ")?"
_WILDCARD_DNS1123_FMT = r"\*\." + _DNS1123_SUBDOMAIN_FMT
_CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"
_PERCENT_FMT = "[0-9]+%"


def _full(fmt: str) -> re.Pattern:
    return re.compile("^" + fmt + "$")


_DNS1123_LABEL = _full(_DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN = _full(_DNS1123_SUBDOMAIN_FMT)
_DNS1035_LABEL = _full(_DNS1035_LABEL_FMT)
_QUALIFIED_NAME = _full(_QUALIFIED_NAME_FMT)
_LABEL_VALUE = _full(_LABEL_VALUE_FMT)
_WILDCARD_DNS1123 = _full(_WILDCARD_DNS1123_FMT)
_CONFIG_KEY = _full(_CONFIG_KEY_FMT)
_PERCENT = _full(_PERCENT_FMT)


def is_dns1123_label(v: str) -> list[str]:
    errs = []
    if len(v) > 63:
        errs.append(_max_len_error(63))
    if not _DNS1123_LABEL.match(v):
        errs.append(_regex_error("a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
                                 "or '-', and must start and end with an alphanumeric character",
                                 _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(v: str) -> list[str]:
    errs = []
    if len(v) > 253:
        errs.append(_max_len_error(253))
    if not _DNS1123_SUBDOMAIN.match(v):
        errs.append(_regex_error("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                                 "characters, '-' or '.', and must start and end with an alphanumeric character",
                                 _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1035_label(v: str) -> list[str]:
    errs = []
    if len(v) > 63:
        errs.append(_max_len_error(63))
    if not _DNS1035_LABEL.match(v):
        errs.append(_regex_error("a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
                                 "start with an alphabetic character, and end with an alphanumeric character",
                                 _DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


def is_wildcard_dns1123_subdomain(v: str) -> list[str]:
    errs = []
    if len(v) > 253:
        errs.append(_max_len_error(253))
    if not _WILDCARD_DNS1123.match(v):
        errs.append(_regex_error("a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS "
                                 "subdomain, which must consist of lower case alphanumeric characters, '-' or '.' "
                                 "and end with an alphanumeric character", _WILDCARD_DNS1123_FMT, "*.example.com"))
    return errs


def is_qualified_name(v: str) -> list[str]:
    """A label or annotation key: an optional DNS-subdomain prefix and `/`, then a ≤63-char name."""
    errs: list[str] = []
    parts = v.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix))
    else:
        return [_regex_error("a qualified name must consist of alphanumeric characters, '-', '_' or '.', and "
                             "must start and end with an alphanumeric character", _QUALIFIED_NAME_FMT,
                             "MyName", "my.name", "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part " + _max_len_error(63))
    if name and not _QUALIFIED_NAME.match(name):
        errs.append("name part " + _regex_error("must consist of alphanumeric characters, '-', '_' or '.', and must "
                                                "start and end with an alphanumeric character", _QUALIFIED_NAME_FMT,
                                                "MyName", "my.name", "123-abc"))
    return errs


def is_valid_label_value(v: str) -> list[str]:
    errs = []
    if len(v) > 63:
        errs.append(_max_len_error(63))
    if not _LABEL_VALUE.match(v):
        errs.append(_regex_error("a valid label must be an empty string or consist of alphanumeric characters, "
                                 "'-', '_' or '.', and must start and end with an alphanumeric character",
                                 _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def is_valid_port_num(port: Any) -> list[str]:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        return ["must be between 1 and 65535, inclusive"]
    return []


def is_valid_port_name(port: str) -> list[str]:
    """An IANA service name: ≤15 chars, [-a-z0-9], at least one letter, no `--`, no edge hyphens."""
    errs = []
    if len(port) > 15:
        errs.append(_max_len_error(15))
    if not re.fullmatch(r"[-a-z0-9]+", port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search(r"[a-z]", port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def is_env_var_name(v: str) -> list[str]:
    """Kubernetes ≥1.30 (RelaxedEnvironmentVariableValidation): any printable ASCII except `=`."""
    if not v or any(not (32 <= ord(c) <= 126) or c == "=" for c in v):
        return ["a valid environment variable name must consist only of printable ASCII characters other than '='"]
    return []


def is_config_map_key(v: str) -> list[str]:
    errs = []
    if len(v) > 253:
        errs.append(_max_len_error(253))
    if not _CONFIG_KEY.match(v):
        errs.append(_regex_error("a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                                 _CONFIG_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    if v == ".":
        errs.append("must not be '.'")
    elif v == "..":
        errs.append("must not be '..'")
    elif v.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def is_valid_ip(v: str) -> bool:
    try:
        ipaddress.ip_address(v)
        return True
    except ValueError:
        return False


# --- object metadata -------------------------------------------------------------------------------

_NAME_RULES = {"services": is_dns1035_label, "namespaces": is_dns1123_label}
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
MAX_SECRET_SIZE = 1024 * 1024


def _as_dict(v: Any) -> dict:
    return v if isinstance(v, dict) else {}


def _as_list(v: Any) -> list:
    return v if isinstance(v, list) else []


def validate_labels(labels: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for k, v in _as_dict(labels).items():
        errs += [_invalid(path, k, m) for m in is_qualified_name(str(k))]
        if not isinstance(v, str):
            errs.append(_invalid(path, v, "must be a string"))
            continue
        errs += [_invalid(path, v, m) for m in is_valid_label_value(v)]
    return errs


def validate_annotations(annotations: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    total = 0
    for k, v in _as_dict(annotations).items():
        errs += [_invalid(path, k, m) for m in is_qualified_name(str(k).lower())]
        total += len(str(k)) + len(str(v))
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        errs.append(_too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return errs


def validate_object_meta(resource: Resource, meta: Any, path: str = "metadata") -> list[FieldError]:
    meta = _as_dict(meta)
    rule = _NAME_RULES.get(resource.plural, is_dns1123_subdomain)
    errs: list[FieldError] = []
    name, generate = meta.get("name") or "", meta.get("generateName") or ""
    if generate:
        # A prefix may end in '-': mask it so the rule judges the rest (apimachinery's maskTrailingDash).
        masked = generate[:-1] + "a" if len(generate) > 1 and generate.endswith("-") else generate
        errs += [_invalid(f"{path}.generateName", generate, m) for m in rule(masked)]
    if not name and not generate:
        errs.append(_required(f"{path}.name", "name or generateName is required"))
    elif name:
        errs += [_invalid(f"{path}.name", name, m) for m in rule(name)]
    ns = meta.get("namespace") or ""
    if resource.namespaced:
        if ns:
            errs += [_invalid(f"{path}.namespace", ns, m) for m in is_dns1123_label(ns)]
    elif ns:
        errs.append(_forbidden(f"{path}.namespace", "not allowed on this type"))
    errs += validate_labels(meta.get("labels"), f"{path}.labels")
    errs += validate_annotations(meta.get("annotations"), f"{path}.annotations")
    return errs


# --- pods ------------------------------------------------------------------------------------------

_RESTART_POLICIES = ["Always", "OnFailure", "Never"]
_DNS_POLICIES = ["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"]
_PROTOCOLS = ["SCTP", "TCP", "UDP"]
_PULL_POLICIES = ["Always", "IfNotPresent", "Never"]
_TERMINATION_MESSAGE_POLICIES = ["FallbackToLogsOnError", "File"]
_PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")


def _nonneg(value: Any, path: str) -> list[FieldError]:
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        return [_invalid(path, value, "must be greater than or equal to 0")]
    return []


def _port_num_or_name(port: Any, path: str) -> list[FieldError]:
    if isinstance(port, str):
        if not port:
            return [_required(path)]
        return [_invalid(path, port, m) for m in is_valid_port_name(port)]
    return [_invalid(path, port, m) for m in is_valid_port_num(port)]


def _validate_handler(h: dict, path: str) -> list[FieldError]:
    present = [k for k in _PROBE_HANDLERS if h.get(k) is not None]
    errs: list[FieldError] = []
    if not present:
        return [_required(path, "must specify a handler type")]
    for extra in present[1:]:
        errs.append(_forbidden(f"{path}.{extra}", "may not specify more than 1 handler type"))
    kind = present[0]
    sub = _as_dict(h.get(kind))
    if kind == "exec":
        if not sub.get("command"):
            errs.append(_required(f"{path}.exec.command"))
    elif kind == "httpGet":
        if not sub.get("path"):
            errs.append(_required(f"{path}.httpGet.path"))
        errs += _port_num_or_name(sub.get("port"), f"{path}.httpGet.port")
        scheme = sub.get("scheme")
        if scheme not in (None, "HTTP", "HTTPS"):
            errs.append(_not_supported(f"{path}.httpGet.scheme", scheme, ["HTTP", "HTTPS"]))
    elif kind == "tcpSocket":
        errs += _port_num_or_name(sub.get("port"), f"{path}.tcpSocket.port")
    elif kind == "grpc":
        errs += [_invalid(f"{path}.grpc.port", sub.get("port"), m) for m in is_valid_port_num(sub.get("port"))]
    return errs


def _validate_probe(probe: Any, path: str, must_succeed_once: bool) -> list[FieldError]:
    if probe is None:
        return []
    probe = _as_dict(probe)
    errs = _validate_handler(probe, path)
    for k in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"):
        errs += _nonneg(probe.get(k), f"{path}.{k}")
    if must_succeed_once and probe.get("successThreshold", 1) != 1:
        errs.append(_invalid(f"{path}.successThreshold", probe.get("successThreshold"), "must be 1"))
    tgps = probe.get("terminationGracePeriodSeconds")
    if isinstance(tgps, int) and tgps <= 0:
        errs.append(_invalid(f"{path}.terminationGracePeriodSeconds", tgps, "must be greater than 0"))
    return errs


def _validate_resources(res: Any, path: str) -> list[FieldError]:
    res = _as_dict(res)
    errs: list[FieldError] = []
    parsed: dict[str, dict[str, Any]] = {"limits": {}, "requests": {}}
    for part in ("limits", "requests"):
        for name, q in _as_dict(res.get(part)).items():
            try:
                value = parse_quantity(q)
            except ValueError:
                errs.append(_invalid(f"{path}.{part}[{name}]", q, QUANTITY_ERROR))
                continue
            if value < 0:
                errs.append(_invalid(f"{path}.{part}[{name}]", str(q), "must be greater than or equal to 0"))
            parsed[part][name] = (value, q)
    for name, (req, raw) in parsed["requests"].items():
        if name in parsed["limits"] and req > parsed["limits"][name][0]:
            errs.append(_invalid(f"{path}.requests[{name}]", str(raw),
                                 f"must be less than or equal to {name} limit of {parsed['limits'][name][1]}"))
    return errs


def _validate_env(env: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, e in enumerate(_as_list(env)):
        p = f"{path}[{i}]"
        e = _as_dict(e)
        name = e.get("name") or ""
        if not name:
            errs.append(_required(f"{p}.name"))
        else:
            errs += [_invalid(f"{p}.name", name, m) for m in is_env_var_name(name)]
        vf = e.get("valueFrom")
        if vf is not None:
            sources = [k for k in ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef")
                       if _as_dict(vf).get(k) is not None]
            if e.get("value"):
                errs.append(_invalid(f"{p}.valueFrom", "", "may not be specified when `value` is not empty"))
            if not sources:
                errs.append(_invalid(f"{p}.valueFrom", "", "must specify one of: `fieldRef`, `resourceFieldRef`, "
                                     "`configMapKeyRef` or `secretKeyRef`"))
            elif len(sources) > 1:
                errs.append(_invalid(f"{p}.valueFrom", "", "may not have more than one field specified at a time"))
    return errs


def _validate_container_ports(ports: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    names: set[str] = set()
    for i, port in enumerate(_as_list(ports)):
        p = f"{path}[{i}]"
        port = _as_dict(port)
        name = port.get("name") or ""
        if name:
            msgs = is_valid_port_name(name)
            errs += [_invalid(f"{p}.name", name, m) for m in msgs]
            if not msgs and name in names:
                errs.append(_duplicate(f"{p}.name", name))
            names.add(name)
        cp = port.get("containerPort")
        if not cp:
            errs.append(_required(f"{p}.containerPort"))
        else:
            errs += [_invalid(f"{p}.containerPort", cp, m) for m in is_valid_port_num(cp)]
        hp = port.get("hostPort")
        if hp:
            errs += [_invalid(f"{p}.hostPort", hp, m) for m in is_valid_port_num(hp)]
        proto = port.get("protocol")
        if not proto:
            errs.append(_required(f"{p}.protocol"))
        elif proto not in _PROTOCOLS:
            errs.append(_not_supported(f"{p}.protocol", proto, _PROTOCOLS))
    return errs


def _validate_containers(containers: list, path: str, volumes: set[str], seen: set[str],
                         init: bool = False) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, c in enumerate(containers):
        p = f"{path}[{i}]"
        c = _as_dict(c)
        name = c.get("name") or ""
        if not name:
            errs.append(_required(f"{p}.name"))
        else:
            msgs = is_dns1123_label(name)
            errs += [_invalid(f"{p}.name", name, m) for m in msgs]
            if not msgs and name in seen:
                errs.append(_duplicate(f"{p}.name", name))
            seen.add(name)
        image = c.get("image") or ""
        if not image:
            errs.append(_required(f"{p}.image"))
        elif image != image.strip():
            errs.append(_invalid(f"{p}.image", image, "must not have leading or trailing whitespace"))
        ipp = c.get("imagePullPolicy")
        if ipp is not None and ipp not in _PULL_POLICIES:
            errs.append(_not_supported(f"{p}.imagePullPolicy", ipp, _PULL_POLICIES))
        tmp = c.get("terminationMessagePolicy")
        if tmp is not None and tmp not in _TERMINATION_MESSAGE_POLICIES:
            errs.append(_not_supported(f"{p}.terminationMessagePolicy", tmp, _TERMINATION_MESSAGE_POLICIES))
        errs += _validate_container_ports(c.get("ports"), f"{p}.ports")
        errs += _validate_env(c.get("env"), f"{p}.env")
        mount_paths: set[str] = set()
        for j, m in enumerate(_as_list(c.get("volumeMounts"))):
            mp = f"{p}.volumeMounts[{j}]"
            m = _as_dict(m)
            mname = m.get("name") or ""
            if not mname:
                errs.append(_required(f"{mp}.name"))
            elif mname not in volumes:
                errs.append(FieldError(NOT_FOUND, f"{mp}.name", mname))
            mpath = m.get("mountPath") or ""
            if not mpath:
                errs.append(_required(f"{mp}.mountPath"))
            elif mpath in mount_paths:
                errs.append(_invalid(f"{mp}.mountPath", mpath, "must be unique"))
            mount_paths.add(mpath)
        if init:
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                if c.get(probe) is not None and c.get("restartPolicy") != "Always":
                    errs.append(_forbidden(f"{p}.{probe}", f"may not be set for init containers without "
                                                           f"restartPolicy=Always"))
        else:
            errs += _validate_probe(c.get("livenessProbe"), f"{p}.livenessProbe", True)
            errs += _validate_probe(c.get("readinessProbe"), f"{p}.readinessProbe", False)
            errs += _validate_probe(c.get("startupProbe"), f"{p}.startupProbe", True)
        errs += _validate_resources(c.get("resources"), f"{p}.resources")
    return errs


def _validate_volumes(volumes: Any, path: str) -> tuple[list[FieldError], set[str]]:
    errs: list[FieldError] = []
    names: set[str] = set()
    for i, v in enumerate(_as_list(volumes)):
        p = f"{path}[{i}]"
        v = _as_dict(v)
        name = v.get("name") or ""
        if not name:
            errs.append(_required(f"{p}.name"))
        else:
            msgs = is_dns1123_label(name)
            errs += [_invalid(f"{p}.name", name, m) for m in msgs]
            if not msgs and name in names:
                errs.append(_duplicate(f"{p}.name", name))
            names.add(name)
        sources = [k for k in v if k != "name" and v[k] is not None]
        if not sources:
            errs.append(_required(p, "must specify a volume type"))
        for extra in sources[1:]:
            errs.append(_forbidden(f"{p}.{extra}", "may not specify more than 1 volume type"))
        if "configMap" in sources and not _as_dict(v["configMap"]).get("name"):
            errs.append(_required(f"{p}.configMap.name"))
        if "secret" in sources and not _as_dict(v["secret"]).get("secretName"):
            errs.append(_required(f"{p}.secret.secretName"))
        if "hostPath" in sources and not _as_dict(v["hostPath"]).get("path"):
            errs.append(_required(f"{p}.hostPath.path"))
    return errs, names


def validate_pod_spec(spec: Any, path: str = "spec") -> list[FieldError]:
    """ValidatePodSpec for Pods and (with `spec.template.spec`) pod templates."""
    spec = _as_dict(spec)
    errs, volume_names = _validate_volumes(spec.get("volumes"), f"{path}.volumes")
    seen: set[str] = set()
    containers = _as_list(spec.get("containers"))
    init = _as_list(spec.get("initContainers"))
    errs += _validate_containers(init, f"{path}.initContainers", volume_names, seen, init=True)
    if not containers:
        errs.append(_required(f"{path}.containers"))
    errs += _validate_containers(containers, f"{path}.containers", volume_names, seen)
    rp = spec.get("restartPolicy")
    if not rp:
        errs.append(_required(f"{path}.restartPolicy"))
    elif rp not in _RESTART_POLICIES:
        errs.append(_not_supported(f"{path}.restartPolicy", rp, _RESTART_POLICIES))
    dp = spec.get("dnsPolicy")
    if dp is not None and dp not in _DNS_POLICIES:
        errs.append(_not_supported(f"{path}.dnsPolicy", dp, _DNS_POLICIES))
    errs += _nonneg(spec.get("terminationGracePeriodSeconds"), f"{path}.terminationGracePeriodSeconds")
    ads = spec.get("activeDeadlineSeconds")
    if ads is not None and (not isinstance(ads, int) or not 1 <= ads <= 2147483647):
        errs.append(_invalid(f"{path}.activeDeadlineSeconds", ads, "must be between 1 and 2147483647, inclusive"))
    node = spec.get("nodeName")
    if node:
        errs += [_invalid(f"{path}.nodeName", node, m) for m in is_dns1123_subdomain(node)]
    errs += validate_labels(spec.get("nodeSelector"), f"{path}.nodeSelector")
    for i, t in enumerate(_as_list(spec.get("tolerations"))):
        op = _as_dict(t).get("operator")
        if op not in (None, "", "Exists", "Equal"):
            errs.append(_not_supported(f"{path}.tolerations[{i}].operator", op, ["Equal", "Exists"]))
    return errs


_POD_UPDATE_MESSAGE = (
    "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,"
    "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)


def _mutable_pod_fields_masked(spec: dict, old_spec: dict) -> dict:
    """*spec* with the fields a pod update may change copied from *old_spec*, for comparison."""
    masked = json.loads(json.dumps(spec))
    for kind in ("containers", "initContainers"):
        for c, oc in zip(_as_list(masked.get(kind)), _as_list(old_spec.get(kind))):
            if isinstance(c, dict) and isinstance(oc, dict):
                c["image"] = oc.get("image")
    for k in ("activeDeadlineSeconds", "terminationGracePeriodSeconds"):
        masked.pop(k, None)
    old_tol = _as_list(old_spec.get("tolerations"))
    new_tol = _as_list(masked.get("tolerations"))
    if all(t in new_tol for t in old_tol):
        masked["tolerations"] = old_tol  # additions are allowed
    if "tolerations" not in old_spec and masked.get("tolerations") == []:
        masked.pop("tolerations")
    return masked


def _validate_pod(resource: Resource, obj: dict, old: dict | None) -> list[FieldError]:
    errs = validate_pod_spec(obj.get("spec"), "spec")
    if old is not None:
        old_spec = dict(_as_dict(old.get("spec")))
        for k in ("activeDeadlineSeconds", "terminationGracePeriodSeconds"):
            old_spec.pop(k, None)
        if _mutable_pod_fields_masked(_as_dict(obj.get("spec")), _as_dict(old.get("spec"))) != old_spec:
            errs.append(_forbidden("spec", _POD_UPDATE_MESSAGE))
    return errs


# --- services and endpoints ------------------------------------------------------------------------

_SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
_SESSION_AFFINITIES = ["ClientIP", "None"]
_TRAFFIC_POLICIES = ["Cluster", "Local"]
_IP_FAMILY_POLICIES = ["PreferDualStack", "RequireDualStack", "SingleStack"]


def _go_service_port_key(port: int, protocol: str) -> GoValue:
    return GoValue(f'core.ServicePort{{Name:"", Protocol:{go_quote(protocol)}, AppProtocol:(*string)(nil), '
                   f'Port:{port}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:""}}, NodePort:0}}')


def _validate_service(resource: Resource, obj: dict, old: dict | None) -> list[FieldError]:
    spec = _as_dict(obj.get("spec"))
    errs: list[FieldError] = []
    stype = spec.get("type") or "ClusterIP"
    cluster_ip = spec.get("clusterIP") or ""
    headless = cluster_ip == "None"
    if stype not in _SERVICE_TYPES:
        errs.append(_not_supported("spec.type", stype, _SERVICE_TYPES))
    ports = _as_list(spec.get("ports"))
    if stype == "ExternalName":
        ext = spec.get("externalName") or ""
        if not ext:
            errs.append(_required("spec.externalName"))
        else:
            errs += [_invalid("spec.externalName", ext, m) for m in is_dns1123_subdomain(ext.rstrip("."))]
    elif not ports and not headless:
        errs.append(_required("spec.ports"))
    if cluster_ip and not headless and not is_valid_ip(cluster_ip):
        errs.append(_invalid("spec.clusterIPs[0]", cluster_ip,
                             "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
    if headless and stype in ("NodePort", "LoadBalancer"):
        errs.append(_invalid("spec.clusterIPs[0]", cluster_ip, f"may not be set to 'None' for {stype} services"))
    names: set[str] = set()
    keys: set[tuple] = set()
    node_ports: set[int] = set()
    for i, port in enumerate(ports):
        p = f"spec.ports[{i}]"
        port = _as_dict(port)
        name = port.get("name") or ""
        if len(ports) > 1 and not name:
            errs.append(_required(f"{p}.name"))
        elif name:
            msgs = is_dns1123_label(name)
            errs += [_invalid(f"{p}.name", name, m) for m in msgs]
            if name in names:
                errs.append(_duplicate(f"{p}.name", name))
            names.add(name)
        num = port.get("port")
        errs += [_invalid(f"{p}.port", num if num is not None else 0, m) for m in is_valid_port_num(num)]
        proto = port.get("protocol")
        if not proto:
            errs.append(_required(f"{p}.protocol"))
        elif proto not in _PROTOCOLS:
            errs.append(_not_supported(f"{p}.protocol", proto, _PROTOCOLS))
        target = port.get("targetPort")
        if target not in (None, 0):
            errs += _port_num_or_name(target, f"{p}.targetPort")
        node_port = port.get("nodePort")
        if node_port:
            if stype == "ClusterIP":
                errs.append(_forbidden(f"{p}.nodePort", "may not be used when `type` is 'ClusterIP'"))
            else:
                errs += [_invalid(f"{p}.nodePort", node_port, m) for m in is_valid_port_num(node_port)]
                if (node_port, proto) in node_ports:
                    errs.append(_duplicate(f"{p}.nodePort", node_port))
                node_ports.add((node_port, proto))  # type: ignore[arg-type]
        key = (num, proto)
        if key in keys:
            errs.append(FieldError(DUPLICATE, p, _go_service_port_key(num if isinstance(num, int) else 0, proto or "")))
        keys.add(key)
    if stype != "ExternalName":
        errs += validate_labels(spec.get("selector"), "spec.selector")
    sa = spec.get("sessionAffinity")
    if sa is not None and sa not in _SESSION_AFFINITIES:
        errs.append(_not_supported("spec.sessionAffinity", sa, _SESSION_AFFINITIES))
    for k in ("externalTrafficPolicy", "internalTrafficPolicy"):
        v = spec.get(k)
        if v is not None and v not in _TRAFFIC_POLICIES:
            errs.append(_not_supported(f"spec.{k}", v, _TRAFFIC_POLICIES))
    ifp = spec.get("ipFamilyPolicy")
    if ifp is not None and ifp not in _IP_FAMILY_POLICIES:
        errs.append(_not_supported("spec.ipFamilyPolicy", ifp, _IP_FAMILY_POLICIES))
    ips = _as_list(spec.get("clusterIPs"))
    if old is not None:
        errs = _cluster_ips_update(spec, _as_dict(old.get("spec"))) + errs
    if stype != "ExternalName" and ips:
        # ClusterIP and ClusterIPs are synced (the registry fills one from the other where it can)
        if not cluster_ip:
            errs.append(_invalid("spec.clusterIPs", ips, "must be empty when `clusterIP` is not specified"))
        elif ips[0] != cluster_ip:
            errs.append(_invalid("spec.clusterIPs", ips, "first value must match `clusterIP`"))
    return errs


def _cluster_ips_update(spec: dict, old_spec: dict) -> list[FieldError]:
    """Kubernetes' validateUpgradeDowngradeClusterIPs for one family: an allocated IP may not change.
    Omitted IPs mean "keep them" (the registry copies the allocated ones over before validating)."""
    if "ExternalName" in (spec.get("type"), old_spec.get("type")):
        return []
    old_ips = _as_list(old_spec.get("clusterIPs")) or ([old_spec["clusterIP"]] if old_spec.get("clusterIP") else [])
    new_ips = _as_list(spec.get("clusterIPs")) or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    if not old_ips or not new_ips or (old_ips[:1] == ["None"] and new_ips[:1] == ["None"]):
        return []
    if len(old_ips) == len(new_ips):
        return [_invalid(f"spec.clusterIPs[{i}]", new_ips, "may not change once set")
                for i, ip in enumerate(old_ips) if ip != new_ips[i]]
    if new_ips[0] != old_ips[0]:
        return [_invalid("spec.clusterIPs[0]", new_ips, "may not change once set")]
    return []


def _validate_endpoints(resource: Resource, obj: dict, old: dict | None) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, subset in enumerate(_as_list(obj.get("subsets"))):
        subset = _as_dict(subset)
        for kind in ("addresses", "notReadyAddresses"):
            for j, a in enumerate(_as_list(subset.get(kind))):
                ip = _as_dict(a).get("ip") or ""
                if not is_valid_ip(ip):
                    errs.append(_invalid(f"subsets[{i}].{kind}[{j}].ip", ip, "must be a valid IP address"))
        for j, port in enumerate(_as_list(subset.get("ports"))):
            port = _as_dict(port)
            p = f"subsets[{i}].ports[{j}]"
            errs += [_invalid(f"{p}.port", port.get("port"), m) for m in is_valid_port_num(port.get("port"))]
            proto = port.get("protocol")
            if proto is not None and proto not in _PROTOCOLS:
                errs.append(_not_supported(f"{p}.protocol", proto, _PROTOCOLS))
    return errs


_ADDRESS_TYPES = ["FQDN", "IPv4", "IPv6"]
MAX_SLICE_ENDPOINTS, MAX_ENDPOINT_ADDRESSES = 1000, 100


def _slice_address_errors(addr_type: str, address: Any, path: str) -> list[FieldError]:
    """One address against its slice's type (`pkg/apis/discovery/validation`); unknown types pass."""
    a = address if isinstance(address, str) else ""
    if addr_type in ("IPv4", "IPv6"):
        try:
            ok = ipaddress.ip_address(a).version == (4 if addr_type == "IPv4" else 6)
        except ValueError:
            ok = False
        return [] if ok else [_invalid(path, a, f"must be a valid {addr_type} address")]
    if addr_type == "FQDN":
        return [_invalid(path, a, m) for m in is_dns1123_subdomain(a.rstrip("."))] if a else [_required(path)]
    return []


def _validate_endpointslice(resource: Resource, obj: dict, old: dict | None) -> list[FieldError]:
    errs: list[FieldError] = []
    addr_type = obj.get("addressType") or ""
    if not addr_type:
        errs.append(_required("addressType"))
    elif addr_type not in _ADDRESS_TYPES:
        errs.append(_not_supported("addressType", addr_type, _ADDRESS_TYPES))
    endpoints = _as_list(obj.get("endpoints"))
    if len(endpoints) > MAX_SLICE_ENDPOINTS:
        errs.append(FieldError(TOO_MANY, "endpoints", len(endpoints),
                               f"must have at most {MAX_SLICE_ENDPOINTS} items"))
        endpoints = []
    for i, ep in enumerate(endpoints):
        ep = _as_dict(ep)
        path = f"endpoints[{i}].addresses"
        addresses = _as_list(ep.get("addresses"))
        if not addresses:
            errs.append(_required(path, "must contain at least 1 address"))
        elif len(addresses) > MAX_ENDPOINT_ADDRESSES:
            errs.append(FieldError(TOO_MANY, path, len(addresses),
                                   f"must have at most {MAX_ENDPOINT_ADDRESSES} items"))
        for j, a in enumerate(addresses):
            errs += _slice_address_errors(addr_type, a, f"{path}[{j}]")
        if ep.get("nodeName") is not None:
            errs += [_invalid(f"endpoints[{i}].nodeName", ep["nodeName"], m)
                     for m in is_dns1123_subdomain(str(ep["nodeName"]))]
        if ep.get("hostname") is not None:
            errs += [_invalid(f"endpoints[{i}].hostname", ep["hostname"], m)
                     for m in is_dns1123_label(str(ep["hostname"]))]
    names: set[str] = set()
    for i, port in enumerate(_as_list(obj.get("ports"))):
        port = _as_dict(port)
        p = f"ports[{i}]"
        name = port.get("name") or ""
        if name:
            errs += [_invalid(f"{p}.name", name, m) for m in is_dns1123_label(name)]
        if name in names:
            errs.append(_duplicate(f"{p}.name", name))
        names.add(name)
        proto = port.get("protocol")
        if not proto:
            errs.append(_required(f"{p}.protocol"))
        elif proto not in _PROTOCOLS:
            errs.append(_not_supported(f"{p}.protocol", proto, _PROTOCOLS))
        if port.get("port") is not None:
            errs += [_invalid(f"{p}.port", port["port"], m) for m in is_valid_port_num(port["port"])]
    if old is not None and old.get("addressType") != obj.get("addressType"):
        errs.append(_invalid("addressType", addr_type, "field is immutable"))
    return errs


# --- workloads -------------------------------------------------------------------------------------

def _int_or_percent_value(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, str) and _PERCENT.match(v):
        return int(v[:-1])
    return None


def _validate_positive_int_or_percent(v: Any, path: str) -> list[FieldError]:
    if v is None:
        return []
    if isinstance(v, str):
        if not _PERCENT.match(v):
            return [_invalid(path, GoValue(go_int_or_string(v)),
                             _regex_error("a valid percent string must be a numeric string followed by an ending '%'",
                                          _PERCENT_FMT, "1%", "93%"))]
        return []
    if isinstance(v, int) and not isinstance(v, bool):
        return _nonneg(v, path)
    return [_invalid(path, v, "must be an integer or percentage (e.g '5%')")]


def _validate_strategy(strategy: Any, path: str) -> list[FieldError]:
    strategy = _as_dict(strategy)
    stype = strategy.get("type")
    errs: list[FieldError] = []
    if stype == "Recreate":
        if strategy.get("rollingUpdate") is not None:
            errs.append(_forbidden(f"{path}.rollingUpdate",
                                   "may not be specified when strategy `type` is 'Recreate'"))
    elif stype == "RollingUpdate":
        ru = strategy.get("rollingUpdate")
        if ru is None:
            return [_required(f"{path}.rollingUpdate", "this should be defaulted and never be nil")]
        ru = _as_dict(ru)
        mu, ms = ru.get("maxUnavailable"), ru.get("maxSurge")
        errs += _validate_positive_int_or_percent(mu, f"{path}.rollingUpdate.maxUnavailable")
        errs += _validate_positive_int_or_percent(ms, f"{path}.rollingUpdate.maxSurge")
        if _int_or_percent_value(mu) == 0 and _int_or_percent_value(ms) == 0:
            errs.append(_invalid(f"{path}.rollingUpdate.maxUnavailable", GoValue(go_int_or_string(mu)),
                                 "may not be 0 when `maxSurge` is 0"))
        if isinstance(mu, str) and (_int_or_percent_value(mu) or 0) > 100:
            errs.append(_invalid(f"{path}.rollingUpdate.maxUnavailable", GoValue(go_int_or_string(mu)),
                                 "must not be greater than 100%"))
    else:
        errs.append(_not_supported(f"{path}.type", stype, ["Recreate", "RollingUpdate"]))
    return errs


def _validate_selector_and_template(spec: dict, path: str) -> list[FieldError]:
    """The selector/template rules ReplicaSets and Deployments share."""
    errs: list[FieldError] = []
    selector = spec.get("selector")
    sel = None
    if selector is None:
        errs.append(_required(f"{path}.selector"))
    else:
        selector = _as_dict(selector)
        errs += validate_labels(selector.get("matchLabels"), f"{path}.selector.matchLabels")
        for i, e in enumerate(_as_list(selector.get("matchExpressions"))):
            e = _as_dict(e)
            ep = f"{path}.selector.matchExpressions[{i}]"
            op = e.get("operator")
            if op in ("In", "NotIn") and not e.get("values"):
                errs.append(_required(f"{ep}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
            elif op in ("Exists", "DoesNotExist") and e.get("values"):
                errs.append(_forbidden(f"{ep}.values", "may not be specified when `operator` is 'Exists' or "
                                                       "'DoesNotExist'"))
            elif op not in ("In", "NotIn", "Exists", "DoesNotExist"):
                errs.append(_invalid(f"{ep}.operator", op, "not a valid selector operator"))
            errs += [_invalid(f"{ep}.key", e.get("key", ""), m) for m in is_qualified_name(str(e.get("key", "")))]
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            errs.append(_invalid(f"{path}.selector", GoValue(go_label_selector(selector)),
                                 "empty selector is invalid for deployment"))
        else:
            try:
                sel = label_selector_from_spec(selector)
            except ValueError:
                errs.append(_invalid(f"{path}.selector", GoValue(go_label_selector(selector)),
                                     "invalid label selector"))
    template = spec.get("template")
    if template is None:
        errs.append(_required(f"{path}.template"))
        return errs
    template = _as_dict(template)
    tmeta = _as_dict(template.get("metadata"))
    tlabels = tmeta.get("labels")
    if sel is not None and not sel.empty() and not sel.matches(tlabels if isinstance(tlabels, dict) else {}):
        errs.append(_invalid(f"{path}.template.metadata.labels",
                             GoValue(go_string_map(tlabels if isinstance(tlabels, dict) else None)),
                             "`selector` does not match template `labels`"))
    errs += validate_labels(tlabels, f"{path}.template.metadata.labels")
    errs += validate_annotations(tmeta.get("annotations"), f"{path}.template.metadata.annotations")
    tspec = _as_dict(template.get("spec"))
    errs += validate_pod_spec(tspec, f"{path}.template.spec")
    rp = tspec.get("restartPolicy")
    if rp in _RESTART_POLICIES and rp != "Always":
        errs.append(_not_supported(f"{path}.template.spec.restartPolicy", rp, ["Always"]))
    if tspec.get("activeDeadlineSeconds") is not None:
        errs.append(_forbidden(f"{path}.template.spec.activeDeadlineSeconds",
                               "activeDeadlineSeconds in ReplicaSet is not Supported"))
    return errs


def _selector_immutable(obj: dict, old: dict | None) -> list[FieldError]:
    if old is None:
        return []
    new_sel = _as_dict(obj.get("spec")).get("selector")
    old_sel = _as_dict(old.get("spec")).get("selector")
    if label_selector_or_none(new_sel) != label_selector_or_none(old_sel):
        return [_invalid("spec.selector", GoValue(go_label_selector(new_sel)), "field is immutable")]
    return []


def label_selector_or_none(sel: Any) -> Any:
    """A comparable form of a selector (so `{}` vs missing matchExpressions don't count as a change)."""
    if not isinstance(sel, dict):
        return sel
    return (tuple(sorted((sel.get("matchLabels") or {}).items())),
            json.dumps(sel.get("matchExpressions") or [], sort_keys=True))


def _validate_replicaset(resource: Resource, obj: dict, old: dict | None) -> list[FieldError]:
    spec = _as_dict(obj.get("spec"))
    errs = _nonneg(spec.get("replicas"), "spec.replicas")
    errs += _nonneg(spec.get("minReadySeconds"), "spec.minReadySeconds")
    errs += _validate_selector_and_template(spec, "spec")
    errs += _selector_immutable(obj, old)
    return errs


def _validate_deployment(resource: Resource, obj: dict, old: dict | None) -> list[FieldError]:
    spec = _as_dict(obj.get("spec"))
    errs = _nonneg(spec.get("replicas"), "spec.replicas")
    errs += _validate_selector_and_template(spec, "spec")
    errs += _validate_strategy(spec.get("strategy"), "spec.strategy")
    errs += _nonneg(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit")
    pds, mrs = spec.get("progressDeadlineSeconds"), spec.get("minReadySeconds") or 0
    errs += _nonneg(pds, "spec.progressDeadlineSeconds")
    if isinstance(pds, int) and isinstance(mrs, int) and pds <= mrs:
        errs.append(_invalid("spec.progressDeadlineSeconds", pds, "must be greater than minReadySeconds"))
    errs += _nonneg(spec.get("minReadySeconds"), "spec.minReadySeconds")
    errs += _selector_immutable(obj, old)
    return errs


# --- ingress ---------------------------------------------------------------------------------------

_PATH_TYPES = ["Exact", "ImplementationSpecific", "Prefix"]


def _validate_host(host: str, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if is_valid_ip(host):
        errs.append(_invalid(path, host, "must be a DNS name, not an IP address"))
    if "*" in host:
        errs += [_invalid(path, host, m) for m in is_wildcard_dns1123_subdomain(host)]
    else:
        errs += [_invalid(path, host, m) for m in is_dns1123_subdomain(host)]
    return errs


def _validate_ingress_backend(backend: Any, path: str) -> list[FieldError]:
    backend = _as_dict(backend)
    svc, res = backend.get("service"), backend.get("resource")
    if svc is not None and res is not None:
        return [_invalid(path, "", "cannot set both resource and service backends")]
    if res is not None:
        return []
    if svc is None:
        return [_invalid(path, "", "resource or service backend is required")]
    svc = _as_dict(svc)
    errs: list[FieldError] = []
    name = svc.get("name") or ""
    if not name:
        errs.append(_required(f"{path}.service.name"))
    else:
        errs += [_invalid(f"{path}.service.name", name, m) for m in is_dns1035_label(name)]
    port = _as_dict(svc.get("port"))
    pname, pnum = port.get("name") or "", port.get("number") or 0
    if pname and pnum:
        errs.append(_invalid(f"{path}.service.port", "", "cannot set both port name & port number"))
    elif pname:
        errs += [_invalid(f"{path}.service.port.name", pname, m) for m in is_valid_port_name(pname)]
    elif pnum:
        errs += [_invalid(f"{path}.service.port.number", pnum, m) for m in is_valid_port_num(pnum)]
    else:
        errs.append(_required(f"{path}.service.port", "port name or number is required"))
    return errs


def _validate_ingress(resource: Resource, obj: dict, old: dict | None) -> list[FieldError]:
    spec = _as_dict(obj.get("spec"))
    errs: list[FieldError] = []
    rules = _as_list(spec.get("rules"))
    if not rules and spec.get("defaultBackend") is None:
        errs.append(_invalid("spec", GoValue("[]networking.IngressRule(nil)"),
                             "either `defaultBackend` or `rules` must be specified"))
    if spec.get("defaultBackend") is not None:
        errs += _validate_ingress_backend(spec["defaultBackend"], "spec.defaultBackend")
    icn = spec.get("ingressClassName")
    if icn:
        errs += [_invalid("spec.ingressClassName", icn, m) for m in is_dns1123_subdomain(icn)]
    for i, tls in enumerate(_as_list(spec.get("tls"))):
        for j, host in enumerate(_as_list(_as_dict(tls).get("hosts"))):
            errs += _validate_host(str(host), f"spec.tls[{i}].hosts[{j}]")
    for i, rule in enumerate(rules):
        rp = f"spec.rules[{i}]"
        rule = _as_dict(rule)
        host = rule.get("host") or ""
        if host:
            errs += _validate_host(host, f"{rp}.host")
        http = rule.get("http")
        if http is None:
            continue
        paths = _as_list(_as_dict(http).get("paths"))
        if not paths:
            errs.append(_required(f"{rp}.http.paths"))
        for j, hp in enumerate(paths):
            pp = f"{rp}.http.paths[{j}]"
            hp = _as_dict(hp)
            ptype = hp.get("pathType")
            p = hp.get("path") or ""
            if not ptype:
                errs.append(_required(f"{pp}.pathType", "pathType must be specified"))
            elif ptype not in _PATH_TYPES:
                errs.append(_not_supported(f"{pp}.pathType", ptype, _PATH_TYPES))
            elif ptype in ("Exact", "Prefix"):
                if not p.startswith("/"):
                    errs.append(_invalid(f"{pp}.path", p, "must be an absolute path"))
                for bad in ("//", "/./", "/../", "%2f", "%2F"):
                    if bad in p:
                        errs.append(_invalid(f"{pp}.path", p, f"must not contain '{bad}'"))
                for bad in ("/..", "/."):
                    if p.endswith(bad):
                        errs.append(_invalid(f"{pp}.path", p, f"cannot end with '{bad}'"))
            elif p and not p.startswith("/"):
                errs.append(_invalid(f"{pp}.path", p, "must be an absolute path"))
            errs += _validate_ingress_backend(hp.get("backend"), f"{pp}.backend")
    if not errs:
        # What reaches nginx.conf must also pass the ingress controller's allowlist (ingress-nginx does
        # this in its admission webhook): refuse here, so nothing half-valid is ever stored.
        from minikube_py.ingress.nginx_conf import validate_ingress

        errs += [_invalid(c.field, c.value, c.detail) for c in validate_ingress(obj)]
    return errs


def _validate_ingress_class(resource: Resource, obj: dict, old: dict | None) -> list[FieldError]:
    spec = _as_dict(obj.get("spec"))
    ctl = spec.get("controller") or ""
    if not ctl:
        return [_required("spec.controller")]
    if len(ctl) > 250:
        return [_too_long("spec.controller", 250)]
    if old is not None and ctl != _as_dict(old.get("spec")).get("controller"):
        return [_invalid("spec.controller", ctl, "field is immutable")]
    return []


# --- config ----------------------------------------------------------------------------------------

def _validate_keys(data: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for k in _as_dict(data):
        errs += [_invalid(f"{path}[{k}]", k, m) for m in is_config_map_key(str(k))]
    return errs


def _immutable_data(obj: dict, old: dict | None, fields: tuple[str, ...]) -> list[FieldError]:
    if old is None or not old.get("immutable"):
        return []
    errs: list[FieldError] = []
    if not obj.get("immutable"):
        errs.append(_forbidden("immutable", "field is immutable when `immutable` is set"))
    for f in fields:
        if (obj.get(f) or {}) != (old.get(f) or {}):
            errs.append(_forbidden(f, "field is immutable when `immutable` is set"))
    return errs


def _validate_configmap(resource: Resource, obj: dict, old: dict | None) -> list[FieldError]:
    errs = _validate_keys(obj.get("data"), "data") + _validate_keys(obj.get("binaryData"), "binaryData")
    size = 0
    binary = _as_dict(obj.get("binaryData"))
    for k, v in _as_dict(obj.get("data")).items():
        if k in binary:
            errs.append(_invalid(f"data[{k}]", k, "duplicate of key present in binaryData"))
        if not isinstance(v, str):
            errs.append(_invalid(f"data[{k}]", v, "must be a string"))
        size += len(str(v))
    size += sum(len(str(v)) * 3 // 4 for v in binary.values())
    if size > MAX_SECRET_SIZE:
        errs.append(_too_long("", MAX_SECRET_SIZE))
    errs += _immutable_data(obj, old, ("data", "binaryData"))
    return errs


def _validate_secret(resource: Resource, obj: dict, old: dict | None) -> list[FieldError]:
    errs = _validate_keys(obj.get("data"), "data")
    size = 0
    data = _as_dict(obj.get("data"))
    for k, v in data.items():
        try:
            size += len(base64.b64decode(str(v), validate=True))
        except (binascii.Error, ValueError):
            errs.append(_invalid(f"data[{k}]", "<secret contents redacted>", "illegal base64 data"))
    if size > MAX_SECRET_SIZE:
        errs.append(_too_long("data", MAX_SECRET_SIZE))
    stype = obj.get("type") or "Opaque"
    if stype == "kubernetes.io/tls":
        for key in ("tls.crt", "tls.key"):
            if key not in data:
                errs.append(_required(f"data[{key}]"))
    elif stype == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            errs.append(_required("data[username]", "either username or password is required"))
    elif stype == "kubernetes.io/dockerconfigjson" and ".dockerconfigjson" not in data:
        errs.append(_required("data[.dockerconfigjson]"))
    if old is not None and (old.get("type") or "Opaque") != stype:
        errs.append(_invalid("type", stype, "field is immutable"))
    errs += _immutable_data(obj, old, ("data",))
    return errs


def _validate_namespace(resource: Resource, obj: dict, old: dict | None) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, f in enumerate(_as_list(_as_dict(obj.get("spec")).get("finalizers"))):
        errs += [_invalid(f"spec.finalizers[{i}]", f, m) for m in is_qualified_name(str(f))]
    return errs


def _validate_event(resource: Resource, obj: dict, old: dict | None) -> list[FieldError]:
    ns = _as_dict(obj.get("metadata")).get("namespace") or ""
    inv_ns = _as_dict(obj.get("involvedObject")).get("namespace") or ""
    if inv_ns and ns and inv_ns != ns:
        return [_invalid("involvedObject.namespace", inv_ns, "does not match event.namespace")]
    return []


_LEASE_STRATEGIES = ["OldestEmulationVersion"]


def _validate_lease(resource: Resource, obj: dict, old: dict | None) -> list[FieldError]:
    """Kubernetes' ValidateLeaseSpec: positive duration, non-negative transitions, a known (or qualified
    custom) strategy, and preferredHolder only together with a strategy. renewTime/acquireTime are
    MicroTimes: not validated further."""
    spec = _as_dict(obj.get("spec"))
    errs: list[FieldError] = []
    dur = spec.get("leaseDurationSeconds")
    if isinstance(dur, int) and not isinstance(dur, bool) and dur <= 0:
        errs.append(_invalid("spec.leaseDurationSeconds", dur, "must be greater than 0"))
    trans = spec.get("leaseTransitions")
    if isinstance(trans, int) and not isinstance(trans, bool) and trans < 0:
        errs.append(_invalid("spec.leaseTransitions", trans, "must be greater than or equal to 0"))
    strategy = spec.get("strategy")
    if strategy is not None:
        if "/" not in str(strategy):
            if strategy not in _LEASE_STRATEGIES:
                errs.append(_not_supported("spec.strategy.strategy", strategy, _LEASE_STRATEGIES))
        else:
            errs += [_invalid("spec.strategy.strategy", strategy, m) for m in is_qualified_name(str(strategy))]
    if spec.get("preferredHolder") and not strategy:
        errs.append(_forbidden("spec.preferredHolder", "may only be specified if `strategy` is defined"))
    return errs


# --- serviceaccounts --------------------------------------------------------------------------------

# The fields of a ServiceAccount's `secrets` (ObjectReferences) and `imagePullSecrets`
# (LocalObjectReferences) entries, for the strict-fields table below; wrong types are the schema checker's
# (typecheck.py) like every checked kind's.
_OBJECT_REFERENCE = dict.fromkeys(["kind", "namespace", "name", "uid", "apiVersion", "resourceVersion",
                                   "fieldPath"], "string")
_LOCAL_OBJECT_REFERENCE = {"name": "string"}


_VALIDATORS = {
    "pods": _validate_pod,
    "services": _validate_service,
    "endpoints": _validate_endpoints,
    "endpointslices": _validate_endpointslice,
    "replicasets": _validate_replicaset,
    "deployments": _validate_deployment,
    "ingresses": _validate_ingress,
    "ingressclasses": _validate_ingress_class,
    "configmaps": _validate_configmap,
    "secrets": _validate_secret,
    "namespaces": _validate_namespace,
    "events": _validate_event,
    "leases": _validate_lease,
}


def validation_errors(resource: Resource, obj: dict, old: dict | None = None) -> list[FieldError]:
    """The FieldErrors for *obj* (and, on update, against *old*), metadata first."""
    errs = validate_object_meta(resource, obj.get("metadata"))
    fn = _VALIDATORS.get(resource.plural)
    if fn is not None:
        errs += fn(resource, obj, old)
    # apimachinery's aggregate drops exact duplicates; do the same so a message never repeats.
    out, seen = [], set()
    for e in errs:
        if str(e) not in seen:
            seen.add(str(e))
            out.append(e)
    return out


def validate(resource: Resource, obj: dict, old: dict | None = None) -> list[dict]:
    """Causes (`reason`, `message`, `field`) for the 422 Status; empty means valid."""
    return [e.cause() for e in validation_errors(resource, obj, old)]


def format_invalid_message(kind: str, name: str, causes: list[dict], group: str = "") -> str:
    """The Status message: `Pod "A" is invalid: metadata.name: Invalid value: …`; several causes are
    joined as `[a, b]`. With a *group* the kind is qualified, as the API server does
    (`Deployment.apps "x" is invalid: …`)."""
    qualified = f"{kind}.{group}" if group else kind
    parts = [f"{c['field']}: {c['message']}" if c.get("field") else c["message"] for c in causes]
    joined = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    return f"{qualified} {go_quote(name)} is invalid: {joined}"


# --- strict field validation -----------------------------------------------------------------------

# A schema is a dict of known field names to: None (a leaf or a free-form map: not checked further),
# another schema dict (an object), or a one-element list holding a schema (a list of objects).
_ANY = None
_OBJECT_META = dict.fromkeys([
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp",
    "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences", "finalizers",
    "managedFields"])
_HTTP_GET = dict.fromkeys(["path", "port", "host", "scheme", "httpHeaders"])
_PROBE = {**dict.fromkeys(["exec", "tcpSocket", "grpc", "initialDelaySeconds", "timeoutSeconds", "periodSeconds",
                           "successThreshold", "failureThreshold", "terminationGracePeriodSeconds"]),
          "httpGet": _HTTP_GET}
_CONTAINER = {
    **dict.fromkeys(["name", "image", "command", "args", "workingDir", "envFrom", "resizePolicy", "restartPolicy",
                     "volumeDevices", "lifecycle", "terminationMessagePath", "terminationMessagePolicy",
                     "imagePullPolicy", "securityContext", "stdin", "stdinOnce", "tty"]),
    "ports": [dict.fromkeys(["name", "hostPort", "containerPort", "protocol", "hostIP"])],
    "env": [dict.fromkeys(["name", "value", "valueFrom"])],
    "resources": dict.fromkeys(["limits", "requests", "claims"]),
    "volumeMounts": [dict.fromkeys(["name", "readOnly", "recursiveReadOnly", "mountPath", "subPath",
                                    "mountPropagation", "subPathExpr"])],
    "livenessProbe": _PROBE, "readinessProbe": _PROBE, "startupProbe": _PROBE,
}
_POD_SPEC = {
    **dict.fromkeys([
        "restartPolicy", "terminationGracePeriodSeconds", "activeDeadlineSeconds", "dnsPolicy", "nodeSelector",
        "serviceAccountName", "serviceAccount", "automountServiceAccountToken", "nodeName", "hostNetwork", "hostPID",
        "hostIPC", "shareProcessNamespace", "securityContext", "imagePullSecrets", "hostname", "subdomain",
        "affinity", "schedulerName", "tolerations", "hostAliases", "priorityClassName", "priority", "dnsConfig",
        "readinessGates", "runtimeClassName", "enableServiceLinks", "preemptionPolicy", "overhead",
        "topologySpreadConstraints", "setHostnameAsFQDN", "os", "hostUsers", "schedulingGates", "resourceClaims",
        "resources", "ephemeralContainers"]),
    "volumes": [_ANY],
    "containers": [_CONTAINER],
    "initContainers": [_CONTAINER],
}
_TEMPLATE = {"metadata": _OBJECT_META, "spec": _POD_SPEC}
_LABEL_SELECTOR = dict.fromkeys(["matchLabels", "matchExpressions"])
_TOP = {"apiVersion": _ANY, "kind": _ANY, "metadata": _OBJECT_META}
_SERVICE_SPEC = {
    **dict.fromkeys([
        "selector", "clusterIP", "clusterIPs", "type", "externalIPs", "sessionAffinity", "loadBalancerIP",
        "loadBalancerSourceRanges", "externalName", "externalTrafficPolicy", "healthCheckNodePort",
        "publishNotReadyAddresses", "sessionAffinityConfig", "ipFamilies", "ipFamilyPolicy",
        "allocateLoadBalancerNodePorts", "loadBalancerClass", "internalTrafficPolicy", "trafficDistribution"]),
    "ports": [dict.fromkeys(["name", "protocol", "appProtocol", "port", "targetPort", "nodePort"])],
}
_INGRESS_BACKEND = {"service": {"name": _ANY, "port": dict.fromkeys(["name", "number"])}, "resource": _ANY}
_INGRESS_SPEC = {
    "ingressClassName": _ANY, "defaultBackend": _INGRESS_BACKEND, "tls": [dict.fromkeys(["hosts", "secretName"])],
    "rules": [{"host": _ANY, "http": {"paths": [{"path": _ANY, "pathType": _ANY, "backend": _INGRESS_BACKEND}]}}],
}
SCHEMAS: dict[str, dict] = {
    "pods": {**_TOP, "spec": _POD_SPEC, "status": _ANY},
    "services": {**_TOP, "spec": _SERVICE_SPEC, "status": _ANY},
    "deployments": {**_TOP, "status": _ANY, "spec": {
        **dict.fromkeys(["replicas", "minReadySeconds", "revisionHistoryLimit", "paused", "progressDeadlineSeconds"]),
        "selector": _LABEL_SELECTOR, "template": _TEMPLATE,
        "strategy": {"type": _ANY, "rollingUpdate": dict.fromkeys(["maxSurge", "maxUnavailable"])}}},
    "replicasets": {**_TOP, "status": _ANY, "spec": {
        **dict.fromkeys(["replicas", "minReadySeconds"]), "selector": _LABEL_SELECTOR, "template": _TEMPLATE}},
    "configmaps": {**_TOP, **dict.fromkeys(["data", "binaryData", "immutable"])},
    "secrets": {**_TOP, **dict.fromkeys(["data", "stringData", "type", "immutable"])},
    "namespaces": {**_TOP, "spec": dict.fromkeys(["finalizers"]), "status": _ANY},
    "ingresses": {**_TOP, "spec": _INGRESS_SPEC, "status": _ANY},
    "ingressclasses": {**_TOP, "spec": dict.fromkeys(["controller", "parameters"])},
    "endpoints": {**_TOP, "subsets": [dict.fromkeys(["addresses", "notReadyAddresses", "ports"])]},
    "endpointslices": {**_TOP, "addressType": _ANY, "endpoints": [{
        **dict.fromkeys(["addresses", "hostname", "targetRef", "deprecatedTopology", "nodeName", "zone", "hints"]),
        "conditions": dict.fromkeys(["ready", "serving", "terminating"])}],
        "ports": [dict.fromkeys(["name", "protocol", "port", "appProtocol"])]},
    "nodes": {**_TOP, "spec": _ANY, "status": _ANY},
    # ValidateServiceAccount checks only metadata (name: a DNS-1123 subdomain, the default rule).
    "serviceaccounts": {**_TOP, "automountServiceAccountToken": _ANY,
                        "secrets": [dict.fromkeys(_OBJECT_REFERENCE)],
                        "imagePullSecrets": [dict.fromkeys(_LOCAL_OBJECT_REFERENCE)]},
    "leases": {**_TOP, "spec": dict.fromkeys([
        "holderIdentity", "leaseDurationSeconds", "acquireTime", "renewTime", "leaseTransitions", "strategy",
        "preferredHolder"])},
    "events": {**_TOP, **dict.fromkeys([
        "involvedObject", "reason", "message", "source", "firstTimestamp", "lastTimestamp", "count", "type",
        "eventTime", "series", "action", "related", "reportingComponent", "reportingInstance"])},
}


def _unknown(value: Any, schema: Any, path: str, out: list[str]) -> None:
    if schema is None:
        return
    if isinstance(schema, list):
        for i, item in enumerate(_as_list(value)):
            _unknown(item, schema[0], f"{path}[{i}]", out)
        return
    if not isinstance(value, dict):
        return
    for k, v in value.items():
        child = f"{path}.{k}" if path else k
        if k not in schema:
            out.append(child)
        else:
            _unknown(v, schema[k], child, out)


def unknown_fields(resource: Resource, obj: dict) -> list[str]:
    """Paths like `spec.containers[0].foo` of fields the kind doesn't declare (for `fieldValidation=Strict`:
    the server answers `strict decoding error: unknown field "spec.containers[0].foo"`). Kinds and
    sub-objects we don't model are never flagged."""
    out: list[str] = []
    schema = SCHEMAS.get(resource.plural)
    if schema is not None:
        _unknown(obj, schema, "", out)
    return out


def _prune(value: Any, schema: Any, path: str, out: list[str]) -> None:
    if schema is None:
        return
    if isinstance(schema, list):
        for i, item in enumerate(_as_list(value)):
            _prune(item, schema[0], f"{path}[{i}]", out)
        return
    if not isinstance(value, dict):
        return
    for k in list(value):
        child = f"{path}.{k}" if path else k
        if k not in schema:
            out.append(child)
            del value[k]
        else:
            _prune(value[k], schema[k], child, out)


def prune_unknown_fields(resource: Resource, obj: dict) -> list[str]:
    """Remove what `unknown_fields` names, in place, and return those paths: without `Strict` the
    apiserver decodes into its typed structs, which drops unknown fields (and, under `Warn`, says so)."""
    out: list[str] = []
    schema = SCHEMAS.get(resource.plural)
    if schema is not None:
        _prune(obj, schema, "", out)
    return out
