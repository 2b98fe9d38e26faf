"""The proxier: informers on Services, Endpoints and this node's Pods feeding one rate-limited sync.

Lifecycle (the whole story, before any code):
1. Informers list + watch services and endpoints (all namespaces) and the pods bound to this node.
   Their handlers only note that something changed and ask for a sync; they never touch the kernel.
2. No sync runs before every initial list has loaded: a ruleset rendered from half the services would
   briefly reject the other half.
3. Syncs are rate-limited: at most one per `min_sync_interval`; a burst of events (a Deployment scaling to
   ten pods changes the Endpoints ten times) collapses into one sync.
4. Each sync renders the WHOLE ruleset from the caches and loads it with one `iptables-restore --noflush`.
   An ordinary sync skips the write when the text is unchanged and trusts the chain list it wrote last.
5. A *full* sync additionally re-reads which of our chains the kernel holds (`iptables-save`) and
   re-asserts the jump rules. One runs at start, every `full_resync_interval` seconds (so a flushed nat
   table is repaired within seconds — this re-asserts local state, it never polls the API), and after any
   failure: a failed sync is retried with exponential backoff, as a full sync.
"""
from __future__ import annotations

import asyncio
import logging
import shutil
import time
from typing import Protocol

from minikube_py.client import ApiClient, Informer
from minikube_py.config import ClusterConfig
from proxy.iptables import IptablesApplier
from proxy.ipvs import (IpvsApplier, bound_addresses, compute_virtual_servers, require_ipvs,
                        sync_dummy_addresses)
from proxy.render import render_ipvs_support_rules, render_nat_rules
from proxy.state import ProxyState, build_proxy_state

log = logging.getLogger(__name__)


class Source(Protocol):
    """The informer boundary: what the proxier needs from a cache. `Informer` satisfies it; tests plug a
    static fake in exactly here."""

    def add_handlers(self, on_add=None, on_update=None, on_delete=None) -> None: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    def list(self, namespace: str | None = None) -> list[dict]: ...


def nat_chains_after(text: str) -> set[str]:
    """The nat chains that exist after *text* is restored: those declared minus those deleted."""
    chains: set[str] = set()
    in_nat = False
    for line in text.splitlines():
        if line.startswith("*"):
            in_nat = line == "*nat"
        elif in_nat and line.startswith(":"):
            chains.add(line[1:].split()[0])
        elif in_nat and line.startswith("-X "):
            chains.discard(line.split()[1])
    return chains


def stale_udp_flows(old: ProxyState | None, new: ProxyState) -> list[list[str]]:
    """`conntrack -D` commands for UDP flows that would otherwise stick to a dead path (pure).

    UDP has no connection end: a conntrack entry DNAT'ed to a removed endpoint (or created while the
    service had none and was rejected) keeps matching the client's packets until it times out. So for each
    UDP service port: flows to an endpoint that left are deleted, and when the first endpoint arrives all
    flows to the virtual IP are deleted.
    """
    if old is None:
        return []
    before = {(s.cluster_ip, s.port): s for s in old.services if s.protocol == "UDP"}
    cmds = []
    for sp in new.services:
        if sp.protocol != "UDP" or (sp.cluster_ip, sp.port) not in before:
            continue
        prev = before[(sp.cluster_ip, sp.port)]
        if not prev.endpoints and sp.endpoints:
            cmds.append(["conntrack", "-D", "-p", "udp", "--orig-dst", sp.cluster_ip,
                         "--orig-port-dst", str(sp.port)])
        for gone in sorted({e.ip for e in prev.endpoints} - {e.ip for e in sp.endpoints}):
            cmds.append(["conntrack", "-D", "-p", "udp", "--orig-dst", sp.cluster_ip, "--dst-nat", gone])
    return cmds


