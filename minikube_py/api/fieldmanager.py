"""Field ownership (`metadata.managedFields`) and server-side apply, as the apiserver's field manager does it.

Why: `kubectl apply --server-side` is how modern Kubernetes applies YAML, and its whole point is field
ownership. Without it, a field dropped from the applied manifest stays in the cluster forever, and two
appliers silently overwrite each other. With it:

- every write records which *manager* (`?fieldManager=`, else the User-Agent's first word) set which
  fields, in `metadata.managedFields` (FieldsV1: `f:` field, `k:` keyed list element, `v:` set member);
- an apply removes the fields this manager applied before and no longer applies, unless another manager
  also owns them;
- an apply that would change a field another manager owns is a 409 Conflict naming the manager and the
  field path, unless `force=true`, which takes the field over.

What we leave out, on purpose: status (set through the status subresource, which stays untracked here so
the agents' frequent status writes stay cheap), the server-owned metadata (name, uid, resourceVersion…),
and per-version schemas (one version per kind here). List element keys follow Kubernetes' list-map keys
(container ports by `containerPort`+`protocol`, Service ports by `port`+`protocol`; `protocol` defaults
to TCP when absent, as the API defaults it).

Pure: dicts in, dicts out; server.py calls `record_update` and `apply`.
"""
from __future__ import annotations

import copy
import json
import re
from typing import Any, Iterable

from minikube_py.api.patch import MERGE_KEYS, Keyed, Primitives, strategic_merge_patch

Path = tuple[str, ...]      # FieldsV1 path elements: 'f:spec', 'k:{"name":"web"}', 'v:"x"'
ELEMENT = "."               # FieldsV1's marker for "the list element itself"

# Server-owned metadata: never attributed to a manager (the apiserver strips these too).
_UNTRACKED_META = {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                   "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink", "generateName"}
_UNTRACKED_TOP = {"apiVersion", "kind", "status"}
# Kubernetes' list-map keys where they differ from the strategic-merge key.
_LIST_KEYS: dict[tuple[str, str], tuple[str, ...]] = {
    ("Container", "ports"): ("containerPort", "protocol"),
    ("ServiceSpec", "ports"): ("port", "protocol"),
}
_KEY_DEFAULTS = {"protocol": "TCP"}


class ApplyConflict(Exception):
    """An apply that would change fields other managers own; `.causes` and `str()` as Kubernetes words them."""

    def __init__(self, conflicts: list[tuple[dict, Path]]) -> None:
        self.conflicts = conflicts
        super().__init__(conflict_message(conflicts))

    @property
    def causes(self) -> list[dict]:
        return [{"reason": "FieldManagerConflict", "message": f"conflict with {describe_manager(e)}",
                 "field": path_string(p)} for e, p in self.conflicts]


# --- paths ----------------------------------------------------------------------------------------

def _fields(type_name: str | None) -> dict[str, Any]:
    return MERGE_KEYS.get(type_name or "", {}) if type_name != "__root__" else {"metadata": "ObjectMeta"}


def _element_key(item: Any, keys: tuple[str, ...]) -> str | None:
    if not isinstance(item, dict):
        return None
    values = {}
    for k in keys:
        v = item.get(k, _KEY_DEFAULTS.get(k))
        if v is None:
            return None
        values[k] = v
    return "k:" + json.dumps(values, separators=(",", ":"))


def leaves(obj: dict, kind: str) -> dict[Path, Any]:
    """Every owned-able path of *obj* with its value (None for list-element markers).

    Scalars, empty maps and lists without list-map semantics (`command`, `args`) are leaves holding
    their value; keyed list elements contribute a marker path plus their own leaves; set-like lists of
    scalars (`finalizers`) contribute one `v:` path per member."""
    out: dict[Path, Any] = {}
    root = kind if kind in MERGE_KEYS else "__root__"
    for key, value in (obj or {}).items():
        if key in _UNTRACKED_TOP:
            continue
        if key == "metadata" and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k not in _UNTRACKED_META}
            if not value:
                continue
        _walk(value, (f"f:{key}",), _fields(root).get(key), out)
    return out


def _walk(value: Any, path: Path, spec: Any, out: dict[Path, Any], parent_type: str | None = None,
          field: str | None = None) -> None:
    if isinstance(value, dict) and value and not isinstance(spec, (Keyed, Primitives)):
        for k, v in value.items():
            if v is None:
                continue  # a null field is an absent one to the Go types (a template's creationTimestamp: null)
            _walk(v, path + (f"f:{k}",), _fields(spec).get(k) if isinstance(spec, str) else None, out, spec, k)
        return
    if isinstance(value, list) and isinstance(spec, Keyed):
        keys = _LIST_KEYS.get((parent_type or "", field or ""), (spec.key,))
        for item in value:
            ek = _element_key(item, keys)
            if ek is None:          # an element without its key: the list is atomic for us
                out[path] = copy.deepcopy(value)
                return
        for item in value:
            elem = path + (_element_key(item, keys),)  # type: ignore[operator]
            out[elem] = None
            for k, v in item.items():
                sub = _fields(spec.elem).get(k) if spec.elem else None
                _walk(v, elem + (f"f:{k}",), sub, out, spec.elem, k)
        return
    if isinstance(value, list) and isinstance(spec, Primitives):
        for item in value:
            out[path + ("v:" + json.dumps(item, separators=(",", ":")),)] = None
        return
    out[path] = copy.deepcopy(value)


