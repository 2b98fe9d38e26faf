"""ReplicaSet controller and scheduler against a real API server, with a fake kubelet (no Docker).

The guide's chapter 4: echo-rs.yml → 1 pod; echo-rs-scaled.yml → 4; a deleted pod comes back; removing the
label makes a new pod appear and adding it back makes one go.
"""
from __future__ import annotations

import pytest

from tests.integration.controllers_harness import Cluster, guide_yaml, running_cluster

pytestmark = pytest.mark.integration


@pytest.fixture
async def cluster(tmp_path):
    async with running_cluster(tmp_path, ["node-a", "node-b", "node-c"]) as c:
        yield c


async def _ready_count(cluster: Cluster, selector: str) -> int:
    pods = await cluster.pods(selector=selector)
    return sum(1 for p in pods if any(c.get("type") == "Ready" and c.get("status") == "True"
                                      for c in (p.get("status") or {}).get("conditions") or []))


async def test_echo_rs_then_scaled_and_status(cluster):
    await cluster.apply(guide_yaml("echo-rs.yml"))

    async def n_pods(n):
        pods = await cluster.pods(selector="app=echo,tier=app")
        rs = await cluster.client.get("replicasets", "echo-rs")
        st = rs.get("status") or {}
        return (len(pods) == n and st.get("readyReplicas") == n and st.get("availableReplicas") == n
                and st.get("replicas") == n and st.get("observedGeneration") == rs["metadata"]["generation"])

    await cluster.wait(lambda: n_pods(1))
    pod = (await cluster.pods(selector="app=echo"))[0]
    assert pod["metadata"]["name"].startswith("echo-rs-")
    ref = pod["metadata"]["ownerReferences"][0]
    assert ref["kind"] == "ReplicaSet" and ref["name"] == "echo-rs" and ref["controller"] and ref["blockOwnerDeletion"]
    assert pod["spec"]["nodeName"] in cluster.nodes

    await cluster.apply(guide_yaml("echo-rs-scaled.yml"))
    await cluster.wait(lambda: n_pods(4))
    # No overshoot: expectations stop a second batch while the first is in flight.
    created = await cluster.events("echo-rs", "SuccessfulCreate")
    assert sum(e.get("count", 1) for e in created) == 4
    assert created[0]["message"].startswith("Created pod: echo-rs-")
    scheduled = [e for p in await cluster.pods(selector="app=echo") for e in await cluster.events(p["metadata"]["name"], "Scheduled")]
    assert len(scheduled) == 4 and all(e["message"].startswith("Successfully assigned default/echo-rs-") for e in scheduled)


async def test_deleted_pod_is_replaced(cluster):
    await cluster.apply(guide_yaml("echo-rs-scaled.yml"))
    await cluster.wait(lambda: _n(cluster, 4))
    victim = (await cluster.pods(selector="app=echo"))[0]["metadata"]["name"]
    await cluster.client.delete("pods", victim)

    async def replaced():
        names = [p["metadata"]["name"] for p in await cluster.pods(selector="app=echo")]
        return len(names) == 4 and victim not in names

    await cluster.wait(replaced)


async def _n(cluster: Cluster, n: int) -> bool:
    return len(await cluster.pods(selector="app=echo,tier=app")) == n


async def test_label_dance_release_and_adopt(cluster):
    await cluster.apply(guide_yaml("echo-rs.yml"))
    await cluster.wait(lambda: _n(cluster, 1))
    first = (await cluster.pods(selector="app=echo"))[0]["metadata"]["name"]

    # kubectl label pod <first> app-   → released; a new pod appears.
    await cluster.patch("pods", first, {"metadata": {"labels": {"app": None}}})

    async def released():
        owned = await cluster.pods(selector="app=echo,tier=app")
        loose = await cluster.client.get("pods", first)
        return len(owned) == 1 and owned[0]["metadata"]["name"] != first and not loose["metadata"].get("ownerReferences")

    await cluster.wait(released)

    # kubectl label pod <first> app=echo   → adopted; one pod too many → one deleted.
    await cluster.patch("pods", first, {"metadata": {"labels": {"app": "echo"}}})

    async def back_to_one():
        return await _n(cluster, 1)

    await cluster.wait(back_to_one)
    deleted = await cluster.events("echo-rs", "SuccessfulDelete")
    assert deleted and deleted[-1]["message"].startswith("Deleted pod: echo-rs-")


async def test_scheduler_spreads_six_pods_over_three_nodes(cluster):
    rs = guide_yaml("echo-rs.yml")
    rs["spec"]["replicas"] = 6
    await cluster.apply(rs)
    await cluster.wait(lambda: _n(cluster, 6))

    async def bound():
        pods = await cluster.pods(selector="app=echo")
        return all(p["spec"].get("nodeName") for p in pods) and pods

    pods = await cluster.wait(bound)
    per_node = {}
    for p in pods:
        per_node[p["spec"]["nodeName"]] = per_node.get(p["spec"]["nodeName"], 0) + 1
    assert per_node == {"node-a": 2, "node-b": 2, "node-c": 2}


async def test_unschedulable_pod_waits_then_lands_when_a_node_fits(cluster):
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "picky"},
           "spec": {"nodeSelector": {"disk": "ssd"}, "containers": [{"name": "c", "image": "minikube-py/busybox:1"}]}}
    await cluster.client.create("pods", pod)

    async def failed():
        evs = await cluster.events("picky", "FailedScheduling")
        p = await cluster.client.get("pods", "picky")
        cond = next((c for c in p["status"].get("conditions") or [] if c["type"] == "PodScheduled"), None)
        return evs and cond and cond["status"] == "False" and cond["reason"] == "Unschedulable" and evs

    evs = await cluster.wait(failed)
    assert evs[0]["message"] == ("0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. "
                                 "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.")
    assert evs[0]["type"] == "Warning"

    await cluster.patch("nodes", "node-b", {"metadata": {"labels": {"disk": "ssd"}}})

    async def landed():
        p = await cluster.client.get("pods", "picky")
        return p["spec"].get("nodeName") == "node-b"

    await cluster.wait(landed)
