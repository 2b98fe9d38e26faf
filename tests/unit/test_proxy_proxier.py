"""The proxier's sync discipline, with static sources at the informer boundary and a recording applier
at the iptables boundary (the real applier is exercised in tests/integration/test_proxy_iptables.py)."""
from __future__ import annotations

import asyncio

import pytest

from proxy.proxier import Proxier, nat_chains_after, stale_udp_flows
from proxy.state import Endpoint, ProxyState, ServicePort


class StaticSource:
    """A fake informer: a fixed list of objects, handlers called by `emit`."""

    def __init__(self, items=(), start_delay: float = 0.0):
        self.items = list(items)
        self.handlers = []
        self.start_delay = start_delay
        self.started = False

    def add_handlers(self, on_add=None, on_update=None, on_delete=None):
        self.handlers.append((on_add, on_update, on_delete))

    async def start(self):
        await asyncio.sleep(self.start_delay)
        self.started = True

    def list(self, namespace=None):
        return list(self.items)

    def emit_add(self, obj):
        self.items.append(obj)
        for on_add, _, _ in self.handlers:
            on_add(obj)


class RecordingApplier:
    def __init__(self, fail_times: int = 0):
        self.restored: list[str] = []
        self.jump_checks = 0
        self.fail_times = fail_times

    async def existing_chains(self):
        return {"nat": set(), "filter": set()}

    async def restore(self, text):
        if self.fail_times:
            self.fail_times -= 1
            raise RuntimeError("iptables-restore: resource busy")
        self.restored.append(text)

    async def ensure_jumps(self):
        self.jump_checks += 1
        return 0


def svc(name, ip):
    return {"metadata": {"name": name, "namespace": "default"},
            "spec": {"clusterIP": ip, "ports": [{"port": 80, "protocol": "TCP"}]}}


def make(services=(), *, delay=0.0, applier=None, **kw):
    sources = dict(services=StaticSource(services, delay), endpoints=StaticSource(), pods=StaticSource())
    p = Proxier(**sources, cluster_cidr="10.244.0.0/16", node_ip="192.168.49.2", netns="unused", **kw)
    p.iptables = applier or RecordingApplier()
    p.prepare_node = _no_prepare  # sysctls are covered by the integration test
    return p, sources


async def _no_prepare():
    return None


async def _run_for(p, seconds):
    task = asyncio.create_task(p.run())
    await asyncio.sleep(seconds)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_burst_of_events_collapses_and_last_state_wins():
    p, src = make([svc("a", "10.96.0.20")], min_sync_interval=0.3, full_resync_interval=60)
    task = asyncio.create_task(p.run())
    await asyncio.sleep(0.05)  # initial full sync done
    for i in range(20):
        src["services"].emit_add(svc(f"s{i}", f"10.96.1.{i}"))
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    restored = p.iptables.restored
    assert len(restored) == 2  # the initial sync + one for the whole burst
    assert "default/s19 has no endpoints" in restored[-1]


async def test_no_sync_before_initial_lists_loaded():
    p, _ = make([svc("a", "10.96.0.20")], delay=0.3)
    await _run_for(p, 0.2)
    assert p.iptables.restored == []


async def test_periodic_full_resync_reasserts_jumps():
    p, _ = make([svc("a", "10.96.0.20")], min_sync_interval=0.01, full_resync_interval=0.1)
    await _run_for(p, 0.45)
    assert p.full_syncs >= 3
    assert p.iptables.jump_checks == p.full_syncs
    # full syncs write even when nothing changed: that's what repairs a flushed table
    assert len(p.iptables.restored) == p.full_syncs


async def test_failed_sync_is_retried_as_full_sync():
    applier = RecordingApplier(fail_times=2)
    p, _ = make([svc("a", "10.96.0.20")], applier=applier, min_sync_interval=0.01,
                full_resync_interval=60, retry_backoff=(0.05, 1.0))
    await _run_for(p, 0.4)
    assert len(applier.restored) == 1 and "default/a has no endpoints" in applier.restored[0]
    assert p.full_syncs == 1


def test_nat_chains_after_restore():
    text = "*filter\n:KUBE-SERVICES - [0:0]\nCOMMIT\n*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-X - [0:0]\n" \
           ":KUBE-SVC-OLD - [0:0]\n-X KUBE-SVC-OLD\nCOMMIT\n"
    assert nat_chains_after(text) == {"KUBE-SERVICES", "KUBE-SVC-X"}


def test_stale_udp_flows():
    def dns(*ips):
        return ProxyState(services=(ServicePort("kube-system", "kube-dns", "dns", "UDP", "10.96.0.10", 53,
                                                endpoints=tuple(Endpoint(i, 53) for i in ips)),))
    assert stale_udp_flows(None, dns("10.244.0.2")) == []
    assert stale_udp_flows(dns(), dns("10.244.0.2")) == [
        ["conntrack", "-D", "-p", "udp", "--orig-dst", "10.96.0.10", "--orig-port-dst", "53"]]
    assert stale_udp_flows(dns("10.244.0.2", "10.244.0.3"), dns("10.244.0.3")) == [
        ["conntrack", "-D", "-p", "udp", "--orig-dst", "10.96.0.10", "--dst-nat", "10.244.0.2"]]
    assert stale_udp_flows(dns("10.244.0.2"), dns("10.244.0.2")) == []
