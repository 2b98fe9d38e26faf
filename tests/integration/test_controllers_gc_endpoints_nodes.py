"""Garbage collector (background / foreground / orphan), Endpoints following readiness, and the node
lifecycle controller fencing a silent node — against a real API server with a fake kubelet (no Docker)."""
from __future__ import annotations

import pytest

from minikube_py.client import NotFound
from minikube_py.config import ClusterConfig
from tests.integration.controllers_harness import Cluster, guide_yaml, running_cluster

pytestmark = pytest.mark.integration


@pytest.fixture
async def cluster(tmp_path):
    config = ClusterConfig(profile="mkt-ctl", node_grace_seconds=2, pod_eviction_seconds=2)
    async with running_cluster(tmp_path, ["node-a", "node-b"], config) as c:
        yield c


async def deployed(cluster: Cluster, replicas: int = 3) -> None:
    dep = guide_yaml("echo-deployment.yml")
    dep["spec"]["replicas"] = replicas
    await cluster.apply(dep)

    async def up():
        return len(await cluster.pods(selector="app=echo")) == replicas and len(await cluster.rss()) == 1

    await cluster.wait(up)


async def gone(cluster: Cluster, plural: str, name: str) -> bool:
    try:
        await cluster.client.get(plural, name)
        return False
    except NotFound:
        return True


# --- garbage collector -----------------------------------------------------------------------------

async def test_delete_deployment_background_removes_replicasets_and_pods(cluster):
    await deployed(cluster)
    await cluster.client.delete("deployments", "echo-deploy", propagation_policy="Background")

    async def all_gone():
        return not await cluster.rss() and not await cluster.pods(active=False)

    await cluster.wait(all_gone)


async def test_delete_deployment_foreground_waits_for_dependents(cluster):
    await deployed(cluster)
    await cluster.client.delete("deployments", "echo-deploy", propagation_policy="Foreground")
    d = await cluster.client.get("deployments", "echo-deploy")
    assert d["metadata"]["deletionTimestamp"] and "foregroundDeletion" in d["metadata"]["finalizers"]

    async def owner_gone_last():
        if await gone(cluster, "deployments", "echo-deploy"):
            # The owner goes only after its dependents: nothing may be left now.
            return not await cluster.rss() and not await cluster.pods(active=False)
        return False

    await cluster.wait(owner_gone_last)


async def test_delete_deployment_orphan_keeps_replicaset_and_pods(cluster):
    await deployed(cluster)
    await cluster.client.delete("deployments", "echo-deploy", propagation_policy="Orphan")
    await cluster.wait(lambda: gone(cluster, "deployments", "echo-deploy"))
    (rs,) = await cluster.rss()
    assert not rs["metadata"].get("ownerReferences")
    pods = await cluster.pods(selector="app=echo")
    assert len(pods) == 3 and all(p["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"] for p in pods)
    # Still a working ReplicaSet: a deleted pod comes back.
    await cluster.client.delete("pods", pods[0]["metadata"]["name"])

    async def replaced():
        names = {p["metadata"]["name"] for p in await cluster.pods(selector="app=echo")}
        return len(names) == 3 and pods[0]["metadata"]["name"] not in names

    await cluster.wait(replaced)


async def test_orphaned_pods_of_a_vanished_replicaset_are_collected(cluster):
    """A ReplicaSet deleted with the default (background) policy through a raw DELETE: its pods dangle."""
    await cluster.apply(guide_yaml("echo-rs.yml"))
    await cluster.wait(lambda: _count(cluster, 1))
    await cluster.client.delete("replicasets", "echo-rs")
    await cluster.wait(lambda: _count(cluster, 0, active=False))


async def _count(cluster: Cluster, n: int, active: bool = True) -> bool:
    return len(await cluster.pods(selector="app=echo", active=active)) == n


# --- endpoints -------------------------------------------------------------------------------------

SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "echo", "labels": {"team": "a"}},
           "spec": {"selector": {"app": "echo"},
                    "ports": [{"name": "web", "port": 80, "targetPort": 3000},
                              {"name": "named", "port": 81, "targetPort": "http"}]}}


async def endpoints(cluster: Cluster, name: str = "echo") -> dict | None:
    try:
        return await cluster.client.get("endpoints", name)
    except NotFound:
        return None


