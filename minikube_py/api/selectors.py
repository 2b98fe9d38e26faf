"""Label and field selectors: parse the query-string forms, match objects, print them back.

Why a module of its own: the API server filters lists and watches with them, controllers turn a
ReplicaSet's `spec.selector` into one, and kubectl prints them (`-o wide` SELECTOR columns). The grammar
follows apimachinery's `labels.Parse` and `fields.ParseSelector`:

    label selector  := requirement ("," requirement)*
    requirement     := key | "!" key
                     | key ("=" | "==" | "!=") value
                     | key ("in" | "notin") "(" value ("," value)* ")"
                     | key (">" | "<") integer
    field selector  := term ("," term)*;  term := path ("=" | "==" | "!=") value   (backslash escapes)

Matching semantics (the part people get wrong): `!=` and `notin` match objects that lack the key;
`=`, `in`, `>`/`<` and `key` require it. An empty selector matches everything.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

# Operators as apimachinery's `selection.Operator` spells them.
EXISTS, NOT_EXISTS = "exists", "!"
EQUALS, DOUBLE_EQUALS, NOT_EQUALS = "=", "==", "!="
IN, NOT_IN = "in", "notin"
GREATER, LESS = "gt", "lt"


def _key_error(key: str) -> str | None:
    """Why *key* is not a valid label key (qualified name), or None."""
    prefix, slash, name = key.rpartition("/")
    if slash and not prefix:
        return "prefix part must be non-empty"
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return "prefix part must be a valid DNS subdomain"
    if not name:
        return "name part must be non-empty"
    if len(name) > 63:
        return "name part must be no more than 63 characters"
    if not _QUALIFIED_NAME.match(name):
        return ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                "with an alphanumeric character")
    return None


def _value_error(value: str) -> str | None:
    if len(value) > 63:
        return "must be no more than 63 characters"
    if not _LABEL_VALUE.match(value):
        return ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
                "and must start and end with an alphanumeric character")
    return None


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        has = self.key in labels
        value = labels.get(self.key)
        op = self.operator
        if op == EXISTS:
            return has
        if op == NOT_EXISTS:
            return not has
        if op in (EQUALS, DOUBLE_EQUALS, IN):
            return has and value in self.values
        if op in (NOT_EQUALS, NOT_IN):
            return not has or value not in self.values
        if op in (GREATER, LESS):
            if not has:
                return False
            try:
                have, want = int(value), int(self.values[0])  # type: ignore[arg-type]
            except ValueError:
                return False
            return have > want if op == GREATER else have < want
        raise AssertionError(op)

    def __str__(self) -> str:
        op = self.operator
        if op == EXISTS:
            return self.key
        if op == NOT_EXISTS:
            return f"!{self.key}"
        if op in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
            return f"{self.key}{op}{self.values[0]}"
        if op in (IN, NOT_IN):
            # apimachinery keeps values in a sorted set; printing them sorted keeps the string stable.
            return f"{self.key} {op} ({','.join(sorted(self.values))})"
        return f"{self.key}{'>' if op == GREATER else '<'}{self.values[0]}"


@dataclass(frozen=True)
class LabelSelector:
    """A conjunction of requirements, kept sorted by key as apimachinery's internal selector is."""

    requirements: tuple[Requirement, ...] = ()
    match_nothing: bool = False  # a nil `spec.selector` selects nothing (LabelSelectorAsSelector(nil))

    def matches(self, labels: dict[str, str] | None) -> bool:
        if self.match_nothing:
            return False
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def empty(self) -> bool:
        return not self.requirements and not self.match_nothing

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def _sorted(reqs: list[Requirement]) -> LabelSelector:
    return LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))


# --- label selector parsing ------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(!=|==|=|!|\(|\)|,|>|<|[^\s!=(),<>]+)")


def _tokenize(s: str) -> list[str]:
    tokens, pos = [], 0
    while pos < len(s):
        m = _TOKEN.match(s, pos)
        if not m:
            if s[pos:].strip() == "":
                break
            raise ValueError(f"unable to parse requirement: found unexpected character in '{s}'")
        tokens.append(m.group(1))
        pos = m.end()
        while pos < len(s) and s[pos].isspace():
            pos += 1
    return tokens


def _is_identifier(tok: str | None) -> bool:
    return tok is not None and tok not in ("!=", "==", "=", "!", "(", ")", ",", ">", "<")


