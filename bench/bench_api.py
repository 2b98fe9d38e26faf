"""API server vs its store: creates/s, gets/s, a list of 1000 pods and watch fan-out, side by side.

    python bench/bench_api.py [--creates 500] [--gets 2000] [--list 1000] [--watchers 20] [--events 30]
                              [--concurrency 8] [--fork]

Two targets, measured in alternating chunks in one run so both see the same machine load:

- api:   an `EmbeddedControlPlane` (the real aiohttp app: TLS, bearer auth, validation, defaulting,
         admission, JSON) on 127.0.0.1 and a free port, without controllers, driven by our `ApiClient`;
- store: a `SqliteStore` (the API server's own storage, same WAL + synchronous=FULL) called directly.

The ratio api/store is what everything between a client and the database costs. The store gets the very
objects the API answered with (defaulted, with uid and timestamps), so both write and read the same bytes.
Watch fan-out: `--watchers` watch streams (api) or store listeners feeding one asyncio queue each (store,
the shape of the server's own watch plumbing); per write, the time from before the write until each
watcher has the event.

By default the control plane runs on a thread of this process (that is what `EmbeddedControlPlane` is),
so client and server share one GIL; `--fork` runs it in a child process instead, as with a real client.
Everything lives in a temporary directory that is removed at the end. Nothing is asserted: timings on a
shared 2-core box vary.
"""
from __future__ import annotations

import argparse
import asyncio
import copy
import multiprocessing
import os
import signal
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minikube_py.client import ApiClient  # noqa: E402
from minikube_py.store import SqliteStore  # noqa: E402

NS = "default"


def pod(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": NS, "labels": {"app": "bench", "bench": "api"}},
            "spec": {"containers": [{"name": "echo", "image": "minikube-py/echo:v1",
                                     "ports": [{"containerPort": 3000}]}]}}


def stored_copy(obj: dict) -> dict:
    """The API's answer as the store would receive it (the store owns resourceVersion)."""
    out = copy.deepcopy(obj)
    out["metadata"].pop("resourceVersion", None)
    return out


# --- the control plane, here or in a child process ------------------------------------------------------
def serve_in_child(state_dir: str, queue: multiprocessing.Queue, stop: multiprocessing.Event) -> None:
    from minikube_py.controlplane import EmbeddedControlPlane
    cp = EmbeddedControlPlane(Path(state_dir)).start()
    queue.put((cp.url, cp.pki.admin_token, str(cp.pki.ca_cert)))
    try:
        stop.wait(600)  # bounded: a lost parent must not leave this running forever
    finally:
        cp.stop()


class Server:
    """`EmbeddedControlPlane` on a thread (default) or in a forked child (`fork=True`)."""

    def __init__(self, state_dir: Path, fork: bool) -> None:
        self.state_dir, self.fork = state_dir, fork
        self.cp = None
        self.proc: multiprocessing.Process | None = None
        self.stop_event = None

    def start(self) -> tuple[str, str, str]:
        if not self.fork:
            from minikube_py.controlplane import EmbeddedControlPlane
            self.cp = EmbeddedControlPlane(self.state_dir).start()
            return self.cp.url, self.cp.pki.admin_token, str(self.cp.pki.ca_cert)
        ctx = multiprocessing.get_context("fork")
        queue: multiprocessing.Queue = ctx.Queue()
        self.stop_event = ctx.Event()
        self.proc = ctx.Process(target=serve_in_child, args=(str(self.state_dir), queue, self.stop_event),
                                daemon=True)
        self.proc.start()
        return queue.get(timeout=60)

    def stop(self) -> None:
        if self.cp is not None:
            self.cp.stop()
        if self.proc is not None:  # our own child, by PID
            self.stop_event.set()
            self.proc.join(30)
            if self.proc.is_alive():
                self.proc.terminate()
                self.proc.join(5)


# --- measurement helpers --------------------------------------------------------------------------------
async def timed_ops(ops: list[Callable[[], Awaitable[Any]]], concurrency: int) -> float:
    """Run *ops* with at most *concurrency* in flight; returns the elapsed seconds."""
    it = iter(ops)

    async def worker() -> None:
        for op in it:
            await op()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start


