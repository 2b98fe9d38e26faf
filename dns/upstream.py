"""Forwarding names we do not own to the host's resolvers: `Forwarder.forward(query) -> reply | None`.

The contract (the boundary tests plug a fake upstream into): `forward` takes the client's query as wire
bytes, asks each upstream in turn — UDP first, the same query over TCP when the UDP reply is truncated —
and returns the first reply as wire bytes carrying the *client's* message ID, or None when every upstream
failed or timed out (the server then answers SERVFAIL). It never raises for network trouble.

Why a fresh socket and a fresh random ID per query: a connected UDP socket only accepts datagrams from
the upstream's address, and a random source port plus a random ID is what makes forged replies hard to
land (the Kaminsky lesson); checking that the reply echoes our question closes the rest.

Where upstreams come from: the host's `/etc/resolv.conf`, skipping loopback stubs (127.0.0.0/8, ::1) —
those are local caches whose own upstream we would rather reach directly, and forwarding to ourselves
would loop. When only stubs are listed (systemd-resolved), `/run/systemd/resolve/resolv.conf` holds the
real ones. Tests always pass `--upstream` (a fake resolver on 127.0.0.x) and never reach the internet.
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import socket
from pathlib import Path
from typing import Iterable

from dns.transport import read_tcp_message, tcp_frame

log = logging.getLogger(__name__)

Upstream = tuple[str, int]
RESOLV_CONF_PATHS = ("/etc/resolv.conf", "/run/systemd/resolve/resolv.conf")


def parse_upstream(text: str) -> Upstream:
    """`IP`, `IP:PORT`, `[IPv6]:PORT` or a bare IPv6 address → (ip, port)."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = int(rest.lstrip(":") or 53)
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = int(port_text)
    else:
        host, port = text, 53
    return str(ipaddress.ip_address(host)), port


def upstreams_from_resolv_conf(paths: Iterable[str | Path] = RESOLV_CONF_PATHS) -> list[Upstream]:
    """Non-loopback `nameserver` lines of the first file that has any."""
    for path in paths:
        try:
            lines = Path(path).read_text().splitlines()
        except OSError:
            continue
        found: list[Upstream] = []
        for line in lines:
            fields = line.split("#", 1)[0].split()
            if len(fields) >= 2 and fields[0] == "nameserver":
                try:
                    ip = ipaddress.ip_address(fields[1].split("%", 1)[0])
                except ValueError:
                    continue
                if not ip.is_loopback:
                    found.append((str(ip), 53))
        if found:
            return found
    return []


class Forwarder:
    """Asks upstream resolvers in order; see the module docstring for the contract."""

    def __init__(self, upstreams: list[Upstream], *, timeout: float = 2.0) -> None:
        self.upstreams = list(upstreams)
        self.timeout = timeout

    async def forward(self, query: bytes) -> bytes | None:
        if len(query) < 12:
            return None
        client_id = query[:2]
        for upstream in self.upstreams:
            our_id = os.urandom(2)
            ours = our_id + query[2:]
            try:
                reply = await self._udp(upstream, ours)
                if reply is not None and reply[2] & 0x02:  # TC: the answer did not fit, ask over TCP
                    reply = await self._tcp(upstream, ours)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as exc:
                log.info("upstream %s:%d failed: %s", *upstream, exc)
                continue
            if reply is not None and _matches(ours, reply):
                return client_id + reply[2:]
        return None

    async def _udp(self, upstream: Upstream, query: bytes) -> bytes | None:
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in upstream[0] else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            sock.connect(upstream)  # replies from any other address are dropped by the kernel
            await loop.sock_sendall(sock, query)
            deadline = loop.time() + self.timeout
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise asyncio.TimeoutError(f"no UDP reply within {self.timeout}s")
                reply = await asyncio.wait_for(loop.sock_recv(sock, 65535), remaining)
                if _matches(query, reply):
                    return reply
                # not our reply (late or forged): keep waiting until the deadline

    async def _tcp(self, upstream: Upstream, query: bytes) -> bytes:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(*upstream), self.timeout)
        try:
            writer.write(tcp_frame(query))
            await writer.drain()
            return await read_tcp_message(reader, self.timeout)
        finally:
            writer.close()


def question_end(message: bytes) -> int:
    """Offset just past the first question (queries carry no name compression in the question)."""
    pos = 12
    while pos < len(message):
        length = message[pos]
        if length == 0:
            return pos + 1 + 4  # root label, then QTYPE and QCLASS
        if length & 0xC0:
            return pos + 2 + 4
        pos += 1 + length
    return len(message)


def _matches(query: bytes, reply: bytes) -> bool:
    """Same ID, a response, and the same question (names compared case-insensitively)."""
    if len(reply) < 12 or reply[:2] != query[:2] or not reply[2] & 0x80:
        return False
    end = question_end(query)
    return reply[12:end].lower() == query[12:end].lower()
