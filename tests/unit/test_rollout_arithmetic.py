"""Deployment rollout arithmetic as tables: fenceposts, the echo-strategy walk-through, hashing,
revisions, proportional shares, conditions."""
from __future__ import annotations

import datetime as dt

import pytest

from minikube_py.controllers.deployment import util
from minikube_py.controllers.deployment.rolling import (
    cleanup_plan, max_scaled_down, new_replicas_target, scale_down_plan)
from minikube_py.controllers.deployment.recreate import old_pods_running


@pytest.mark.parametrize("surge,unavail,desired,want", [
    ("25%", "25%", 4, (1, 1)),
    ("25%", "25%", 10, (3, 2)),      # surge rounds up (2.5 → 3), unavailable down (2.5 → 2)
    ("25%", "25%", 1, (1, 0)),
    ("25%", "25%", 0, (0, 1)),
    (0, 0, 4, (0, 1)),               # both 0 would deadlock: unavailable becomes 1
    ("0%", "0%", 10, (0, 1)),
    (3, 3, 4, (3, 3)),               # the guide's echo-strategy.yml
    ("50%", 0, 3, (2, 0)),
    ("10%", "10%", 4, (1, 0)),
    ("100%", "100%", 5, (5, 5)),
], ids=["25%-of-4", "25%-of-10", "25%-of-1", "25%-of-0", "both-0", "both-0%", "echo-strategy", "50%-of-3",
        "10%-of-4", "100%"])
def test_resolve_fenceposts(surge, unavail, desired, want):
    assert util.resolve_fenceposts(surge, unavail, desired) == want


def deploy(replicas=4, surge=3, unavail=3, strategy="RollingUpdate", generation=1):
    d = {"metadata": {"name": "echo-deploy-st", "namespace": "default", "uid": "d-uid", "generation": generation},
         "spec": {"replicas": replicas, "strategy": {"type": strategy},
                  "template": {"metadata": {"labels": {"app": "echo"}}, "spec": {"containers": [{"name": "echo", "image": "v2"}]}}},
         "status": {}}
    if strategy == "RollingUpdate":
        d["spec"]["strategy"]["rollingUpdate"] = {"maxSurge": surge, "maxUnavailable": unavail}
    return d


def rs(name, replicas, available, created=0, revision=None, annotations=None):
    ann = dict(annotations or {})
    if revision is not None:
        ann[util.REVISION] = str(revision)
    return {"metadata": {"name": name, "uid": f"uid-{name}", "annotations": ann,
                         "creationTimestamp": f"2026-01-01T00:00:{created:02d}Z"},
            "spec": {"replicas": replicas}, "status": {"replicas": replicas, "availableReplicas": available}}


def test_max_unavailable_never_exceeds_replicas_and_recreate_is_zero():
    assert util.max_unavailable(deploy(replicas=2, unavail=5)) == 2
    assert util.max_unavailable(deploy(strategy="Recreate")) == 0
    assert util.max_surge(deploy(strategy="Recreate")) == 0
    assert util.max_unavailable(deploy(replicas=0)) == 0


def test_echo_strategy_walkthrough():
    """The guide's example, step by step: new → 3, old → 1, new → 4, old → 0 (see rolling.py)."""
    d = deploy()
    old = rs("old", 4, 4, created=0)
    new = rs("new", 0, 0, created=1)
    # sync 1: the new RS is created at 3
    assert util.new_rs_new_replicas(d, [old, new], new) == 3
    new = rs("new", 3, 0, created=1)
    assert new_replicas_target(d, [old, new], new) == 3          # surge used up: no further scale-up
    assert max_scaled_down([old, new], new, d) == 3               # 7 - 1 - 3
    assert cleanup_plan([old], 3) == []                           # old pods are all healthy
    assert [(r["metadata"]["name"], n) for r, n in scale_down_plan([old, new], [old], d)] == [("old", 1)]
    old = rs("old", 1, 1, created=0)
    # sync 2: room for one more new pod
    assert new_replicas_target(d, [old, new], new) == 4
    new = rs("new", 4, 0, created=1)
    assert max_scaled_down([old, new], new, d) == 0               # 5 - 1 - 4: new pods not available yet
    # new pods available (after minReadySeconds)
    new = rs("new", 4, 4, created=1)
    assert max_scaled_down([old, new], new, d) == 4
    assert [(r["metadata"]["name"], n) for r, n in scale_down_plan([old, new], [old], d)] == [("old", 0)]


def test_default_strategy_on_four_replicas_first_steps():
    d = deploy(surge="25%", unavail="25%")
    old, new = rs("old", 4, 4), rs("new", 0, 0, created=1)
    assert util.new_rs_new_replicas(d, [old, new], new) == 1
    new = rs("new", 1, 0, created=1)
    assert max_scaled_down([old, new], new, d) == 1               # 5 - 3 - 1
    assert [(r["metadata"]["name"], n) for r, n in scale_down_plan([old, new], [old], d)] == [("old", 3)]


def test_cleanup_unhealthy_first_oldest_first_bounded():
    olds = [rs("a", 3, 1, created=0), rs("b", 2, 0, created=1), rs("c", 2, 2, created=2)]
    assert [(r["metadata"]["name"], n) for r, n in cleanup_plan(olds, 3)] == [("a", 1), ("b", 1)]


def test_new_rs_larger_than_wanted_shrinks_to_replicas():
    d = deploy(replicas=2)
    assert new_replicas_target(d, [rs("new", 5, 5)], rs("new", 5, 5)) == 2


