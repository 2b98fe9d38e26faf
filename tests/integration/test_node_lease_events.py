"""The node's Lease and events against a real API server (embedded) and the real controllers, with the
agent's own `NodeAgent` and `NodeLease` (no Docker): what `kubectl describe node` shows under `Lease:` and
`Events:`, the node controller's RegisteredNode/NodeNotReady, and the Lease going away with its Node."""
from __future__ import annotations

import asyncio
import contextlib

import pytest

from agent.node import NodeAgent
from agent.nodelease import LEASE_NAMESPACE, NodeLease
from minikube_py.client import ApiClient, EventRecorder, NotFound, wait_for
from minikube_py.config import ClusterConfig
from minikube_py.controllers.manager import run_controllers

pytestmark = pytest.mark.integration

NODE = "lease-node"


async def _events(client: ApiClient, **selector: str) -> list[dict]:
    sel = ",".join(f"involvedObject.{k}={v}" for k, v in selector.items())
    return (await client.list("events", "default", field_selector=sel))["items"]


async def _reasons(client: ApiClient, **selector: str) -> list[str]:
    return [e["reason"] for e in await _events(client, **selector)]


async def _lease_or_none(client: ApiClient) -> dict | None:
    try:
        return await client.get("leases", NODE, namespace=LEASE_NAMESPACE)
    except NotFound:
        return None


async def test_lease_renewed_events_recorded_and_described(cp, client, kubectl, tmp_path):
    ctl = ApiClient(cp.url, token=cp.pki.admin_token, ca_file=cp.pki.ca_cert)
    controllers = asyncio.create_task(run_controllers(ctl, ClusterConfig(profile="mkt-lease",
                                                                         node_grace_seconds=1.5)))
    held: dict = {}
    agent = NodeAgent(client, name=NODE, profile="mkt-lease", node_ip="192.0.2.10", pod_cidr="10.244.7.0/24",
                      cluster_pod_cidr="10.244.0.0/16", primary=True, runtime_version="24.0.0",
                      storage_path=tmp_path, recorder=EventRecorder(client, "kubelet", NODE),
                      cached_node=lambda: held.get("node"))
    lease_loop = NodeLease(client, NODE, renew_interval=0.2)
    renewing = None
    try:
        node = await agent.register()
        uid = node["metadata"]["uid"]
        renewing = asyncio.create_task(lease_loop.run())

        # Created with the kubelet's fields and owner, then renewed by PUTs.
        first = await wait_for(lambda: _lease_or_none(client), 10)
        assert first["spec"]["holderIdentity"] == NODE
        assert first["spec"]["leaseDurationSeconds"] == 40
        assert first["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Node", "name": NODE,
                                                         "uid": uid}]

        async def renewed():
            lease = await _lease_or_none(client)
            return lease if lease and lease["spec"]["renewTime"] > first["spec"]["renewTime"] else None
        await wait_for(renewed, 5)

        # The kubelet's events carry the node name as uid; the controller's the Node's uid.
        kubelet = await _reasons(client, kind="Node", name=NODE, uid=NODE)
        assert kubelet == ["Starting", "NodeAllocatableEnforced", "NodeHasSufficientMemory",
                           "NodeHasNoDiskPressure", "NodeHasSufficientPID", "NodeReady"]

        async def controller_reasons(*want):
            got = await _reasons(client, kind="Node", name=NODE, uid=uid)
            return got if all(w in got for w in want) else None
        await wait_for(lambda: controller_reasons("RegisteredNode"), 10)

        # No heartbeat: the controller marks the node Unknown and says NodeNotReady ...
        await wait_for(lambda: controller_reasons("NodeNotReady"), 15)
        # ... and the next heartbeat, seeing that, makes the node Ready again with fresh events.
        held["node"] = await client.get("nodes", NODE)
        await agent.heartbeat_once()
        ready = next(e for e in await _events(client, uid=NODE) if e["reason"] == "NodeReady")
        assert ready["count"] == 2 and ready["message"] == f"Node {NODE} status is now: NodeReady"
        assert ready["source"] == {"component": "kubelet", "host": NODE}

        out = (await asyncio.to_thread(kubectl, "describe", "node", NODE)).stdout
        assert "Lease:\n  HolderIdentity:  lease-node\n  AcquireTime:     <unset>\n  RenewTime:" in out, out
        events = out.split("Events:", 1)[1]
        for line in ("Normal  Starting", "kubelet          Starting kubelet.",
                     f"kubelet          Node {NODE} status is now: NodeReady",
                     f"node-controller  Node {NODE} event: Registered Node {NODE} in Controller",
                     f"node-controller  Node {NODE} status is now: NodeNotReady"):
            assert line in events, out

        # `kubectl get lease` has the server's HOLDER column.
        got = (await asyncio.to_thread(kubectl, "get", "lease", "-n", LEASE_NAMESPACE)).stdout
        assert got.split("\n")[0].split() == ["NAME", "HOLDER", "AGE"] and f"{NODE}   {NODE}" in got

        # The Lease goes with its Node.
        renewing.cancel()
        await client.delete("nodes", NODE)
        await wait_for(lambda: controller_reasons("RemovingNode"), 10)
        await wait_for(lambda: _gone(client), 10)
    finally:
        for task in (renewing, controllers):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await ctl.close()


async def _gone(client: ApiClient) -> bool:
    return await _lease_or_none(client) is None