async def test_endpoints_follow_readiness_and_named_ports(cluster):
    rs = guide_yaml("echo-rs.yml")
    rs["spec"]["replicas"] = 2
    rs["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"name": "http", "containerPort": 3000}]
    await cluster.apply(rs)
    await cluster.client.create("services", SERVICE)

    async def two_ready():
        ep = await endpoints(cluster)
        subsets = (ep or {}).get("subsets") or []
        return len(subsets) == 1 and len(subsets[0].get("addresses") or []) == 2 and ep

    ep = await cluster.wait(two_ready)
    subset = ep["subsets"][0]
    assert subset["ports"] == [{"name": "named", "port": 3000, "protocol": "TCP"},
                               {"name": "web", "port": 3000, "protocol": "TCP"}]
    addr = subset["addresses"][0]
    assert addr["nodeName"] in cluster.nodes and addr["targetRef"]["kind"] == "Pod"
    assert addr["targetRef"]["name"].startswith("echo-rs-") and addr["ip"].startswith("10.244.")
    assert ep["metadata"]["labels"]["team"] == "a"

    # One pod stops being ready → it moves to notReadyAddresses (no polling: within a second or so).
    victim = subset["addresses"][0]["targetRef"]["name"]
    cluster.kubelet.hold_ready = lambda pod: pod["metadata"]["name"] == victim
    cluster.kubelet.resync()

    async def moved():
        ep = await endpoints(cluster)
        s = ep["subsets"][0]
        return ([a["targetRef"]["name"] for a in s.get("notReadyAddresses") or []] == [victim]
                and len(s.get("addresses") or []) == 1)

    await cluster.wait(moved, timeout=3)

    # Service gone → Endpoints gone.
    await cluster.client.delete("services", "echo")
    await cluster.wait(lambda: _no_endpoints(cluster))


async def _no_endpoints(cluster: Cluster) -> bool:
    return await endpoints(cluster) is None


async def test_endpoints_of_selectorless_service_are_left_alone(cluster):
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "outside"},
           "spec": {"ports": [{"port": 80}]}}
    await cluster.client.create("services", svc)
    manual = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "outside"},
              "subsets": [{"addresses": [{"ip": "192.0.2.10"}], "ports": [{"port": 80, "protocol": "TCP"}]}]}
    await cluster.client.create("endpoints", manual)
    # Give the controller every chance to interfere: create an unrelated service with a selector too.
    await cluster.client.create("services", {**SERVICE, "metadata": {"name": "echo"}})
    await cluster.wait(lambda: endpoints(cluster, "echo"))
    ep = await endpoints(cluster, "outside")
    assert ep["subsets"][0]["addresses"] == [{"ip": "192.0.2.10"}]


# --- node lifecycle --------------------------------------------------------------------------------

async def test_silent_node_is_fenced_its_pods_evicted_and_it_recovers(cluster):
    rs = guide_yaml("echo-rs.yml")
    rs["spec"]["replicas"] = 4
    rs["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 1
    await cluster.apply(rs)
    await cluster.client.create("services", {**SERVICE, "spec": {**SERVICE["spec"], "ports": [{"port": 80, "targetPort": 3000}]}})

    async def spread():
        pods = await cluster.pods(selector="app=echo")
        return len(pods) == 4 and {p["spec"].get("nodeName") for p in pods} == {"node-a", "node-b"}

    await cluster.wait(spread)
    cluster.kubelet.alive["node-b"] = False     # the agent on node-b dies

    async def fenced():
        node = await cluster.client.get("nodes", "node-b")
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        taints = {(t["key"], t["effect"]) for t in node["spec"].get("taints") or []}
        return (ready["status"] == "Unknown" and ready["reason"] == "NodeStatusUnknown"
                and ready["message"] == "Kubelet stopped posting node status."
                and taints == {("node.kubernetes.io/unreachable", "NoSchedule"),
                               ("node.kubernetes.io/unreachable", "NoExecute")})

    await cluster.wait(fenced, timeout=10)

    async def b_pods_not_ready_in_endpoints():
        ep = await endpoints(cluster)
        if not ep:
            return False
        ready_nodes = {a.get("nodeName") for s in ep.get("subsets") or [] for a in s.get("addresses") or []}
        return "node-b" not in ready_nodes

    await cluster.wait(b_pods_not_ready_in_endpoints, timeout=10)

    # After pod_eviction_seconds the pods are evicted, force-deleted after their 1 s grace (nobody on
    # node-b finishes them), and the ReplicaSet puts 4 pods on node-a (the scheduler avoids the taint).
    async def moved_to_a():
        pods = await cluster.pods(selector="app=echo", active=False)
        return len(pods) == 4 and all(p["spec"].get("nodeName") == "node-a" for p in pods)

    await cluster.wait(moved_to_a, timeout=20)

    cluster.kubelet.alive["node-b"] = True      # the agent comes back

    async def healthy():
        node = await cluster.client.get("nodes", "node-b")
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        return ready["status"] == "True" and not node["spec"].get("taints")

    await cluster.wait(healthy, timeout=10)


async def test_cordon_taints_and_blocks_scheduling(cluster):
    await cluster.patch("nodes", "node-a", {"spec": {"unschedulable": True}}, ns=None)

    async def tainted():
        node = await cluster.client.get("nodes", "node-a")
        return {(t["key"], t["effect"]) for t in node["spec"].get("taints") or []} == {
            ("node.kubernetes.io/unschedulable", "NoSchedule")}

    await cluster.wait(tainted)
    rs = guide_yaml("echo-rs.yml")
    rs["spec"]["replicas"] = 3
    await cluster.apply(rs)

    async def all_on_b():
        pods = await cluster.pods(selector="app=echo")
        return len(pods) == 3 and all(p["spec"].get("nodeName") == "node-b" for p in pods)

    await cluster.wait(all_on_b)
    await cluster.patch("nodes", "node-a", {"spec": {"unschedulable": None}}, ns=None)

    async def untainted():
        return not (await cluster.client.get("nodes", "node-a"))["spec"].get("taints")

    await cluster.wait(untainted)
