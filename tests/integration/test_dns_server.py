"""The DNS server over real sockets on loopback: dnspython asks over UDP and TCP, a fake upstream on
127.0.0.2 stands in for the host's resolvers (no query ever leaves the machine).

The cluster state is a `ClusterCache` filled directly (what the informer handlers do in production);
`test_dns_process.py` runs the real `python -m dns` against a real API server.
"""
from __future__ import annotations

import ipaddress

import dns.asyncquery
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from dns.records import ZoneSettings
from dns.server import DnsServer, ServerOptions
from dns.testing import EXAMPLE_IP, FakeUpstream
from dns.upstream import Forwarder
from dns.view import ClusterCache

pytestmark = pytest.mark.integration

HOST = "127.0.0.1"
REVERSE = [ipaddress.ip_network("10.96.0.0/12"), ipaddress.ip_network("10.244.0.0/16")]
CLUSTER_AND_LOOPBACK = [ipaddress.ip_network(n) for n in
                        ("10.244.0.0/16", "192.168.49.0/24", "10.96.0.0/12", "127.0.0.0/8")]


def fill(cache: ClusterCache) -> None:
    cache.upsert("services", {"metadata": {"name": "redis", "namespace": "default"},
                              "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.20",
                                       "ports": [{"name": "redis", "port": 6379, "protocol": "TCP"}]}})
    cache.upsert("services", {"metadata": {"name": "db", "namespace": "default"},
                              "spec": {"type": "ClusterIP", "clusterIP": "None",
                                       "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}]}})
    cache.upsert("endpoints", {"metadata": {"name": "db", "namespace": "default"},
                               "subsets": [{"addresses": [{"ip": "10.244.0.5", "hostname": "db-0"},
                                                          {"ip": "10.244.0.6", "hostname": "db-1"}],
                                            "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}]}]})
    cache.upsert("services", {"metadata": {"name": "ext", "namespace": "default"},
                              "spec": {"type": "ExternalName", "externalName": "example.com"}})
    cache.upsert("services", {"metadata": {"name": "many", "namespace": "default"},
                              "spec": {"type": "ClusterIP", "clusterIP": "None", "ports": []}})
    cache.upsert("endpoints", {"metadata": {"name": "many", "namespace": "default"},
                               "subsets": [{"addresses": [{"ip": f"10.244.1.{i}"} for i in range(1, 81)]}]})
    cache.mark_synced()


@pytest.fixture
async def upstream():
    fake = await FakeUpstream("127.0.0.2", slow_seconds=3.0).start()
    try:
        yield fake
    finally:
        await fake.close()


async def start_server(cache: ClusterCache, upstreams: list[tuple[str, int]], *,
                       allowed=CLUSTER_AND_LOOPBACK, timeout: float = 1.0) -> DnsServer:
    options = ServerOptions(settings=ZoneSettings(), reverse_networks=REVERSE, allowed_networks=allowed)
    server = DnsServer(cache, options, Forwarder(upstreams, timeout=timeout))
    await server.serve(HOST, 0)
    return server


@pytest.fixture
async def server(upstream):
    cache = ClusterCache()
    fill(cache)
    srv = await start_server(cache, [(upstream.host, upstream.port)])
    try:
        yield srv
    finally:
        await srv.close()


async def ask(server: DnsServer, name: str, rdtype: str, *, tcp: bool = False, **kw) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype, **kw)
    send = dns.asyncquery.tcp if tcp else dns.asyncquery.udp
    return await send(query, HOST, port=server.port, timeout=5)


def values(reply: dns.message.Message, rdtype: str) -> list[str]:
    wanted = dns.rdatatype.from_text(rdtype)
    return sorted(rd.to_text() for rrset in reply.answer if rrset.rdtype == wanted for rd in rrset)


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
async def test_cluster_names_over_udp_and_tcp(server, tcp):
    reply = await ask(server, "redis.default.svc.cluster.local.", "A", tcp=tcp)
    assert reply.rcode() == dns.rcode.NOERROR and reply.flags & dns.flags.AA
    assert values(reply, "A") == ["10.96.0.20"]

    reply = await ask(server, "_redis._tcp.redis.default.svc.cluster.local.", "SRV", tcp=tcp)
    assert values(reply, "SRV") == ["0 100 6379 redis.default.svc.cluster.local."]
    assert [rrset.to_text() for rrset in reply.additional] == [
        "redis.default.svc.cluster.local. 5 IN A 10.96.0.20"]

    reply = await ask(server, "20.0.96.10.in-addr.arpa.", "PTR", tcp=tcp)
    assert values(reply, "PTR") == ["redis.default.svc.cluster.local."]

    reply = await ask(server, "db.default.svc.cluster.local.", "A", tcp=tcp)
    assert values(reply, "A") == ["10.244.0.5", "10.244.0.6"]
    reply = await ask(server, "db-1.db.default.svc.cluster.local.", "A", tcp=tcp)
    assert values(reply, "A") == ["10.244.0.6"]

    reply = await ask(server, "ext.default.svc.cluster.local.", "A", tcp=tcp)
    assert values(reply, "CNAME") == ["example.com."]

    reply = await ask(server, "nope.default.svc.cluster.local.", "A", tcp=tcp)
    assert reply.rcode() == dns.rcode.NXDOMAIN
    assert reply.authority[0].rdtype == dns.rdatatype.SOA

    reply = await ask(server, "redis.default.svc.cluster.local.", "AAAA", tcp=tcp)
    assert reply.rcode() == dns.rcode.NOERROR and not reply.answer  # NODATA
    assert reply.authority[0].rdtype == dns.rdatatype.SOA


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
async def test_outside_names_are_forwarded_to_the_upstream(server, upstream, tcp):
    reply = await ask(server, "example.com.", "A", tcp=tcp)
    assert reply.rcode() == dns.rcode.NOERROR
    assert values(reply, "A") == [EXAMPLE_IP]
    assert not reply.flags & dns.flags.AA  # not our zone: never authoritative
    assert upstream.queries[("udp", "example.com.")] == 1

    reply = await ask(server, "nothing.example.", "A", tcp=tcp)
    assert reply.rcode() == dns.rcode.NXDOMAIN

    # PTR outside our reverse zones (the node network here) goes upstream too.
    await ask(server, "1.49.168.192.in-addr.arpa.", "PTR", tcp=tcp)
    assert upstream.queries[("udp", "1.49.168.192.in-addr.arpa.")] == 1
    # ... while our own cluster names never do.
    assert not any("cluster.local" in name for _, name in upstream.queries)


async def test_truncated_upstream_answer_is_refetched_over_tcp(server, upstream):
    reply = await ask(server, "big.example.com.", "TXT", tcp=True)
    assert len(values(reply, "TXT")) == 40
    assert upstream.queries[("udp", "big.example.com.")] == 1
    assert upstream.queries[("tcp", "big.example.com.")] == 1
    # A UDP client gets TC (the whole answer does not fit 512 bytes) and would retry over TCP.
    reply = await ask(server, "big.example.com.", "TXT")
    assert reply.flags & dns.flags.TC and not reply.answer


async def test_large_local_answer_is_truncated_over_udp_and_whole_over_tcp(server):
    udp = await ask(server, "many.default.svc.cluster.local.", "A")
    assert udp.flags & dns.flags.TC and not udp.answer
    edns = await ask(server, "many.default.svc.cluster.local.", "A", use_edns=0, payload=4096)
    assert edns.flags & dns.flags.TC  # 80 A records are > 1232 bytes, our EDNS cap
    tcp = await ask(server, "many.default.svc.cluster.local.", "A", tcp=True)
    assert len(values(tcp, "A")) == 80


async def test_upstream_failure_is_servfail(upstream):
    cache = ClusterCache()
    fill(cache)
    # 127.0.0.3:<the fake's port> has nobody listening: the kernel answers "port unreachable" at once.
    srv = await start_server(cache, [("127.0.0.3", upstream.port)], timeout=0.5)
    try:
        reply = await ask(srv, "example.com.", "A")
        assert reply.rcode() == dns.rcode.SERVFAIL
        # cluster names are unaffected
        assert values(await ask(srv, "redis.default.svc.cluster.local.", "A"), "A") == ["10.96.0.20"]
    finally:
        await srv.close()


async def test_upstream_timeout_is_servfail_and_next_upstream_is_tried(upstream):
    cache = ClusterCache()
    fill(cache)
    srv = await start_server(cache, [(upstream.host, upstream.port)], timeout=0.3)
    try:
        reply = await ask(srv, "slow.example.com.", "A")
        assert reply.rcode() == dns.rcode.SERVFAIL
    finally:
        await srv.close()
    srv = await start_server(cache, [("127.0.0.3", upstream.port), (upstream.host, upstream.port)], timeout=0.5)
    try:
        assert values(await ask(srv, "example.com.", "A"), "A") == [EXAMPLE_IP]
    finally:
        await srv.close()


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
async def test_clients_outside_the_cluster_networks_are_refused(upstream, tcp):
    cache = ClusterCache()
    fill(cache)
    srv = await start_server(cache, [(upstream.host, upstream.port)],
                             allowed=[ipaddress.ip_network("10.244.0.0/16")])  # loopback not allowed
    try:
        for name in ("example.com.", "redis.default.svc.cluster.local."):
            reply = await ask(srv, name, "A", tcp=tcp)
            assert reply.rcode() == dns.rcode.REFUSED and not reply.answer
        assert not upstream.queries  # nothing was forwarded for them
    finally:
        await srv.close()


async def test_zone_transfer_is_refused(server, upstream):
    for name in ("cluster.local.", "example.com."):
        query = dns.message.make_query(name, "AXFR")
        reply = await dns.asyncquery.tcp(query, HOST, port=server.port, timeout=5)
        assert reply.rcode() == dns.rcode.REFUSED
    assert not upstream.queries


async def test_servfail_until_synced_while_forwarding_already_works(upstream):
    cache = ClusterCache()
    srv = await start_server(cache, [(upstream.host, upstream.port)])
    try:
        assert (await ask(srv, "redis.default.svc.cluster.local.", "A")).rcode() == dns.rcode.SERVFAIL
        assert values(await ask(srv, "example.com.", "A"), "A") == [EXAMPLE_IP]
        fill(cache)
        assert values(await ask(srv, "redis.default.svc.cluster.local.", "A"), "A") == ["10.96.0.20"]
    finally:
        await srv.close()


async def test_garbage_gets_formerr_and_the_server_keeps_answering(server):
    import asyncio
    import socket

    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        sock.connect((HOST, server.port))
        await loop.sock_sendall(sock, b"\x12\x34" + b"\x01\x00" + b"\x00\x01" + b"\x00" * 6 + b"\x30garbage")
        reply = await asyncio.wait_for(loop.sock_recv(sock, 512), 5)
    assert reply[:2] == b"\x12\x34" and reply[3] & 0x0F == dns.rcode.FORMERR
    assert values(await ask(server, "redis.default.svc.cluster.local.", "A"), "A") == ["10.96.0.20"]