class Proxier:
    """Keeps one node's service rules equal to the cluster's Services and Endpoints (see module doc)."""

    def __init__(self, *, services: Source, endpoints: Source, pods: Source, cluster_cidr: str,
                 node_ip: str, node_name: str = "", mode: str = "iptables", netns: str | None = None,
                 min_sync_interval: float = 0.2, full_resync_interval: float = 5.0,
                 retry_backoff: tuple[float, float] = (0.5, 30.0)) -> None:
        if mode not in ("iptables", "ipvs"):
            raise ValueError(f"unknown proxy mode {mode!r} (iptables | ipvs)")
        self.services, self.endpoints, self.pods = services, endpoints, pods
        self.cluster_cidr = cluster_cidr
        self.node_ip = node_ip
        self.node_name = node_name
        self.mode = mode
        self.netns = netns
        self.min_sync_interval = min_sync_interval
        self.full_resync_interval = full_resync_interval
        self.retry_backoff = retry_backoff
        self.iptables = IptablesApplier(netns)
        self.ipvs: IpvsApplier | None = None
        # Sync bookkeeping.
        self._wake = asyncio.Event()
        self._pending = False
        self._force_full = True
        self._synced = False
        self._last_sync = 0.0
        self._next_full = 0.0
        self._retry_at = 0.0
        self._failures = 0
        self._last_text: str | None = None
        self._nat_chains: set[str] | None = None
        self._state: ProxyState | None = None
        self.syncs = 0  # completed syncs, for logs and tests
        self.full_syncs = 0

    # --- event handlers: record and ask, nothing else ---------------------------------------------
    def _changed(self, *_objs: dict) -> None:
        self.request_sync()

    def _pod_changed(self, *objs: dict) -> None:
        # Only pods that publish a hostPort affect our rules; status churn of the others is ignored.
        if any(_has_host_port(o) for o in objs):
            self.request_sync()

    def request_sync(self, full: bool = False) -> None:
        self._pending = True
        self._force_full = self._force_full or full
        self._wake.set()

    # --- the loop ----------------------------------------------------------------------------------
    async def run(self) -> None:
        """Start the sources, wait for every initial list, prepare the node, then sync until cancelled."""
        self.services.add_handlers(self._changed, self._changed, self._changed)
        self.endpoints.add_handlers(self._changed, self._changed, self._changed)
        self.pods.add_handlers(self._pod_changed, self._pod_changed, self._pod_changed)
        await asyncio.gather(self.services.start(), self.endpoints.start(), self.pods.start())
        await self.prepare_node()
        self._synced = True
        self.request_sync(full=True)
        await self._sync_loop()

    async def _sync_loop(self) -> None:
        while True:
            now = time.monotonic()
            deadline = self._next_full
            if self._failures:
                deadline = min(deadline, self._retry_at)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, deadline - now))
            except asyncio.TimeoutError:
                pass
            now = time.monotonic()
            if now >= self._next_full or (self._failures and now >= self._retry_at):
                self._pending, self._force_full = True, True
            if not self._pending:
                self._wake.clear()
                continue
            # Rate limit (and back off after failures). Events arriving meanwhile join this sync.
            earliest = max(self._last_sync + self.min_sync_interval, self._retry_at if self._failures else 0.0)
            if earliest > now:
                await asyncio.sleep(earliest - now)
            self._wake.clear()
            full, self._pending, self._force_full = self._force_full, False, False
            try:
                await self.sync(full=full)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 — any failure: retry as a full sync, never die
                self._failures += 1
                delay = min(self.retry_backoff[0] * 2 ** (self._failures - 1), self.retry_backoff[1])
                self._retry_at = time.monotonic() + delay
                self._force_full = True
                log.warning("proxy sync failed (%s); full resync in %.1fs", exc, delay)
            else:
                self._failures = 0
                if full:
                    self._next_full = time.monotonic() + self.full_resync_interval
            self._last_sync = time.monotonic()

    # --- one sync ------------------------------------------------------------------------------------
    def current_state(self) -> ProxyState:
        return build_proxy_state(self.services.list(), self.endpoints.list(), self.pods.list(),
                                 cluster_cidr=self.cluster_cidr, node_ip=self.node_ip, node_name=self.node_name)

    async def sync(self, *, full: bool = True) -> None:
        """Render everything from the caches and apply it; see the module doc for ordinary vs full."""
        if not self._synced:
            raise RuntimeError("sync before the initial lists loaded")
        state = self.current_state()
        if full or self._nat_chains is None:
            existing = (await self.iptables.existing_chains())["nat"]
        else:
            existing = self._nat_chains
        if self.mode == "ipvs":
            await self._sync_ipvs(state)
            text = render_ipvs_support_rules(state, existing)
        else:
            text = render_nat_rules(state, existing)
        if full or text != self._last_text:
            await self.iptables.restore(text)
            self._last_text = text
            self._nat_chains = nat_chains_after(text)
        if full:
            await self.iptables.ensure_jumps()
            self.full_syncs += 1
        await self._flush_stale_udp(state)
        self._state = state
        self.syncs += 1

    async def _sync_ipvs(self, state: ProxyState) -> None:
        servers = compute_virtual_servers(state)
        if self.ipvs is None:
            self.ipvs = IpvsApplier()
        sync_dummy_addresses(bound_addresses(servers, self.node_ip))
        owned = {vs.address for vs in servers} | {self.node_ip}
        if self._state is not None:
            owned |= {vs.address for vs in compute_virtual_servers(self._state)}
        self.ipvs.apply(servers, owned=owned)

    async def _flush_stale_udp(self, state: ProxyState) -> None:
        cmds = stale_udp_flows(self._state, state)
        if not cmds or not shutil.which("conntrack"):
            return
        for argv in cmds:
            full = (["ip", "netns", "exec", self.netns] if self.netns else []) + argv
            proc = await asyncio.create_subprocess_exec(*full, stdout=asyncio.subprocess.DEVNULL,
                                                        stderr=asyncio.subprocess.DEVNULL)
            await proc.wait()  # exit 1 = nothing to delete: fine

    # --- node preparation -------------------------------------------------------------------------
    async def prepare_node(self) -> None:
        await prepare_node_network(self.netns, self.mode)


