"""metallb-like LoadBalancer pools: parsing, allocation and the L2 leader election (all pure).

The pool lives where metallb's legacy configuration lived and where `minikube addons configure metallb`
writes it: ConfigMap `metallb-system/config`, key `config`, YAML `address-pools: [{name, protocol: layer2,
addresses: ["192.168.49.100-192.168.49.120" | "192.168.49.128/28"]}]`. Keeping it in the API (not a file)
means the controller and every node's speaker learn about changes through their informers.

Election: like metallb's layer-2 mode, each speaker computes on its own, from the same inputs (the Ready
nodes and the IP), which node answers ARP for an IP: the node whose sha256(node name + "#" + ip) sorts
first. No coordination is needed, and when the holder goes NotReady every speaker agrees on the next one.
"""
from __future__ import annotations

import hashlib
import ipaddress
from typing import Iterable

import yaml

NAMESPACE = "metallb-system"
CONFIGMAP = "config"
IP_ANNOTATIONS = ("metallb.universe.tf/loadBalancerIPs", "metallb.io/loadBalancerIPs")


class PoolError(ValueError):
    pass


def parse_range(text: str) -> list[ipaddress.IPv4Address]:
    """`a.b.c.d-e.f.g.h` or a CIDR → the addresses, in order."""
    text = text.strip()
    if "-" in text:
        start_s, end_s = (p.strip() for p in text.split("-", 1))
        try:
            start, end = ipaddress.IPv4Address(start_s), ipaddress.IPv4Address(end_s)
        except ValueError as exc:
            raise PoolError(f"invalid address range {text!r}: {exc}") from None
        if end < start:
            raise PoolError(f"invalid address range {text!r}: end is before start")
        if int(end) - int(start) > 65535:
            raise PoolError(f"address range {text!r} is too large")
        return [ipaddress.IPv4Address(i) for i in range(int(start), int(end) + 1)]
    try:
        net = ipaddress.IPv4Network(text, strict=False)
    except ValueError as exc:
        raise PoolError(f"invalid address range {text!r}: {exc}") from None
    return list(net) if net.prefixlen >= 31 else list(net.hosts())


def parse_pool(config_text: str | None) -> list[ipaddress.IPv4Address]:
    """All addresses of all layer2 pools in a metallb config document (empty when none)."""
    if not config_text:
        return []
    doc = yaml.safe_load(config_text) or {}
    out: list[ipaddress.IPv4Address] = []
    for pool in doc.get("address-pools") or []:
        if pool.get("protocol", "layer2") != "layer2":
            continue
        for rng in pool.get("addresses") or []:
            out.extend(parse_range(str(rng)))
    seen: set = set()
    return [ip for ip in out if not (ip in seen or seen.add(ip))]


def render_config(start: str, end: str) -> str:
    """The config document `addons configure metallb` writes (minikube's shape)."""
    return yaml.safe_dump({"address-pools": [{"name": "default", "protocol": "layer2",
                                              "addresses": [f"{start}-{end}"]}]}, sort_keys=False)


def check_pool_inside(pool: Iterable[ipaddress.IPv4Address], node_subnet: str, reserved: set[str]) -> None:
    """The pool must lie in the node network (the only place we may send traffic) and avoid our own IPs."""
    net = ipaddress.IPv4Network(node_subnet)
    for ip in pool:
        if ip not in net or ip in (net.network_address, net.broadcast_address):
            raise PoolError(f"{ip} is outside the cluster's node network {net}")
        if str(ip) in reserved:
            raise PoolError(f"{ip} is already used by the cluster (gateway or a node)")


def requested_ip(svc: dict) -> str | None:
    """`spec.loadBalancerIP` or metallb's annotation: the IP a user asked for, if any."""
    annotations = svc.get("metadata", {}).get("annotations") or {}
    for key in IP_ANNOTATIONS:
        if annotations.get(key):
            return annotations[key].split(",")[0].strip()
    return (svc.get("spec") or {}).get("loadBalancerIP") or None


def allocate(svc_key: str, requested: str | None, current: str | None, pool: list[ipaddress.IPv4Address],
             used: dict[str, str]) -> tuple[str | None, str | None]:
    """Choose the IP for one Service. Returns (ip, error message).

    `used` maps IP → the service key holding it. A service keeps its current IP while it is still in the
    pool and still what it asked for; a requested IP is honoured when free and in the pool.
    """
    pool_set = {str(ip) for ip in pool}
    if requested:
        if requested not in pool_set:
            return None, f'Failed to allocate IP for "{svc_key}": "{requested}" is not allowed in config'
        holder = used.get(requested)
        if holder and holder != svc_key:
            return None, f'Failed to allocate IP for "{svc_key}": "{requested}" is already in use by {holder}'
        return requested, None
    if current and current in pool_set and used.get(current) in (None, svc_key):
        return current, None
    for ip in pool:
        if str(ip) not in used:
            return str(ip), None
    return None, f'Failed to allocate IP for "{svc_key}": no available IPs'


def elect(ip: str, ready_nodes: Iterable[str]) -> str | None:
    """The node that announces `ip` (metallb layer-2 style: same answer on every node)."""
    ranked = sorted(ready_nodes, key=lambda n: hashlib.sha256(f"{n}#{ip}".encode()).hexdigest())
    return ranked[0] if ranked else None


def node_is_ready(node: dict) -> bool:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False
