"""Node IPAM: the pod CIDR of a Node is given by the control plane (kube-controller-manager's range
allocator, done here inside the Node create request like the Service IP allocator).

Why in the API server and not in a controller: a node cannot make its pod bridge (`cni0`) before it knows
its range, so `join` registers the Node and reads `spec.podCIDR` back from the create response. Allocating
inside the request means the answer already carries the range and two nodes can never get the same one
(the server serialises Node creates around this function).

Rules (pure, unit-tested):
- a Node created without `spec.podCIDR` gets the lowest /24 of the cluster pod CIDR that no other Node
  holds (the whole CIDR when it is smaller than a /24);
- a Node that asks for a range (a VM joined with `--pod-cidr`, or a node re-registering the range its
  pods already use) keeps it when it lies inside the cluster pod CIDR and overlaps no other Node's;
  otherwise the create is refused (422), because the node would build its network on a range routed to
  someone else;
- `spec.podCIDRs` always equals `[spec.podCIDR]` (single-stack);
- once set, the range is immutable (Kubernetes: "may not change podCIDR except from \"\" to valid").
"""
from __future__ import annotations

import ipaddress
from typing import Iterable

NODE_MASK = 24


class PodCIDRError(ValueError):
    """Becomes a 422 Invalid on `spec.podCIDR`."""

    def __init__(self, message: str, field: str = "spec.podCIDR") -> None:
        super().__init__(message)
        self.field = field
        self.message = message

    def cause(self) -> dict:
        return {"reason": "FieldValueInvalid", "message": self.message, "field": self.field}


def node_pod_cidr(node: dict) -> str | None:
    spec = node.get("spec") or {}
    return spec.get("podCIDR") or (spec.get("podCIDRs") or [None])[0] or None


def allocate(cluster_cidr: str, taken: Iterable[str], requested: str | None = None,
             node_mask: int = NODE_MASK) -> str:
    """The pod CIDR for a new Node: *requested* if valid and free, else the lowest free range."""
    cluster = ipaddress.ip_network(cluster_cidr, strict=False)
    used = [ipaddress.ip_network(t, strict=False) for t in taken if t]
    if requested:
        try:
            want = ipaddress.ip_network(requested, strict=True)
        except ValueError as err:
            raise PodCIDRError(f'Invalid value: "{requested}": {err}') from None
        if want.version != cluster.version or not want.subnet_of(cluster):  # type: ignore[arg-type]
            raise PodCIDRError(f'Invalid value: "{requested}": not inside the cluster pod CIDR {cluster}')
        clash = next((u for u in used if u.overlaps(want)), None)
        if clash is not None:
            raise PodCIDRError(f'Invalid value: "{requested}": overlaps {clash}, already allocated to another node')
        return str(want)
    size = max(node_mask, cluster.prefixlen)
    for cand in cluster.subnets(new_prefix=size):
        if not any(u.overlaps(cand) for u in used):
            return str(cand)
    raise PodCIDRError(f"no free /{size} left in the cluster pod CIDR {cluster}: delete a node first")


def admit_create(node: dict, others: Iterable[dict], cluster_cidr: str) -> dict:
    """Set `spec.podCIDR(s)` of *node* (changed in place and returned) given the other Nodes."""
    spec = node.setdefault("spec", {})
    podcidrs = spec.get("podCIDRs") or []
    if spec.get("podCIDR") and podcidrs and podcidrs[0] != spec["podCIDR"]:
        raise PodCIDRError("must match the first element of spec.podCIDRs", field="spec.podCIDRs")
    cidr = allocate(cluster_cidr, (node_pod_cidr(o) or "" for o in others), node_pod_cidr(node))
    spec["podCIDR"] = cidr
    spec["podCIDRs"] = [cidr]
    return node


def check_update(old: dict, new: dict) -> None:
    """Refuse changing a Node's pod CIDR once it is set; an update that leaves it out keeps it (*new* is
    changed in place), so a client that never heard of the field cannot clear it by accident."""
    before, after = node_pod_cidr(old), node_pod_cidr(new)
    if before and not after:
        spec = new.setdefault("spec", {})
        spec["podCIDR"], spec["podCIDRs"] = before, [before]
        return
    if before and after != before:
        raise PodCIDRError(f'Forbidden: node updates may not change podCIDR except from "" to valid '
                           f"(was {before}, now {after or 'empty'})")
