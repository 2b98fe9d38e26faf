"""EndpointSlices following pods (ready / not ready / deleted, service deleted → slice collected) through
the real controllers, and what the real kubectl 1.33 shows from them: `describe svc` Endpoints,
`describe ing` backends, `get endpointslices` columns, and the v1 Endpoints deprecation warning."""
from __future__ import annotations

import re

import pytest

from minikube_py.config import ClusterConfig
from minikube_py.controllers.endpointslices import CONTROLLER_NAME
from tests.integration.controllers_harness import GUIDE, Cluster, guide_yaml, running_cluster
from tests.integration.test_controllers_kubectl import kubectl

pytestmark = pytest.mark.integration

SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "echo", "labels": {"team": "a"}},
           "spec": {"selector": {"app": "echo"}, "ports": [{"name": "web", "port": 80, "targetPort": "http"}]}}


@pytest.fixture
async def cluster(tmp_path):
    async with running_cluster(tmp_path, ["node-a"], ClusterConfig(profile="mkt-es")) as c:
        yield c


async def slices_of(cluster: Cluster, service: str) -> list[dict]:
    return (await cluster.client.list("endpointslices", "default",
                                      label_selector=f"kubernetes.io/service-name={service}"))["items"]


def by_pod(es: dict) -> dict[str, dict]:
    return {e["targetRef"]["name"]: e["conditions"] for e in es.get("endpoints") or []}


async def test_slice_follows_pods_and_goes_with_its_service(cluster):
    rs = guide_yaml("echo-rs.yml")
    rs["spec"]["replicas"] = 2
    rs["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"name": "http", "containerPort": 3000}]
    await cluster.apply(rs)
    svc = await cluster.client.create("services", SERVICE)

    async def two_ready():
        items = await slices_of(cluster, "echo")
        ok = len(items) == 1 and len(by_pod(items[0])) == 2 and all(c["ready"] for c in by_pod(items[0]).values())
        return ok and items[0]

    es = await cluster.wait(two_ready)
    meta = es["metadata"]
    assert re.fullmatch(r"echo-[a-z0-9]{5}", meta["name"]), meta["name"]
    assert meta["labels"] == {"team": "a", "kubernetes.io/service-name": "echo",
                              "endpointslice.kubernetes.io/managed-by": CONTROLLER_NAME}
    assert meta["ownerReferences"] == [{"apiVersion": "v1", "kind": "Service", "name": "echo",
                                        "uid": svc["metadata"]["uid"], "controller": True,
                                        "blockOwnerDeletion": True}]
    assert es["addressType"] == "IPv4" and es["ports"] == [{"name": "web", "port": 3000, "protocol": "TCP"}]
    endpoint = es["endpoints"][0]
    assert endpoint["nodeName"] == "node-a" and endpoint["targetRef"]["kind"] == "Pod"
    assert endpoint["conditions"] == {"ready": True, "serving": True, "terminating": False}
    assert (await cluster.client.get("endpoints", "echo"))["subsets"][0]["addresses"]  # Endpoints kept too

    # One pod stops being ready: still listed, ready=false (same slice, updated in place).
    victim = endpoint["targetRef"]["name"]
    cluster.kubelet.hold_ready = lambda pod: pod["metadata"]["name"] == victim
    cluster.kubelet.resync()

    async def unready():
        items = await slices_of(cluster, "echo")
        return len(items) == 1 and items[0]["metadata"]["name"] == meta["name"] \
            and by_pod(items[0]).get(victim, {}).get("ready") is False

    await cluster.wait(unready, timeout=5)

    # The pod deleted: it leaves the slice (its ReplicaSet's replacement joins it).
    await cluster.client.delete("pods", victim)

    async def replaced():
        items = await slices_of(cluster, "echo")
        return len(items) == 1 and victim not in by_pod(items[0]) and len(by_pod(items[0])) == 2

    await cluster.wait(replaced, timeout=10)

    # The Service deleted: the garbage collector takes its slice.
    await cluster.client.delete("services", "echo")

    async def gone():
        return await slices_of(cluster, "echo") == []

    await cluster.wait(gone, timeout=10)


async def test_kubectl_reads_slices_and_warns_about_endpoints(cluster, tmp_path):
    await kubectl(cluster, "apply", "-f", str(GUIDE / "counter-redis-svc.yml"))
    await kubectl(cluster, "rollout", "status", "deployment/redis", "--timeout=30s")

    async def redis_ip():
        items = await slices_of(cluster, "redis")
        eps = items[0].get("endpoints") if items else None
        return eps and eps[0]["addresses"][0]

    ip = await cluster.wait(redis_ip)
    described = await kubectl(cluster, "describe", "svc", "redis")
    assert re.search(rf"^Endpoints:\s+{re.escape(ip)}:6379$", described, re.M), described

    out = await kubectl(cluster, "get", "endpointslices")
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"], out
    row = next(line.split() for line in lines if line.startswith("redis-"))
    assert row[1:4] == ["IPv4", "6379", ip], out
    kube = next(line.split() for line in lines if line.startswith("kubernetes "))
    assert kube[1:3] == ["IPv4", "8443"], out

    ep = await kubectl(cluster, "get", "ep", "redis")
    assert "Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice" in ep, ep
    assert f"{ip}:6379" in ep
    assert "Warning" not in await kubectl(cluster, "get", "endpointslices", "-A")

    # An Ingress backend is described from the slices too (was `<error: the server could not find ...>`).
    manifest = tmp_path / "echo-v1.yml"  # the guide has the reader put the node's IP in the host
    manifest.write_text((GUIDE / "echo-v1.yml").read_text().replace("NODEIP", "192.168.49.2"))
    await kubectl(cluster, "apply", "-f", str(manifest))
    await kubectl(cluster, "rollout", "status", "deployment/echo-v1", "--timeout=30s")

    async def echo_ips():
        items = await slices_of(cluster, "echo-v1")
        ips = sorted(e["addresses"][0] for s in items for e in s.get("endpoints") or [] if e["conditions"]["ready"])
        return len(ips) == 3 and ips

    ips = await cluster.wait(echo_ips)
    described = await kubectl(cluster, "describe", "ing", "echo-v1")
    backend = re.search(r"echo-v1:3000 \(([^)]*)\)", described)
    assert backend and sorted(backend.group(1).split(",")) == sorted(f"{i}:3000" for i in ips), described