def test_recreate_waits_for_old_pods():
    old, new = rs("old", 0, 0), rs("new", 0, 0)
    old["status"]["replicas"] = 0
    pod = {"metadata": {"name": "p", "deletionTimestamp": "x"}, "status": {"phase": "Running"}}
    assert old_pods_running(new, [old], {"uid-old": [pod], "uid-new": []})
    done = {"metadata": {"name": "p"}, "status": {"phase": "Succeeded"}}
    assert not old_pods_running(new, [old], {"uid-old": [done]})
    old["status"]["replicas"] = 1
    assert old_pods_running(new, [old], {})


TEMPLATE = {"metadata": {"labels": {"app": "echo", "tier": "app"}},
            "spec": {"containers": [{"name": "echo", "image": "ghcr.io/subicura/echo:v1"}]}}


def test_hash_is_stable_safe_and_ignores_its_own_label():
    h = util.compute_hash(TEMPLATE)
    assert h == util.compute_hash(TEMPLATE)                       # stable across calls (and processes: no salt)
    assert set(h) <= set(util.SAFE_ALPHABET)
    labelled = {"metadata": {"labels": {**TEMPLATE["metadata"]["labels"], "pod-template-hash": h}},
                "spec": TEMPLATE["spec"]}
    assert util.compute_hash(labelled) == h
    assert util.equal_ignore_hash(labelled, TEMPLATE)
    assert util.compute_hash(TEMPLATE, 1) != h                    # collisionCount changes the name
    v2 = {"metadata": TEMPLATE["metadata"], "spec": {"containers": [{"name": "echo", "image": "ghcr.io/subicura/echo:v2"}]}}
    assert util.compute_hash(v2) != h
    assert not util.equal_ignore_hash(v2, TEMPLATE)


def test_hash_value_is_pinned():
    """Pinned so an accidental change of the hash input (which would make every Deployment roll after an
    upgrade) fails a test."""
    assert util.compute_hash(TEMPLATE) == util.safe_encode(str(util.fnv32a(
        b'{"metadata":{"labels":{"app":"echo","tier":"app"}},"spec":{"containers":[{"image":"ghcr.io/subicura/echo:v1","name":"echo"}]}}')))
    assert util.fnv32a(b"") == 0x811C9DC5 and util.fnv32a(b"a") == 0xE40C292C


def test_rollback_revision_and_history():
    d = {"metadata": {"annotations": {util.CHANGE_CAUSE: "kubectl set image", util.LAST_APPLIED: "{}"}},
         "spec": {"replicas": 4, "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}}}}
    old_v1 = {"metadata": {"annotations": {util.REVISION: "1"}}}
    assert util.set_new_rs_annotations(d, old_v1, 3, exists=True)  # undo to revision 1 → becomes 3
    ann = old_v1["metadata"]["annotations"]
    assert ann[util.REVISION] == "3" and ann[util.REVISION_HISTORY] == "1"
    assert ann[util.CHANGE_CAUSE] == "kubectl set image" and util.LAST_APPLIED not in ann
    assert util.DESIRED_REPLICAS not in ann                         # only a brand-new RS gets them here
    fresh = {"metadata": {}}
    util.set_new_rs_annotations(d, fresh, 1, exists=False)
    assert fresh["metadata"]["annotations"][util.DESIRED_REPLICAS] == "4"
    assert fresh["metadata"]["annotations"][util.MAX_REPLICAS] == "5"
    assert not util.set_new_rs_annotations(d, fresh, 1, exists=False)  # idempotent
    assert util.max_revision([old_v1, fresh, {"metadata": {}}]) == 3


def test_proportional_scaling_example_from_sync_scale_docstring():
    d = deploy(replicas=15, surge="25%", unavail="25%")               # surge ceil(3.75) = 4 → allowed 19
    old = rs("old", 8, 8, annotations={util.MAX_REPLICAS: "13"})
    new = rs("new", 5, 0, created=1, annotations={util.MAX_REPLICAS: "13"})
    to_add = 19 - 13
    a = util.proportion(old, d, to_add, 0)
    b = util.proportion(new, d, to_add, a)
    assert (a, b) == (4, 2)
    assert util.find_active_or_latest(new, [old]) is None
    assert util.find_active_or_latest(new, [rs("old", 0, 0)]) is new


def test_conditions_keep_transition_time_and_skip_same_reason():
    now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    later = now + dt.timedelta(seconds=60)
    status: dict = {}
    util.set_condition(status, util.new_condition("Available", "True", util.MIN_AVAILABLE, "m", now))
    util.set_condition(status, util.new_condition("Available", "True", util.MIN_AVAILABLE, "m", later))
    assert status["conditions"][0]["lastUpdateTime"] == "2026-01-01T00:00:00Z"
    util.set_condition(status, util.new_condition("Available", "True", "Other", "m", later))
    assert status["conditions"][0]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert status["conditions"][0]["reason"] == "Other"


def test_progress_deadline():
    now = dt.datetime(2026, 1, 1, 0, 10, tzinfo=dt.timezone.utc)
    d = {"metadata": {"generation": 2}, "spec": {"replicas": 2, "progressDeadlineSeconds": 60}}
    st = {"conditions": [{"type": "Progressing", "status": "True", "reason": util.RS_UPDATED,
                          "lastUpdateTime": "2026-01-01T00:08:00Z"}]}
    assert util.deployment_timed_out(d, st, now)
    st["conditions"][0]["lastUpdateTime"] = "2026-01-01T00:09:30Z"
    assert not util.deployment_timed_out(d, st, now)
    assert util.deployment_complete(d, {"updatedReplicas": 2, "replicas": 2, "availableReplicas": 2,
                                        "observedGeneration": 2})
    assert not util.deployment_complete(d, {"updatedReplicas": 2, "replicas": 2, "availableReplicas": 2,
                                            "observedGeneration": 1})
