"""List chunking: `?limit=N` and `?continue=TOKEN`, as the Kubernetes API server does it.

Why: kubectl asks for `limit=500` on every `get`, and clients that page (the official Python client's
`limit=`/`_continue=`, `kubectl get --chunk-size`) expect each page to carry `metadata.continue` and
`remainingItemCount`, and all pages together to be one consistent snapshot, the state at the first
page's resourceVersion, even when objects change in between.

How we keep the snapshot without a multi-version store: the token carries the first page's revision
and the last key served. A later page takes the current objects and *rewinds* them to that revision
with the store's event log (each event keeps the object before the change). When the log no longer
reaches back that far (compaction), the answer is 410 Expired with Kubernetes' message, and the
client starts over, exactly the contract a real API server offers.

Everything here is pure: lists in, lists out.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Iterable

from minikube_py.store.base import Event

TOKEN_VERSION = "meta.k8s.io/v1"


class InvalidContinue(ValueError):
    """The `continue` parameter is not one of ours (400)."""


@dataclass(frozen=True)
class Continue:
    revision: int   # the revision of the first page: every page is the state at this revision
    start: str      # serve keys strictly greater than this one ("namespace/name")


def parse_limit(raw: str | None) -> int:
    """`limit` as Kubernetes reads it: absent, empty, zero or negative mean "no limit" (0)."""
    if not raw:
        return 0
    try:
        return max(int(raw), 0)
    except ValueError:
        raise InvalidContinue(f'limit: Invalid value: "{raw}": must be an integer') from None


def encode_continue(token: Continue) -> str:
    raw = json.dumps({"v": TOKEN_VERSION, "rv": token.revision, "start": token.start}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_continue(value: str) -> Continue:
    try:
        data = json.loads(base64.urlsafe_b64decode(value.encode()))
        if data.get("v") != TOKEN_VERSION:
            raise InvalidContinue("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
        revision, start = int(data["rv"]), str(data["start"])
    except InvalidContinue:
        raise
    except (binascii.Error, ValueError, TypeError, KeyError, AttributeError, UnicodeDecodeError):
        raise InvalidContinue("continue key is not valid: illegal base64 data") from None
    if revision <= 0 or not start:
        raise InvalidContinue("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
    return Continue(revision, start)


def key_of(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"


def rewind(objects: list[dict], events: Iterable[Event], to_revision: int) -> list[dict]:
    """The objects as they were at *to_revision*: undo, newest first, every event after it.

    *objects* is the current state of one collection at some later revision; *events* are the changes
    to that same collection with a revision in (to_revision, that later revision]. Undoing ADDED drops
    the object, MODIFIED puts back `prev`, DELETED brings back `prev`."""
    state = {key_of(o): o for o in objects}
    for ev in sorted((e for e in events if e.revision > to_revision), key=lambda e: e.revision, reverse=True):
        key = f"{ev.namespace}/{ev.name}"
        if ev.type == "ADDED" or ev.prev is None:
            state.pop(key, None)
        else:
            state[key] = ev.prev
    return [state[k] for k in sorted(state)]


def page(objects: list[dict], limit: int, revision: int, after: str | None) -> tuple[list[dict], str, int | None]:
    """One page of *objects* (already filtered, any order): up to *limit* items with a key after *after*.

    Returns (items, continue token or "", remainingItemCount or None). The count is given, like
    Kubernetes does, only when no selector could make it a guess; the caller drops it in that case."""
    ordered = sorted(objects, key=key_of)
    if after is not None:
        ordered = [o for o in ordered if key_of(o) > after]
    if limit <= 0 or len(ordered) <= limit:
        return ordered, "", None
    items = ordered[:limit]
    return items, encode_continue(Continue(revision, key_of(items[-1]))), len(ordered) - limit
