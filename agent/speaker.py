"""The layer-2 speaker: holds LoadBalancer IPs on this node's interface and announces them (metallb L2).

Each node's speaker watches Services and Nodes and decides on its own, with the same pure election every
speaker runs (minikube_py/addons/metallb.py `elect`), whether it is the node that answers for an IP. The
holder adds `ip/32` to the node interface (so the kernel answers ARP for it and the proxy's DNAT for the
LB IP sees local traffic) and sends a gratuitous ARP so the host's neighbour cache moves to it at once
after a failover. Non-holders make sure they don't hold it.

Addresses we add are the node interface's /32 addresses other than the node IP; on start-up the speaker
reconciles them like everything else (a restarted speaker drops IPs it should no longer hold).
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import struct

from minikube_py.addons import metallb
from minikube_py.client import ApiClient, Informer

log = logging.getLogger(__name__)


def garp_frame(mac: bytes, ip: str) -> bytes:
    """A gratuitous ARP request (sender = target = ip) broadcast frame."""
    ip_b = ipaddress.IPv4Address(ip).packed
    eth = b"\xff" * 6 + mac + struct.pack("!H", 0x0806)
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + ip_b + b"\x00" * 6 + ip_b
    return eth + arp


def send_garp(interface: str, ip: str, count: int = 2) -> None:
    try:
        with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
            s.bind((interface, 0))
            mac = s.getsockname()[4][:6]
            for _ in range(count):
                s.send(garp_frame(mac, ip))
    except OSError as exc:
        log.warning("gratuitous ARP for %s on %s failed: %s", ip, interface, exc)


def desired_ips(services: list[dict], nodes: list[dict], node_name: str) -> set[str]:
    """LB IPs this node should hold: those whose elected holder, among Ready nodes, is us."""
    ready = [n["metadata"]["name"] for n in nodes
             if metallb.node_is_ready(n)
             and "node.kubernetes.io/exclude-from-external-load-balancers" not in (n["metadata"].get("labels") or {})]
    out: set[str] = set()
    for svc in services:
        if (svc.get("spec") or {}).get("type") != "LoadBalancer":
            continue
        for ing in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
            ip = ing.get("ip")
            if ip and metallb.elect(ip, ready) == node_name:
                out.add(ip)
    return out


def interface_of(ip: str) -> str | None:
    """The link that carries `ip` (eth0 in a local node namespace, the private-network NIC on a VM)."""
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        for addr in ipr.get_addr(family=socket.AF_INET):
            if addr.get_attr("IFA_ADDRESS") == ip:
                links = ipr.get_links(addr["index"])
                return links[0].get_attr("IFLA_IFNAME") if links else None
    return None


class Speaker:
    def __init__(self, client: ApiClient, node_name: str, node_ip: str, interface: str | None = None) -> None:
        self.node_name = node_name
        self.node_ip = node_ip
        self.interface = interface  # found from the node IP in run(): pyroute2's sync API needs a thread
        self.services = Informer(client, "services")
        self.nodes = Informer(client, "nodes")
        self._dirty = asyncio.Event()
        for inf in (self.services, self.nodes):
            inf.add_handlers(on_add=self._kick, on_update=lambda o, n: self._kick(n), on_delete=self._kick)

    def _kick(self, _obj: dict) -> None:
        self._dirty.set()

    def _held(self) -> set[str]:
        from pyroute2 import IPRoute

        with IPRoute() as ipr:
            idx = ipr.link_lookup(ifname=self.interface)
            if not idx:
                return set()
            return {a.get_attr("IFA_ADDRESS") for a in ipr.get_addr(index=idx[0], family=socket.AF_INET)
                    if a["prefixlen"] == 32 and a.get_attr("IFA_ADDRESS") != self.node_ip}

    def sync(self) -> None:
        from pyroute2 import IPRoute

        want = desired_ips(self.services.list(), self.nodes.list(), self.node_name)
        have = self._held()
        with IPRoute() as ipr:
            idx = ipr.link_lookup(ifname=self.interface)
            if not idx:
                return
            for ip in sorted(want - have):
                ipr.addr("add", index=idx[0], address=ip, prefixlen=32)
                log.info("speaker: now announcing %s on %s", ip, self.interface)
                send_garp(self.interface, ip)
            for ip in sorted(have - want):
                ipr.addr("del", index=idx[0], address=ip, prefixlen=32)
                log.info("speaker: released %s", ip)

    async def run(self) -> None:
        if self.interface is None:
            self.interface = await asyncio.to_thread(interface_of, self.node_ip) or "eth0"
        await asyncio.gather(self.services.start(), self.nodes.start())
        self._dirty.set()
        try:
            while True:
                await self._dirty.wait()
                self._dirty.clear()
                try:
                    await asyncio.to_thread(self.sync)
                except Exception:  # noqa: BLE001 - retry on the next change or in a few seconds
                    log.exception("speaker sync failed")
                    await asyncio.sleep(2)
                    self._dirty.set()
                await asyncio.sleep(0.2)  # collapse bursts
        finally:
            await asyncio.gather(self.services.stop(), self.nodes.stop(), return_exceptions=True)


async def run_speaker(client: ApiClient, node_name: str, node_ip: str, interface: str | None = None) -> None:
    await Speaker(client, node_name, node_ip, interface).run()
