"""Probe runners and probe-driven restarts against real containers in a test node namespace (no API).

The probes run from this (host) namespace and reach the pod IP through a route into the test namespace
only, as the agent's probes reach pods through cni0.
"""
from __future__ import annotations

import asyncio
import time

import pytest

from agent.prober.exec import probe_exec
from agent.prober.http import probe_headers, probe_http, probe_url
from agent.prober.tcp import probe_tcp
from minikube_py.client.client import wait_for
from tests.integration.agent_harness import bb, make_pod, pod_syncer, running

pytestmark = pytest.mark.integration

POD_CIDR = "10.201.9.0/24"


@pytest.fixture
async def agent(tmp_path):
    async with pod_syncer(tmp_path, node="agprb", pod_cidr=POD_CIDR, index=78, node_name="mkt-prb") as a:
        yield a


def _cid(api, name: str, container: str) -> str:
    cs = next(c for c in api.status_of(name)["containerStatuses"] if c["name"] == container)
    return cs["containerID"].removeprefix("docker://")


async def test_http_tcp_exec_probe_results_against_real_containers(agent):
    syncer, api, node = agent
    pod = make_pod("web", [bb("server", "mkdir -p /www && echo ok > /www/index.html && "
                                        "exec busybox httpd -f -p 8080 -h /www")])
    syncer.on_pod_add(pod)
    await wait_for(lambda: running(api, "web"), 30)
    ip = api.status_of("web")["podIP"]
    await asyncio.sleep(0.5)  # httpd listening
    headers = probe_headers(None)
    assert await probe_http(probe_url("HTTP", ip, 8080, "/"), headers, 2) == (True, "")
    ok, msg = await probe_http(probe_url("HTTP", ip, 8080, "/not/exist"), headers, 2)
    assert not ok and msg == "HTTP probe failed with statuscode: 404"
    ok, msg = await probe_http(probe_url("HTTP", ip, 8081, "/"), headers, 2)
    assert not ok and "connection refused" in msg
    assert await probe_tcp(ip, 8080, 2) == (True, "")
    ok, msg = await probe_tcp(ip, 8081, 2)
    assert not ok and msg == f"dial tcp {ip}:8081: connect: connection refused"
    cid = _cid(api, "web", "server")
    assert (await probe_exec(syncer.runtime, cid, ["cat", "/www/index.html"], 2))[0] is True
    ok, _ = await probe_exec(syncer.runtime, cid, ["sh", "-c", "exit 1"], 2)
    assert ok is False
    t0 = time.monotonic()
    ok, msg = await probe_exec(syncer.runtime, cid, ["sleep", "5"], 1)
    assert ok is False and "timed out" in msg and time.monotonic() - t0 < 3


async def test_readiness_gates_ready_and_liveness_failure_restarts(agent):
    syncer, api, node = agent
    pod = make_pod("probed", [bb("app", "mkdir -p /www && echo ok > /www/index.html && touch /tmp/alive && "
                                        "exec busybox httpd -f -p 8080 -h /www",
                                 readinessProbe={"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1,
                                                 "initialDelaySeconds": 2},
                                 livenessProbe={"exec": {"command": ["cat", "/tmp/alive"]}, "periodSeconds": 1,
                                                "failureThreshold": 2})])
    syncer.on_pod_add(pod)
    await wait_for(lambda: running(api, "probed"), 30)
    cs = api.status_of("probed")["containerStatuses"][0]
    assert cs["ready"] is False  # readiness starts False, and initialDelaySeconds hasn't passed
    await wait_for(lambda: api.status_of("probed")["containerStatuses"][0]["ready"], 15)
    conds = {c["type"]: c["status"] for c in api.status_of("probed")["conditions"]}
    assert conds["Ready"] == "True"
    cid = _cid(api, "probed", "app")
    code, _ = await asyncio.to_thread(syncer.runtime.exec, cid, ["rm", "/tmp/alive"], 5)
    assert code == 0
    await wait_for(lambda: api.status_of("probed")["containerStatuses"][0]["restartCount"] == 1
                   and "running" in api.status_of("probed")["containerStatuses"][0]["state"], 30)
    cs = api.status_of("probed")["containerStatuses"][0]
    assert cs["lastState"]["terminated"]["containerID"] == f"docker://{cid}"
    assert "Container app failed liveness probe, will be restarted" in api.messages("probed")
    assert any(m.startswith("Liveness probe failed:") for m in api.messages("probed"))
    # The new instance has the file again (the command re-creates it): it stays up.
    await asyncio.sleep(4)
    assert api.status_of("probed")["containerStatuses"][0]["restartCount"] == 1
