"""Discovery documents list a group-version's resources in the apiserver's order: sorted by path.

kubectl expands `get all` (and prints `api-resources`) in discovery order, so on a real cluster
`kubectl get all` shows deployment.apps before replicaset.apps; registry order would reverse them.
"""
from __future__ import annotations

from minikube_py.api import discovery


def test_legacy_resource_list_is_sorted_by_path() -> None:
    names = [e["name"] for e in discovery.api_resource_list("apps/v1")["resources"]]
    assert names == sorted(names)
    assert names.index("deployments") < names.index("deployments/scale") < names.index("deployments/status") \
        < names.index("replicasets")
    core = [e["name"] for e in discovery.api_resource_list("v1")["resources"]]
    assert core == sorted(core) and core.index("pods") < core.index("services")


def test_aggregated_discovery_is_sorted_by_resource_and_subresource() -> None:
    for legacy in (True, False):
        for group in discovery.aggregated_discovery(legacy)["items"]:
            for version in group["versions"]:
                names = [r["resource"] for r in version["resources"]]
                assert names == sorted(names), (group["metadata"]["name"], names)
                for r in version["resources"]:
                    subs = [s["subresource"] for s in r.get("subresources", [])]
                    assert subs == sorted(subs), (r["resource"], subs)
    apps = next(g for g in discovery.aggregated_discovery(False)["items"] if g["metadata"]["name"] == "apps")
    assert [r["resource"] for r in apps["versions"][0]["resources"]][:2] == ["deployments", "replicasets"]


def test_pods_eviction_names_policy_v1_so_kubectl_drain_evicts() -> None:
    """kubectl's CheckEvictionSupport looks for `pods/eviction` with kind Eviction and a group/version in
    the v1 list; without it drain DELETEs pods (`pod/x deleted`) instead of `pod/x evicted`."""
    core = {e["name"]: e for e in discovery.api_resource_list("v1")["resources"]}
    assert core["pods/eviction"] == {"name": "pods/eviction", "singularName": "", "namespaced": True,
                                     "group": "policy", "version": "v1", "kind": "Eviction", "verbs": ["create"]}
    legacy = discovery.aggregated_discovery(True)["items"][0]["versions"][0]["resources"]
    pods = next(r for r in legacy if r["resource"] == "pods")
    assert {"subresource": "eviction", "responseKind": {"group": "policy", "version": "v1", "kind": "Eviction"},
            "verbs": ["create"]} in pods["subresources"]