def path_string(path: Path) -> str:
    """structured-merge-diff's spelling: `.spec.template.spec.containers[name="web"].image`."""
    out = []
    for el in path:
        kind, _, rest = el.partition(":")
        if kind == "f":
            out.append("." + rest)
        elif kind == "k":
            out.append("[" + ",".join(f"{k}={json.dumps(v)}" for k, v in json.loads(rest).items()) + "]")
        elif kind == "v":
            out.append(f"[={rest}]")
        else:
            out.append(f"[{rest}]")
    return "".join(out)


def schema_path(obj: dict, kind: str, dotted: str) -> str:
    """Validation's `spec.containers[0].foo` in structured-merge-diff's spelling for *obj*:
    `.spec.containers[name="app"].foo` (keyed list elements by their key, other lists by index), as a
    server-side apply's "field not declared in schema" error names the field."""
    tokens = re.findall(r"\[\d+\]|[^.\[\]]+", dotted)
    spec: Any = kind if kind in MERGE_KEYS else "__root__"
    parent: str | None = None
    field: str | None = None
    value: Any = obj
    out: list[str] = []
    for tok in tokens:
        if tok.startswith("["):
            i = int(tok[1:-1])
            item = value[i] if isinstance(value, list) and i < len(value) else None
            key = None
            if isinstance(spec, Keyed):
                key = _element_key(item, _LIST_KEYS.get((parent or "", field or ""), (spec.key,)))
                spec = spec.elem
            else:
                spec = None
            out.append(key or f"i:{i}")
            value = item
            continue
        out.append(f"f:{tok}")
        parent = spec if isinstance(spec, str) else None
        field = tok
        spec = _fields(spec).get(tok) if isinstance(spec, str) else None
        value = value.get(tok) if isinstance(value, dict) else None
    return path_string(tuple(out))


# --- FieldsV1 -------------------------------------------------------------------------------------

def to_fields_v1(paths: Iterable[Path]) -> dict:
    tree: dict = {}
    for path in sorted(paths):
        node = tree
        for el in path:
            node = node.setdefault(el, {})
        if path and path[-1].startswith("k:"):
            node[ELEMENT] = {}
    return tree


def from_fields_v1(tree: dict, prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for el, sub in (tree or {}).items():
        if el == ELEMENT:
            out.add(prefix)
            continue
        path = prefix + (el,)
        if not sub:
            out.add(path)
        else:
            out |= from_fields_v1(sub, path)
    return out


def _entries(obj: dict) -> list[dict]:
    return copy.deepcopy((obj.get("metadata") or {}).get("managedFields") or [])


def _owned(entry: dict) -> set[Path]:
    return from_fields_v1(entry.get("fieldsV1") or {})


def _same_manager(entry: dict, manager: str, operation: str, subresource: str = "") -> bool:
    return (entry.get("manager") == manager and entry.get("operation") == operation
            and (entry.get("subresource") or "") == subresource)


def describe_manager(entry: dict) -> str:
    """How the apiserver names a manager in conflicts: `"kubectl"` (Apply) or `"kubectl-scale"
    with subresource "scale" using apps/v1` (Update)."""
    text = json.dumps(entry.get("manager", ""))
    if entry.get("subresource"):
        text += f' with subresource {json.dumps(entry["subresource"])}'
    if entry.get("operation") == "Update":
        text += f" using {entry.get('apiVersion', '')}"
    return text


def conflict_message(conflicts: list[tuple[dict, Path]]) -> str:
    if len(conflicts) == 1:
        entry, path = conflicts[0]
        return f"Apply failed with 1 conflict: conflict with {describe_manager(entry)}: {path_string(path)}"
    by_manager: dict[str, list[Path]] = {}
    for entry, path in conflicts:
        by_manager.setdefault(describe_manager(entry), []).append(path)
    lines = []
    for manager in sorted(by_manager):
        lines.append(f"conflicts with {manager}:")
        lines += [f"- {path_string(p)}" for p in by_manager[manager]]
    return f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)


def _store(entries: list[dict], sets: list[set[Path]]) -> list[dict]:
    out = []
    for entry, owned in zip(entries, sets):
        if owned:
            entry["fieldsType"] = "FieldsV1"
            entry["fieldsV1"] = to_fields_v1(owned)
            out.append(entry)
    return out


def _set_managed(obj: dict, entries: list[dict]) -> None:
    meta = obj.setdefault("metadata", {})
    if entries:
        meta["managedFields"] = entries
    else:
        meta.pop("managedFields", None)


# --- writes ---------------------------------------------------------------------------------------