def chunks(seq: list, size: int) -> list[list]:
    return [seq[i:i + size] for i in range(0, len(seq), size)]


class Totals:
    """Seconds and operation counts per (label, target)."""

    def __init__(self) -> None:
        self.data: dict[tuple[str, str], list[float]] = {}

    def add(self, label: str, target: str, seconds: float, count: int) -> None:
        entry = self.data.setdefault((label, target), [0.0, 0])
        entry[0] += seconds
        entry[1] += count

    def rate(self, label: str, target: str) -> float:
        seconds, count = self.data[(label, target)]
        return count / seconds if seconds else float("nan")


async def bench(url: str, token: str, ca: str, store: SqliteStore, args: argparse.Namespace) -> None:
    client = ApiClient(url, token=token, ca_file=ca, user_agent="bench-api")
    totals = Totals()
    stored: dict[str, dict] = {}  # name -> the API's answer, for the store side
    try:
        # Creates, sequential and with --concurrency in flight, in alternating chunks of 50.
        for label, conc, names in (("create x1", 1, [f"c1-{i}" for i in range(args.creates)]),
                                   (f"create x{args.concurrency}", args.concurrency,
                                    [f"cn-{i}" for i in range(args.creates)])):
            for chunk in chunks(names, 50):
                async def api_create(n: str) -> None:
                    stored[n] = await client.create("pods", pod(n))

                totals.add(label, "api", await timed_ops([lambda n=n: api_create(n) for n in chunk], conc),
                           len(chunk))
                ops = [lambda n=n: store.create("pods", NS, n, stored_copy(stored[n])) for n in chunk]
                totals.add(label, "store", await timed_ops(ops, conc), len(chunk))

        # Fill both up to --list pods (not timed).
        fill = [f"f-{i}" for i in range(max(0, args.list - len(stored)))]
        for chunk in chunks(fill, 100):
            await asyncio.gather(*(client.create("pods", pod(n)) for n in chunk))
        for item in (await client.list("pods", NS))["items"]:
            name = item["metadata"]["name"]
            if name not in stored:
                stored[name] = item
                await store.create("pods", NS, name, stored_copy(item))

        # Gets of random existing pods, alternating chunks.
        names = list(stored)
        rng = random.Random(1)
        picks = [rng.choice(names) for _ in range(args.gets)]
        for label, conc in (("get x1", 1), (f"get x{args.concurrency}", args.concurrency)):
            for chunk in chunks(picks, 50):
                totals.add(label, "api", await timed_ops(
                    [lambda n=n: client.get("pods", n, NS) for n in chunk], conc), len(chunk))
                totals.add(label, "store", await timed_ops(
                    [lambda n=n: store.get("pods", NS, n) for n in chunk], conc), len(chunk))

        # Lists of the whole namespace, alternating.
        lists: dict[str, list[float]] = {"api": [], "store": []}
        count = 0
        for _ in range(args.list_repeat):
            t0 = time.perf_counter()
            count = len((await client.list("pods", NS))["items"])
            lists["api"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            await store.list("pods", NS)
            lists["store"].append(time.perf_counter() - t0)

        watch = await watch_fanout(client, store, args)
    finally:
        await client.close()

    print(f"cpus={os.cpu_count()} server={'child process' if args.fork else 'thread of this process'} "
          f"creates={args.creates} gets={args.gets} concurrency={args.concurrency}")
    print(f"{'':>14} {'api':>12} {'store':>12} {'api/store':>10}  (time per operation)")
    for label in ("create x1", f"create x{args.concurrency}", "get x1", f"get x{args.concurrency}"):
        a, s = totals.rate(label, "api"), totals.rate(label, "store")
        print(f"{label + ' /s':>14} {a:12.0f} {s:12.0f} {s / a:9.1f}x")
    la, ls = statistics.median(lists["api"]), statistics.median(lists["store"])
    print(f"{f'list {count} ms':>14} {la * 1000:12.1f} {ls * 1000:12.1f} {la / ls:9.1f}x"
          f"   (median of {args.list_repeat})")
    for key in ("p50", "p90", "max"):
        a, s = watch["api"][key], watch["store"][key]
        print(f"{f'watch {key} ms':>14} {a * 1000:12.2f} {s * 1000:12.2f} {a / s:9.1f}x"
              f"   ({args.watchers} watchers, {args.events} writes; from before the write)")


async def watch_fanout(client: ApiClient, store: SqliteStore, args: argparse.Namespace) -> dict:
    """Per write, when each of --watchers receives it; p50/p90/max over all (write, watcher) pairs."""
    arrivals: dict[str, dict[str, list[float]]] = {"api": {}, "store": {}}
    seen_all: dict[str, asyncio.Event] = {}

    def arrived(target: str, name: str) -> None:
        times = arrivals[target].setdefault(name, [])
        times.append(time.perf_counter())
        if len(times) == args.watchers and name in seen_all:
            seen_all[name].set()

    # api: watch streams from the current revision (a list of an empty namespace gives it).
    rv = (await client.list("pods", "kube-public"))["metadata"]["resourceVersion"]

    async def api_watcher() -> None:
        async for event_type, obj in client.watch("pods", NS, resource_version=rv, label_selector="bench=watch"):
            if event_type == "ADDED":
                arrived("api", obj["metadata"]["name"])

    # store: one queue per watcher, filled by a store listener, drained by one task each.
    queues = [asyncio.Queue() for _ in range(args.watchers)]

    def listener(event) -> None:  # noqa: ANN001
        if event.type == "ADDED" and event.name.startswith("w-"):
            for q in queues:
                q.put_nowait(event)

    async def store_watcher(q: asyncio.Queue) -> None:
        while True:
            event = await q.get()
            arrived("store", event.name)

    store.add_listener(listener)
    tasks = [asyncio.create_task(api_watcher()) for _ in range(args.watchers)]
    tasks += [asyncio.create_task(store_watcher(q)) for q in queues]
    latencies: dict[str, list[float]] = {"api": [], "store": []}
    try:
        async def write(target: str, name: str, timed: bool, timeout: float = 30) -> None:
            seen_all[name] = asyncio.Event()
            obj = pod(name)
            obj["metadata"]["labels"]["bench"] = "watch"
            t0 = time.perf_counter()
            if target == "api":
                await client.create("pods", obj)
            else:
                await store.create("pods", NS, name, obj)
            await asyncio.wait_for(seen_all[name].wait(), timeout)
            if timed:
                latencies[target] += [t - t0 for t in arrivals[target][name]]

        # Until every watch stream is established, a write may be missed: prime until one is seen by all.
        for attempt in range(50):
            try:
                await write("api", f"w-prime-{attempt}", timed=False, timeout=2)
                break
            except asyncio.TimeoutError:
                continue
        await write("store", "w-prime", timed=False)
        for i in range(args.events):
            for target in ("api", "store"):
                await write(target, f"w-{i}", timed=True)
    finally:
        store.remove_listener(listener)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def summary(values: list[float]) -> dict[str, float]:
        values = sorted(values)
        return {"p50": values[len(values) // 2], "p90": values[int(len(values) * 0.9)], "max": values[-1]}

    return {target: summary(v) for target, v in latencies.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--creates", type=int, default=500, help="pods created per mode and target")
    parser.add_argument("--gets", type=int, default=2000, help="gets per mode and target")
    parser.add_argument("--list", type=int, default=1000, help="pods in the listed namespace")
    parser.add_argument("--list-repeat", type=int, default=5)
    parser.add_argument("--watchers", type=int, default=20)
    parser.add_argument("--events", type=int, default=30, help="writes observed by the watchers")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight in the xN rows")
    parser.add_argument("--fork", action="store_true", help="run the API server in a child process")
    args = parser.parse_args()
    # `kill PID` (SIGTERM) must still run the cleanup in `finally`, like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if max(args.creates, args.gets, args.list) > 5000 or args.watchers > 200 or args.events > 500:
        sys.exit("bounded on purpose: at most 5000 objects, 200 watchers, 500 events")

    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        server = Server(Path(tmp) / "controlplane", args.fork)
        try:
            url, token, ca = server.start()

            async def run() -> None:
                store = await SqliteStore.open(Path(tmp) / "direct" / "store.db")
                try:
                    await bench(url, token, ca, store, args)
                finally:
                    await store.close()

            asyncio.run(run())
        finally:
            server.stop()


if __name__ == "__main__":
    main()
