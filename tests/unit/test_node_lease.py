"""The node Lease (agent/nodelease.py), the kubelet's node status events (agent/node.py) and the Lease kind
in the API registry: pure functions, and the renew loop against an in-memory API."""
from __future__ import annotations

import copy
import datetime as dt

import pytest

from agent.node import status_events
from agent.nodelease import LEASE_NAMESPACE, NodeLease, micro_time, new_lease
from minikube_py.api import resources, tables, validation
from minikube_py.client import ApiError, Conflict, NotFound

OWNER = {"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": "u-1"}


def test_micro_time_has_microseconds():
    assert micro_time(dt.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=dt.timezone.utc)) == "2026-01-02T03:04:05.000006Z"


def test_new_lease_fresh_and_renewed():
    fresh = new_lease("n1", 40, "T1", None, OWNER)
    assert fresh == {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                     "metadata": {"name": "n1", "namespace": LEASE_NAMESPACE, "ownerReferences": [OWNER]},
                     "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40, "renewTime": "T1"}}
    stored = {**copy.deepcopy(fresh), "metadata": {**fresh["metadata"], "resourceVersion": "7"}}
    again = new_lease("n1", 40, "T2", stored, {"uid": "other"})
    assert again["spec"]["renewTime"] == "T2" and stored["spec"]["renewTime"] == "T1"  # a copy
    assert again["metadata"]["resourceVersion"] == "7" and again["metadata"]["ownerReferences"] == [OWNER]
    orphan = {"metadata": {"name": "n1", "namespace": LEASE_NAMESPACE}, "spec": {"holderIdentity": "n1"}}
    assert new_lease("n1", 40, "T3", orphan, OWNER)["metadata"]["ownerReferences"] == [OWNER]


@pytest.mark.parametrize("old,new,want", [
    (None, ["MemoryPressure=False", "DiskPressure=False", "PIDPressure=False", "Ready=True"],
     ["NodeHasSufficientMemory", "NodeHasNoDiskPressure", "NodeHasSufficientPID", "NodeReady"]),
    (["MemoryPressure=False", "Ready=True"], ["MemoryPressure=False", "Ready=True"], []),
    (["MemoryPressure=Unknown", "Ready=Unknown"], ["MemoryPressure=False", "Ready=True"],
     ["NodeHasSufficientMemory", "NodeReady"]),
    (["Ready=True"], ["Ready=False"], ["NodeNotReady"]),
], ids=["first-registration", "steady", "back-after-unknown", "not-ready"])
def test_status_events(old, new, want):
    def conds(items):
        return None if items is None else [dict(zip(("type", "status"), i.split("="))) for i in items]
    assert status_events(conds(old), conds(new)) == want


class LeaseApi:
    """In-memory nodes and leases with resourceVersions, counting requests."""

    def __init__(self, node: bool = True) -> None:
        self.nodes = {"n1": {"metadata": {"name": "n1", "uid": "u-1"}}} if node else {}
        self.leases: dict[str, dict] = {}
        self.calls: list[str] = []
        self.rv = 0
        self.fail_update: ApiError | None = None

    def _store(self, obj: dict) -> dict:
        self.rv += 1
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.leases[obj["metadata"]["name"]] = obj
        return copy.deepcopy(obj)

    async def get(self, plural, name, namespace=None):
        self.calls.append(f"get {plural}")
        store = self.nodes if plural == "nodes" else self.leases
        if name not in store:
            raise NotFound(404, {})
        return copy.deepcopy(store[name])

    async def create(self, plural, obj, namespace=None):
        self.calls.append(f"create {plural}")
        assert namespace == LEASE_NAMESPACE == obj["metadata"]["namespace"]
        return self._store(obj)

    async def update(self, plural, obj):
        self.calls.append(f"update {plural}")
        if self.fail_update is not None:
            err, self.fail_update = self.fail_update, None
            raise err
        if obj["metadata"].get("resourceVersion") != self.leases[obj["metadata"]["name"]]["metadata"]["resourceVersion"]:
            raise Conflict(409, {})
        return self._store(obj)


async def test_lease_created_with_owner_then_renewed_by_put_alone():
    api = LeaseApi()
    lease = NodeLease(api, "n1")
    assert lease.renew_interval == 10.0
    await lease.sync_once()
    assert api.calls == ["get leases", "get nodes", "create leases"]
    assert api.leases["n1"]["metadata"]["ownerReferences"] == [OWNER]
    first = api.leases["n1"]["spec"]["renewTime"]
    api.calls.clear()
    await lease.sync_once()
    assert api.calls == ["update leases"]  # no GET: the copy of our last write
    assert api.leases["n1"]["spec"]["renewTime"] >= first


async def test_no_lease_without_its_node_and_fallback_after_a_conflict():
    api = LeaseApi(node=False)
    lease = NodeLease(api, "n1")
    await lease.sync_once()
    assert api.leases == {} and lease.latest is None
    api.nodes["n1"] = {"metadata": {"name": "n1", "uid": "u-1"}}
    await lease.sync_once()
    assert "n1" in api.leases
    # Someone else wrote the Lease: our PUT conflicts, we read it again and renew that.
    api.leases["n1"]["metadata"]["resourceVersion"] = "999"
    api.calls.clear()
    await lease.sync_once()
    assert api.calls == ["update leases", "get leases", "update leases"]
    assert api.leases["n1"]["metadata"]["resourceVersion"] != "999"


async def test_a_lease_found_without_owner_gets_it():
    api = LeaseApi()
    api.leases["n1"] = {"metadata": {"name": "n1", "namespace": LEASE_NAMESPACE, "resourceVersion": "1"},
                        "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40}}
    await NodeLease(api, "n1").sync_once()
    assert api.leases["n1"]["metadata"]["ownerReferences"] == [OWNER]


def test_lease_kind_registered_with_table_and_validation():
    r = resources.lookup("lease")
    assert (r.plural, r.api_version, r.namespaced) == ("leases", "coordination.k8s.io/v1", True)
    assert r.path("kube-node-lease", "n1") == "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1"
    obj = {"metadata": {"name": "n1", "namespace": "kube-node-lease", "creationTimestamp": "2026-01-01T00:00:00Z"},
           "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40}}
    table = tables.to_table(r, [obj], now=dt.datetime(2026, 1, 1, 0, 1, tzinfo=dt.timezone.utc))
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Holder", "Age"]
    assert table["rows"][0]["cells"] == ["n1", "n1", "60s"]
    assert validation.validate(r, obj) == []
    bad = {"metadata": {"name": "n1", "namespace": "x"},
           "spec": {"leaseDurationSeconds": 0, "leaseTransitions": -1, "preferredHolder": "a"}}
    assert [(c["field"], c["message"]) for c in validation.validate(r, bad)] == [
        ("spec.leaseDurationSeconds", "Invalid value: 0: must be greater than 0"),
        ("spec.leaseTransitions", "Invalid value: -1: must be greater than or equal to 0"),
        ("spec.preferredHolder", "Forbidden: may only be specified if `strategy` is defined")]
    assert validation.unknown_fields(r, {"metadata": {}, "spec": {"holder": "x"}}) == ["spec.holder"]
