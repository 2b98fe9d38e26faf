"""The registry of kinds the API serves.

Why a table: discovery documents, URL routing, the client, kubectl's short names and the OpenAPI stub all
derive from the same few facts per kind. Keeping them in one place means adding a kind is one line.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Resource:
    plural: str
    kind: str
    group: str  # "" for core
    version: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()  # "status", "scale", "log", "exec", "attach", "binding", "eviction"
    verbs: tuple[str, ...] = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
    singular: str = ""
    categories: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        """`v1` for core, `apps/v1` otherwise: what goes in an object's `apiVersion`."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def prefix(self) -> str:
        """URL prefix of the group-version: `/api/v1` or `/apis/apps/v1`."""
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        """The REST path for a collection, an object or a subresource."""
        parts = [self.prefix]
        if self.namespaced and namespace:
            parts.append(f"namespaces/{namespace}")
        parts.append(self.plural)
        if name:
            parts.append(name)
            if subresource:
                parts.append(subresource)
        return "/".join(parts)


_ALL = "all"

RESOURCES: dict[str, Resource] = {
    r.plural: r
    for r in [
        Resource("namespaces", "Namespace", "", "v1", False, ("ns",), ("status",), singular="namespace"),
        Resource("pods", "Pod", "", "v1", True, ("po",),
                 ("status", "log", "exec", "attach", "portforward", "binding", "eviction"), singular="pod", categories=(_ALL,)),
        Resource("services", "Service", "", "v1", True, ("svc",), ("status",), singular="service",
                 categories=(_ALL,)),
        Resource("endpoints", "Endpoints", "", "v1", True, ("ep",), (), singular="endpoints"),
        Resource("configmaps", "ConfigMap", "", "v1", True, ("cm",), (), singular="configmap"),
        Resource("secrets", "Secret", "", "v1", True, (), (), singular="secret"),
        Resource("serviceaccounts", "ServiceAccount", "", "v1", True, ("sa",), (), singular="serviceaccount"),
        Resource("nodes", "Node", "", "v1", False, ("no",), ("status",), singular="node"),
        Resource("events", "Event", "", "v1", True, ("ev",), (), singular="event"),
        Resource("replicasets", "ReplicaSet", "apps", "v1", True, ("rs",), ("status", "scale"),
                 singular="replicaset", categories=(_ALL,)),
        Resource("deployments", "Deployment", "apps", "v1", True, ("deploy",), ("status", "scale"),
                 singular="deployment", categories=(_ALL,)),
        Resource("ingresses", "Ingress", "networking.k8s.io", "v1", True, ("ing",), ("status",),
                 singular="ingress"),
        Resource("ingressclasses", "IngressClass", "networking.k8s.io", "v1", False, (), (),
                 singular="ingressclass"),
        Resource("leases", "Lease", "coordination.k8s.io", "v1", True, (), (), singular="lease"),
        # kubectl 1.33 reads slices, not Endpoints: `describe svc` (Endpoints:) and `describe ing` (backends).
        Resource("endpointslices", "EndpointSlice", "discovery.k8s.io", "v1", True, (), (),
                 singular="endpointslice"),
    ]
}

BY_KIND: dict[tuple[str, str], Resource] = {(r.api_version, r.kind): r for r in RESOURCES.values()}


def resource_for(api_version: str, kind: str) -> Resource:
    """Resource of an object by its `apiVersion` and `kind`; KeyError if we don't serve it."""
    return BY_KIND[(api_version, kind)]


def lookup(name: str) -> Resource:
    """Resolve what a user types (`po`, `pod`, `pods`, `deploy`, `deployments.apps`) to a Resource."""
    n = name.lower()
    base, _, group = n.partition(".")
    for r in RESOURCES.values():
        if group and r.group != group and f"{r.group}" != group:
            continue
        if base in (r.plural, r.singular, r.kind.lower()) or base in r.short_names:
            return r
    raise KeyError(name)


def groups() -> dict[str, list[Resource]]:
    """Resources by group-version (`v1`, `apps/v1`, …), in registry order."""
    out: dict[str, list[Resource]] = {}
    for r in RESOURCES.values():
        out.setdefault(r.api_version, []).append(r)
    return out
