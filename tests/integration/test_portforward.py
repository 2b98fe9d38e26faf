"""`kubectl port-forward` (real kubectl v1.33) through our API server to the agent, into a real pod.

The path: kubectl tunnels SPDY/3.1 in WebSocket messages (`SPDY/3.1+portforward.k8s.io`) to
`pods/<name>/portforward` (or, with KUBECTL_PORT_FORWARD_WEBSOCKETS=false, upgrades to plain SPDY/3.1); the API server relays the messages to the agent's `/portForward/{ns}/{pod}`
(the real aiohttp app on loopback, as the node's kubelet port), which terminates SPDY and connects to
localhost:<port> inside the pod sandbox's network namespace. The pod is a busybox `httpd` on port 3000 run
by the real pod sync in a test node namespace; the API server knows a matching Pod bound to a Node whose
kubelet endpoint is that loopback port.
"""
from __future__ import annotations

import asyncio
import re

import pytest
from aiohttp.test_utils import TestServer

from agent.server import make_app
from minikube_py.client import ApiClient
from minikube_py.client.client import wait_for
from tests.integration.agent_harness import bb, make_pod, pod_syncer, running

pytestmark = pytest.mark.integration
FORWARDING = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)")


@pytest.fixture
async def web_pod(tmp_path, cp):
    """(agent base URL) with pod `web` serving `hello-from-pod` on :3000, known to the API server."""
    async with pod_syncer(tmp_path, node="agpf", pod_cidr="10.201.11.0/24", index=79, node_name="mkt-pf") as a:
        syncer, api, _ = a
        syncer.on_pod_add(make_pod("web", [bb("app", "mkdir -p /www && echo hello-from-pod > /www/index.html && "
                                                     "exec httpd -f -p 3000 -h /www")]))
        server = TestServer(make_app(syncer, cp.pki.node_token), host="127.0.0.1")
        await server.start_server()
        try:
            async with ApiClient(cp.url, token=cp.pki.admin_token, ca_file=cp.pki.ca_cert) as c:
                await c.create("nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "mkt-pf"},
                                         "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                                                    "daemonEndpoints": {"kubeletEndpoint": {"Port": server.port}}}})
                await c.create("pods", {"apiVersion": "v1", "kind": "Pod",
                                        "metadata": {"name": "web", "labels": {"app": "web"}},
                                        "spec": {"containers": [{"name": "app", "image": "x",
                                                                 "ports": [{"containerPort": 3000}]}]}}, "default")
                await c.bind("web", "default", "mkt-pf")
                pod = await c.get("pods", "web", "default")
                pod["status"].update(phase="Running", podIP="10.201.11.2", containerStatuses=[
                    {"name": "app", "ready": True, "restartCount": 0, "image": "x", "imageID": "", "started": True,
                     "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}])
                await c.update_status("pods", pod)
                await c.create("services", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                                            "spec": {"selector": {"app": "web"},
                                                     "ports": [{"port": 80, "targetPort": 3000}]}}, "default")
                await c.create("deployments", {
                    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                    "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
                        "metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "app", "image": "x"}]}}}}, "default")
            await wait_for(lambda: running(api, "web"), 30)
            yield
        finally:
            await server.close()


async def _port_forward(kubectl, target: str, ports: str, **env: str) -> tuple[asyncio.subprocess.Process, int]:
    """Start `kubectl port-forward target ports`; returns the process and the local port it printed."""
    proc = await asyncio.create_subprocess_exec(
        kubectl.binary, "--cache-dir", str(kubectl.cache), "port-forward", target, ports, env={**kubectl.env, **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError("kubectl port-forward printed nothing: " + (await proc.stderr.read()).decode())
    m = FORWARDING.search(line)
    assert m, line
    return proc, int(m.group(1))


async def _curl(port: int) -> tuple[int, str]:
    p = await asyncio.create_subprocess_exec("curl", "-sS", "--max-time", "10", f"http://127.0.0.1:{port}/",
                                             stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await p.communicate()
    return p.returncode, (out or err).decode()


async def _stop(proc: asyncio.subprocess.Process) -> str:
    """Terminate kubectl by its PID; its stderr."""
    if proc.returncode is None:
        proc.terminate()
    try:
        _, err = await asyncio.wait_for(proc.communicate(), 10)
    except asyncio.TimeoutError:
        proc.kill()
        _, err = await proc.communicate()
    return err.decode()


async def test_port_forward_pod_service_deployment_and_refused_port(web_pod, kubectl):
    proc, port = await _port_forward(kubectl, "pod/web", "0:3000")
    try:
        for _ in range(2):  # two connections over the same SPDY connection
            assert await _curl(port) == (0, "hello-from-pod\n")
    finally:
        await _stop(proc)
    assert proc.returncode is not None
    # svc/ is resolved by kubectl to a pod of the service and the service port to its targetPort.
    proc, port = await _port_forward(kubectl, "svc/web", "0:80")
    try:
        assert await _curl(port) == (0, "hello-from-pod\n")
    finally:
        await _stop(proc)
    # deploy/ likewise: kubectl picks a running pod matching the deployment's selector.
    proc, port = await _port_forward(kubectl, "deploy/web", "0:3000")
    try:
        assert await _curl(port) == (0, "hello-from-pod\n")
    finally:
        await _stop(proc)
    # The plain `Upgrade: SPDY/3.1` kubectl falls back to (and older clients speak), relayed the same way.
    proc, port = await _port_forward(kubectl, "pod/web", "0:3000", KUBECTL_PORT_FORWARD_WEBSOCKETS="false")
    try:
        for _ in range(2):
            assert await _curl(port) == (0, "hello-from-pod\n")
    finally:
        await _stop(proc)
    # Nothing listens on 3001: the kubelet's error text comes back on the error stream.
    proc, port = await _port_forward(kubectl, "pod/web", "0:3001")
    try:
        code, _ = await _curl(port)
        assert code != 0
        await asyncio.wait_for(proc.wait(), 10)  # kubectl drops the connection after a forwarding error
    finally:
        err = await _stop(proc)
    assert proc.returncode == 1
    assert f"an error occurred forwarding {port} -> 3001: error forwarding port 3001 to pod " in err
    assert 'failed to connect to localhost:3001 inside namespace' in err
    assert "IPv4: dial tcp4 127.0.0.1:3001: connect: connection refused" in err
    assert "error: lost connection to pod" in err
