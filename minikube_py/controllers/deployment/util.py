"""Pure Deployment arithmetic: template hashing, revisions, maxSurge/maxUnavailable, replica counts,
conditions. (Kubernetes `pkg/controller/deployment/util/deployment_util.go`.)

Everything here takes and returns plain dicts and ints, so the rollout decisions are unit-tested as tables
without an API server. The controller files (`sync.py`, `rolling.py`, `recreate.py`, `progress.py`) turn
the answers into API calls.
"""
from __future__ import annotations

import copy
import datetime as dt
import json
import math
from typing import Any, Iterable

from minikube_py.controllers.common import format_time, parse_time

POD_TEMPLATE_HASH = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
CHANGE_CAUSE = "kubernetes.io/change-cause"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ROLLBACK_TO = "deprecated.deployment.rollback.to"

# Annotations of a Deployment that are *not* copied onto its ReplicaSets (k8s `skipCopyAnnotation`).
_SKIP_COPY = {LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO}

# Condition reasons (k8s deployment_util.go).
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"
FAILED_RS_CREATE = "ReplicaSetCreateError"


# --- hashing ---------------------------------------------------------------------------------------

# k8s `rand.SafeEncodeString` alphabet: no vowels (no accidental words), no 0/1/3 (look like o/l/e).
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(s: str) -> str:
    """Map each character to the safe alphabet by its code (as k8s does to the hash's decimal digits)."""
    return "".join(SAFE_ALPHABET[ord(c) % len(SAFE_ALPHABET)] for c in s)


