"""The service account controller against a real API server (controllers harness, no Docker), read back
with the real kubectl v1.33: every Active namespace has `default`, a deleted one comes back, a namespace
being deleted gets none."""
from __future__ import annotations

import asyncio
import subprocess

import pytest

from minikube_py.client import NotFound
from tests.integration.controllers_harness import Cluster, running_cluster

pytestmark = pytest.mark.integration

INITIAL = ("default", "kube-system", "kube-public", "kube-node-lease")


@pytest.fixture
async def cluster(tmp_path):
    async with running_cluster(tmp_path, ["node-a"]) as c:
        yield c


async def kubectl(cluster: Cluster, *args: str) -> str:
    """Run kubectl off the event loop (the controllers run on it)."""
    from minikube_py.kubectl import kubectl_path

    proc = await asyncio.to_thread(subprocess.run, [str(kubectl_path()), "--kubeconfig", str(cluster.kubeconfig),
                                                    *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"kubectl {' '.join(args)} → {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


async def has_default(cluster: Cluster, ns: str) -> dict | None:
    try:
        return await cluster.client.get("serviceaccounts", "default", ns)
    except NotFound:
        return None


async def test_every_namespace_has_a_default_service_account(cluster):
    for ns in INITIAL:
        await cluster.wait(lambda ns=ns: has_default(cluster, ns), timeout=5)

    out = await kubectl(cluster, "get", "sa")
    header, *rows = out.splitlines()
    assert header.split() == ["NAME", "SECRETS", "AGE"]
    assert [r.split()[:2] for r in rows] == [["default", "0"]]

    await cluster.client.create("namespaces", {"metadata": {"name": "team-a"}})
    first = await cluster.wait(lambda: has_default(cluster, "team-a"), timeout=5)
    assert first["metadata"]["namespace"] == "team-a" and not first.get("secrets")

    # Deleted: the controller puts it back (a new object), and leaves a user's account alone.
    await kubectl(cluster, "create", "sa", "builder", "-n", "team-a")
    await cluster.client.delete("serviceaccounts", "default", namespace="team-a")

    async def recreated():
        sa = await has_default(cluster, "team-a")
        return sa if sa and sa["metadata"]["uid"] != first["metadata"]["uid"] else None

    await cluster.wait(recreated, timeout=5)
    out = await kubectl(cluster, "get", "sa", "-n", "team-a", "-o", "name")
    assert out.split() == ["serviceaccount/builder", "serviceaccount/default"]


async def test_a_terminating_namespace_gets_none(cluster):
    await cluster.client.create("namespaces", {"metadata": {"name": "doomed"}})
    await cluster.wait(lambda: has_default(cluster, "doomed"), timeout=5)
    await cluster.client.delete("namespaces", "doomed")

    async def ns_gone():
        try:
            await cluster.client.get("namespaces", "doomed")
            return False
        except NotFound:
            return True

    await cluster.wait(ns_gone, timeout=5)
    await asyncio.sleep(0.3)  # a late create would land here; the API refuses it and nothing is recreated
    assert (await cluster.client.list("serviceaccounts", "doomed"))["items"] == []