def parse_label_selector(s: str) -> LabelSelector:
    """Parse `app=x,tier!=db,env in (a,b),!canary`; ValueError with a kubectl-like message on bad input."""
    tokens = _tokenize(s or "")
    reqs: list[Requirement] = []
    i = 0

    def peek(k: int = 0) -> str | None:
        return tokens[i + k] if i + k < len(tokens) else None

    while i < len(tokens):
        negate = False
        if peek() == "!":
            negate = True
            i += 1
        key = peek()
        if not _is_identifier(key):
            raise ValueError(f"found '{key or ''}', expected: identifier")
        assert key is not None
        if (err := _key_error(key)) is not None:
            raise ValueError(f"unable to parse requirement: key: Invalid value: \"{key}\": {err}")
        i += 1
        op = peek()
        if negate:
            if op not in (None, ","):
                raise ValueError(f"found '{op}', expected: ',' or 'end of string'")
            reqs.append(Requirement(key, NOT_EXISTS))
        elif op in (None, ","):
            reqs.append(Requirement(key, EXISTS))
        elif op in ("=", "==", "!="):
            i += 1
            value = peek()
            if value in (None, ","):
                value = ""  # `a=` selects an empty value, as apimachinery allows
            elif not _is_identifier(value):
                raise ValueError(f"found '{value}', expected: identifier")
            else:
                i += 1
            if (err := _value_error(value)) is not None:
                raise ValueError(f"unable to parse requirement: values[0][{key}]: Invalid value: \"{value}\": {err}")
            reqs.append(Requirement(key, op, (value,)))
        elif op in ("in", "notin"):
            i += 1
            if peek() != "(":
                raise ValueError(f"found '{peek() or ''}', expected: '('")
            i += 1
            values: list[str] = []
            while True:
                tok = peek()
                if tok is None:
                    raise ValueError("found '', expected: ')'")
                if tok == ")":
                    if values and tokens[i - 1] == ",":
                        values.append("")
                    i += 1
                    break
                if tok == ",":
                    if not values or tokens[i - 1] in ("(", ","):
                        values.append("")
                    i += 1
                    continue
                if (err := _value_error(tok)) is not None:
                    raise ValueError(f"unable to parse requirement: values[{len(values)}][{key}]: "
                                     f"Invalid value: \"{tok}\": {err}")
                values.append(tok)
                i += 1
            if not values:
                raise ValueError("for 'in', 'notin' operators, values set can't be empty")
            reqs.append(Requirement(key, op, tuple(dict.fromkeys(values))))
        elif op in (">", "<"):
            i += 1
            value = peek()
            if value is None or not re.fullmatch(r"-?[0-9]+", value):
                raise ValueError("for 'Gt', 'Lt' operators, the value must be an integer")
            i += 1
            reqs.append(Requirement(key, GREATER if op == ">" else LESS, (value,)))
        else:
            raise ValueError(f"found '{op}', expected: in, notin, =, ==, !=, gt, lt")
        nxt = peek()
        if nxt is None:
            break
        if nxt != ",":
            raise ValueError(f"found '{nxt}', expected: ',' or 'end of string'")
        i += 1
        if peek() is None:
            raise ValueError("found '', expected: identifier after ','")
    return _sorted(reqs)


def label_selector_from_spec(sel: dict | None) -> LabelSelector:
    """A `metav1.LabelSelector` dict (`matchLabels` + `matchExpressions`) as a LabelSelector.

    `None` selects nothing and `{}` selects everything, as in LabelSelectorAsSelector. (An empty selector
    is *invalid* on a ReplicaSet or Deployment; rejecting it is validation's job.) ValueError on an
    unknown operator.
    """
    if sel is None:
        return LabelSelector(match_nothing=True)
    reqs = [Requirement(k, EQUALS, (str(v),)) for k, v in (sel.get("matchLabels") or {}).items()]
    for expr in sel.get("matchExpressions") or []:
        op, key, values = expr.get("operator"), expr.get("key", ""), tuple(expr.get("values") or ())
        if op == "In":
            reqs.append(Requirement(key, IN, values))
        elif op == "NotIn":
            reqs.append(Requirement(key, NOT_IN, values))
        elif op == "Exists":
            reqs.append(Requirement(key, EXISTS))
        elif op == "DoesNotExist":
            reqs.append(Requirement(key, NOT_EXISTS))
        else:
            raise ValueError(f"{op!r} is not a valid label selector operator")
    return _sorted(reqs)


