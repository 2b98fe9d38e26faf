"""The guide's counter app: each `GET /` increments the redis key `count` and answers the new number.

Standard library only (the offline base image has python3 and nothing from PyPI), so redis is spoken
directly: RESP is a few lines. Environment: REDIS_HOST (default "localhost", as upstream: the guide's
multi-container pod reaches redis over the pod's shared localhost), REDIS_PORT (6379), PORT (3000).

Design notes, each learned the hard way on a small cluster:
* One new redis connection per request: redis restarts, pods move and Service IPs stay; reconnecting
  every time costs a millisecond and never leaves a dead socket behind.
* A redis failure is a 500 with the reason, not a crash: the readiness story in the guide relies on the
  app staying up while its database comes and goes.
* ThreadingHTTPServer: concurrent curls and probes must not queue behind one slow redis.
* No DNS at startup or per log line: `HTTPServer.server_bind` calls `getfqdn()` and the stock handler
  may reverse-resolve clients; with a cluster DNS still starting that costs seconds per lookup.
* SIGTERM exits at once (tini forwards it), so deleting a pod is prompt.
"""
from __future__ import annotations

import os
import signal
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REDIS_HOST = os.environ.get("REDIS_HOST") or "localhost"
def redis_port(value: str | None) -> int:
    """REDIS_PORT as a number. A Service named `redis` in the namespace makes Kubernetes inject
    `REDIS_PORT=tcp://10.96.x.y:6379` (service links) into every pod: take the port from that form too."""
    value = (value or "").strip()
    if value.isdigit():
        return int(value)
    tail = value.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else 6379


REDIS_PORT = redis_port(os.environ.get("REDIS_PORT"))
PORT = int(os.environ.get("PORT") or 3000)
KEY = "count"


class RedisError(Exception):
    """An error reply (`-ERR ...`) or a broken connection."""


def encode_command(*args: str) -> bytes:
    """RESP array of bulk strings: how every redis client sends a command."""
    out = [f"*{len(args)}\r\n".encode()]
    for a in args:
        b = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def read_reply(f) -> object:
    """Read one RESP reply from a binary file object."""
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise RedisError("connection closed by redis")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RedisError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [read_reply(f) for _ in range(n)]
    raise RedisError(f"unexpected reply {line!r}")


def redis_command(*args: str, host: str | None = None, port: int | None = None, timeout: float = 3.0) -> object:
    """Send one command on a fresh connection (see the module notes) and return the decoded reply."""
    address = (host or REDIS_HOST, port or REDIS_PORT)
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(encode_command(*args))
        with sock.makefile("rb") as f:
            return read_reply(f)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "counter/1"

    def address_string(self) -> str:
        """The client's IP as is: never reverse-resolve it (slow while cluster DNS starts)."""
        host = self.client_address[0]
        return host[7:] if host.startswith("::ffff:") else host

    def _send(self, code: int, body: str) -> None:
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            self._send(200, "ok\n")
            return
        if path != "/":
            self._send(404, "not found\n")
            return
        try:
            count = redis_command("INCR", KEY)
        except (OSError, RedisError, ValueError) as e:
            self._send(500, f"redis error ({REDIS_HOST}:{REDIS_PORT}): {e}\n")
            return
        self._send(200, f"{count}\n")

    do_HEAD = do_GET


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the default 5 drops bursts of concurrent clients into 1 s SYN retries

    def server_bind(self) -> None:
        """Bind without `HTTPServer.server_bind`'s `getfqdn()` (a DNS lookup at startup)."""
        if self.address_family == socket.AF_INET6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(self.server_address)
        self.server_address = self.socket.getsockname()
        self.server_name, self.server_port = "counter", self.server_address[1]


class Server4(Server):
    address_family = socket.AF_INET


class Server6(Server):
    address_family = socket.AF_INET6


def make_server(port: int) -> Server:
    """Dual-stack (`::`, v4-mapped) when the container has IPv6, plain IPv4 otherwise."""
    try:
        return Server6(("::", port), Handler)
    except OSError:
        return Server4(("0.0.0.0", port), Handler)


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(0)


def main() -> None:
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    server = make_server(PORT)
    print(f"counter listening on port {PORT}, redis at {REDIS_HOST}:{REDIS_PORT}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
