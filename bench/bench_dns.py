"""Queries per second of the cluster DNS server: cluster names vs forwarded names, side by side.

    python bench/bench_dns.py [--seconds 3] [--window 32] [--services 500]

Three processes, all on loopback: the server under test (127.0.0.1, a `ClusterCache` with N services),
the fake upstream (127.0.0.2, `dns.testing.FakeUpstream`), and this client, which keeps `--window`
queries in flight over UDP. The rounds alternate (cluster, forwarded, cluster, …) so both see the same
machine load. Nothing is asserted: this is for eyes, not for CI (timings on a shared 2-core box vary).
"""
from __future__ import annotations

import argparse
import asyncio
import ipaddress
import multiprocessing
import os
import random
import statistics
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dnslib import DNSRecord  # noqa: E402


def run_upstream(port_queue: multiprocessing.Queue) -> None:
    from dns.testing import FakeUpstream

    async def main() -> None:
        upstream = await FakeUpstream("127.0.0.2").start()
        port_queue.put(upstream.port)
        await asyncio.Event().wait()

    asyncio.run(main())


def run_server(services: int, upstream_port: int, port_queue: multiprocessing.Queue) -> None:
    from dns.records import ZoneSettings
    from dns.server import DnsServer, ServerOptions
    from dns.upstream import Forwarder
    from dns.view import ClusterCache

    async def main() -> None:
        cache = ClusterCache()
        base = ipaddress.ip_address("10.96.1.0")
        for i in range(services):
            cache.upsert("services", {"metadata": {"name": f"svc-{i}", "namespace": "default"},
                                      "spec": {"type": "ClusterIP", "clusterIP": str(base + i),
                                               "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}})
        cache.mark_synced()
        options = ServerOptions(ZoneSettings(), [ipaddress.ip_network("10.96.0.0/12")],
                                [ipaddress.ip_network("127.0.0.0/8")])
        server = DnsServer(cache, options, Forwarder([("127.0.0.2", upstream_port)]))
        port_queue.put(await server.serve("127.0.0.1", 0))
        await asyncio.Event().wait()

    asyncio.run(main())


class Client(asyncio.DatagramProtocol):
    """Keeps `window` queries in flight; records each one's latency."""

    def __init__(self, names: list[str], window: int, seconds: float) -> None:
        self.names, self.window, self.seconds = names, window, seconds
        self.pending: dict[int, float] = {}
        self.latencies: list[float] = []
        self.errors = 0
        self.done = asyncio.get_running_loop().create_future()
        self.transport: asyncio.DatagramTransport | None = None
        self.deadline = 0.0

    def connection_made(self, transport) -> None:  # noqa: ANN001
        self.transport = transport
        self.deadline = time.perf_counter() + self.seconds
        for _ in range(self.window):
            self.send()

    def send(self) -> None:
        qid = random.randrange(65536)
        while qid in self.pending:
            qid = random.randrange(65536)
        query = DNSRecord.question(random.choice(self.names), "A")
        query.header.id = qid
        self.pending[qid] = time.perf_counter()
        self.transport.sendto(query.pack())

    def datagram_received(self, data: bytes, addr) -> None:  # noqa: ANN001
        qid = struct.unpack("!H", data[:2])[0]
        sent = self.pending.pop(qid, None)
        if sent is None:
            return
        if data[3] & 0x0F:
            self.errors += 1
        now = time.perf_counter()
        self.latencies.append(now - sent)
        if now < self.deadline:
            self.send()
        elif not self.pending and not self.done.done():
            self.done.set_result(None)


async def measure(port: int, names: list[str], window: int, seconds: float) -> tuple[float, list[float], int]:
    loop = asyncio.get_running_loop()
    transport, client = await loop.create_datagram_endpoint(
        lambda: Client(names, window, seconds), remote_addr=("127.0.0.1", port))
    start = time.perf_counter()
    try:
        await asyncio.wait_for(client.done, seconds + 5)
    except asyncio.TimeoutError:
        client.errors += len(client.pending)  # lost in flight
    elapsed = time.perf_counter() - start
    transport.close()
    return len(client.latencies) / elapsed, client.latencies, client.errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--window", type=int, default=32)
    parser.add_argument("--services", type=int, default=500)
    args = parser.parse_args()

    ctx = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue = ctx.Queue()
    upstream = ctx.Process(target=run_upstream, args=(queue,), daemon=True)
    upstream.start()
    upstream_port = queue.get(timeout=10)
    server = ctx.Process(target=run_server, args=(args.services, upstream_port, queue), daemon=True)
    server.start()
    port = queue.get(timeout=10)
    try:
        cluster = [f"svc-{i}.default.svc.cluster.local." for i in range(args.services)]
        forwarded = ["example.com."]
        results: dict[str, list] = {"cluster": [], "forwarded": []}
        for _ in range(args.rounds):
            for label, names in (("cluster", cluster), ("forwarded", forwarded)):
                results[label].append(asyncio.run(measure(port, names, args.window, args.seconds)))
        print(f"cpus={os.cpu_count()} window={args.window} services={args.services} "
              f"rounds={args.rounds}x{args.seconds}s")
        for label, runs in results.items():
            qps = statistics.mean(r[0] for r in runs)
            lat = sorted(x for r in runs for x in r[1])
            errors = sum(r[2] for r in runs)
            p50 = lat[len(lat) // 2] * 1000 if lat else float("nan")
            p99 = lat[int(len(lat) * 0.99)] * 1000 if lat else float("nan")
            print(f"{label:>9}: {qps:8.0f} queries/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  errors {errors}")
    finally:
        for proc in (server, upstream):  # our own children, by PID
            proc.terminate()
            proc.join(5)


if __name__ == "__main__":
    main()
