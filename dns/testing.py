"""A fake upstream resolver for tests and the benchmark: the double that plugs in behind `Forwarder`.

It listens on a loopback address (127.0.0.2 by default, so a test can tell it from the server under
test on 127.0.0.1) over UDP and TCP, answers from a fixed table and counts what it was asked. Tests and
benchmarks must never reach a real resolver: this is what `--upstream` points at.

    example.com.        A    192.0.2.1           (RFC 5737 documentation address)
    big.example.com.    TXT  40 × 100 bytes      (too big for UDP: TC over UDP, the full answer over TCP)
    slow.example.com.   A    answers after `slow_seconds` (timeouts)
    anything else       NXDOMAIN
"""
from __future__ import annotations

import asyncio
from collections import Counter

from dnslib import QTYPE, RCODE, RR, TXT, A, DNSRecord

from dns.transport import bind_udp_and_tcp, close_udp_and_tcp, read_tcp_message, tcp_frame

EXAMPLE_IP = "192.0.2.1"


class FakeUpstream:
    def __init__(self, host: str = "127.0.0.2", *, slow_seconds: float = 5.0) -> None:
        self.host = host
        self.port = 0
        self.slow_seconds = slow_seconds
        self.queries: Counter[tuple[str, str]] = Counter()  # (transport, qname) → count
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self) -> "FakeUpstream":
        self._udp, self._tcp, self.port = await bind_udp_and_tcp(self.host, 0, lambda: _Udp(self),
                                                                 self._serve_tcp)
        return self

    async def close(self) -> None:
        await close_udp_and_tcp(self._udp, self._tcp, self._tasks)

    async def reply_for(self, data: bytes, transport: str) -> bytes:
        query = DNSRecord.parse(data)
        qname = str(query.q.qname).lower()
        self.queries[(transport, qname)] += 1
        reply = query.reply()
        reply.header.aa = 0
        if qname == "example.com." and query.q.qtype == QTYPE.A:
            reply.add_answer(RR(query.q.qname, QTYPE.A, rdata=A(EXAMPLE_IP), ttl=60))
        elif qname == "big.example.com.":
            for i in range(40):
                reply.add_answer(RR(query.q.qname, QTYPE.TXT, rdata=TXT(f"{i:03d}" + "x" * 97), ttl=60))
            if transport == "udp":
                reply = query.reply()
                reply.header.tc = 1
        elif qname == "slow.example.com.":
            await asyncio.sleep(self.slow_seconds)
            reply.add_answer(RR(query.q.qname, QTYPE.A, rdata=A(EXAMPLE_IP), ttl=60))
        elif qname != "example.com.":
            reply.header.rcode = RCODE.NXDOMAIN
        return bytes(reply.pack())

    async def _answer_udp(self, data: bytes, addr: tuple) -> None:
        reply = await self.reply_for(data, "udp")
        if self._udp and not self._udp.is_closing():
            self._udp.sendto(reply, addr)

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                reply = await self.reply_for(await read_tcp_message(reader), "tcp")
                writer.write(tcp_frame(reply))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, upstream: FakeUpstream) -> None:
        self.upstream = upstream

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        task = asyncio.create_task(self.upstream._answer_udp(data, addr))
        self.upstream._tasks.add(task)
        task.add_done_callback(self.upstream._tasks.discard)
