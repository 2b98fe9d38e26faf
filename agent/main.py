"""`python -m agent`: the node agent, as a straight line of named phases.

    python -m agent --profile P --node-name NAME --node-ip IP --pod-cidr CIDR
                    [--api-url URL] [--token-file F] [--ca-file F] [--heartbeat-seconds 10]

Runs inside the node's network namespace (a Vagrant VM's root namespace on VMs). Phases:
1. connect: the API client (defaults from `ClusterConfig.load(P)`: the gateway's API URL, the profile's
   CA, the node token from `tokens.json`), the Docker runtime, the pod network (IPAM state under
   `<state dir>/nodes/<node>/`);
2. register the Node (retrying until the API answers);
3. adopt the containers a previous agent left running (nothing is restarted);
4. start informers (pods bound here, configmaps, secrets, services, nodes) and the pod workers;
5. serve: heartbeat, the node Lease (`kube-node-lease/<node>`, renewed every 10 s), host-gw routes, Docker
   events, the logs/exec server on `<node ip>:10250`, and the proxy (`proxy.proxier.run_proxy`) when present;
6. on SIGTERM/SIGINT: stop watching and serving, but leave the pods' containers running (like the kubelet).
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import threading
from pathlib import Path

from minikube_py.client import ApiClient, EventRecorder, Informer
from minikube_py.config import LABEL_NODE, LABEL_POD_UID, LABEL_PROFILE, ClusterConfig, profile_dir

from agent.network import PodNetwork
from agent.node import NodeAgent
from agent.nodelease import NodeLease
from agent.pods import PodSyncer
from agent.runtime import DockerRuntime

log = logging.getLogger("agent")

RESYNC_SECONDS = 30.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m agent", description="minikube-py node agent (kubelet)")
    p.add_argument("--profile", required=True)
    p.add_argument("--node-name", required=True)
    p.add_argument("--node-ip", required=True)
    p.add_argument("--pod-cidr", required=True)
    p.add_argument("--api-url")
    p.add_argument("--token-file", help="file holding the node token (default: tokens.json[node])")
    p.add_argument("--ca-file")
    p.add_argument("--heartbeat-seconds", type=float, default=10.0)
    p.add_argument("--port", type=int, default=10250, help="logs/exec server port")
    p.add_argument("--no-proxy", action="store_true", help="don't run the Service proxy in this process")
    p.add_argument("--log-level", default="INFO")
    return p.parse_args(argv)


def load_config(profile: str) -> ClusterConfig:
    try:
        return ClusterConfig.load(profile)
    except (OSError, ValueError):
        log.warning("no cluster.json for profile %s; using the default layout", profile)
        return ClusterConfig(profile=profile)


def node_token(args: argparse.Namespace, cfg: ClusterConfig) -> str:
    if args.token_file:
        text = Path(args.token_file).read_text().strip()
        try:  # a tokens.json is accepted too
            return json.loads(text)["node"]
        except (ValueError, KeyError, TypeError):
            return text
    return json.loads((cfg.state_dir / "tokens.json").read_text())["node"]


class Agent:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.cfg = load_config(args.profile)
        self.state_dir = profile_dir(args.profile)
        self.node_dir = self.state_dir / "nodes" / args.node_name
        self.tasks: list[asyncio.Task] = []
        self._events_stream = None

    # --- phase 1 -----------------------------------------------------------------------------------
    def connect(self) -> None:
        a, cfg = self.args, self.cfg
        ca = a.ca_file or str(cfg.state_dir / "ca.crt")
        self.client = ApiClient(a.api_url or cfg.api_url, token=node_token(a, cfg), ca_file=ca,
                                user_agent=f"kubelet/v1.33.0-minikube-py ({a.node_name})")
        self.runtime = DockerRuntime()
        self.node_dir.mkdir(parents=True, exist_ok=True)
        self.network = PodNetwork(a.pod_cidr, self.node_dir / "ipam.json")
        self.recorder = EventRecorder(self.client, "kubelet", a.node_name)
        self.node = NodeAgent(self.client, name=a.node_name, profile=a.profile, node_ip=a.node_ip,
                              pod_cidr=a.pod_cidr, cluster_pod_cidr=cfg.pod_cidr,
                              primary=a.node_name == cfg.node_name(0), runtime_version=self.runtime.version(),
                              storage_path=self.state_dir, heartbeat_seconds=a.heartbeat_seconds,
                              recorder=self.recorder, cached_node=lambda: self.nodes.get(a.node_name))
        self.lease = NodeLease(self.client, a.node_name)
        self.pods_informer = Informer(self.client, "pods", field_selector=f"spec.nodeName={a.node_name}")
        self.configmaps = Informer(self.client, "configmaps")
        self.secrets = Informer(self.client, "secrets")
        self.services = Informer(self.client, "services")
        self.nodes = Informer(self.client, "nodes")
        try:
            host_resolv = Path("/etc/resolv.conf").read_text()
        except OSError:
            host_resolv = ""
        self.syncer = PodSyncer(
            client=self.client, runtime=self.runtime, network=self.network, recorder=self.recorder,
            profile=a.profile, node_name=a.node_name, node_ip=a.node_ip, state_dir=self.state_dir,
            dns_service_ip=cfg.dns_service_ip, host_resolv=host_resolv,
            get_configmap=lambda ns, n: self.configmaps.get(f"{ns}/{n}"),
            get_secret=lambda ns, n: self.secrets.get(f"{ns}/{n}"),
            list_services=self._service_links)

    def _service_links(self, ns: str) -> list[dict]:
        """Services whose env vars a pod in *ns* gets: its namespace's, plus `kubernetes` (as in k8s)."""
        out = self.services.list(ns)
        if ns != "default":
            k = self.services.get("default/kubernetes")
            if k is not None:
                out.append(k)
        return out

    # --- phase 4 -----------------------------------------------------------------------------------
    async def start_informers(self) -> None:
        s = self.syncer
        self.pods_informer.add_handlers(s.on_pod_add, s.on_pod_update, s.on_pod_delete)
        for inf in (self.configmaps, self.secrets):
            inf.add_handlers(s.on_volume_source_change, lambda old, new: s.on_volume_source_change(new), None)
        self.nodes.add_handlers(lambda n: self._routes_changed(), lambda o, n: self._routes_changed(),
                                lambda n: self._routes_changed())
        # Sources first, so the first pod syncs find their ConfigMaps and Secrets.
        await asyncio.gather(self.configmaps.start(), self.secrets.start(), self.services.start(),
                             self.nodes.start())
        await self.pods_informer.start()

    def _routes_changed(self) -> None:
        if not hasattr(self, "_route_task") or self._route_task.done():
            self._route_task = asyncio.create_task(self.node.sync_routes(self.nodes.list()))
        else:
            self._route_again = True
            self._route_task.add_done_callback(lambda _: self._routes_again())

    def _routes_again(self) -> None:
        if getattr(self, "_route_again", False):
            self._route_again = False
            asyncio.get_running_loop().call_soon(self._routes_changed)

    # --- phase 5 -----------------------------------------------------------------------------------
    def watch_docker_events(self) -> None:
        """Docker container events (die, start, oom, destroy) wake the pod's worker: no polling."""
        loop = asyncio.get_running_loop()
        filters = {"type": "container",
                   "label": [f"{LABEL_PROFILE}={self.args.profile}", f"{LABEL_NODE}={self.args.node_name}"]}

        def run() -> None:
            while True:
                try:
                    self._events_stream = self.runtime.api.events(decode=True, filters=filters)
                    for ev in self._events_stream:
                        if ev.get("Action") in ("die", "start", "oom", "destroy", "kill"):
                            uid = (ev.get("Actor", {}).get("Attributes") or {}).get(LABEL_POD_UID)
                            if uid:
                                loop.call_soon_threadsafe(self.syncer.on_runtime_event, uid)
                except Exception as exc:  # noqa: BLE001
                    if loop.is_closed():
                        return
                    log.warning("docker events stream ended (%s); reconnecting", exc)
                if loop.is_closed() or self._stopping:
                    return
                import time
                time.sleep(1)

        self._stopping = False
        threading.Thread(target=run, name="docker-events", daemon=True).start()

    async def resync_loop(self) -> None:
        """A slow safety net (Docker only, never the API): catches anything an event missed."""
        while True:
            await asyncio.sleep(RESYNC_SECONDS)
            self.syncer.resync_all()

    async def run_server(self) -> None:
        try:
            from agent.server import serve
        except ImportError as exc:
            log.warning("logs/exec server unavailable: %s", exc)
            return
        token = node_token(self.args, self.cfg)
        await serve(self.syncer, host=self.args.node_ip, port=self.args.port, token=token)

    async def run_proxy(self) -> None:
        try:
            from proxy.proxier import run_proxy  # type: ignore[import-not-found]
        except ImportError as exc:
            log.info("proxy not available (%s); running without it", exc)
            return
        await run_proxy(self.client, self.cfg, self.args.node_name, self.args.node_ip)

    async def run_speaker(self) -> None:
        """metallb-style L2 speaker: holds the LoadBalancer IPs this node wins on its node interface."""
        from agent.speaker import run_speaker

        await run_speaker(self.client, self.args.node_name, self.args.node_ip)

    async def run(self) -> None:
        self.connect()
        await self.node.register()
        adopted = await self.syncer.adopt_existing()
        await self.start_informers()
        for uid in adopted:
            self.syncer.workers.enqueue(uid)  # pods gone from the API meanwhile are cleaned up
        self.watch_docker_events()
        self.tasks = [asyncio.create_task(self.node.run_heartbeat(), name="heartbeat"),
                      asyncio.create_task(self.lease.run(), name="lease"),
                      asyncio.create_task(self.resync_loop(), name="resync"),
                      asyncio.create_task(_guarded("logs/exec server", self.run_server()), name="server")]
        if not self.args.no_proxy:
            self.tasks.append(asyncio.create_task(_guarded("proxy", self.run_proxy()), name="proxy"))
            self.tasks.append(asyncio.create_task(_guarded("L2 speaker", self.run_speaker()), name="speaker"))
        log.info("node agent %s ready (%s, pods %s)", self.args.node_name, self.args.node_ip, self.args.pod_cidr)
        await asyncio.gather(*self.tasks)

    async def shutdown(self) -> None:
        self._stopping = True
        if self._events_stream is not None:
            with contextlib.suppress(Exception):
                self._events_stream.close()
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.syncer.stop()
        for inf in (self.pods_informer, self.configmaps, self.secrets, self.services, self.nodes):
            await inf.stop()
        await self.network.close()
        await self.client.close()


async def _guarded(what: str, coro) -> None:
    """Run an add-on part of the node process (server, proxy, speaker) so that its failure is logged
    loudly but never takes the pods' lifecycle (sync, heartbeat) down with it."""
    try:
        await coro
    except asyncio.CancelledError:
        raise
    except Exception:  # noqa: BLE001
        log.exception("%s failed; the node agent keeps running without it", what)


async def amain(args: argparse.Namespace) -> None:
    import concurrent.futures

    loop = asyncio.get_running_loop()
    # Docker calls block (a stop waits out the grace period): a roomy pool keeps one slow pod from
    # starving the others.
    loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix="agent"))
    agent = Agent(args)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    main = asyncio.create_task(agent.run(), name="agent")
    waiter = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({main, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if main in done:
        main.result()  # raise why it ended
    log.info("stopping (pods keep running)")
    main.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await main
    with contextlib.suppress(Exception):
        await agent.shutdown()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=getattr(logging, args.log_level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("docker").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    asyncio.run(amain(args))
