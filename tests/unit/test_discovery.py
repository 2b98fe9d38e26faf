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
