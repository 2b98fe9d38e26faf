"""Deployment controller against a real API server with a fake kubelet (no Docker): the guide's chapter 5.

Rolling update v1 → v2 (the ScalingReplicaSet sequence never exceeds the surge), history and undo (as
kubectl does it: a JSON patch of the template from the old ReplicaSet), the echo-strategy numbers, Recreate,
proportional scaling mid-rollout, and a controller restart mid-rollout.
"""
from __future__ import annotations

import copy
import re

import pytest

from minikube_py.client import Informer
from minikube_py.controllers.deployment import util
from tests.integration.controllers_harness import Cluster, guide_yaml, running_cluster

pytestmark = pytest.mark.integration

V1, V2 = "ghcr.io/subicura/echo:v1", "ghcr.io/subicura/echo:v2"


@pytest.fixture
async def cluster(tmp_path):
    async with running_cluster(tmp_path, ["node-a", "node-b"]) as c:
        yield c


async def rollout_complete(cluster: Cluster, name: str) -> bool:
    """kubectl rollout status's test (KUBECTL.md)."""
    d = await cluster.client.get("deployments", name)
    st = d.get("status") or {}
    want = d["spec"]["replicas"]
    return (d["metadata"]["generation"] <= st.get("observedGeneration", 0)
            and st.get("updatedReplicas", 0) >= want and st.get("replicas", 0) <= st.get("updatedReplicas", 0)
            and st.get("availableReplicas", 0) >= st.get("updatedReplicas", 0))


async def owned_rss(cluster: Cluster, name: str) -> list[dict]:
    d = await cluster.client.get("deployments", name)
    return sorted((rs for rs in await cluster.rss()
                   if any(r["uid"] == d["metadata"]["uid"] for r in rs["metadata"].get("ownerReferences") or [])),
                  key=util.revision)


def scaling_steps(events: list[dict]) -> list[tuple[str, str, int, int]]:
    out = []
    for e in events:
        m = re.fullmatch(r"Scaled (up|down) replica set (\S+) from (\d+) to (\d+)", e["message"])
        assert m, e["message"]
        out.append((m.group(1), m.group(2), int(m.group(3)), int(m.group(4))))
    return out


async def set_image(cluster: Cluster, name: str, image: str, container: str = "echo") -> None:
    """`kubectl set image deploy/<name> <container>=<image>` (a strategic merge patch)."""
    await cluster.patch("deployments", name,
                               {"spec": {"template": {"spec": {"containers": [{"name": container, "image": image}]}}}},
                               patch_type="strategic")


async def undo(cluster: Cluster, name: str, to_revision: int) -> None:
    """What `kubectl rollout undo --to-revision=N` does: copy the old RS's template (minus its
    pod-template-hash) into the deployment with a JSON patch."""
    rs = next(r for r in await owned_rss(cluster, name) if util.revision(r) == to_revision)
    template = copy.deepcopy(rs["spec"]["template"])
    template["metadata"]["labels"].pop("pod-template-hash", None)
    await cluster.patch("deployments", name, [{"op": "replace", "path": "/spec/template", "value": template}],
                               patch_type="json")


