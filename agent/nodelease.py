"""The node's Lease: `kube-node-lease/<node>`, renewed every 10 s (the kubelet's `pkg/kubelet/nodelease`,
built on `component-helpers/apimachinery/lease`).

Why: a Lease is the cheap heartbeat (one small PUT, no node status), and it is what `kubectl describe node`
shows under `Lease:` (HolderIdentity, AcquireTime, RenewTime); without one kubectl prints "Failed to get
lease". The kubelet's rules, kept here:
- holderIdentity = the node name, leaseDurationSeconds = 40, renewTime = now (a MicroTime), renewed every
  quarter of the duration;
- the Lease is only ever *created* with an ownerReference to the Node (so it goes away with the Node);
  when the Node cannot be read, creation waits for the next round; an existing Lease without one gets it;
- a renewal PUTs the copy from our last write (no GET); any failure falls back to GET-or-create.
"""
from __future__ import annotations

import asyncio
import copy
import datetime as dt
import logging

from minikube_py.client import ApiClient, ApiError, NotFound

log = logging.getLogger(__name__)

LEASE_NAMESPACE = "kube-node-lease"
LEASE_DURATION_SECONDS = 40
RENEW_INTERVAL_FRACTION = 0.25  # renew every 10 s of a 40 s lease


def micro_time(now: dt.datetime | None = None) -> str:
    """A `metav1.MicroTime` as JSON: RFC 3339 with microseconds (`2026-01-01T00:00:00.123456Z`)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return now.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def node_owner_reference(node: dict) -> dict:
    """The kubelet's owner reference: apiVersion v1, kind Node, name and uid (no controller flag)."""
    meta = node["metadata"]
    return {"apiVersion": "v1", "kind": "Node", "name": meta["name"], "uid": meta["uid"]}


def new_lease(holder: str, duration_seconds: int, renew_time: str, base: dict | None = None,
              owner: dict | None = None) -> dict:
    """The Lease to write: a fresh one (*base* None) or a copy of *base*, with renewTime set and the
    owner reference added when the Lease has none. Pure."""
    if base is None:
        lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                 "metadata": {"name": holder, "namespace": LEASE_NAMESPACE},
                 "spec": {"holderIdentity": holder, "leaseDurationSeconds": duration_seconds}}
    else:
        lease = copy.deepcopy(base)
        lease.setdefault("apiVersion", "coordination.k8s.io/v1")
        lease.setdefault("kind", "Lease")
    if owner is not None and not lease["metadata"].get("ownerReferences"):
        lease["metadata"]["ownerReferences"] = [owner]
    lease.setdefault("spec", {})["renewTime"] = renew_time
    return lease


class NodeLease:
    """Creates and renews this node's Lease; `run()` forever, `sync_once()` one round."""

    def __init__(self, client: ApiClient, node_name: str, *, duration_seconds: int = LEASE_DURATION_SECONDS,
                 renew_interval: float | None = None) -> None:
        self.client = client
        self.node_name = node_name
        self.duration_seconds = duration_seconds
        self.renew_interval = renew_interval if renew_interval is not None \
            else duration_seconds * RENEW_INTERVAL_FRACTION
        self.latest: dict | None = None  # what our last create/update returned

    async def _owner(self) -> dict | None:
        try:
            return node_owner_reference(await self.client.get("nodes", self.node_name))
        except (ApiError, OSError, KeyError) as exc:
            log.warning("node %s not readable for the lease's owner reference: %s", self.node_name, exc)
            return None

    async def _update(self, base: dict) -> dict:
        owner = None if base["metadata"].get("ownerReferences") else await self._owner()
        lease = new_lease(self.node_name, self.duration_seconds, micro_time(), base, owner)
        self.latest = await self.client.update("leases", lease)
        return self.latest

    async def _ensure(self) -> tuple[dict | None, bool]:
        """(the Lease, created now?); (None, False) when it must wait for the Node to exist."""
        try:
            return await self.client.get("leases", self.node_name, namespace=LEASE_NAMESPACE), False
        except NotFound:
            pass
        owner = await self._owner()
        if owner is None:
            return None, False  # never create a Lease without its owner; retry next round
        lease = new_lease(self.node_name, self.duration_seconds, micro_time(), None, owner)
        return await self.client.create("leases", lease, namespace=LEASE_NAMESPACE), True

    async def sync_once(self) -> None:
        if self.latest is not None:
            try:
                await self._update(self.latest)
                return
            except (ApiError, OSError, asyncio.TimeoutError) as exc:
                log.info("lease update from the last write failed (%s); reading it again", exc)
                self.latest = None
        lease, created = await self._ensure()
        self.latest = lease
        if lease is not None and not created:
            await self._update(lease)

    async def run(self) -> None:
        while True:
            try:
                await self.sync_once()
            except (ApiError, OSError, asyncio.TimeoutError) as exc:
                log.warning("node lease %s/%s not renewed: %s", LEASE_NAMESPACE, self.node_name, exc)
            await asyncio.sleep(self.renew_interval)