async def prepare_node_network(netns: str | None = None, mode: str = "iptables") -> None:
    """Kernel settings the rules rely on, in the node's namespace (the current one, or *netns*).

    - `route_localnet` must stay 0: with it, DNAT of 127.0.0.1:<nodePort> works but any local process
      could reach pods through loopback (CVE-2020-8558). We never set it; if found set, we clear it.
    - `bridge-nf-call-iptables` must be 1 so traffic between pods on `cni0` (a pod calling a service
      whose endpoint is on the same bridge) passes through the nat table at all.
    - `send_redirects` must be 0: the node routes the service CIDR back out of `cni0`, the interface the
      pod's packet came in on, so the kernel would tell the pod "10.96.x.y is on-link, send it directly";
      the pod obeys, ARPs for the ClusterIP and times out, instead of getting our REJECT (measured).
    """
    if await _read_sysctl(netns, "net/ipv4/conf/all/route_localnet") == "1":
        log.warning("net.ipv4.conf.all.route_localnet was 1 in the node namespace; setting it to 0")
        await _write_sysctl(netns, "net/ipv4/conf/all/route_localnet", "0")
    if await _read_sysctl(netns, "net/bridge/bridge-nf-call-iptables") not in (None, "1"):
        await _write_sysctl(netns, "net/bridge/bridge-nf-call-iptables", "1")
    for conf in ("all", "default", "cni0"):
        if await _read_sysctl(netns, f"net/ipv4/conf/{conf}/send_redirects") not in (None, "0"):
            await _write_sysctl(netns, f"net/ipv4/conf/{conf}/send_redirects", "0")
    if mode == "ipvs" and await _read_sysctl(netns, "net/ipv4/vs/conntrack") not in (None, "1"):
        await _write_sysctl(netns, "net/ipv4/vs/conntrack", "1")  # IPVS + iptables masquerade need it


async def _read_sysctl(netns: str | None, path: str) -> str | None:
    if netns is None:
        try:
            with open(f"/proc/sys/{path}") as f:
                return f.read().strip()
        except FileNotFoundError:
            return None
    proc = await asyncio.create_subprocess_exec(
        "ip", "netns", "exec", netns, "cat", f"/proc/sys/{path}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    out, _ = await proc.communicate()
    return out.decode().strip() if proc.returncode == 0 else None


async def _write_sysctl(netns: str | None, path: str, value: str) -> None:
    if netns is None:
        with open(f"/proc/sys/{path}", "w") as f:
            f.write(value)
        return
    proc = await asyncio.create_subprocess_exec(
        "ip", "netns", "exec", netns, "sysctl", "-q", "-w", f"{path.replace('/', '.')}={value}")
    await proc.wait()


def _has_host_port(pod: dict) -> bool:
    return any(p.get("hostPort") for c in (pod.get("spec") or {}).get("containers") or []
               for p in c.get("ports") or [])


def make_proxier(client: ApiClient, config: ClusterConfig, node_name: str, node_ip: str, *,
                 mode: str | None = None, netns: str | None = None) -> Proxier:
    """A `Proxier` fed by real informers: services and endpoints in every namespace, pods of this node.
    *netns* (tests, tools) runs the iptables commands in a named namespace instead of the current one."""
    mode = mode or config.proxy_mode
    if mode == "ipvs":
        require_ipvs()  # fail at once, with the fix in the message
    elif mode != "iptables":
        raise ValueError(f"unknown proxy mode {mode!r} (iptables | ipvs)")
    return Proxier(services=Informer(client, "services"), endpoints=Informer(client, "endpoints"),
                   pods=Informer(client, "pods", field_selector=f"spec.nodeName={node_name}"),
                   cluster_cidr=config.pod_cidr, node_ip=node_ip, node_name=node_name, mode=mode, netns=netns)


async def run_proxy(client: ApiClient, config: ClusterConfig, node_name: str, node_ip: str, *,
                    mode: str | None = None) -> None:
    """Run this node's proxy until cancelled, in the caller's network namespace (the node's).

    Rules are left in place when cancelled, as kube-proxy does: a restarting proxy must not interrupt
    service traffic; the node namespace's removal (`stop`) takes them away.
    """
    proxier = make_proxier(client, config, node_name, node_ip, mode=mode)
    log.info("proxy (%s mode) starting on node %s (%s)", proxier.mode, node_name, node_ip)
    try:
        await proxier.run()
    finally:
        for source in (proxier.services, proxier.endpoints, proxier.pods):
            await source.stop()
