"""The kubelet side of `kubectl port-forward`: SPDY streams in, TCP connections to the pod out.

Protocol `portforward.k8s.io` (what kubelet's cri/streaming/portforward/httpstream.go serves): for every
local connection kubectl accepts it opens two SPDY streams carrying headers `streamtype: error|data`,
`port: <remote port>` and the same `requestid`. We answer each SYN_STREAM with an empty SYN_REPLY; once
both streams of a request are there we connect to the port and pipe the data stream both ways. A failure
is written as text on the error stream (kubectl prints `an error occurred forwarding L -> R: <text>` and
drops the whole connection); in all cases the data stream then the error stream are closed (FIN), which
is what kubectl waits for before closing its local connection.

`PortForwardSession` is transport-agnostic: it is fed received bytes and given `send` (write bytes to the
peer) and `dial` (open a connection to a pod port, raising `DialError` with the kubelet-style message), so
it runs the same over WebSocket messages or a raw socket, and in unit tests over in-memory pipes.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from agent import spdy
from agent.network import in_netns

log = logging.getLogger(__name__)

PROTOCOL = "portforward.k8s.io"
WS_TUNNEL_PROTOCOL = "SPDY/3.1+portforward.k8s.io"  # SPDY tunnelled in WebSocket binary messages
CHUNK = 32 * 1024


class DialError(Exception):
    """Connecting to the pod's port failed; the message goes to kubectl on the error stream."""


Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@dataclass
class _Request:
    port_header: str = ""
    error_id: int = 0
    data_id: int = 0
    incoming: asyncio.Queue = field(default_factory=asyncio.Queue)  # bytes from kubectl; None = FIN/reset
    task: asyncio.Task | None = None


