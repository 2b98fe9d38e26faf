"""Pod network plumbing, like the CNI bridge plugin, done in-process with pyroute2.

Why in-process: a subprocess per pod (`ip`, or a CNI binary) costs ~145 ms of Python imports alone on this
kind of machine; a held netlink handle plumbs a pod in a few milliseconds (DESIGN.md, "Facts measured").

What `plumb_pod_network` makes for pod *uid* whose pause process is *pid*:

    node netns:    cni0 (10.244.i.1/24) ── veth<8 hex> (hairpin on)
                                              ║ veth pair
    sandbox netns: eth0 10.244.i.N/24, default via 10.244.i.1; lo up

Threads: pyroute2 0.9's synchronous `IPRoute` runs its own event loop per handle and keeps thread-local
state, so every netlink call goes through one dedicated thread that owns the node-netns handle. Callers
await `PodNetwork` methods from the agent's event loop.

IPAM: the next free address of the node's pod CIDR (`.1` is the gateway), persisted in
`<state dir>/nodes/<node>/ipam.json` as `{ip: pod uid}` so an agent restart never hands out an address a
running sandbox still holds; `reconcile` drops allocations whose pod has no sandbox any more.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import hashlib
import ipaddress
import json
import logging
import os
import socket
import threading
from pathlib import Path
from typing import Callable, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL("libc.so.6", use_errno=True)


def host_veth_name(uid: str) -> str:
    """`veth` + 8 hex chars of sha256(uid): stable (found again after a restart) and ≤ 15 chars."""
    return "veth" + hashlib.sha256(uid.encode()).hexdigest()[:8]


def _temp_peer_name(uid: str) -> str:
    return "vp" + hashlib.sha256(uid.encode()).hexdigest()[:8]


def in_netns(ns_path: str, fn: Callable[[], T], name: str = "netns") -> T:
    """Run *fn* in a short-lived thread inside the network namespace at *ns_path*; return its result or
    raise its exception.

    Why a thread: `setns(2)` changes only the calling thread's namespace, and a socket belongs to the
    namespace of the thread that created it, so a helper thread can enter, create (or connect) a socket,
    and leave, while the event loop's thread never changes namespace. The thread restores its own
    namespace before it ends either way.
    """
    result: dict[str, object] = {}

    def run() -> None:
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            target = os.open(ns_path, os.O_RDONLY)
        except Exception as exc:  # noqa: BLE001 - handed to the caller
            os.close(own)
            result["error"] = exc
            return
        try:
            if _libc.setns(target, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"setns({ns_path}): {os.strerror(err)}")
            result["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            result["error"] = exc
        finally:
            _libc.setns(own, CLONE_NEWNET)
            os.close(target)
            os.close(own)

    t = threading.Thread(target=run, name=name, daemon=True)
    t.start()
    t.join()
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return result["value"]  # type: ignore[return-value]


def netlink_socket_in(ns_path: str) -> socket.socket:
    """A NETLINK_ROUTE socket bound to the network namespace at *ns_path*.

    A netlink socket belongs to the namespace of the thread that created it, so a short-lived thread
    enters the namespace (`setns` affects only the calling thread), creates the socket and leaves.
    """
    return in_netns(ns_path, lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 0), "netns-socket")


def _iproute_in(ns_path: str):
    """A pyroute2 `IPRoute` working in the namespace at *ns_path* (it owns and closes the socket)."""
    from pyroute2 import IPRoute

    fd = netlink_socket_in(ns_path).detach()
    try:
        return IPRoute(fileno=fd)
    except Exception:
        os.close(fd)
        raise


class Ipam:
    """Host-local IPAM for one node's pod CIDR, persisted as JSON. Not thread-safe: used on one thread.

    Addresses are handed out round-robin, after the last one handed out (CNI host-local's
    `lastReservedIP`), not lowest-free: a deleted pod's address is not reused at once, so a client
    or Service rule still pointing at the old pod for a moment gets a refusal, not a stranger."""

    LAST = "lastReservedIP"

    def __init__(self, path: Path, pod_cidr: str) -> None:
        self.path = path
        self.net = ipaddress.ip_network(pod_cidr, strict=False)
        self.gateway = str(self.net.network_address + 1)
        self.allocations: dict[str, str] = {}  # ip -> uid
        self.last: str | None = None
        if path.exists():
            try:
                data = json.loads(path.read_text())
                last = data.pop(self.LAST, None)
                self.last = last if last and self._inside(last) else None
                self.allocations = {k: v for k, v in data.items() if self._inside(k)}
            except (ValueError, OSError, AttributeError):
                log.warning("ignoring unreadable %s", path)

    def _inside(self, ip: str) -> bool:
        try:
            return ipaddress.ip_address(ip) in self.net
        except ValueError:
            return False

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        data: dict[str, str] = dict(self.allocations)
        if self.last:
            data[self.LAST] = self.last
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        os.replace(tmp, self.path)

    def ip_of(self, uid: str) -> str | None:
        return next((ip for ip, u in self.allocations.items() if u == uid), None)

    def allocate(self, uid: str) -> str:
        """The pod's address: the one it already holds, else the next free one after the last handed out
        (wrapping round; the gateway never)."""
        held = self.ip_of(uid)
        if held:
            return held
        hosts = [str(h) for h in self.net.hosts() if str(h) != self.gateway]
        start = hosts.index(self.last) + 1 if self.last in hosts else 0
        for ip in hosts[start:] + hosts[:start]:
            if ip in self.allocations:
                continue
            self.allocations[ip] = uid
            self.last = ip
            self._save()
            return ip
        raise RuntimeError(f"no free address left in {self.net}")

    def claim(self, uid: str, ip: str) -> None:
        """Record an address found on a running sandbox (adoption after a restart)."""
        if ipaddress.ip_address(ip) in self.net and self.allocations.get(ip) != uid:
            for other in [k for k, v in self.allocations.items() if v == uid]:
                del self.allocations[other]
            self.allocations[ip] = uid
            self._save()

    def release(self, uid: str) -> None:
        gone = [ip for ip, u in self.allocations.items() if u == uid]
        for ip in gone:
            del self.allocations[ip]
        if gone:
            self._save()

    def reconcile(self, live_uids: set[str]) -> None:
        stale = [ip for ip, u in self.allocations.items() if u not in live_uids]
        for ip in stale:
            del self.allocations[ip]
        if stale:
            self._save()


class PodNetwork:
    """Plumbs and unplumbs pod sandboxes on the node's pod bridge. Call from the event loop."""

    def __init__(self, pod_cidr: str, ipam_path: Path, bridge: str = "cni0", netns_path: str | None = None) -> None:
        """*netns_path*: the node namespace to work in; None = the one the agent runs in (production)."""
        self.bridge = bridge
        self.netns_path = netns_path
        self.ipam = Ipam(ipam_path, pod_cidr)
        self.prefixlen = self.ipam.net.prefixlen
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="netlink")
        self._ipr = None  # created on the netlink thread

    async def _call(self, fn: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)

    def _node(self):  # -> IPRoute, on the netlink thread only
        if self._ipr is None:
            from pyroute2 import IPRoute

            self._ipr = _iproute_in(self.netns_path) if self.netns_path else IPRoute()
        return self._ipr

    # --- public ------------------------------------------------------------------------------------
    async def plumb_pod_network(self, uid: str, pid: int) -> str:
        """Give the sandbox of *uid* (pause process *pid*) its eth0 and address; returns the pod IP."""
        return await self._call(self._plumb, uid, pid)

    async def unplumb_pod_network(self, uid: str) -> None:
        """Remove the pod's veth (if still there) and release its address. Idempotent."""
        await self._call(self._unplumb, uid)

    async def sandbox_ip(self, pid: int) -> str | None:
        """The IPv4 address on eth0 inside the sandbox of pause process *pid*, or None."""
        return await self._call(self._sandbox_ip, pid)

    async def adopt(self, uid: str, ip: str) -> None:
        await self._call(self.ipam.claim, uid, ip)

    async def reconcile(self, live_uids: set[str]) -> None:
        await self._call(self.ipam.reconcile, live_uids)

    async def close(self) -> None:
        def close() -> None:
            if self._ipr is not None:
                self._ipr.close()
                self._ipr = None

        await self._call(close)
        self._executor.shutdown(wait=False)

    # --- on the netlink thread ---------------------------------------------------------------------
    def _plumb(self, uid: str, pid: int) -> str:
        ipr = self._node()
        ns_path = f"/proc/{pid}/ns/net"
        existing = self._sandbox_ip(pid)
        host = host_veth_name(uid)
        if existing and ipr.link_lookup(ifname=host):
            self.ipam.claim(uid, existing)
            return existing  # already plumbed (a retried sync)
        ip = self.ipam.allocate(uid)
        peer = _temp_peer_name(uid)
        for stale in (host, peer):
            for idx in ipr.link_lookup(ifname=stale):
                ipr.link("del", index=idx)
        bridges = ipr.link_lookup(ifname=self.bridge)
        if not bridges:
            raise RuntimeError(f"pod bridge {self.bridge} does not exist in this network namespace")
        ipr.link("add", ifname=host, kind="veth", peer={"ifname": peer})
        host_idx = ipr.link_lookup(ifname=host)[0]
        peer_idx = ipr.link_lookup(ifname=peer)[0]
        ns_fd = os.open(ns_path, os.O_RDONLY)
        try:
            # Moving and renaming in one message: the name `eth0` exists in the node netns already.
            ipr.link("set", index=peer_idx, net_ns_fd=ns_fd, ifname="eth0")
        finally:
            os.close(ns_fd)
        ipr.link("set", index=host_idx, master=bridges[0], state="up")
        ipr.brport("set", index=host_idx, mode=1)  # hairpin: a pod reaching itself via its Service
        with _iproute_in(ns_path) as pod:
            lo = pod.link_lookup(ifname="lo")[0]
            pod.link("set", index=lo, state="up")
            eth0 = pod.link_lookup(ifname="eth0")[0]
            pod.addr("add", index=eth0, address=ip, prefixlen=self.prefixlen)
            pod.link("set", index=eth0, state="up")
            pod.route("add", dst="0.0.0.0/0", gateway=self.ipam.gateway, oif=eth0)
        log.info("plumbed pod %s: %s on %s", uid, ip, host)
        return ip

    def _unplumb(self, uid: str) -> None:
        ipr = self._node()
        for idx in ipr.link_lookup(ifname=host_veth_name(uid)):
            try:
                ipr.link("del", index=idx)
            except Exception as exc:  # noqa: BLE001 - gone meanwhile (its netns died)
                log.debug("veth of %s: %s", uid, exc)
        self.ipam.release(uid)

    def _sandbox_ip(self, pid: int) -> str | None:
        if not pid:
            return None
        try:
            pod = _iproute_in(f"/proc/{pid}/ns/net")
        except OSError:
            return None
        with pod:
            idx = pod.link_lookup(ifname="eth0")
            if not idx:
                return None
            for a in pod.get_addr(index=idx[0], family=socket.AF_INET):
                return a.get_attr("IFA_ADDRESS")
        return None
