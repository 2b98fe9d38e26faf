"""The counter and echo apps' behaviour, on loopback, without Docker.

The servers are the files the images run (`manifests/apps/*/`), loaded by path; a tiny fake redis on
loopback stands in for redis-server.
"""
from __future__ import annotations

import http.client
import importlib.util
import io
import socket
import socketserver
import threading
from pathlib import Path
from types import ModuleType
from typing import Iterator

import pytest

from minikube_py.images.bootstrap import apps_dir


def load(name: str) -> ModuleType:
    path: Path = apps_dir() / name / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"mkpy_app_{name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


counter = load("counter")
echo = load("echo")


class FakeRedis(socketserver.ThreadingTCPServer):
    """Answers INCR like redis (RESP), or an error reply when `fail` is set."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), FakeRedisHandler)
        self.counts: dict[bytes, int] = {}
        self.fail = False
        self.lock = threading.Lock()


class FakeRedisHandler(socketserver.StreamRequestHandler):
    server: FakeRedis

    def handle(self) -> None:
        n = int(self.rfile.readline()[1:])
        args = []
        for _ in range(n):
            size = int(self.rfile.readline()[1:])
            args.append(self.rfile.read(size + 2)[:-2])
        if self.server.fail:
            self.wfile.write(b"-MISCONF simulated failure\r\n")
            return
        assert args[0] == b"INCR"
        with self.server.lock:
            self.server.counts[args[1]] = self.server.counts.get(args[1], 0) + 1
            self.wfile.write(b":%d\r\n" % self.server.counts[args[1]])


def serve(server: socketserver.BaseServer) -> threading.Thread:
    t = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    t.start()
    return t


@pytest.fixture
def fake_redis() -> Iterator[FakeRedis]:
    server = FakeRedis()
    serve(server)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def counter_port(fake_redis: FakeRedis, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.setattr(counter, "REDIS_HOST", "127.0.0.1")
    monkeypatch.setattr(counter, "REDIS_PORT", fake_redis.server_address[1])
    server = counter.Server4(("127.0.0.1", 0), counter.Handler)
    serve(server)
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def echo_port(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.setattr(echo, "VERSION", "v9")
    server = echo.Server4(("127.0.0.1", 0), echo.Handler)
    serve(server)
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def request(port: int, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


# --- RESP ------------------------------------------------------------------------------------------
def test_resp_encoding() -> None:
    assert counter.encode_command("INCR", "count") == b"*2\r\n$4\r\nINCR\r\n$5\r\ncount\r\n"


@pytest.mark.parametrize("raw, want", [
    (b"+PONG\r\n", "PONG"),
    (b":42\r\n", 42),
    (b"$3\r\nabc\r\n", b"abc"),
    (b"$-1\r\n", None),
    (b"*2\r\n:1\r\n+OK\r\n", [1, "OK"]),
])
def test_resp_replies(raw: bytes, want: object) -> None:
    assert counter.read_reply(io.BytesIO(raw)) == want


def test_resp_error_and_closed_connection() -> None:
    with pytest.raises(counter.RedisError, match="WRONGTYPE"):
        counter.read_reply(io.BytesIO(b"-WRONGTYPE bad\r\n"))
    with pytest.raises(counter.RedisError, match="closed"):
        counter.read_reply(io.BytesIO(b""))


# --- counter ---------------------------------------------------------------------------------------
def test_counter_increments_per_request(counter_port: int) -> None:
    assert request(counter_port, "GET", "/") == (200, "1\n")
    assert request(counter_port, "GET", "/") == (200, "2\n")
    assert request(counter_port, "GET", "/healthz") == (200, "ok\n")
    assert request(counter_port, "GET", "/favicon.ico")[0] == 404


def test_counter_concurrent_requests_each_get_a_number(counter_port: int) -> None:
    results: list[str] = []
    lock = threading.Lock()

    def hit() -> None:
        status, body = request(counter_port, "GET", "/")
        with lock:
            results.append(body.strip())

    threads = [threading.Thread(target=hit) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(int(r) for r in results) == list(range(1, 21))


def test_counter_redis_error_is_500_and_recovers(counter_port: int, fake_redis: FakeRedis) -> None:
    fake_redis.fail = True
    status, body = request(counter_port, "GET", "/")
    assert status == 500 and "MISCONF" in body
    fake_redis.fail = False
    assert request(counter_port, "GET", "/") == (200, "1\n")


def test_counter_redis_down_is_500(counter_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    monkeypatch.setattr(counter, "REDIS_PORT", free)
    status, body = request(counter_port, "GET", "/")
    assert status == 500 and "redis error" in body


# --- echo ------------------------------------------------------------------------------------------
def test_echo_names_version_and_host_on_any_path(echo_port: int) -> None:
    for path in ("/", "/not/exist", "/a?b=c"):
        status, body = request(echo_port, "GET", path)
        assert status == 200
        lines = body.splitlines()
        assert lines[0] == f"echo v9 from {socket.gethostname()}"
        assert lines[1] == f"GET {path} HTTP/1.1"


def test_echo_counts_bodies_of_any_size(echo_port: int) -> None:
    big = b"x" * (3 * 1024 * 1024 + 17)
    status, body = request(echo_port, "POST", "/upload", body=big)
    assert status == 200 and f"body: {len(big)} bytes" in body


def test_echo_chunked_body(echo_port: int) -> None:
    with socket.create_connection(("127.0.0.1", echo_port), timeout=5) as s:
        s.sendall(b"PUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                  b"5\r\nhello\r\na;ext=1\r\n0123456789\r\n0\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    assert b"200 OK" in data.split(b"\r\n", 1)[0]
    assert b"body: 15 bytes" in data


def test_echo_sleep_delays_the_answer(echo_port: int) -> None:
    import time

    t0 = time.monotonic()
    status, _ = request(echo_port, "GET", "/?sleep=0.3")
    assert status == 200 and time.monotonic() - t0 >= 0.3
    assert request(echo_port, "GET", "/?sleep=bogus")[0] == 200


def test_servers_never_resolve_names_at_bind(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*a: object) -> str:
        raise AssertionError("getfqdn called: a DNS lookup at startup")

    monkeypatch.setattr(socket, "getfqdn", boom)
    for module in (counter, echo):
        server = module.Server4(("127.0.0.1", 0), module.Handler)
        server.server_close()


@pytest.mark.parametrize("value,port", [("6380", 6380), ("tcp://10.96.4.2:6379", 6379), (None, 6379),
                                        ("", 6379), ("nonsense", 6379)])
def test_counter_reads_redis_port_also_in_service_link_form(value, port) -> None:
    # A Service named `redis` makes Kubernetes inject REDIS_PORT=tcp://<ip>:<port> into every pod.
    assert counter.redis_port(value) == port