async def test_rolling_update_history_and_undo(cluster):
    await cluster.apply(guide_yaml("echo-deployment.yml"))
    await cluster.wait(lambda: rollout_complete(cluster, "echo-deploy"))
    (rs1,) = await owned_rss(cluster, "echo-deploy")
    h1 = rs1["metadata"]["labels"]["pod-template-hash"]
    assert rs1["metadata"]["name"] == f"echo-deploy-{h1}" and set(h1) <= set(util.SAFE_ALPHABET)
    assert rs1["spec"]["selector"]["matchLabels"]["pod-template-hash"] == h1
    assert rs1["metadata"]["annotations"][util.REVISION] == "1"
    assert rs1["metadata"]["annotations"][util.DESIRED_REPLICAS] == "4"
    assert rs1["metadata"]["annotations"][util.MAX_REPLICAS] == "5"
    d = await cluster.client.get("deployments", "echo-deploy")
    assert d["metadata"]["annotations"][util.REVISION] == "1"
    assert {c["type"]: c["reason"] for c in d["status"]["conditions"]} == {
        "Available": "MinimumReplicasAvailable", "Progressing": "NewReplicaSetAvailable"}

    await cluster.apply(guide_yaml("echo-deployment-v2.yml"))
    await cluster.wait(lambda: rollout_complete(cluster, "echo-deploy"))
    rs1, rs2 = await owned_rss(cluster, "echo-deploy")
    new_name, old_name = rs2["metadata"]["name"], rs1["metadata"]["name"]
    assert util.revision(rs2) == 2 and rs2["spec"]["replicas"] == 4 and rs1["spec"]["replicas"] == 0
    assert all(p["spec"]["containers"][0]["image"] == V2 for p in await cluster.pods(selector="app=echo"))

    steps = scaling_steps(await cluster.events("echo-deploy", "ScalingReplicaSet"))
    assert steps[0] == ("up", old_name, 0, 4)
    assert steps[1] == ("up", new_name, 0, 1)          # surge 1 (25% of 4, rounded up)
    assert steps[2] == ("down", old_name, 4, 3)        # unavailable 1 (25% of 4, rounded down)
    sizes = {old_name: 4, new_name: 0}
    for _, rs_name, before, after in steps[1:]:
        assert sizes[rs_name] == before
        sizes[rs_name] = after
        assert sum(sizes.values()) <= 5                 # never above replicas + maxSurge
    assert sizes == {old_name: 0, new_name: 4}

    # rollout undo --to-revision=1 → v1 back as revision 3, no third ReplicaSet.
    await undo(cluster, "echo-deploy", 1)
    await cluster.wait(lambda: rollout_complete(cluster, "echo-deploy"))

    async def v1_is_rev3():
        rss = await owned_rss(cluster, "echo-deploy")
        return len(rss) == 2 and [util.revision(r) for r in rss] == [2, 3] and rss[1]["metadata"]["name"] == old_name

    await cluster.wait(v1_is_rev3)
    rss = await owned_rss(cluster, "echo-deploy")
    assert rss[1]["metadata"]["annotations"][util.REVISION_HISTORY] == "1"
    d = await cluster.client.get("deployments", "echo-deploy")
    assert d["metadata"]["annotations"][util.REVISION] == "3"

    async def all_v1():
        pods = await cluster.pods(selector="app=echo")
        return len(pods) == 4 and all(p["spec"]["containers"][0]["image"] == V1 for p in pods)

    await cluster.wait(all_v1)


async def test_echo_strategy_numbers(cluster):
    """maxSurge 3 / maxUnavailable 3 on 4 replicas: new → 3, old → 1, new → 4, old → 0 (GUIDE.md ch. 5)."""
    await cluster.apply(guide_yaml("echo-strategy.yml"))
    await cluster.wait(lambda: rollout_complete(cluster, "echo-deploy-st"), timeout=30)
    await set_image(cluster, "echo-deploy-st", V2)
    await cluster.wait(lambda: rollout_complete(cluster, "echo-deploy-st"), timeout=30)
    old, new = await owned_rss(cluster, "echo-deploy-st")
    o, n = old["metadata"]["name"], new["metadata"]["name"]
    steps = scaling_steps(await cluster.events("echo-deploy-st", "ScalingReplicaSet"))
    assert steps == [("up", o, 0, 4), ("up", n, 0, 3), ("down", o, 4, 1), ("up", n, 3, 4), ("down", o, 1, 0)]
    assert new["spec"]["minReadySeconds"] == 5


async def test_recreate_stops_old_pods_before_new_ones(cluster):
    dep = guide_yaml("echo-deployment.yml")
    dep["metadata"]["name"] = "echo-recreate"
    dep["spec"]["replicas"] = 3
    dep["spec"]["strategy"] = {"type": "Recreate"}
    await cluster.apply(dep)
    await cluster.wait(lambda: rollout_complete(cluster, "echo-recreate"))

    overlap: list[str] = []
    watcher = Informer(cluster.new_client(), "pods")

    def on_add(pod: dict) -> None:
        if pod["spec"]["containers"][0]["image"] == V2:
            olds = [p for p in watcher.list() if p["spec"]["containers"][0]["image"] == V1]
            if olds:
                overlap.append(pod["metadata"]["name"])

    await watcher.start()
    watcher.add_handlers(on_add=on_add)
    try:
        await set_image(cluster, "echo-recreate", V2)
        await cluster.wait(lambda: rollout_complete(cluster, "echo-recreate"))
    finally:
        await watcher.stop()
        await watcher.client.close()
    assert overlap == []
    old, new = await owned_rss(cluster, "echo-recreate")
    steps = scaling_steps(await cluster.events("echo-recreate", "ScalingReplicaSet"))
    assert steps[1:] == [("down", old["metadata"]["name"], 3, 0), ("up", new["metadata"]["name"], 0, 3)]