def record_update(old: dict | None, new: dict, kind: str, manager: str, api_version: str, now: str,
                  subresource: str = "") -> None:
    """Attribute an ordinary write (create, PUT, non-apply PATCH, scale) to *manager*, in place on *new*.

    The fields the write added or changed move to *manager*'s `Update` entry; fields it removed leave
    every entry. A client that sends `managedFields` replaces them (kubectl edit round-trips them
    unchanged; `[]` clears them, as in Kubernetes); one that omits them keeps the stored ones."""
    meta = new.setdefault("metadata", {})
    base = old or {}
    if "managedFields" in meta and meta["managedFields"] != (base.get("metadata") or {}).get("managedFields"):
        entries = copy.deepcopy(meta["managedFields"] or [])
    else:
        entries = _entries(base)
    old_l = leaves(base, kind) if old else {}
    new_l = leaves(new, kind)
    changed = {p for p, v in new_l.items() if p not in old_l or old_l[p] != v}
    removed = set(old_l) - set(new_l)
    sets = [_owned(e) - changed - removed for e in entries]
    mine = next((i for i, e in enumerate(entries) if _same_manager(e, manager, "Update", subresource)), None)
    if changed:
        if mine is None:
            entries.append({"manager": manager, "operation": "Update", "apiVersion": api_version})
            sets.append(set())
            mine = len(entries) - 1
        if subresource:
            entries[mine]["subresource"] = subresource
        sets[mine] |= changed
        entries[mine]["time"] = now
    before = [_owned(e) for e in entries]
    if changed or removed or before != sets:
        _set_managed(new, _store(entries, sets))
    elif entries or "managedFields" in meta:
        _set_managed(new, entries)


def apply(live: dict | None, applied: dict, kind: str, manager: str, api_version: str, now: str,
          force: bool = False) -> dict:
    """Server-side apply of *applied* (the manager's whole intent) over *live*; returns the new object.

    Raises ApplyConflict when the apply would change a field another manager owns (unless *force*)."""
    live = live or {}
    entries = _entries(live)
    sets = [_owned(e) for e in entries]
    mine = next((i for i, e in enumerate(entries) if _same_manager(e, manager, "Apply")), None)
    applied_l = leaves(applied, kind)
    live_l = leaves(live, kind) if live else {}

    conflicts: list[tuple[dict, Path]] = []
    for i, (entry, owned) in enumerate(zip(entries, sets)):
        if i == mine:
            continue
        for path in sorted(owned & set(applied_l)):
            if applied_l[path] is None and path in live_l:   # an element both name: not a value clash
                continue
            if live_l.get(path) != applied_l[path]:
                conflicts.append((entry, path))
    if conflicts and not force:
        raise ApplyConflict(conflicts)
    for entry, path in conflicts:                            # force: the others lose those fields
        sets[entries.index(entry)].discard(path)

    result = strategic_merge_patch(live, applied, kind) if live else copy.deepcopy(applied)
    previous = sets[mine] if mine is not None else set()
    others: set[Path] = set().union(*(s for i, s in enumerate(sets) if i != mine)) if sets else set()
    gone: list[Path] = []           # shortest first: a removed list element takes its fields along
    for path in sorted(previous - set(applied_l), key=len):
        if any(path[:len(g)] == g for g in gone):
            continue
        if path in others or any(o[:len(path)] == path for o in others if len(o) > len(path)):
            continue
        _remove(result, path, kind)
        gone.append(path)

    if mine is None:
        entries.append({"manager": manager, "operation": "Apply", "apiVersion": api_version})
        sets.append(set())
        mine = len(entries) - 1
    sets[mine] = set(applied_l)
    entries[mine]["time"] = now
    entries[mine]["apiVersion"] = api_version
    _set_managed(result, _store(entries, sets))
    return result


def _remove(obj: dict, path: Path, kind: str) -> None:
    """Delete the field or list element at *path* from *obj* (in place); missing paths are fine."""
    node: Any = obj
    spec: Any = kind if kind in MERGE_KEYS else "__root__"
    parent_type: str | None = None
    field: str | None = None
    for i, el in enumerate(path):
        last = i == len(path) - 1
        kind_el, _, rest = el.partition(":")
        if kind_el == "f":
            if not isinstance(node, dict) or rest not in node:
                return
            if last:
                del node[rest]
                return
            parent_type, field = (spec if isinstance(spec, str) else None), rest
            spec = _fields(spec).get(rest) if isinstance(spec, str) else None
            node = node[rest]
        elif kind_el in ("k", "v") and isinstance(node, list):
            if kind_el == "k":
                keys = _LIST_KEYS.get((parent_type or "", field or ""),
                                      (spec.key,) if isinstance(spec, Keyed) else ())
                match = [j for j, item in enumerate(node) if _element_key(item, keys) == el]
            else:
                match = [j for j, item in enumerate(node) if "v:" + json.dumps(item, separators=(",", ":")) == el]
            if not match:
                return
            if last:
                del node[match[0]]
                return
            node = node[match[0]]
            parent_type = spec.elem if isinstance(spec, Keyed) else None
            spec = parent_type
        else:
            return
