"""Discovery documents, derived from the resource registry.

kubectl asks `/api` and `/apis` for the aggregated form first (`APIGroupDiscoveryList`, apidiscovery v2)
and falls back to the legacy chain (`APIVersions`/`APIGroupList`, then `/api/v1` and `/apis/<g>/<v>`).
Both are served; the aggregated one must carry exactly AGGREGATED_CONTENT_TYPE (KUBECTL.md).
Pure functions: they only read `resources.RESOURCES`.
"""
from __future__ import annotations

from .resources import RESOURCES, Resource, groups

GIT_VERSION = "v1.33.0-minikube-py"
AGGREGATED_CONTENT_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

# Subresource -> (group, version, kind, verbs); group/version None = the parent's.
_SUBRESOURCES: dict[str, tuple[str | None, str | None, str | None, list[str]]] = {
    "status": (None, None, None, ["get", "patch", "update"]),
    "scale": ("autoscaling", "v1", "Scale", ["get", "patch", "update"]),
    "log": (None, None, None, ["get"]),
    "exec": (None, None, "PodExecOptions", ["create", "get"]),
    "attach": (None, None, "PodAttachOptions", ["create", "get"]),
    "portforward": (None, None, "PodPortForwardOptions", ["create", "get"]),
    "binding": (None, None, "Binding", ["create"]),
    # kubectl drain evicts (`evicting pod ns/x`, `pod/x evicted`) when v1 lists pods/eviction with a group.
    "eviction": ("policy", "v1", "Eviction", ["create"]),
}


def version_info() -> dict:
    return {"major": "1", "minor": "33", "gitVersion": GIT_VERSION, "gitCommit": "0" * 40,
            "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "python",
            "compiler": "cpython", "platform": "linux/amd64"}


def api_versions() -> dict:
    return {"kind": "APIVersions", "apiVersion": "v1", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}]}


def _group_names() -> list[str]:
    out: list[str] = []
    for r in RESOURCES.values():
        if r.group and r.group not in out:
            out.append(r.group)
    return out


def _versions_of(group: str) -> list[str]:
    out: list[str] = []
    for r in RESOURCES.values():
        if r.group == group and r.version not in out:
            out.append(r.version)
    return out


def api_group_list() -> dict:
    out = []
    for g in _group_names():
        versions = [{"groupVersion": f"{g}/{v}", "version": v} for v in _versions_of(g)]
        out.append({"name": g, "versions": versions, "preferredVersion": versions[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": out}


def _resource_entries(r: Resource) -> list[dict]:
    main = {"name": r.plural, "singularName": r.singular or r.kind.lower(), "namespaced": r.namespaced,
            "kind": r.kind, "verbs": list(r.verbs)}
    if r.short_names:
        main["shortNames"] = list(r.short_names)
    if r.categories:
        main["categories"] = list(r.categories)
    out = [main]
    for sub in r.subresources:
        group, version, kind, verbs = _SUBRESOURCES[sub]
        entry = {"name": f"{r.plural}/{sub}", "singularName": "", "namespaced": r.namespaced,
                 "kind": kind or r.kind, "verbs": verbs}
        if group is not None:
            entry["group"], entry["version"] = group, version
        out.append(entry)
    return out


def api_resource_list(group_version: str) -> dict | None:
    """APIResourceList of one group-version (`v1`, `apps/v1`), or None if we serve no such thing."""
    resources = groups().get(group_version)
    if resources is None:
        return None
    # The apiserver registers a group-version's paths sorted (`sort.Strings` in its installer), so
    # discovery lists `deployments, deployments/scale, deployments/status, replicasets, ...`; kubectl
    # expands `get all` in this order (deployments before replicasets).
    items = sorted((e for r in resources for e in _resource_entries(r)), key=lambda e: e["name"])
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": items}


def _aggregated_resource(r: Resource) -> dict:
    entry = {"resource": r.plural, "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
             "scope": "Namespaced" if r.namespaced else "Cluster", "singularResource": r.singular or r.kind.lower(),
             "verbs": list(r.verbs)}
    if r.short_names:
        entry["shortNames"] = list(r.short_names)
    if r.categories:
        entry["categories"] = list(r.categories)
    subs = []
    for sub in sorted(r.subresources):
        group, version, kind, verbs = _SUBRESOURCES[sub]
        subs.append({"subresource": sub,
                     "responseKind": {"group": r.group if group is None else group,
                                      "version": r.version if version is None else version,
                                      "kind": kind or r.kind},
                     "verbs": verbs})
    if subs:
        entry["subresources"] = subs
    return entry


def aggregated_discovery(legacy: bool) -> dict:
    """APIGroupDiscoveryList for `/api` (legacy=True: the core group "") or `/apis` (all named groups)."""
    names = [""] if legacy else _group_names()
    items = []
    for g in names:
        versions = []
        for v in (["v1"] if legacy else _versions_of(g)):
            rs = sorted((r for r in RESOURCES.values() if r.group == g and r.version == v), key=lambda r: r.plural)
            versions.append({"version": v, "resources": [_aggregated_resource(r) for r in rs],
                             "freshness": "Current"})
        items.append({"metadata": {"name": g, "creationTimestamp": None}, "versions": versions})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {},
            "items": items}


def wants_aggregated(accept: str) -> bool:
    """Does the Accept header ask for (and prefer) the aggregated v2 form? Clients list it first when they do."""
    for part in accept.split(","):
        p = part.replace(" ", "")
        if "as=APIGroupDiscoveryList" in p and "v=v2" in p and "g=apidiscovery.k8s.io" in p:
            return True
    return False
