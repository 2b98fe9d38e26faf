"""DNS over UDP and TCP on one port: binding both, the TCP framing, and closing both.

Shared by the cluster DNS server, the forwarder and the fake upstream of the tests, which all speak the
same two transports: a UDP socket and a TCP listener on the *same* port (clients retry a truncated UDP
answer over TCP to the address they asked), and over TCP each message is preceded by its length in two
bytes (RFC 1035 4.2.2).
"""
from __future__ import annotations

import asyncio
import struct
from typing import Awaitable, Callable

TcpHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def bind_udp_and_tcp(host: str, port: int, udp_protocol: Callable[[], asyncio.DatagramProtocol],
                           tcp_handler: TcpHandler
                           ) -> tuple[asyncio.DatagramTransport, asyncio.base_events.Server, int]:
    """Bind UDP and TCP on *host*:*port*; port 0 picks a port free for both (a free UDP port may be taken
    for TCP: then another is tried). Returns (UDP transport, TCP server, port)."""
    loop = asyncio.get_running_loop()
    for _attempt in range(20):
        transport, _ = await loop.create_datagram_endpoint(udp_protocol, local_addr=(host, port))
        bound = transport.get_extra_info("sockname")[1]
        try:
            tcp = await asyncio.start_server(tcp_handler, host, bound, reuse_address=True)
        except OSError:
            transport.close()
            if port:
                raise
            continue
        return transport, tcp, bound
    raise OSError(f"no port free for both UDP and TCP on {host}")


async def close_udp_and_tcp(udp: asyncio.DatagramTransport | None, tcp: asyncio.base_events.Server | None,
                            tasks: set[asyncio.Task]) -> None:
    """Close both listeners and cancel the in-flight answers in *tasks*."""
    if udp:
        udp.close()
    if tcp:
        tcp.close()
        await tcp.wait_closed()
    for task in list(tasks):
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def read_tcp_message(reader: asyncio.StreamReader, timeout: float | None = None) -> bytes:
    """One length-prefixed message; each of the two reads may take *timeout* seconds (None: no limit)."""
    size = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), timeout))[0]
    return await asyncio.wait_for(reader.readexactly(size), timeout)


def tcp_frame(message: bytes) -> bytes:
    """*message* with its two-byte length in front, ready to write to a TCP stream."""
    return struct.pack("!H", len(message)) + message
