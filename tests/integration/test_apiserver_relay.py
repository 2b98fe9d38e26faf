"""pods/log, pods/exec and pods/attach are relayed to the node agent's kubelet-style endpoints.

A stand-in agent (aiohttp on 127.0.0.1, a thread of its own) plays the node: it checks the node token and
answers `/containerLogs/...` and the `/exec/...` and `/attach/...` WebSockets with v5/v4 channel framing.
The real kubectl (`logs`, `exec`, `attach`, v5 only) and a v4 WebSocket client go through our API server
to it."""
from __future__ import annotations

import asyncio
import json
import os
import ssl
import subprocess
import threading

import aiohttp
import pytest
from aiohttp import web

from minikube_py.client import ApiClient
from minikube_py.kubectl import kubectl_path


class FakeAgent:
    def __init__(self, node_token: str) -> None:
        self.node_token = node_token
        self.port = 0
        self.seen: list[tuple[str, dict]] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.node_token}"

    async def logs(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return web.Response(status=401)
        self.seen.append((request.path, dict(request.query)))
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await resp.prepare(request)
        for i in range(3):
            await resp.write(f"line {i} of {request.match_info['container']}\n".encode())
        await resp.write_eof()
        return resp

    async def exec(self, request: web.Request) -> web.WebSocketResponse:
        if not self._authorized(request):
            return web.Response(status=401)
        self.seen.append((request.path, {k: request.query.getall(k) for k in request.query}))
        ws = web.WebSocketResponse(protocols=("v5.channel.k8s.io", "v4.channel.k8s.io"))
        await ws.prepare(request)
        command = request.query.getall("command")
        if request.query.get("stdin") == "true":
            msg = await ws.receive()  # echo one stdin frame back on stdout
            await ws.send_bytes(b"\x01" + msg.data[1:])
        await ws.send_bytes(b"\x01" + " ".join(command).encode() + b"\n")
        if command[-1] == "fail":
            status = {"metadata": {}, "status": "Failure", "message": "command terminated with non-zero exit code",
                      "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}}
        else:
            status = {"metadata": {}, "status": "Success"}
        await ws.send_bytes(b"\x03" + json.dumps(status).encode())
        await ws.close()
        return ws

    async def attach(self, request: web.Request) -> web.WebSocketResponse:
        """Echo one stdin frame (with stdin=true), then say who was attached to, then Success."""
        if not self._authorized(request):
            return web.Response(status=401)
        self.seen.append((request.path, dict(request.query)))
        ws = web.WebSocketResponse(protocols=("v5.channel.k8s.io", "v4.channel.k8s.io"))
        await ws.prepare(request)
        if request.query.get("stdin") == "true":
            msg = await ws.receive()
            await ws.send_bytes(b"\x01" + msg.data[1:])
        await ws.send_bytes(b"\x02attached to " + request.match_info["container"].encode() + b"\n")
        await ws.send_bytes(b"\x03" + json.dumps({"metadata": {}, "status": "Success"}).encode())
        await ws.close()
        return ws

    def _main(self) -> None:
        async def body() -> None:
            self._stop = asyncio.Event()
            app = web.Application()
            app.router.add_get("/containerLogs/{ns}/{pod}/{container}", self.logs)
            app.router.add_get("/exec/{ns}/{pod}/{container}", self.exec)
            app.router.add_get("/attach/{ns}/{pod}/{container}", self.attach)
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop.wait()
            await runner.cleanup()
        self._loop.run_until_complete(body())

    def __enter__(self) -> "FakeAgent":
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


@pytest.fixture(scope="module")
def agent(cp):
    with FakeAgent(cp.pki.node_token) as agent:
        yield agent


@pytest.fixture(scope="module")
def running_pod(cp, agent):
    async def setup() -> None:
        async with ApiClient(cp.url, token=cp.pki.admin_token, ca_file=cp.pki.ca_cert) as c:
            await c.create("nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "fake-node"},
                                     "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                                                "daemonEndpoints": {"kubeletEndpoint": {"Port": agent.port}}}})
            await c.create("pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "counter"},
                                    "spec": {"containers": [{"name": "app", "image": "x"},
                                                            {"name": "db", "image": "y"}]}}, "default")
            await c.bind("counter", "default", "fake-node")
            pod = await c.get("pods", "counter", "default")
            pod["status"].update(phase="Running", containerStatuses=[
                {"name": n, "ready": True, "restartCount": 0, "image": "x", "imageID": "", "started": True,
                 "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}} for n in ("app", "db")])
            await c.update_status("pods", pod)
    asyncio.run(setup())
    return "counter"


@pytest.fixture(scope="module")
def kubectl(cp, tmp_path_factory):
    d = tmp_path_factory.mktemp("kubectl")
    env = {**os.environ, "KUBECONFIG": str(cp.write_kubeconfig(d / "config")), "KUBECACHEDIR": str(d / "cache"),
           "HOME": str(d)}

    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([str(kubectl_path()), "--cache-dir", str(d / "cache"), *args], env=env, input=input,
                              capture_output=True, text=True, timeout=60)
    return run


def test_kubectl_logs_relayed_with_options(kubectl, running_pod, agent):
    p = kubectl("logs", "counter", "-c", "db", "--tail=5", "--timestamps")
    assert p.returncode == 0, p.stderr
    assert p.stdout == "line 0 of db\nline 1 of db\nline 2 of db\n"
    path, query = agent.seen[-1]
    assert path == "/containerLogs/default/counter/db"
    assert query.get("tailLines") == "5" and query.get("timestamps") == "true"
    p = kubectl("logs", "counter", "-c", "nope")
    assert p.returncode == 1 and "container nope is not valid for pod counter" in p.stderr


def test_kubectl_exec_relayed_v5(kubectl, running_pod, agent):
    p = kubectl("exec", "counter", "-c", "app", "--", "echo", "hi")
    assert p.returncode == 0, p.stderr
    assert p.stdout == "echo hi\n"
    p = kubectl("exec", "counter", "-c", "app", "--", "sh", "fail")
    assert p.returncode == 3 and p.stdout == "sh fail\n"


def test_kubectl_attach_relayed(kubectl, running_pod, agent):
    p = kubectl("attach", "counter", "-c", "db", "-i", input="typed\n")
    assert p.returncode == 0, p.stderr
    assert p.stdout == "typed\n"
    assert "attached to db\n" in p.stderr and "If you don't see a command prompt, try pressing enter." in p.stderr
    path, query = agent.seen[-1]
    assert path == "/attach/default/counter/db"
    assert query == {"stdin": "true", "stdout": "true", "stderr": "true"}


async def test_v4_websocket_client_relayed(cp, running_pod):
    ctx = ssl.create_default_context(cafile=str(cp.pki.ca_cert))
    url = (f"{cp.url}/api/v1/namespaces/default/pods/counter/exec?container=app&command=cat&stdin=true"
           "&stdout=true&stderr=true")
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as s:
        async with s.ws_connect(url, protocols=("v4.channel.k8s.io",),
                                headers={"Authorization": f"Bearer {cp.pki.admin_token}"}) as ws:
            assert ws.protocol == "v4.channel.k8s.io"
            await ws.send_bytes(b"\x00typed\n")
            frames = [msg.data async for msg in ws]
    assert frames[0] == b"\x01typed\n" and frames[1] == b"\x01cat\n"
    assert frames[2][0] == 3 and json.loads(frames[2][1:])["status"] == "Success"


def test_logs_of_unbound_pod_say_waiting(kubectl, cp):
    p = kubectl("run", "pending", "--image=x")
    assert p.returncode == 0, p.stderr
    p = kubectl("logs", "pending")
    assert p.returncode == 1
    assert 'container "pending" in pod "pending" is waiting to start: ContainerCreating' in p.stderr
