"""The control plane process: API server, store and controllers in one asyncio program.

    python -m minikube_py.controlplane --profile P [--listen 127.0.0.1 --listen 192.168.49.1] \\
        [--port 8443] [--state-dir DIR] [--no-controllers]

Start-up is a straight line of named phases (k3s-style); each one is a small function of the context:
load config → open store → ensure PKI → build app → listen → start controllers → wait for SIGTERM →
shut down (close watches, stop controllers, close the DB, remove the pid file). Logs go to stdout; the
supervisor (`minikube-py start`) redirects them to the profile's log file.

`EmbeddedControlPlane` runs the same phases on a thread of the current process: tests and tools that need
a real API server (the official client and kubectl are synchronous, so the server can't share their loop).
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from aiohttp import web

from minikube_py.config import API_PORT, ClusterConfig, profile_dir
from minikube_py.pki import Pki, ensure_pki
from minikube_py.store import SqliteStore

log = logging.getLogger("minikube_py.controlplane")

DB_FILE = "store.db"
PID_FILE = "controlplane.pid"


@dataclass
class Options:
    profile: str | None = None
    listen: list[str] = field(default_factory=lambda: ["127.0.0.1"])
    port: int = API_PORT
    state_dir: Path | None = None
    controllers: bool = True
    write_pid: bool = True
    keep_events: int | None = None


@dataclass
class Context:
    opts: Options
    config: ClusterConfig | None = None
    state_dir: Path | None = None
    store: SqliteStore | None = None
    pki: Pki | None = None
    app: web.Application | None = None
    runner: web.AppRunner | None = None
    port: int = 0
    controllers: asyncio.Task | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)


# --- phases --------------------------------------------------------------------------------------

async def load_config(ctx: Context) -> None:
    """The profile's `cluster.json` when there is one (written by `start`); defaults otherwise."""
    opts = ctx.opts
    if opts.profile:
        try:
            ctx.config = ClusterConfig.load(opts.profile)
        except FileNotFoundError:
            ctx.config = ClusterConfig(profile=opts.profile)
    else:
        ctx.config = ClusterConfig()
    ctx.state_dir = Path(opts.state_dir) if opts.state_dir else (
        profile_dir(opts.profile) if opts.profile else ctx.config.state_dir)
    ctx.state_dir.mkdir(parents=True, exist_ok=True)
    log.info("profile %s, state dir %s", ctx.config.profile, ctx.state_dir)


async def open_store(ctx: Context) -> None:
    assert ctx.state_dir is not None
    kw = {"keep_events": ctx.opts.keep_events} if ctx.opts.keep_events else {}
    ctx.store = await SqliteStore.open(ctx.state_dir / DB_FILE, **kw)
    log.info("store %s at revision %d", ctx.state_dir / DB_FILE, ctx.store.revision)


async def ensure_certificates(ctx: Context) -> None:
    assert ctx.config is not None and ctx.state_dir is not None
    ips = [ctx.config.gateway_ip, ctx.config.kubernetes_service_ip, *ctx.opts.listen]
    ctx.pki = await asyncio.to_thread(ensure_pki, ctx.state_dir, ips, [])


async def build_app(ctx: Context) -> None:
    from minikube_py.api.server import make_app

    assert ctx.store is not None and ctx.pki is not None
    ctx.app = make_app(ctx.store, {"admin": ctx.pki.admin_token, "node": ctx.pki.node_token}, ctx.config)


async def listen(ctx: Context) -> None:
    from minikube_py.api.server import bound_port, serve

    assert ctx.app is not None and ctx.pki is not None
    ctx.runner = await serve(ctx.app, ctx.opts.listen, ctx.opts.port, ctx.pki.server_ssl_context())
    ctx.port = bound_port(ctx.runner)
    for host in ctx.opts.listen:
        log.info("listening on https://%s:%d", host, ctx.port)


async def start_controllers(ctx: Context) -> None:
    if not ctx.opts.controllers:
        return
    try:
        from minikube_py.controllers.manager import run_controllers
    except ImportError as e:
        log.warning("controllers not available (%s); running the API server alone", e)
        return
    from minikube_py.client import ApiClient

    assert ctx.pki is not None and ctx.config is not None
    # Our own first listen address: with several profiles, 127.0.0.1:8443 may belong to another cluster.
    client = ApiClient(f"https://{ctx.opts.listen[0]}:{ctx.port}", token=ctx.pki.admin_token, ca_file=ctx.pki.ca_cert,
                       user_agent="minikube-py-controller-manager")

    async def run() -> None:
        try:
            await run_controllers(client, ctx.config)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("controllers stopped with an error")
        finally:
            await client.close()

    ctx.controllers = asyncio.create_task(run(), name="controllers")
    log.info("controllers started")


