"""IPVS mode: virtual servers computed from `ProxyState` (pure), applied through pyroute2's IPVS socket.

Why IPVS at all: with thousands of services iptables evaluates rules linearly, IPVS does a hash lookup; the
guide mentions it as the option "when there are many rules". The computation is the same idea as the
iptables renderer — the whole desired set from the state, then a set difference against what the kernel
holds — so two syncs with the same state change nothing.

What a virtual server is here (as kube-proxy's ipvs mode):
- one per ClusterIP:port, external IP:port, LoadBalancer IP:port, and node IP:nodePort;
- scheduler `rr`; `sessionAffinity: ClientIP` → the persistent flag with the affinity timeout;
- real servers = the ready endpoints (masquerading/NAT forwarding).
The virtual IPs must also be local addresses for IPVS to see the packets; kube-proxy binds them to a dummy
interface `kube-ipvs0`. Masquerade of off-cluster clients and hostPorts still come from iptables (the
`KUBE-POSTROUTING`/`KUBE-MARK-MASQ`/`KUBE-HOSTPORTS` part of the iptables ruleset).

This machine's kernel has no `ip_vs` module: the computation is unit-tested; the applier is exercised only
where the module exists, and `require_ipvs()` says clearly what is missing otherwise.
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from proxy.state import ProxyState

IPVS_PROC = "/proc/net/ip_vs"
IPVS_MISSING = ("ipvs proxy mode needs the ip_vs kernel module, which this kernel lacks "
                "(/proc/net/ip_vs not found); use --proxy-mode iptables")
DUMMY_DEVICE = "kube-ipvs0"
IP_VS_SVC_F_PERSISTENT = 0x1
_PROTOCOLS = {"TCP": socket.IPPROTO_TCP, "UDP": socket.IPPROTO_UDP, "SCTP": 132}


class IpvsUnavailable(RuntimeError):
    pass


def require_ipvs(proc_path: str = IPVS_PROC) -> None:
    """Fail fast, with the fix in the message, when the kernel has no IPVS."""
    if not os.path.exists(proc_path):
        raise IpvsUnavailable(IPVS_MISSING)


@dataclass(frozen=True, order=True)
class RealServer:
    address: str
    port: int


@dataclass(frozen=True, order=True)
class VirtualServer:
    address: str
    port: int
    protocol: str  # "TCP" | "UDP" | "SCTP"
    scheduler: str = "rr"
    persistent_timeout: int | None = None  # seconds; set for ClientIP affinity
    real_servers: tuple[RealServer, ...] = ()
    comment: str = ""

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.address, self.port, self.protocol)


def compute_virtual_servers(state: ProxyState) -> list[VirtualServer]:
    """Every virtual server this node should hold, sorted by (address, port, protocol).

    A service without ready endpoints still gets its virtual server (with no real servers): IPVS then
    drops new connections, and the iptables REJECT rules answer "refused" as in iptables mode.
    """
    out: dict[tuple[str, int, str], VirtualServer] = {}
    for sp in state.services:
        reals = tuple(RealServer(e.ip, e.port) for e in sp.endpoints)
        entries = [(sp.cluster_ip, sp.port, "cluster IP")]
        entries += [(ip, sp.port, "external IP") for ip in sp.external_ips]
        entries += [(ip, sp.port, "loadbalancer IP") for ip in sp.load_balancer_ips]
        if sp.node_port and state.node_ip:
            entries.append((state.node_ip, sp.node_port, "node port"))
        for addr, port, what in entries:
            vs = VirtualServer(addr, port, sp.protocol, "rr", sp.affinity_seconds, reals,
                               f"{sp.service_port_name} {what}")
            out[vs.key] = vs
    return sorted(out.values())


def bound_addresses(servers: list[VirtualServer], node_ip: str) -> list[str]:
    """Addresses to put on the dummy device: every virtual IP except the node's own (already local)."""
    return sorted({vs.address for vs in servers if vs.address != node_ip})


@dataclass
class IpvsDiff:
    add: list[VirtualServer]
    update: list[VirtualServer]  # scheduler/persistence changed
    delete: list[tuple[str, int, str]]
    reals_add: dict[tuple[str, int, str], list[RealServer]]
    reals_del: dict[tuple[str, int, str], list[RealServer]]


