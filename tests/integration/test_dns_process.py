"""`python -m dns` as `start` runs it, against a real (embedded) API server: objects written through the
API show up as answers through the informers, deletions disappear, and a process that cannot reach the
API yet still listens (SERVFAIL for cluster names, forwarding works) and stops cleanly on SIGTERM.

Everything stays on loopback: the server listens on 127.0.0.1, the fake upstream on 127.0.0.2.
"""
from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import sys
from pathlib import Path

import dns.asyncquery
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from dns.testing import EXAMPLE_IP, FakeUpstream
from minikube_py.client import ApiClient, wait_for
from minikube_py.cluster.leftovers import claim
from minikube_py.config import ClusterConfig, profile_dir
from minikube_py.controlplane import EmbeddedControlPlane

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def profile():
    name = f"mkt-dns-{os.getpid()}"
    state = claim(name)
    ClusterConfig(profile=name).save()
    try:
        yield name
    finally:
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="module")
def cp(profile):
    with EmbeddedControlPlane(profile_dir(profile), profile=profile) as cp:
        yield cp


@pytest.fixture
async def upstream():
    fake = await FakeUpstream("127.0.0.2").start()
    try:
        yield fake
    finally:
        await fake.close()


@pytest.fixture
async def client(cp, profile):
    c = ApiClient.for_profile(profile, server=cp.url)
    try:
        yield c
    finally:
        await c.close()


class DnsProcess:
    """The DNS server child process; `port` is read from its log once it listens."""

    def __init__(self, proc: asyncio.subprocess.Process, log: Path) -> None:
        self.proc, self.log, self.port = proc, log, 0

    async def wait_listening(self) -> None:
        async def listening() -> int:
            if self.proc.returncode is not None:
                raise AssertionError(f"dns exited {self.proc.returncode}:\n{self.log.read_text()}")
            m = re.search(r"DNS listening on 127\.0\.0\.1:(\d+)", self.log.read_text())
            return int(m.group(1)) if m else 0

        self.port = await wait_for(listening, 20, 0.05)

    async def stop(self) -> int:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        return self.proc.returncode


async def start_dns(profile: str, api_url: str, upstream: FakeUpstream, log: Path) -> DnsProcess:
    with log.open("w") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "dns", "--profile", profile, "--listen", "127.0.0.1", "--port", "0",
            "--upstream", upstream.address, "--api-server", api_url,
            stdout=out, stderr=asyncio.subprocess.STDOUT, cwd="/")  # cwd=/: works without the repo on sys.path
    dns_proc = DnsProcess(proc, log)
    try:
        await dns_proc.wait_listening()
    except BaseException:
        await dns_proc.stop()
        raise
    return dns_proc


@pytest.fixture
async def dns_server(cp, profile, upstream, tmp_path):
    proc = await start_dns(profile, cp.url, upstream, tmp_path / "dns.log")
    try:
        yield proc
    finally:
        code = await proc.stop()
    assert code == 0, (tmp_path / "dns.log").read_text()  # SIGTERM ends it cleanly


async def ask(port: int, name: str, rdtype: str, tcp: bool = False) -> dns.message.Message:
    send = dns.asyncquery.tcp if tcp else dns.asyncquery.udp
    return await send(dns.message.make_query(name, rdtype), "127.0.0.1", port=port, timeout=5)


def values(reply: dns.message.Message, rdtype: str) -> list[str]:
    wanted = dns.rdatatype.from_text(rdtype)
    return sorted(rd.to_text() for rrset in reply.answer if rrset.rdtype == wanted for rd in rrset)


async def eventually(port: int, name: str, rdtype: str, check, timeout: float = 10):  # noqa: ANN001
    async def ok():
        reply = await ask(port, name, rdtype)
        return reply if check(reply) else None
    return await wait_for(ok, timeout, 0.05)


