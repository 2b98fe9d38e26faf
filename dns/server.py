"""The cluster DNS server: UDP and TCP on asyncio, answers from `records`, the rest via `upstream`.

One query, one straight line (`DnsServer.handle`):

1. Who asks: a source outside the cluster networks (pod CIDR, node subnet, service CIDR) and loopback
   gets REFUSED. We are no open resolver: forwarding for anyone who can reach the gateway address would
   make the host an amplifier. REFUSED rather than silence, because a user debugging with `dig` learns
   more from it, and the reply is no larger than the query (the question only), so nothing is amplified.
2. What is asked: malformed → FORMERR; responses are dropped; opcodes other than QUERY → NOTIMP; zone
   transfers → REFUSED (never forwarded either); classes other than IN → REFUSED.
3. Ours (the cluster zone, the reverse zones of the service and pod CIDRs) → `records.answer` over the
   `ClusterCache`; synchronous, no await, so cluster names cost a parse, a few dict lookups and a pack.
4. Not ours → `Forwarder.forward` (UDP, TCP on truncation, timeout, next upstream); SERVFAIL when every
   upstream failed.

UDP replies larger than the client can take (512 bytes, or its EDNS buffer size capped at 1232, the DNS
flag day value) go out truncated (TC, question only), and the client retries over TCP, where every size
is fine. TCP connections may carry several queries (RFC 7766); idle ones are closed after 10 s.

Why not dnslib's own server: it is thread-based (a thread per request) and blocking; ours shares one event
loop with the informers that keep the cache current, so answers never race cache updates.
"""
from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import logging
import struct
from typing import Iterable, NamedTuple

from dnslib import EDNS0, OPCODE, QTYPE, RCODE, DNSError, DNSHeader, DNSRecord

from dns.qname import IPNetwork, Kind, parse
from dns.records import ClusterView, ZoneSettings, answer
from dns.transport import bind_udp_and_tcp, close_udp_and_tcp, read_tcp_message, tcp_frame
from dns.upstream import Forwarder, question_end

log = logging.getLogger(__name__)

CLASS_IN = 1
MAX_UDP_PAYLOAD = 1232
TCP_IDLE_SECONDS = 10.0
LOOPBACK_NETWORKS = ("127.0.0.0/8", "::1/128")


def _networks(cidrs: Iterable[str | IPNetwork]) -> list[IPNetwork]:
    return [ipaddress.ip_network(c) if isinstance(c, str) else c for c in cidrs]


@dataclasses.dataclass
class ServerOptions:
    """Everything the server needs to know about the cluster's layout (from `ClusterConfig`)."""

    settings: ZoneSettings
    reverse_networks: list[IPNetwork]          # reverse zones we own (service, pod CIDRs, node network)
    allowed_networks: list[IPNetwork]          # who may ask (cluster networks + loopback)

    @classmethod
    def from_config(cls, config, *, extra_allowed: Iterable[str] = LOOPBACK_NETWORKS) -> "ServerOptions":  # noqa: ANN001
        from minikube_py.config import CLUSTER_DOMAIN

        return cls(
            settings=ZoneSettings(zone=CLUSTER_DOMAIN, dns_ip=config.dns_service_ip),
            reverse_networks=_networks([config.service_cidr, config.pod_cidr, config.node_subnet]),
            allowed_networks=_networks([config.pod_cidr, config.node_subnet, config.service_cidr,
                                        *extra_allowed]))


class Decision(NamedTuple):
    """What to do with one message: send `reply` (None: nothing), or forward it upstream."""

    reply: bytes | None
    forward: bool = False
    udp_limit: int = 512