def diff_virtual_servers(current: dict[tuple[str, int, str], tuple[VirtualServer, set[RealServer]]],
                         wanted: list[VirtualServer]) -> IpvsDiff:
    """What to change to turn *current* (as dumped from the kernel) into *wanted* (pure)."""
    want = {vs.key: vs for vs in wanted}
    diff = IpvsDiff([], [], sorted(k for k in current if k not in want), {}, {})
    for key, vs in want.items():
        if key not in current:
            diff.add.append(vs)
            have_reals: set[RealServer] = set()
        else:
            have, have_reals = current[key]
            if (have.scheduler, have.persistent_timeout) != (vs.scheduler, vs.persistent_timeout):
                diff.update.append(vs)
        add = sorted(set(vs.real_servers) - have_reals)
        rm = sorted(have_reals - set(vs.real_servers))
        if add:
            diff.reals_add[key] = add
        if rm:
            diff.reals_del[key] = rm
    return diff


class IpvsApplier:
    """Programs IPVS through pyroute2 (generic netlink) in the current network namespace."""

    def __init__(self) -> None:
        require_ipvs()
        from pyroute2 import IPVS  # imported here: only hosts with ip_vs need the socket at all
        self._ipvs = IPVS()

    def _service(self, key: tuple[str, int, str], vs: VirtualServer | None = None):
        from pyroute2 import IPVSService
        kw = dict(addr=key[0], port=key[1], protocol=_PROTOCOLS[key[2]])
        if vs is not None:
            kw["sched_name"] = vs.scheduler
            if vs.persistent_timeout:
                kw["flags"] = {"flags": IP_VS_SVC_F_PERSISTENT, "mask": 0xFFFF}
                kw["timeout"] = vs.persistent_timeout
        return IPVSService(**kw)

    def dump(self) -> dict[tuple[str, int, str], tuple[VirtualServer, set[RealServer]]]:
        from pyroute2 import IPVSDest, IPVSService
        names = {v: k for k, v in _PROTOCOLS.items()}
        out = {}
        for msg in self._ipvs.service("dump"):
            s = IPVSService.from_message(msg)
            if s.get("fwmark") or s.get("protocol") not in names:
                continue  # not a shape we create: leave it alone
            key = (s["addr"], int(s["port"]), names[s["protocol"]])
            flags = (s.get("flags") or {}).get("flags", 0)
            vs = VirtualServer(key[0], key[1], key[2], s.get("sched_name", "rr"),
                               int(s.get("timeout") or 0) if flags & IP_VS_SVC_F_PERSISTENT else None)
            reals = {RealServer(d["addr"], int(d["port"]))
                     for d in (IPVSDest.from_message(m) for m in self._ipvs.dest("dump", service=s))}
            out[key] = (vs, reals)
        return out

    def apply(self, wanted: list[VirtualServer], owned: set[str] | None = None) -> IpvsDiff:
        """Make the kernel's virtual servers equal *wanted*. Deletion is limited to addresses in *owned*
        (our service/LB/node addresses) when given, so virtual servers made by someone else survive."""
        from pyroute2 import IPVSDest
        current = self.dump()
        if owned is not None:
            current = {k: v for k, v in current.items() if k[0] in owned or k in {w.key for w in wanted}}
        diff = diff_virtual_servers(current, wanted)
        for key in diff.delete:
            self._ipvs.service("del", service=self._service(key))
        for vs in diff.add:
            self._ipvs.service("add", service=self._service(vs.key, vs))
        for vs in diff.update:
            self._ipvs.service("set", service=self._service(vs.key, vs))
        for key, reals in diff.reals_del.items():
            for r in reals:
                self._ipvs.dest("del", service=self._service(key), dest=IPVSDest(addr=r.address, port=r.port))
        for key, reals in diff.reals_add.items():
            for r in reals:
                self._ipvs.dest("add", service=self._service(key), dest=IPVSDest(addr=r.address, port=r.port))
        return diff

    def close(self) -> None:
        self._ipvs.close()


def sync_dummy_addresses(addresses: list[str], device: str = DUMMY_DEVICE) -> None:
    """Make *addresses* (as /32) exactly the addresses of the dummy *device*, creating it if needed: IPVS
    only sees packets addressed to a local IP. Needs the `dummy` link type (absent from this machine's
    kernel, like ip_vs itself)."""
    from pyroute2 import IPRoute
    with IPRoute() as ipr:
        idx = ipr.link_lookup(ifname=device)
        if not idx:
            ipr.link("add", ifname=device, kind="dummy")
            idx = ipr.link_lookup(ifname=device)
        index = idx[0]
        have = {a.get_attr("IFA_ADDRESS") for a in ipr.get_addr(index=index, family=socket.AF_INET)}
        for addr in sorted(have - set(addresses)):
            ipr.addr("del", index=index, address=addr, prefixlen=32)
        for addr in sorted(set(addresses) - have):
            ipr.addr("add", index=index, address=addr, prefixlen=32)