async def test_api_objects_become_answers_and_deletions_disappear(dns_server, client):
    port = dns_server.port
    # The API server's own `kubernetes` Service is there from the first list.
    reply = await eventually(port, "kubernetes.default.svc.cluster.local.", "A",
                             lambda r: r.rcode() == dns.rcode.NOERROR)
    assert values(reply, "A") == ["10.96.0.1"]
    assert values(await ask(port, "1.0.96.10.in-addr.arpa.", "PTR"), "PTR") == [
        "kubernetes.default.svc.cluster.local."]

    svc = await client.create("services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "redis", "namespace": "default"},
        "spec": {"selector": {"app": "redis"}, "ports": [{"name": "redis", "port": 6379}]}})
    ip = svc["spec"]["clusterIP"]
    reply = await eventually(port, "redis.default.svc.cluster.local.", "A", lambda r: bool(r.answer))
    assert values(reply, "A") == [ip]
    reply = await ask(port, "_redis._tcp.redis.default.svc.cluster.local.", "SRV", tcp=True)
    assert values(reply, "SRV") == ["0 100 6379 redis.default.svc.cluster.local."]

    # Headless: the endpoints (written here as the endpoints controller would) are the answer.
    await client.create("services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "db", "namespace": "default"},
        "spec": {"clusterIP": "None", "selector": {"app": "db"}, "ports": [{"name": "pg", "port": 5432}]}})
    await eventually(port, "db.default.svc.cluster.local.", "A", lambda r: r.rcode() == dns.rcode.NXDOMAIN)
    await client.create("endpoints", {
        "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "db", "namespace": "default"},
        "subsets": [{"addresses": [{"ip": "10.244.0.5", "hostname": "db-0"}],
                     "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}]}]})
    reply = await eventually(port, "db.default.svc.cluster.local.", "A", lambda r: bool(r.answer))
    assert values(reply, "A") == ["10.244.0.5"]
    assert values(await ask(port, "5.0.244.10.in-addr.arpa.", "PTR"), "PTR") == [
        "db-0.db.default.svc.cluster.local."]

    await client.create("services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext", "namespace": "default"},
        "spec": {"type": "ExternalName", "externalName": "example.com"}})
    reply = await eventually(port, "ext.default.svc.cluster.local.", "A", lambda r: bool(r.answer))
    assert values(reply, "CNAME") == ["example.com."]

    await client.delete("services", "redis", "default")
    await eventually(port, "redis.default.svc.cluster.local.", "A", lambda r: r.rcode() == dns.rcode.NXDOMAIN)
    reply = await ask(port, f"{'.'.join(reversed(ip.split('.')))}.in-addr.arpa.", "PTR")
    assert reply.rcode() == dns.rcode.NXDOMAIN

    assert values(await ask(port, "example.com.", "A"), "A") == [EXAMPLE_IP]


async def test_pod_names_are_answered_once_the_pod_has_that_ip(dns_server, client):
    port = dns_server.port
    pod = await client.create("pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
        "spec": {"containers": [{"name": "web", "image": "minikube-py/nginx:1"}]}})
    name = "10-244-0-42.default.pod.cluster.local."
    assert (await ask(port, name, "A")).rcode() == dns.rcode.NXDOMAIN
    pod["status"] = {"phase": "Running", "podIP": "10.244.0.42", "podIPs": [{"ip": "10.244.0.42"}]}
    await client.update_status("pods", pod)
    reply = await eventually(port, name, "A", lambda r: bool(r.answer))
    assert values(reply, "A") == ["10.244.0.42"]
    await client.delete("pods", "web", "default", grace_period_seconds=0)
    await eventually(port, name, "A", lambda r: r.rcode() == dns.rcode.NXDOMAIN)


async def test_listens_before_the_api_answers_and_stops_cleanly(profile, upstream, tmp_path):
    # Nothing listens on 127.0.0.1:9 (discard): the informers keep retrying, the server still answers.
    proc = await start_dns(profile, "https://127.0.0.1:9", upstream, tmp_path / "dns.log")
    try:
        reply = await ask(proc.port, "kubernetes.default.svc.cluster.local.", "A")
        assert reply.rcode() == dns.rcode.SERVFAIL
        assert values(await ask(proc.port, "example.com.", "A", tcp=True), "A") == [EXAMPLE_IP]
    finally:
        code = await proc.stop()
    assert code == 0, (tmp_path / "dns.log").read_text()