async def write_pid(ctx: Context) -> None:
    if ctx.opts.write_pid and ctx.state_dir is not None:
        (ctx.state_dir / PID_FILE).write_text(f"{os.getpid()}\n")


async def wait_for_signal(ctx: Context) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, ctx.stop.set)
    await ctx.stop.wait()
    log.info("stopping")


async def shutdown(ctx: Context) -> None:
    if ctx.controllers is not None:
        ctx.controllers.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await ctx.controllers
    if ctx.runner is not None:
        await ctx.runner.cleanup()  # ends watches (cleanup_ctx), then connections
    if ctx.store is not None:
        await ctx.store.close()
    if ctx.opts.write_pid and ctx.state_dir is not None:
        with contextlib.suppress(FileNotFoundError):
            pid_file = ctx.state_dir / PID_FILE
            if pid_file.read_text().strip() == str(os.getpid()):
                pid_file.unlink()


async def start(ctx: Context) -> None:
    """Every phase up to a serving control plane."""
    await load_config(ctx)
    await open_store(ctx)
    await ensure_certificates(ctx)
    await build_app(ctx)
    await listen(ctx)
    await write_pid(ctx)
    await start_controllers(ctx)


async def run(opts: Options) -> None:
    ctx = Context(opts)
    try:
        await start(ctx)
        await wait_for_signal(ctx)
    finally:
        await shutdown(ctx)


def parse_args(argv: list[str] | None = None) -> Options:
    p = argparse.ArgumentParser(prog="python -m minikube_py.controlplane", description=__doc__.split("\n")[0])
    p.add_argument("--profile")
    p.add_argument("--listen", action="append", help="address to listen on (repeatable; default 127.0.0.1)")
    p.add_argument("--port", type=int, default=API_PORT)
    p.add_argument("--state-dir", type=Path)
    p.add_argument("--no-controllers", action="store_true")
    p.add_argument("--keep-events", type=int, help="watch history kept for resumes (default 20000)")
    a = p.parse_args(argv)
    return Options(profile=a.profile, listen=a.listen or ["127.0.0.1"], port=a.port, state_dir=a.state_dir,
                   controllers=not a.no_controllers, keep_events=a.keep_events)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(run(parse_args(argv)))
    return 0


# --- embedded (tests, tools) -----------------------------------------------------------------------

def kubeconfig_yaml(server: str, ca_pem: bytes, token: str, name: str = "minikube-py") -> str:
    """A one-context kubeconfig (token + CA data)."""
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": name, "preferences": {},
        "clusters": [{"name": name, "cluster": {"server": server,
                                                "certificate-authority-data": base64.b64encode(ca_pem).decode()}}],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name, "namespace": "default"}}],
    })


class EmbeddedControlPlane:
    """The control plane on a background thread with its own event loop, on 127.0.0.1 and a free port.

        with EmbeddedControlPlane(tmp_path) as cp:
            cp.url, cp.pki.admin_token, cp.write_kubeconfig(path)
    """

    def __init__(self, state_dir: Path, *, profile: str | None = None, controllers: bool = False,
                 port: int = 0, keep_events: int | None = None) -> None:
        self.opts = Options(profile=profile, listen=["127.0.0.1"], port=port, state_dir=Path(state_dir),
                            controllers=controllers, write_pid=False, keep_events=keep_events)
        self.ctx: Context | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        assert self.ctx is not None
        return self.ctx.port

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def pki(self) -> Pki:
        assert self.ctx is not None and self.ctx.pki is not None
        return self.ctx.pki

    def write_kubeconfig(self, path: Path, token: str | None = None) -> Path:
        Path(path).write_text(kubeconfig_yaml(self.url, self.pki.ca_data, token or self.pki.admin_token))
        return Path(path)

    def _main(self) -> None:
        async def body() -> None:
            self.ctx = Context(self.opts)
            try:
                await start(self.ctx)
            except BaseException as e:
                self._error = e
                self._ready.set()
                await shutdown(self.ctx)
                return
            self._ready.set()
            try:
                await self.ctx.stop.wait()
            finally:
                await shutdown(self.ctx)

        self.loop = asyncio.new_event_loop()
        try:
            self.loop.run_until_complete(body())
        finally:
            self.loop.close()

    def start(self) -> "EmbeddedControlPlane":
        self._thread = threading.Thread(target=self._main, name="controlplane", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise TimeoutError("control plane did not start within 30 s")
        if self._error is not None:
            raise RuntimeError("control plane failed to start") from self._error
        return self

    def stop(self) -> None:
        if self.loop is not None and self.ctx is not None and self._thread is not None and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.ctx.stop.set)
            self._thread.join(30)

    def __enter__(self) -> "EmbeddedControlPlane":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    sys.exit(main())
