"""Node IPAM: the control plane gives a registering Node its pod CIDR (minikube_py/api/nodeipam.py), and
the API server does it inside the Node create request, one create at a time."""
from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestClient, TestServer

from minikube_py.api import nodeipam
from minikube_py.api.server import make_app
from minikube_py.config import ClusterConfig
from minikube_py.store.sqlite import SqliteStore


def node(name: str, cidr: str | None = None) -> dict:
    spec = {"podCIDR": cidr, "podCIDRs": [cidr]} if cidr else {}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "spec": spec}


def test_lowest_free_24_in_order_and_gaps_are_reused():
    assert nodeipam.allocate("10.244.0.0/16", []) == "10.244.0.0/24"
    assert nodeipam.allocate("10.244.0.0/16", ["10.244.0.0/24", "10.244.2.0/24"]) == "10.244.1.0/24"
    assert nodeipam.allocate("10.245.0.0/16", ["10.245.0.0/24"]) == "10.245.1.0/24"


def test_requested_range_kept_when_free_and_inside():
    assert nodeipam.allocate("10.244.0.0/16", ["10.244.0.0/24"], "10.244.7.0/24") == "10.244.7.0/24"
    with pytest.raises(nodeipam.PodCIDRError, match="already allocated"):
        nodeipam.allocate("10.244.0.0/16", ["10.244.0.0/24"], "10.244.0.0/25")
    with pytest.raises(nodeipam.PodCIDRError, match="not inside"):
        nodeipam.allocate("10.244.0.0/16", [], "10.99.0.0/24")
    with pytest.raises(nodeipam.PodCIDRError, match="Invalid value"):
        nodeipam.allocate("10.244.0.0/16", [], "10.244.0.1/24")


def test_small_cluster_cidr_and_exhaustion():
    assert nodeipam.allocate("10.244.0.0/25", []) == "10.244.0.0/25"
    with pytest.raises(nodeipam.PodCIDRError, match="no free"):
        nodeipam.allocate("10.244.0.0/23", ["10.244.0.0/24", "10.244.1.0/24"])


def test_update_may_not_change_the_range_and_omitting_it_keeps_it():
    old = node("a", "10.244.1.0/24")
    with pytest.raises(nodeipam.PodCIDRError, match="may not change"):
        nodeipam.check_update(old, node("a", "10.244.2.0/24"))
    kept = node("a")
    nodeipam.check_update(old, kept)
    assert kept["spec"] == {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]}
    fresh = node("a", "10.244.3.0/24")
    nodeipam.check_update(node("a"), fresh)  # "" → valid is allowed
    assert fresh["spec"]["podCIDR"] == "10.244.3.0/24"


@pytest.fixture
async def api(tmp_path):
    store = await SqliteStore.open(tmp_path / "store.db")
    app = make_app(store, {"admin": "t0k", "node": "n0de"}, ClusterConfig(profile="ipam", pod_cidr="10.245.0.0/16"))
    client = TestClient(TestServer(app, host="127.0.0.1"), headers={"Authorization": "Bearer n0de"})
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def test_api_assigns_distinct_ranges_to_concurrent_registrations(api):
    answers = await asyncio.gather(*(api.post("/api/v1/nodes", json=node(f"n{i}")) for i in range(5)))
    assert [r.status for r in answers] == [201] * 5
    cidrs = sorted([(await r.json())["spec"]["podCIDR"] for r in answers])
    assert cidrs == [f"10.245.{i}.0/24" for i in range(5)]
    # Asked-for and free: kept; asked-for and taken: 422 on spec.podCIDR.
    r = await api.post("/api/v1/nodes", json=node("vm", "10.245.9.0/24"))
    assert r.status == 201 and (await r.json())["spec"]["podCIDRs"] == ["10.245.9.0/24"]
    r = await api.post("/api/v1/nodes", json=node("clash", "10.245.9.0/24"))
    body = await r.json()
    assert r.status == 422 and body["details"]["causes"][0]["field"] == "spec.podCIDR"
    # Immutable once set; a merge patch without the field keeps it.
    r = await api.patch("/api/v1/nodes/vm", json={"spec": {"podCIDR": "10.245.10.0/24"}},
                        headers={"Content-Type": "application/merge-patch+json"})
    assert r.status == 422
    r = await api.patch("/api/v1/nodes/vm", json={"metadata": {"labels": {"x": "y"}}},
                        headers={"Content-Type": "application/merge-patch+json"})
    assert r.status == 200 and (await r.json())["spec"]["podCIDR"] == "10.245.9.0/24"
    # A deleted node's range is free again.
    assert (await api.delete("/api/v1/nodes/n1")).status == 200
    r = await api.post("/api/v1/nodes", json=node("late"))
    assert (await r.json())["spec"]["podCIDR"] == "10.245.1.0/24"