class DnsServer:
    """Answers DNS messages; `serve(host, port)` binds UDP and TCP and returns once both listen."""

    def __init__(self, view: ClusterView, options: ServerOptions, forwarder: Forwarder | None) -> None:
        self.view = view
        self.options = options
        self.forwarder = forwarder
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self.port: int = 0

    # --- one query ---------------------------------------------------------------------------------
    def answer_locally(self, data: bytes, client_ip: str) -> Decision:
        """Steps 1-3 of the module docstring, synchronously; says when step 4 (forwarding) is needed."""
        if not self._allowed(client_ip):
            return Decision(_error_reply(data, RCODE.REFUSED))
        try:
            query = DNSRecord.parse(data)
        except (DNSError, struct.error, IndexError, ValueError):
            return Decision(_error_reply(data, RCODE.FORMERR))
        if query.header.qr:
            return Decision(None)  # a response sent to us: never answer it (reflection loops)
        limit = _udp_limit(query)
        if query.header.opcode != OPCODE.QUERY:
            return Decision(_pack(_reply(query, RCODE.NOTIMP)), udp_limit=limit)
        if len(query.questions) != 1:
            return Decision(_pack(_reply(query, RCODE.FORMERR)), udp_limit=limit)
        question = query.questions[0]
        if question.qtype in (QTYPE.AXFR, QTYPE.IXFR) or question.qclass != CLASS_IN:
            return Decision(_pack(_reply(query, RCODE.REFUSED)), udp_limit=limit)
        qname = str(question.qname)
        request = parse(qname, self.options.settings.zone, self.options.reverse_networks)
        if request.kind is Kind.OUTSIDE:
            return Decision(None, forward=True, udp_limit=limit)
        result = answer(request, self.view, question.qtype, qname=qname, settings=self.options.settings)
        reply = _reply(query, result.rcode, authoritative=result.authoritative)
        for rr in result.records:
            reply.add_answer(rr)
        for rr in result.authority:
            reply.add_auth(rr)
        for rr in result.additional:
            reply.add_ar(rr)
        return Decision(_pack(reply), udp_limit=limit)

    async def handle(self, data: bytes, client_ip: str) -> bytes | None:
        """The whole answer for one message (before any UDP truncation): local, forwarded, or None."""
        decision = self.answer_locally(data, client_ip)
        if not decision.forward:
            return decision.reply
        forwarded = await self.forwarder.forward(data) if self.forwarder else None
        return forwarded if forwarded is not None else _error_reply(data, RCODE.SERVFAIL)

    def _allowed(self, client_ip: str) -> bool:
        try:
            ip = ipaddress.ip_address(client_ip.split("%", 1)[0])
        except ValueError:
            return False
        if ip.version == 6 and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        return any(ip.version == net.version and ip in net for net in self.options.allowed_networks)

    # --- transports --------------------------------------------------------------------------------
    async def serve(self, host: str, port: int) -> int:
        """Bind UDP and TCP on *host*:*port* (0: a free port, the same for both); return the port."""
        self._udp, self._tcp, self.port = await bind_udp_and_tcp(host, port, lambda: _UdpProtocol(self),
                                                                 self._serve_tcp)
        log.info("DNS listening on %s:%d (udp, tcp)", host, self.port)
        return self.port

    async def close(self) -> None:
        await close_udp_and_tcp(self._udp, self._tcp, self._tasks)

    def _spawn(self, coro) -> None:  # noqa: ANN001
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _forward_udp(self, data: bytes, addr: tuple, limit: int) -> None:
        reply = await self.handle(data, addr[0])
        if reply is not None and self._udp is not None and not self._udp.is_closing():
            self._udp.sendto(_fit_udp(reply, limit), addr)

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client_ip = writer.get_extra_info("peername")[0]
        try:
            while True:
                data = await read_tcp_message(reader, TCP_IDLE_SECONDS)
                reply = await self.handle(data, client_ip)
                if reply is None:
                    continue
                writer.write(tcp_frame(reply))
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        try:
            decision = self.server.answer_locally(data, addr[0])
        except Exception:  # noqa: BLE001 - one bad message must not stop the server
            log.exception("failed to answer a query from %s", addr[0])
            decision = Decision(_error_reply(data, RCODE.SERVFAIL))
        if decision.forward:
            self.server._spawn(self.server._forward_udp(data, addr, decision.udp_limit))
        elif decision.reply is not None and self.transport is not None:
            self.transport.sendto(_fit_udp(decision.reply, decision.udp_limit), addr)


# --- message helpers -----------------------------------------------------------------------------------
def _reply(query: DNSRecord, rcode: int, *, authoritative: bool = False) -> DNSRecord:
    """A response to *query*: same ID, question and RD; RA set (we recurse for clients); EDNS echoed."""
    header = DNSHeader(id=query.header.id, qr=1, aa=int(authoritative), ra=1, rd=query.header.rd,
                       opcode=query.header.opcode, rcode=rcode)
    reply = DNSRecord(header, questions=list(query.questions))
    if any(rr.rtype == QTYPE.OPT for rr in query.ar):
        reply.add_ar(EDNS0(udp_len=MAX_UDP_PAYLOAD))
    return reply


def _pack(record: DNSRecord) -> bytes:
    return bytes(record.pack())


def _error_reply(data: bytes, rcode: int) -> bytes | None:
    """An error reply built from the raw header and question, so it works for messages we cannot parse."""
    if len(data) < 12 or data[2] & 0x80:
        return None
    qdcount = struct.unpack("!H", data[4:6])[0]
    end = min(question_end(data), len(data)) if qdcount == 1 else 12
    flags = 0x8000 | (data[2] & 0x79) << 8 | 0x0080 | rcode  # QR, opcode+RD kept, RA, rcode
    return data[:2] + struct.pack("!HHHHH", flags, 1 if end > 12 else 0, 0, 0, 0) + data[12:end]


def _udp_limit(query: DNSRecord) -> int:
    """What the client can take over UDP: 512, or its EDNS buffer size capped at 1232."""
    for rr in query.ar:
        if rr.rtype == QTYPE.OPT:
            return max(512, min(rr.rclass, MAX_UDP_PAYLOAD))
    return 512


def _fit_udp(reply: bytes, limit: int) -> bytes:
    """The reply, or a truncated one (TC, question only) when it is larger than *limit*."""
    if len(reply) <= limit:
        return reply
    end = _question_end_safe(reply)
    flags = struct.unpack("!H", reply[2:4])[0] | 0x0200
    return reply[:2] + struct.pack("!HHHHH", flags, 1 if end > 12 else 0, 0, 0, 0) + reply[12:end]


def _question_end_safe(message: bytes) -> int:
    if struct.unpack("!H", message[4:6])[0] != 1:
        return 12
    return min(question_end(message), len(message))
