"""`python -m dns --profile P [--listen IP] [--port 53] [--upstream IP[:PORT] ...]`: the cluster DNS process.

A straight line of phases:
1. read the profile's `ClusterConfig` (addresses, CIDRs, zone);
2. choose upstreams (`--upstream`, else the host's resolv.conf without loopback stubs);
3. listen on the gateway address (never 0.0.0.0 unless asked with `--listen`), UDP and TCP, *before* the
   cache is synced: cluster names get SERVFAIL (resolvers retry) and forwarding already works, instead of
   pods timing out for 5 s per try while the API is still coming up;
4. start informers on services, endpoints and pods and mark the cache synced once all have listed;
5. serve until SIGTERM/SIGINT, then close sockets, informers and the API session.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from dns.server import DnsServer, ServerOptions
from dns.upstream import Forwarder, parse_upstream, upstreams_from_resolv_conf
from dns.view import ClusterCache, cluster_informers

log = logging.getLogger("dns")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m dns", description="minikube-py cluster DNS server")
    parser.add_argument("--profile", required=True)
    parser.add_argument("--listen", help="address to bind (default: the profile's gateway IP)")
    parser.add_argument("--port", type=int, default=53)
    parser.add_argument("--upstream", action="append", default=[], metavar="IP[:PORT]",
                        help="upstream resolver (repeatable; default: non-loopback nameservers of resolv.conf)")
    parser.add_argument("--api-server", help="API URL (default: the profile's gateway address, port 8443)")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    from minikube_py.client import ApiClient
    from minikube_py.config import ClusterConfig

    config = ClusterConfig.load(args.profile)                                        # 1
    configured = args.upstream or config.dns_upstreams
    if configured == ["none"]:
        upstreams = []  # forwarding off: a test cluster must not send queries off the machine
    else:
        upstreams = [parse_upstream(u) for u in configured or []] or upstreams_from_resolv_conf()  # 2
    if not upstreams:
        log.warning("no upstream resolvers: names outside the cluster will get SERVFAIL")
    log.info("upstreams: %s", ", ".join(f"{ip}:{port}" for ip, port in upstreams) or "none")

    cache = ClusterCache()
    server = DnsServer(cache, ServerOptions.from_config(config), Forwarder(upstreams))
    await server.serve(args.listen or config.gateway_ip, args.port)                  # 3

    client = ApiClient.for_profile(args.profile, server=args.api_server)
    informers = cluster_informers(client, cache)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    syncing = asyncio.ensure_future(asyncio.gather(*(i.start() for i in informers)))  # 4
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({syncing, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if syncing.done():
            syncing.result()  # an informer that cannot list at all (401/403/404) ends the process
            cache.mark_synced()
            log.info("cache synced: answering %s", server.options.settings.zone)
            await stopping                                                           # 5
    finally:
        syncing.cancel()
        stopping.cancel()
        await server.close()
        for informer in informers:
            await informer.stop()
        await client.close()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
