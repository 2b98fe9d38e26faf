"""The guide's echo app (v1 and v2 from one source): every request answers 200 and says who answered.

Body: `echo <version> from <hostname>`, then the request line and the request body's size, e.g.::

    echo v1 from echo-v1-6d9f7c-abcde
    GET /some/path?x=1 HTTP/1.1
    body: 0 bytes

Why each feature:
* version + hostname: rolling updates and load balancing are visible with plain `curl` in a loop.
* every path and method is 200: the guide's probes that must *fail* do so by using port 8080, which
  nothing serves, not by a path.
* `?sleep=N` (seconds, fractional ok, capped at 600): makes an ingress `proxy-read-timeout` testable.
* any request body size (Content-Length or chunked), read and discarded in 64 KiB pieces and counted:
  makes an ingress `proxy-body-size` testable without holding the body in memory.
* no DNS at startup or per log line, SIGTERM exits at once: see counter.py.
Environment: ECHO_VERSION (set by the image's VERSION build arg), PORT (3000).
"""
from __future__ import annotations

import os
import signal
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

VERSION = os.environ.get("ECHO_VERSION") or "v1"
PORT = int(os.environ.get("PORT") or 3000)
MAX_SLEEP = 600.0
CHUNK = 64 * 1024


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = f"echo/{VERSION}"

    def address_string(self) -> str:
        """The client's IP as is: never reverse-resolve it (slow while cluster DNS starts)."""
        host = self.client_address[0]
        return host[7:] if host.startswith("::ffff:") else host

    def _discard_body(self) -> int:
        """Read the request body (chunked or Content-Length) and return its size."""
        total = 0
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                size_line = self.rfile.readline(1024)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return total
                left = size
                while left:
                    got = len(self.rfile.read(min(left, CHUNK)))
                    if not got:
                        return total
                    left -= got
                    total += got
                self.rfile.readline(1024)  # CRLF after each chunk
        left = int(self.headers.get("Content-Length") or 0)
        while left > 0:
            got = len(self.rfile.read(min(left, CHUNK)))
            if not got:
                break
            left -= got
            total += got
        return total

    def _handle(self) -> None:
        try:
            size = self._discard_body()
        except ValueError:
            self.send_error(400, "bad request body")
            return
        query = parse_qs(urlsplit(self.path).query)
        try:
            delay = min(max(float(query.get("sleep", ["0"])[0]), 0.0), MAX_SLEEP)
        except ValueError:
            delay = 0.0
        if delay:
            time.sleep(delay)
        body = (
            f"echo {VERSION} from {socket.gethostname()}\n"
            f"{self.command} {self.path} {self.request_version}\n"
            f"body: {size} bytes\n"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Echo-Version", VERSION)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


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
        self.server_name, self.server_port = "echo", self.server_address[1]


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
    print(f"echo {VERSION} listening on port {PORT}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