def _drop_nulls(value: Any) -> Any:
    """What a round trip through Kubernetes' Go types does to explicit nulls: they vanish. kubectl sends
    `metadata.creationTimestamp: null` inside templates (rollout undo, apply), which must not make a
    template differ from the same template without it."""
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def template_without_hash(template: dict) -> dict:
    t = _drop_nulls(copy.deepcopy(template or {}))
    labels = (t.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(POD_TEMPLATE_HASH, None)
    return t


def compute_hash(template: dict, collision_count: int | None = None) -> str:
    """k8s `ComputeHash`: FNV-1a (32 bit) of the pod template, then the collision count (4 bytes, little
    endian) when set, printed in decimal and safe-encoded. Our bytes are canonical JSON (sorted keys) of
    the template without its `pod-template-hash` label, so the value is stable across processes and
    restarts (the exact numbers differ from Kubernetes', which hashes a Go struct dump)."""
    data = json.dumps(template_without_hash(template), sort_keys=True, separators=(",", ":")).encode()
    if collision_count is not None:
        data += int(collision_count).to_bytes(4, "little", signed=False)
    return safe_encode(str(fnv32a(data)))


def equal_ignore_hash(a: dict | None, b: dict | None) -> bool:
    """Templates equal apart from the `pod-template-hash` label (k8s `EqualIgnoreHash`)."""
    return _norm(template_without_hash(a or {})) == _norm(template_without_hash(b or {}))


def _norm(t: dict) -> Any:
    # Empty label/annotation maps and absent ones are the same template.
    meta = t.get("metadata") or {}
    for k in ("labels", "annotations"):
        if k in meta and not meta[k]:
            meta.pop(k)
    if not meta:
        t.pop("metadata", None)
    else:
        t["metadata"] = meta
    return t


# --- maxSurge / maxUnavailable ---------------------------------------------------------------------

def scaled_value(value: int | str | None, total: int, round_up: bool) -> int:
    """k8s `GetScaledValueFromIntOrPercent`: an int is itself; "25%" is 25% of *total*, rounded up (surge)
    or down (unavailable)."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    s = str(value).strip()
    if s.endswith("%"):
        pct = int(s[:-1])
        exact = pct * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(s)


def resolve_fenceposts(max_surge: int | str | None, max_unavailable: int | str | None,
                       desired: int) -> tuple[int, int]:
    """(surge, unavailable) for *desired* replicas (k8s `ResolveFenceposts`). Both 0 would deadlock a
    rollout (nothing may be added, nothing removed), so unavailable becomes 1 then, as in Kubernetes."""
    surge = scaled_value(max_surge, desired, True)
    unavailable = scaled_value(max_unavailable, desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def is_rolling(d: dict) -> bool:
    return ((d["spec"].get("strategy") or {}).get("type") or "RollingUpdate") == "RollingUpdate"


def _rolling_params(d: dict) -> tuple[Any, Any]:
    ru = (d["spec"].get("strategy") or {}).get("rollingUpdate") or {}
    return ru.get("maxSurge", "25%"), ru.get("maxUnavailable", "25%")


def replicas_of(obj: dict | None) -> int:
    if obj is None:
        return 0
    r = obj.get("spec", {}).get("replicas")
    return 1 if r is None else int(r)


def max_surge(d: dict) -> int:
    if not is_rolling(d):
        return 0
    surge, _ = resolve_fenceposts(*_rolling_params(d), replicas_of(d))
    return surge


def max_unavailable(d: dict) -> int:
    """k8s `MaxUnavailable`: 0 for Recreate or 0 replicas, never more than the replicas."""
    desired = replicas_of(d)
    if not is_rolling(d) or desired == 0:
        return 0
    _, unavailable = resolve_fenceposts(*_rolling_params(d), desired)
    return min(unavailable, desired)


# --- replica counts --------------------------------------------------------------------------------

def _status(rs: dict | None, field: str) -> int:
    return int(((rs or {}).get("status") or {}).get(field) or 0)


def spec_replicas(rss: Iterable[dict | None]) -> int:
    return sum(replicas_of(rs) for rs in rss if rs is not None)


def actual_replicas(rss: Iterable[dict | None]) -> int:
    return sum(_status(rs, "replicas") for rs in rss if rs is not None)


def ready_replicas(rss: Iterable[dict | None]) -> int:
    return sum(_status(rs, "readyReplicas") for rs in rss if rs is not None)


def available_replicas(rss: Iterable[dict | None]) -> int:
    return sum(_status(rs, "availableReplicas") for rs in rss if rs is not None)


def active(rss: Iterable[dict | None]) -> list[dict]:
    return [rs for rs in rss if rs is not None and replicas_of(rs) > 0]


def _created(rs: dict) -> tuple:
    t = parse_time(rs["metadata"].get("creationTimestamp"))
    return (t.timestamp() if t else 0.0, rs["metadata"]["name"])


def by_creation(rss: Iterable[dict]) -> list[dict]:
    """Oldest first, ties by name (k8s `ReplicaSetsByCreationTimestamp`)."""
    return sorted(rss, key=_created)


def new_rs_new_replicas(d: dict, all_rss: list[dict | None], new_rs: dict) -> int:
    """How many replicas the new RS may have now (k8s `NewRSNewReplicas`).

    Rolling: as many as fit under `replicas + maxSurge` counting every RS's spec.replicas, and never
    more than `replicas`. Recreate: all of them (old ones are already at 0 when this is asked)."""
    if not is_rolling(d):
        return replicas_of(d)
    current = spec_replicas(all_rss)
    max_total = replicas_of(d) + max_surge(d)
    if current >= max_total:
        return replicas_of(new_rs)
    scale_up = min(max_total - current, replicas_of(d) - replicas_of(new_rs))
    return replicas_of(new_rs) + scale_up


def is_saturated(d: dict, rs: dict | None) -> bool:
    if rs is None:
        return False
    desired = (rs["metadata"].get("annotations") or {}).get(DESIRED_REPLICAS)
    try:
        desired_n = int(desired)
    except (TypeError, ValueError):
        return False
    return (desired_n == replicas_of(d) and replicas_of(rs) == replicas_of(d)
            and _status(rs, "availableReplicas") == replicas_of(d))


def find_active_or_latest(new_rs: dict | None, old_rss: list[dict]) -> dict | None:
    """The one RS that should absorb a scale change: the only active one, or the latest when none is
    active; None when several are active (then replicas are spread proportionally)."""
    if new_rs is None and not old_rss:
        return None
    olds = sorted(old_rss, key=_created, reverse=True)
    act = active(olds + [new_rs])
    if len(act) == 0:
        return new_rs if new_rs is not None else olds[0]
    if len(act) == 1:
        return act[0]
    return None


def _max_replicas_annotation(rs: dict) -> int | None:
    try:
        return int((rs["metadata"].get("annotations") or {}).get(MAX_REPLICAS))
    except (TypeError, ValueError):
        return None


def _round_half_away(x: float) -> int:
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def rs_fraction(rs: dict, d: dict) -> int:
    """k8s `getReplicaSetFraction`: how much *rs* should grow/shrink for the deployment's new size,
    proportionally to its share of the size it was given last (`max-replicas` annotation)."""
    if replicas_of(d) == 0:
        return -replicas_of(rs)
    deployment_replicas = replicas_of(d) + max_surge(d)
    annotated = _max_replicas_annotation(rs)
    if annotated is None:
        annotated = int((d.get("status") or {}).get("replicas") or 0)
    if annotated == 0:
        return 0
    return _round_half_away(replicas_of(rs) * deployment_replicas / annotated) - replicas_of(rs)


def proportion(rs: dict | None, d: dict, to_add: int, added: int) -> int:
    """k8s `GetProportion`: this RS's share of *to_add*, bounded by what is still left to add."""
    if rs is None or replicas_of(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = rs_fraction(rs, d)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


# --- revisions and annotations ---------------------------------------------------------------------

def revision(obj: dict | None) -> int:
    try:
        return int(((obj or {}).get("metadata", {}).get("annotations") or {}).get(REVISION, 0))
    except (TypeError, ValueError):
        return 0


def max_revision(rss: Iterable[dict]) -> int:
    return max((revision(rs) for rs in rss), default=0)


def set_replicas_annotations(rs: dict, desired: int, max_replicas: int) -> bool:
    ann = rs["metadata"].setdefault("annotations", {})
    changed = False
    for k, v in ((DESIRED_REPLICAS, str(desired)), (MAX_REPLICAS, str(max_replicas))):
        if ann.get(k) != v:
            ann[k] = v
            changed = True
    return changed


def replicas_annotations_need_update(rs: dict, desired: int, max_replicas: int) -> bool:
    ann = rs["metadata"].get("annotations") or {}
    return ann.get(DESIRED_REPLICAS) != str(desired) or ann.get(MAX_REPLICAS) != str(max_replicas)


def set_new_rs_annotations(d: dict, rs: dict, new_revision: int, exists: bool) -> bool:
    """k8s `SetNewReplicaSetAnnotations`: copy the deployment's annotations (change-cause among them),
    raise the revision to *new_revision* if lower (remembering the old one in revision-history: that is
    a rollback bringing an old RS back), and for a brand-new RS set desired/max replicas. Returns
    whether anything changed."""
    ann = rs["metadata"].setdefault("annotations", {})
    changed = False
    for k, v in (d["metadata"].get("annotations") or {}).items():
        if k in _SKIP_COPY or ann.get(k) == v:
            continue
        ann[k] = v
        changed = True
    old = ann.get(REVISION)
    try:
        old_n = int(old) if old else 0
    except ValueError:
        return changed
    if old_n < new_revision:
        ann[REVISION] = str(new_revision)
        changed = True
        if old:
            history = [h for h in (ann.get(REVISION_HISTORY) or "").split(",") if h]
            ann[REVISION_HISTORY] = ",".join(history + [old])
    if not exists and set_replicas_annotations(rs, replicas_of(d), replicas_of(d) + max_surge(d)):
        changed = True
    return changed


# --- conditions ------------------------------------------------------------------------------------

def get_condition(status: dict | None, ctype: str) -> dict | None:
    for c in (status or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None


def new_condition(ctype: str, status: str, reason: str, message: str, now: dt.datetime) -> dict:
    ts = format_time(now)
    return {"type": ctype, "status": status, "lastUpdateTime": ts, "lastTransitionTime": ts,
            "reason": reason, "message": message}


def set_condition(status: dict, cond: dict) -> None:
    """k8s `SetDeploymentCondition`: same status and reason → keep the old one untouched; same status →
    keep its lastTransitionTime."""
    current = get_condition(status, cond["type"])
    if current and current.get("status") == cond["status"] and current.get("reason") == cond["reason"]:
        return
    if current and current.get("status") == cond["status"]:
        cond = {**cond, "lastTransitionTime": current.get("lastTransitionTime")}
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != cond["type"]] + [cond]


def remove_condition(status: dict, ctype: str) -> None:
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != ctype]


def has_progress_deadline(d: dict) -> bool:
    v = d["spec"].get("progressDeadlineSeconds")
    return v is not None and int(v) < 2**31 - 1


def deployment_complete(d: dict, status: dict) -> bool:
    """All replicas updated and available, and the controller has seen the latest spec."""
    want = replicas_of(d)
    return (int(status.get("updatedReplicas") or 0) == want
            and int(status.get("replicas") or 0) == want
            and int(status.get("availableReplicas") or 0) == want
            and int(status.get("observedGeneration") or 0) >= int(d["metadata"].get("generation") or 0))


def deployment_progressing(d: dict, new_status: dict) -> bool:
    """Any progress since the status we last wrote: more updated/ready/available, or fewer old pods."""
    old = d.get("status") or {}
    g = lambda s, f: int(s.get(f) or 0)  # noqa: E731
    old_old = g(old, "replicas") - g(old, "updatedReplicas")
    new_old = g(new_status, "replicas") - g(new_status, "updatedReplicas")
    return (g(new_status, "updatedReplicas") > g(old, "updatedReplicas")
            or g(new_status, "readyReplicas") > g(old, "readyReplicas")
            or g(new_status, "availableReplicas") > g(old, "availableReplicas")
            or new_old < old_old)


def deployment_timed_out(d: dict, status: dict, now: dt.datetime) -> bool:
    if not has_progress_deadline(d):
        return False
    cond = get_condition(status, "Progressing")
    if cond is None or cond.get("reason") == NEW_RS_AVAILABLE:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    since = parse_time(cond.get("lastUpdateTime"))
    if since is None:
        return False
    return since + dt.timedelta(seconds=int(d["spec"]["progressDeadlineSeconds"])) < now
