"""ClusterIP and NodePort allocation for Services.

Like the real apiserver, allocation happens inside the Service create/update/delete request, so a Service
is never stored without its IP and two Services can never get the same one. The used sets live in memory
and are rebuilt from the stored Services at start (`rebuild`), so they survive restarts without a
separate bitmap to keep consistent. All methods are synchronous and run on the event loop: no two requests
interleave inside an allocation.

Reserved addresses: the service CIDR's `.1` belongs to `default/kubernetes` and `.10` to
`kube-system/kube-dns` (config.kubernetes_service_ip / dns_service_ip); dynamic allocation never hands them
out, but a Service may ask for them explicitly.
"""
from __future__ import annotations

import copy
import ipaddress
import itertools
import random
from typing import Iterable

from minikube_py.config import ClusterConfig


class AllocationError(Exception):
    """Becomes a 422 Invalid with `field` and `message` (Kubernetes' texts)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def cause(self) -> dict:
        return {"reason": "FieldValueInvalid", "message": self.message, "field": self.field}


def _needs_cluster_ip(spec: dict) -> bool:
    return spec.get("type", "ClusterIP") != "ExternalName"


def _needs_node_ports(spec: dict) -> bool:
    return spec.get("type", "ClusterIP") in ("NodePort", "LoadBalancer")


def _ip_of(spec: dict) -> str | None:
    ip = spec.get("clusterIP") or (spec.get("clusterIPs") or [None])[0]
    return ip or None


def _held(svc: dict) -> tuple[str | None, set[int]]:
    """What a stored Service occupies: its ClusterIP (None for none or headless) and its nodePorts."""
    spec = svc.get("spec") or {}
    ip = _ip_of(spec)
    ports = {int(p["nodePort"]) for p in spec.get("ports") or [] if p.get("nodePort")}
    return (ip if ip and ip != "None" else None), ports


class ServiceAllocator:
    def __init__(self, config: ClusterConfig, rng: random.Random | None = None) -> None:
        self.network = ipaddress.ip_network(config.service_cidr)
        self.reserved = {config.kubernetes_service_ip, config.dns_service_ip}
        self.port_lo, self.port_hi = config.nodeport_range
        self.used_ips: set[str] = set()
        self.used_ports: set[int] = set()
        self._rng = rng or random.Random()

    # --- state -------------------------------------------------------------------------------------
    def rebuild(self, services: Iterable[dict]) -> None:
        self.used_ips.clear()
        self.used_ports.clear()
        for svc in services:
            self.rebuild_add(svc)

    # --- ClusterIP ---------------------------------------------------------------------------------
    def _claim_ip(self, ip: str) -> str:
        field = "spec.clusterIPs[0]"
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            raise AllocationError(field, f'Invalid value: "{ip}": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)')
        if addr not in self.network or addr in (self.network.network_address, self.network.broadcast_address):
            raise AllocationError(field, f'Invalid value: "{ip}": provided IP is not in the valid range. '
                                         f"The range of valid IPs is {self.network}")
        ip = str(addr)
        if ip in self.used_ips:
            raise AllocationError(field, f'Invalid value: "{ip}": provided IP is already allocated')
        self.used_ips.add(ip)
        return ip

    def _next_free_ip(self) -> str:
        size = self.network.num_addresses
        base = int(self.network.network_address)
        # Random probing first (what the apiserver does: fewer reuse surprises), then a scan.
        offsets = itertools.chain((self._rng.randrange(2, size - 1) for _ in range(64)), range(2, size - 1))
        for off in offsets:
            cand = str(ipaddress.ip_address(base + off))
            if cand not in self.used_ips and cand not in self.reserved:
                self.used_ips.add(cand)
                return cand
        raise AllocationError("spec.clusterIPs", "Internal error: range is full")

    # --- NodePort ----------------------------------------------------------------------------------
    def _claim_port(self, index: int, port: int) -> int:
        field = f"spec.ports[{index}].nodePort"
        if not (self.port_lo <= port <= self.port_hi):
            raise AllocationError(field, f"Invalid value: {port}: provided port is not in the valid range. "
                                         f"The range of valid ports is {self.port_lo}-{self.port_hi}")
        if port in self.used_ports:
            raise AllocationError(field, f"Invalid value: {port}: provided port is already allocated")
        self.used_ports.add(port)
        return port

    def _next_free_port(self) -> int:
        span = self.port_hi - self.port_lo + 1
        start = self._rng.randrange(span)
        for i in range(span):
            cand = self.port_lo + (start + i) % span
            if cand not in self.used_ports:
                self.used_ports.add(cand)
                return cand
        raise AllocationError("spec.ports", "Internal error: node port range is full")

    # --- the three entry points --------------------------------------------------------------------
    def allocate(self, svc: dict, old: dict | None = None) -> dict:
        """Return a copy of *svc* with clusterIP(s) and nodePorts assigned, releasing what *old* held and the
        new one no longer needs. On error nothing stays claimed (all-or-nothing)."""
        new = copy.deepcopy(svc)
        spec = new.setdefault("spec", {})
        old_spec = (old or {}).get("spec") or {}
        old_ip = _ip_of(old_spec)
        _, old_ports = _held(old or {})
        claimed_ips: list[str] = []
        claimed_ports: list[int] = []
        try:
            # ClusterIP
            if _needs_cluster_ip(spec):
                want = _ip_of(spec)
                if not want and old_ip and _needs_cluster_ip(old_spec):
                    want = old_ip  # an update that omits the IP keeps it (it is immutable)
                if want == "None":
                    ip = "None"
                elif want and want == old_ip:
                    ip = old_ip
                elif want:
                    ip = self._claim_ip(want)
                    claimed_ips.append(ip)
                else:
                    ip = self._next_free_ip()
                    claimed_ips.append(ip)
                spec["clusterIP"] = ip
                spec["clusterIPs"] = [ip]
            else:
                spec.pop("clusterIP", None)
                spec.pop("clusterIPs", None)
            # NodePorts
            ports = spec.get("ports") or []
            old_by_port = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
                           for p in old_spec.get("ports") or [] if p.get("nodePort")}
            kept: set[int] = set()
            for i, p in enumerate(ports):
                if not _needs_node_ports(spec):
                    p.pop("nodePort", None)
                    continue
                want = p.get("nodePort")
                if not want:
                    want = old_by_port.get((p.get("port"), p.get("protocol", "TCP")))
                if want and int(want) in old_ports and int(want) not in kept:
                    p["nodePort"] = int(want)
                elif want:
                    p["nodePort"] = self._claim_port(i, int(want))
                    claimed_ports.append(p["nodePort"])
                else:
                    p["nodePort"] = self._next_free_port()
                    claimed_ports.append(p["nodePort"])
                kept.add(p["nodePort"])
        except AllocationError:
            self.used_ips.difference_update(claimed_ips)
            self.used_ports.difference_update(claimed_ports)
            raise
        # Release what the old version held and the new one doesn't.
        new_ip = spec.get("clusterIP")
        if old_ip and old_ip != "None" and old_ip != new_ip:
            self.used_ips.discard(old_ip)
        self.used_ports.difference_update(old_ports - kept)
        return new

    def undo(self, allocated: dict, old: dict | None = None) -> None:
        """The store refused the write: give back what `allocate` claimed for it (and re-claim old's)."""
        self.release(allocated)
        if old is not None:
            self.rebuild_add(old)

    def rebuild_add(self, svc: dict) -> None:
        ip, ports = _held(svc)
        if ip:
            self.used_ips.add(ip)
        self.used_ports |= ports

    def release(self, svc: dict) -> None:
        ip, ports = _held(svc)
        if ip:
            self.used_ips.discard(ip)
        self.used_ports -= ports