class PortForwardSession:
    def __init__(self, send: Callable[[bytes], Awaitable[None]], dial: Callable[[int], Awaitable[Streams]]) -> None:
        self._send_bytes = send
        self._dial = dial
        self._framer = spdy.Framer()
        self._lock = asyncio.Lock()  # frames must hit the wire in the order their headers were compressed
        self._requests: dict[str, _Request] = {}
        self._by_stream: dict[int, _Request] = {}
        self.closed = False

    async def send(self, frame: spdy.Frame) -> None:
        async with self._lock:
            if self.closed:
                return
            try:
                await self._send_bytes(self._framer.encode(frame))
            except (ConnectionError, RuntimeError) as e:  # the peer is gone: nothing more to say
                log.debug("port-forward send: %s", e)
                self.closed = True

    async def feed(self, data: bytes) -> None:
        """Handle the frames completed by *data* (raises spdy.SpdyError on garbage)."""
        for frame in self._framer.feed(data):
            await self._handle(frame)

    async def _handle(self, f: spdy.Frame) -> None:
        if isinstance(f, spdy.SynStream):
            await self._new_stream(f)
        elif isinstance(f, spdy.DataFrame):
            req = self._by_stream.get(f.stream_id)
            if req is not None and f.stream_id == req.data_id:
                if f.data:
                    req.incoming.put_nowait(f.data)
                if f.flags & spdy.FLAG_FIN:
                    req.incoming.put_nowait(None)
        elif isinstance(f, spdy.RstStream):
            req = self._by_stream.get(f.stream_id)
            if req is not None:
                req.incoming.put_nowait(None)
                if req.task is not None:
                    req.task.cancel()
        elif isinstance(f, spdy.Ping):
            await self.send(spdy.Ping(f.id))  # spdystream answers a peer's ping by echoing it
        elif isinstance(f, spdy.GoAway):
            self.closed = True
        # SETTINGS, WINDOW_UPDATE, HEADERS, SYN_REPLY: nothing to do (spdystream does no flow control)

    async def _new_stream(self, f: spdy.SynStream) -> None:
        kind = (f.headers.get("streamtype") or [""])[0]
        request_id = (f.headers.get("requestid") or [""])[0]
        if kind not in ("error", "data") or not request_id:
            # kubelet: "port forwarding is not supported" without a request id; reject the stream.
            await self.send(spdy.RstStream(f.stream_id, spdy.REFUSED_STREAM))
            return
        req = self._requests.setdefault(request_id, _Request())
        setattr(req, f"{kind}_id", f.stream_id)
        req.port_header = req.port_header or (f.headers.get("port") or [""])[0]
        self._by_stream[f.stream_id] = req
        await self.send(spdy.SynReply(f.stream_id))
        if req.error_id and req.data_id and req.task is None:
            req.task = asyncio.create_task(self._forward(request_id, req))

    async def _forward(self, request_id: str, req: _Request) -> None:
        writer: asyncio.StreamWriter | None = None
        try:
            try:
                port = int(req.port_header)
                if not 0 < port < 65536:
                    raise ValueError
            except ValueError:
                raise DialError(f'invalid port "{req.port_header}"')
            reader, writer = await self._dial(port)
            up = asyncio.create_task(self._upload(req, writer))
            try:
                while True:
                    chunk = await reader.read(CHUNK)
                    if not chunk:
                        break
                    await self.send(spdy.DataFrame(req.data_id, chunk))
                await self.send(spdy.DataFrame(req.data_id, flags=spdy.FLAG_FIN))
                await self.send(spdy.DataFrame(req.error_id, flags=spdy.FLAG_FIN))
                await up  # kubectl closes its side (FIN) once it has seen both FINs
            finally:
                up.cancel()
        except DialError as e:
            await self.send(spdy.DataFrame(req.error_id, str(e).encode()))
            await self.send(spdy.DataFrame(req.data_id, flags=spdy.FLAG_FIN))
            await self.send(spdy.DataFrame(req.error_id, flags=spdy.FLAG_FIN))
        except (ConnectionError, OSError) as e:
            log.debug("port-forward request %s ended: %s", request_id, e)
        finally:
            if writer is not None:
                writer.close()
            self._requests.pop(request_id, None)
            self._by_stream.pop(req.error_id, None)
            self._by_stream.pop(req.data_id, None)

    @staticmethod
    async def _upload(req: _Request, writer: asyncio.StreamWriter) -> None:
        while True:
            chunk = await req.incoming.get()
            if chunk is None:
                break
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()

    async def close(self) -> None:
        """The connection is gone: stop every forwarded connection."""
        self.closed = True
        tasks = [r.task for r in self._requests.values() if r.task is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# --- connecting inside the pod's network namespace (what containerd's PortForward does) ----------------

def _go_error(exc: OSError) -> str:
    """`connect: connection refused`, as Go's net package words it."""
    return "connect: " + (os.strerror(exc.errno).lower() if exc.errno else str(exc))


def connect_in_netns(ns_path: str, port: int, sandbox: str = "", timeout: float = 5.0) -> socket.socket:
    """A TCP socket connected to localhost:*port* inside the network namespace at *ns_path*.

    Like containerd: try 127.0.0.1 then ::1, from a thread inside the namespace (`network.in_netns`).
    Raises DialError with containerd's wording (naming *sandbox*, the sandbox id) when neither answers.
    """
    def connect() -> socket.socket:
        errors = []
        for family, addr, tag in ((socket.AF_INET, "127.0.0.1", "tcp4"), (socket.AF_INET6, "::1", "tcp6")):
            s = socket.socket(family, socket.SOCK_STREAM)
            s.settimeout(timeout)
            try:
                s.connect((addr, port))
                s.settimeout(None)
                return s
            except OSError as e:
                s.close()
                host = f"[{addr}]" if ":" in addr else addr
                errors.append(f"dial {tag} {host}:{port}: " +
                              ("i/o timeout" if isinstance(e, socket.timeout) else _go_error(e)))
        raise DialError(
            f'failed to execute portforward in network namespace "{ns_path}": failed to connect to '
            f'localhost:{port} inside namespace "{sandbox or ns_path}", IPv4: {errors[0]} IPv6 {errors[1]} ')

    try:
        return in_netns(ns_path, connect, "portforward-dial")
    except OSError as e:   # the namespace is gone (or setns failed): the pod's sandbox is not there
        raise DialError(f'failed to execute portforward in network namespace "{ns_path}": {e}') from None


async def dial_netns(ns_path: str, port: int, sandbox: str = "") -> Streams:
    sock = await asyncio.to_thread(connect_in_netns, ns_path, port, sandbox)
    try:
        return await asyncio.open_connection(sock=sock)
    except Exception:
        sock.close()
        raise

