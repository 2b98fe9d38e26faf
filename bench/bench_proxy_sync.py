"""Cost of one proxy sync at 10/100/1000 services × 3 endpoints: render vs `iptables-restore`, side by side.

    python bench/bench_proxy_sync.py [--services 10,100,1000] [--endpoints 3] [--repeat 3]

No cluster: the same three steps a node's proxier runs (`proxy/proxier.py` `sync`), on synthetic API
objects, loaded into a scratch network namespace that this script creates and always deletes (`finally`),
so no rule ever lands in the host's tables:

- build: `build_proxy_state` (API dicts → `ProxyState`);  render: `render_nat_rules` (→ restore text);
- full restore: one `iptables-restore --noflush` of that text into empty tables (every chain created);
- full resync, no change: what the periodic full sync does when nothing changed — `iptables-save` to learn
  our chains, render, and restore the identical text again (the kernel swaps in an equal ruleset);
- ordinary resync, no change: what an event that changed nothing costs — build + render + compare with the
  last text; the write is skipped;
- one endpoint changed: build + render + restore (an ordinary sync after a pod moved).

The ratio printed last is full restore / ordinary no-change resync: why the proxier compares text before
writing. Nothing is asserted; timings on a shared 2-core box vary (the median of `--repeat` runs is shown).
"""
from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from proxy.iptables import IptablesApplier  # noqa: E402
from proxy.render import render_nat_rules  # noqa: E402
from proxy.state import build_proxy_state  # noqa: E402

# Named like a test profile's node namespace (`mkpy-<profile>-<i>`), so if this script is killed hard the
# test suite's leftover cleanup (`mkt-*`, older than 10 minutes) removes it.
NETNS = "mkpy-mkt-bprx-0"
CLUSTER_CIDR = "10.244.0.0/16"


def objects(services: int, endpoints: int, moved: int | None = None) -> tuple[list[dict], list[dict]]:
    """*services* ClusterIP Services with one port each and *endpoints* ready addresses each (documentation
    and reserved ranges only: nothing is ever sent to them). *moved*: that service's first endpoint has a
    new address (the "one endpoint changed" case)."""
    svc_base = ipaddress.ip_address("10.96.16.0")
    pod_base = ipaddress.ip_address("10.244.0.0")
    svcs, eps = [], []
    for i in range(services):
        name = f"svc-{i}"
        svcs.append({"metadata": {"name": name, "namespace": "default"},
                     "spec": {"type": "ClusterIP", "clusterIP": str(svc_base + i), "selector": {"app": name},
                              "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 3000}]}})
        ips = [str(pod_base + 256 + i * endpoints + j) for j in range(endpoints)]
        if moved == i:
            ips[0] = str(pod_base + 256 + services * endpoints + 1)
        eps.append({"metadata": {"name": name, "namespace": "default"},
                    "subsets": [{"addresses": [{"ip": ip} for ip in ips],
                                 "ports": [{"name": "http", "port": 3000, "protocol": "TCP"}]}]})
    return svcs, eps


def netns(*args: str) -> None:
    subprocess.run(["ip", "netns", *args], check=True, capture_output=True, text=True, timeout=30)


async def measure(services: int, endpoints: int, repeat: int) -> dict[str, float]:
    applier = IptablesApplier(NETNS)
    svcs, eps = objects(services, endpoints)
    svcs2, eps2 = objects(services, endpoints, moved=services // 2)
    runs: dict[str, list[float]] = {k: [] for k in ("build", "render", "full_restore", "full_resync",
                                                  "noop_resync", "one_change")}
    size = 0
    for _ in range(repeat):
        await applier.cleanup()  # empty tables again between repeats (scratch namespace only)
        t0 = time.perf_counter()
        state = build_proxy_state(svcs, eps, cluster_cidr=CLUSTER_CIDR)
        t1 = time.perf_counter()
        text = render_nat_rules(state, ())
        t2 = time.perf_counter()
        await applier.restore(text)
        t3 = time.perf_counter()
        runs["build"].append(t1 - t0)
        runs["render"].append(t2 - t1)
        runs["full_restore"].append(t3 - t2)
        size = len(text.splitlines())

        # Periodic full sync, nothing changed: read chains, render, write the same text again.
        t0 = time.perf_counter()
        existing = (await applier.existing_chains())["nat"]
        again = render_nat_rules(build_proxy_state(svcs, eps, cluster_cidr=CLUSTER_CIDR), existing)
        await applier.restore(again)
        runs["full_resync"].append(time.perf_counter() - t0)

        # Ordinary sync, nothing changed: the text compares equal and the write is skipped.
        t0 = time.perf_counter()
        same = render_nat_rules(build_proxy_state(svcs, eps, cluster_cidr=CLUSTER_CIDR), existing)
        skipped = same == again
        runs["noop_resync"].append(time.perf_counter() - t0)
        if not skipped:
            raise RuntimeError("rendering the same state twice gave different text")

        # Ordinary sync after one endpoint moved: new SEP chain, the old one deleted, one restore.
        t0 = time.perf_counter()
        changed = render_nat_rules(build_proxy_state(svcs2, eps2, cluster_cidr=CLUSTER_CIDR), existing)
        await applier.restore(changed)
        runs["one_change"].append(time.perf_counter() - t0)
    result = {k: statistics.median(v) for k, v in runs.items()}
    result["lines"] = size
    return result


async def run(sizes: list[int], endpoints: int, repeat: int) -> list[tuple[int, dict[str, float]]]:
    return [(n, await measure(n, endpoints, repeat)) for n in sizes]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--services", default="10,100,1000", help="comma-separated service counts")
    parser.add_argument("--endpoints", type=int, default=3, help="ready endpoints per service")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size (the median is printed)")
    args = parser.parse_args()
    # `kill PID` (SIGTERM) must still run the cleanup in `finally`, like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sizes = [int(s) for s in args.services.split(",") if s.strip()]
    if os.geteuid() != 0:
        sys.exit("needs root (a network namespace and iptables-restore inside it)")
    if max(sizes) > 5000 or args.repeat > 10:
        sys.exit("bounded on purpose: at most 5000 services and 10 repeats")

    netns("add", NETNS)
    try:
        results = asyncio.run(run(sizes, args.endpoints, args.repeat))
    finally:
        subprocess.run(["ip", "netns", "del", NETNS], capture_output=True, timeout=30)

    ms = lambda s: f"{s * 1000:9.1f}"  # noqa: E731
    print(f"cpus={os.cpu_count()} endpoints/service={args.endpoints} repeat={args.repeat} (median, ms)")
    print(f"{'services':>8} {'lines':>6} {'build':>9} {'render':>9} {'full':>9} {'full':>9} {'no-op':>9} "
          f"{'1 ep':>9} {'full/no-op':>10} {'restore/':>9}")
    print(f"{'':>8} {'':>6} {'':>9} {'':>9} {'restore':>9} {'resync':>9} {'resync':>9} {'changed':>9} "
          f"{'ratio':>10} {'render':>9}")
    for n, r in results:
        print(f"{n:>8} {int(r['lines']):>6} {ms(r['build'])} {ms(r['render'])} {ms(r['full_restore'])} "
              f"{ms(r['full_resync'])} {ms(r['noop_resync'])} {ms(r['one_change'])} "
              f"{r['full_restore'] / r['noop_resync']:>9.1f}x {r['full_restore'] / r['render']:>8.1f}x")


if __name__ == "__main__":
    main()
