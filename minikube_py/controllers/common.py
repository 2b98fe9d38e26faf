"""Small pure helpers every controller shares: times, pod readiness, owner references, adoption.

Kept pure (dicts in, values out) so the decisions are unit-tested without an API server; the controllers
only turn the answers into API calls.
"""
from __future__ import annotations

import datetime as dt
from typing import Iterable

from minikube_py.api.selectors import LabelSelector


# --- time ------------------------------------------------------------------------------------------

def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def parse_time(value: str | None) -> dt.datetime | None:
    """RFC 3339 (`2026-01-01T00:00:00Z`, fractional seconds allowed) → aware datetime; None if absent/bad."""
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def format_time(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- pods ------------------------------------------------------------------------------------------

def get_condition(obj: dict, ctype: str) -> dict | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None


def is_pod_ready(pod: dict) -> bool:
    c = get_condition(pod, "Ready")
    return bool(c) and c.get("status") == "True"


def is_pod_terminating(pod: dict) -> bool:
    return bool(pod.get("metadata", {}).get("deletionTimestamp"))


def is_pod_active(pod: dict) -> bool:
    """Counts toward a ReplicaSet: not finished (Succeeded/Failed) and not being deleted (k8s IsPodActive)."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not is_pod_terminating(pod)


def ready_since(pod: dict) -> dt.datetime | None:
    c = get_condition(pod, "Ready")
    if not c or c.get("status") != "True":
        return None
    return parse_time(c.get("lastTransitionTime"))


def available_in(pod: dict, min_ready_seconds: int, now: dt.datetime) -> float | None:
    """Seconds until *pod* counts as available (0 = available now), None if it is not ready at all.

    Available = Ready for at least `minReadySeconds` (k8s `IsPodAvailable`). A Ready condition without a
    transition time counts as ready since forever.
    """
    if not is_pod_ready(pod):
        return None
    if min_ready_seconds <= 0:
        return 0.0
    since = ready_since(pod)
    if since is None:
        return 0.0
    left = (since + dt.timedelta(seconds=min_ready_seconds) - now).total_seconds()
    return max(left, 0.0)


def is_pod_available(pod: dict, min_ready_seconds: int, now: dt.datetime) -> bool:
    return available_in(pod, min_ready_seconds, now) == 0.0


def restart_count(pod: dict) -> int:
    return sum(int(cs.get("restartCount") or 0) for cs in (pod.get("status") or {}).get("containerStatuses") or [])


# --- owner references ------------------------------------------------------------------------------

def controller_ref(obj: dict) -> dict | None:
    """The ownerReference with `controller: true`, if any."""
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def new_controller_ref(owner: dict, api_version: str, kind: str) -> dict:
    meta = owner["metadata"]
    return {"apiVersion": api_version, "kind": kind, "name": meta["name"], "uid": meta["uid"],
            "controller": True, "blockOwnerDeletion": True}


def owned_by(obj: dict, owner_uid: str) -> bool:
    ref = controller_ref(obj)
    return bool(ref) and ref.get("uid") == owner_uid


ADOPT, RELEASE, KEEP, IGNORE = "adopt", "release", "keep", "ignore"


def claim_decision(obj: dict, owner: dict, selector: LabelSelector) -> str:
    """What a controller should do with *obj* (a pod or ReplicaSet in the owner's namespace).

    Kubernetes' `ControllerRefManager.ClaimObject`:
    - ours and still matching → keep; ours and no longer matching → release (drop our ownerReference);
    - someone else's → ignore;
    - an orphan that matches → adopt, unless the owner or the orphan is being deleted;
    - anything else → ignore.
    """
    uid = owner["metadata"]["uid"]
    labels = obj.get("metadata", {}).get("labels") or {}
    ref = controller_ref(obj)
    if ref is not None:
        if ref.get("uid") != uid:
            return IGNORE
        if selector.matches(labels):
            return KEEP
        # Releasing from a dying owner is pointless: the GC is about to take care of the dependents.
        return IGNORE if owner["metadata"].get("deletionTimestamp") else RELEASE
    if owner["metadata"].get("deletionTimestamp") or obj.get("metadata", {}).get("deletionTimestamp"):
        return IGNORE
    return ADOPT if selector.matches(labels) else IGNORE


def remove_owner_ref(refs: Iterable[dict], uid: str) -> list[dict]:
    return [r for r in refs if r.get("uid") != uid]