def format_labels(labels: dict[str, str] | None) -> str:
    """`a=b,c=d` sorted by key, `<none>` when empty: how kubectl prints a Service selector or labels."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


# --- field selectors -------------------------------------------------------------------------------

# Per plural, the field labels the API server can filter on (beyond metadata.name/metadata.namespace,
# which every kind supports). Mirrors each kind's GetAttrs/AddFieldLabelConversionFunc in Kubernetes.
_COMMON = {"metadata.name", "metadata.namespace"}
SUPPORTED_FIELDS: dict[str, set[str]] = {
    "pods": _COMMON | {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
                       "spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs",
                       "status.nominatedNodeName"},
    "events": _COMMON | {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                         "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
                         "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"},
    "secrets": _COMMON | {"type"},
    "nodes": _COMMON | {"spec.unschedulable"},
    "namespaces": _COMMON | {"status.phase"},
    "replicasets": _COMMON | {"status.replicas"},
    "services": set(_COMMON),
    "endpoints": set(_COMMON),
    "configmaps": set(_COMMON),
    "deployments": set(_COMMON),
    "ingresses": set(_COMMON),
    "ingressclasses": set(_COMMON),
    "leases": set(_COMMON),
    "serviceaccounts": set(_COMMON),
}

# Field labels whose value is not found at the dotted path of the same name.
_FIELD_ALIASES = {"source": "source.component"}


def field_value(obj: dict, path: str) -> str:
    """The string a field selector compares for *path*: missing → "", booleans → "true"/"false"."""
    if path == "status.podIPs":
        ips = (obj.get("status") or {}).get("podIPs") or []
        return ips[0].get("ip", "") if ips else ""
    cur: Any = obj
    for part in _FIELD_ALIASES.get(path, path).split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    operator: str  # "=", "==" or "!="
    value: str

    def matches(self, obj: dict) -> bool:
        have = field_value(obj, self.field)
        return have != self.value if self.operator == NOT_EQUALS else have == self.value

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")
        return f"{self.field}{self.operator}{escaped}"


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, obj: dict) -> bool:
        return all(r.matches(obj) for r in self.requirements)

    def unsupported(self, plural: str) -> list[str]:
        """Field labels the server can't filter *plural* on; the server answers 400
        `field label not supported: <x>` for the first."""
        allowed = SUPPORTED_FIELDS.get(plural, _COMMON)
        return [r.field for r in self.requirements if r.field not in allowed]

    def value_for(self, path: str) -> str | None:
        """The value of an `=`/`==` term on *path*, if any (lets a store narrow by name or node)."""
        for r in self.requirements:
            if r.field == path and r.operator != NOT_EQUALS:
                return r.value
        return None

    def empty(self) -> bool:
        return not self.requirements

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def _split_unescaped(s: str, sep: str) -> list[str]:
    parts, cur, i = [], [], 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            cur.append(s[i:i + 2])
            i += 2
            continue
        if c == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def _unescape(s: str) -> str:
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            if s[i + 1] not in "\\,=":
                raise ValueError(f"invalid field selector: invalid escape sequence: \\{s[i + 1]}")
            out.append(s[i + 1])
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def parse_field_selector(s: str) -> FieldSelector:
    """Parse `metadata.name=x,spec.nodeName!=n1`; ValueError (`invalid selector: ...`) on bad input."""
    reqs: list[FieldRequirement] = []
    if not s:
        return FieldSelector()
    for term in _split_unescaped(s, ","):
        if not term:
            continue
        # Find the first unescaped operator; `!=` and `==` before `=`.
        i, found = 0, None
        while i < len(term):
            if term[i] == "\\":
                i += 2
                continue
            for op in ("!=", "==", "="):
                if term.startswith(op, i):
                    found = (i, op)
                    break
            if found:
                break
            i += 1
        if not found:
            raise ValueError(f"invalid selector: '{s}'; can't understand '{term}'")
        pos, op = found
        key = term[:pos].strip()
        if not key:
            raise ValueError(f"invalid selector: '{s}'; can't understand '{term}'")
        reqs.append(FieldRequirement(key, op, _unescape(term[pos + len(op):])))
    return FieldSelector(tuple(reqs))