async def test_proportional_scaling_mid_rollout_and_paused(cluster):
    dep = guide_yaml("echo-deployment.yml")
    dep["spec"]["replicas"] = 10
    await cluster.apply(dep)
    await cluster.wait(lambda: rollout_complete(cluster, "echo-deploy"))
    # v2 pods never get ready: the rollout stalls at old 8 / new 3 (surge 3, unavailable 2).
    cluster.kubelet.hold_ready = lambda pod: pod["spec"]["containers"][0]["image"] == V2
    await set_image(cluster, "echo-deploy", V2)

    async def stalled():
        rss = await owned_rss(cluster, "echo-deploy")
        return len(rss) == 2 and [r["spec"]["replicas"] for r in rss] == [8, 5]

    await cluster.wait(stalled)

    async def stalled_status():
        st = (await cluster.client.get("deployments", "echo-deploy")).get("status") or {}
        return st.get("unavailableReplicas") == 5 and st.get("updatedReplicas") == 5 and st.get("availableReplicas") == 8

    await cluster.wait(stalled_status)

    # kubectl scale --replicas=15 → allowed 15 + 4 = 19, spread 8:5 → 12:7.
    await cluster.patch("deployments", "echo-deploy", {"spec": {"replicas": 15}}, subresource="scale")

    async def spread():
        rss = await owned_rss(cluster, "echo-deploy")
        return [r["spec"]["replicas"] for r in rss] == [12, 7]

    await cluster.wait(spread)

    # Paused: the template changes, nothing rolls; status still follows.
    await cluster.patch("deployments", "echo-deploy", {"spec": {"paused": True}})
    await set_image(cluster, "echo-deploy", "ghcr.io/subicura/echo:v3")

    async def paused_cond():
        d = await cluster.client.get("deployments", "echo-deploy")
        prog = next(c for c in d["status"]["conditions"] if c["type"] == "Progressing")
        return d["status"].get("observedGeneration") == d["metadata"]["generation"] and prog["reason"] == "DeploymentPaused"

    await cluster.wait(paused_cond)
    assert len(await owned_rss(cluster, "echo-deploy")) == 2

    cluster.kubelet.hold_ready = lambda pod: False
    cluster.kubelet.resync()
    await cluster.patch("deployments", "echo-deploy", {"spec": {"paused": False}})
    await cluster.wait(lambda: rollout_complete(cluster, "echo-deploy"), timeout=30)
    rss = await owned_rss(cluster, "echo-deploy")
    assert [r["spec"]["replicas"] for r in rss] == [0, 0, 15]


async def test_progress_deadline_exceeded(cluster):
    dep = guide_yaml("echo-deployment.yml")
    dep["spec"]["progressDeadlineSeconds"] = 2
    cluster.kubelet.hold_ready = lambda pod: True
    await cluster.apply(dep)

    async def timed_out():
        d = await cluster.client.get("deployments", "echo-deploy")
        conds = {c["type"]: c for c in (d.get("status") or {}).get("conditions") or []}
        return ("Progressing" in conds and conds["Progressing"]["reason"] == "ProgressDeadlineExceeded"
                and conds["Progressing"]["status"] == "False" and conds["Available"]["status"] == "False"
                and conds["Available"]["reason"] == "MinimumReplicasUnavailable")

    await cluster.wait(timed_out, timeout=15)


async def test_restart_mid_rollout_completes_without_duplicates(cluster):
    dep = guide_yaml("echo-deployment.yml")
    dep["spec"]["replicas"] = 6
    await cluster.apply(dep)
    await cluster.wait(lambda: rollout_complete(cluster, "echo-deploy"))
    cluster.kubelet.hold_ready = lambda pod: pod["spec"]["containers"][0]["image"] == V2
    await set_image(cluster, "echo-deploy", V2)

    async def midway():
        return len(await owned_rss(cluster, "echo-deploy")) == 2

    await cluster.wait(midway)
    await cluster.stop_controllers()
    cluster.kubelet.hold_ready = lambda pod: False
    cluster.kubelet.resync()
    await cluster.start_controllers()
    await cluster.wait(lambda: rollout_complete(cluster, "echo-deploy"), timeout=30)

    rss = await owned_rss(cluster, "echo-deploy")
    assert [util.revision(r) for r in rss] == [1, 2]
    assert len(await cluster.rss()) == 2
    pods = await cluster.pods(selector="app=echo")
    assert len(pods) == 6 and all(p["spec"]["containers"][0]["image"] == V2 for p in pods)
    assert all(p["metadata"].get("ownerReferences") for p in await cluster.pods(active=False))
