"""The pod sync against real Docker and a real (test) node namespace; no API server (a FakeApi records).
Setup and cleanup: tests/integration/agent_harness.py."""
from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from agent.network import host_veth_name
from agent.pods import PodSyncer
from minikube_py.client.client import wait_for
from tests.integration.agent_harness import bb, make_pod, pod_syncer, running

pytestmark = pytest.mark.integration

POD_CIDR = "10.201.7.0/24"


@pytest.fixture
async def agent(tmp_path: Path):
    async with pod_syncer(tmp_path, node="agpod", pod_cidr=POD_CIDR, index=77, node_name="mkt-node") as a:
        yield a


def docker_exec(syncer: PodSyncer, pod: dict, container: str, *argv: str) -> str:
    api = syncer.runtime.api  # type: ignore[attr-defined]
    ids = [c["Id"] for c in api.containers(filters={"label": [f"io.minikube-py.pod-uid={pod['metadata']['uid']}",
                                                              f"io.minikube-py.container={container}"]})]
    assert ids, f"no running container {container}"
    return subprocess.run(["docker", "exec", ids[0], *argv], capture_output=True, text=True, timeout=20).stdout


async def test_pod_shares_localhost_and_emptydir_and_answers_on_its_ip(agent):
    syncer, api, node = agent
    web = make_pod("web", [
        bb("server", "mkdir -p /www && exec busybox httpd -f -p 8080 -h /www",
           volumeMounts=[{"name": "www", "mountPath": "/www"}]),
        bb("writer", "echo hello-from-writer > /www/index.html; exec sleep 3600",
           volumeMounts=[{"name": "www", "mountPath": "/www"}]),
    ], volumes=[{"name": "www", "emptyDir": {}}])
    client = make_pod("client", [bb("sh", "exec sleep 3600")])
    syncer.on_pod_add(web)
    syncer.on_pod_add(client)
    await wait_for(lambda: running(api, "web") and running(api, "client"), 30)
    st = api.status_of("web")
    ip = st["podIP"]
    assert ip.startswith("10.201.7.") and ip != "10.201.7.1"
    assert st["hostIP"] == node.node_ip
    assert {c["name"] for c in st["containerStatuses"]} == {"server", "writer"}
    assert all(c["ready"] and c["containerID"].startswith("docker://") for c in st["containerStatuses"])
    assert {c["type"]: c["status"] for c in st["conditions"]}["Ready"] == "True"
    assert st["qosClass"] == "BestEffort"
    # localhost is shared: the writer reaches the server's port; the file came through the emptyDir.
    out = await asyncio.to_thread(docker_exec, syncer, web, "writer", "wget", "-qO-", "http://127.0.0.1:8080/")
    assert out.strip() == "hello-from-writer"
    # The pod IP answers from the host (route into our test namespace) and from another pod.
    curl = await asyncio.to_thread(subprocess.run, ["curl", "-s", "-m", "5", f"http://{ip}:8080/"],
                                   capture_output=True, text=True)
    assert curl.stdout.strip() == "hello-from-writer"
    out = await asyncio.to_thread(docker_exec, syncer, client, "sh", "wget", "-qO-", f"http://{ip}:8080/")
    assert out.strip() == "hello-from-writer"
    # The pod's DNS settings are the cluster's.
    resolv = await asyncio.to_thread(docker_exec, syncer, web, "writer", "cat", "/etc/resolv.conf")
    assert "nameserver 10.201.8.10" in resolv and "default.svc.cluster.local" in resolv and "ndots:5" in resolv
    assert (await asyncio.to_thread(docker_exec, syncer, web, "writer", "hostname")).strip() == "web"
    assert host_veth_name(web["metadata"]["uid"]) in node.veths()
    assert {"Pulled", "Created", "Started"} <= set(api.reasons("web"))

    # Deletion: containers, veth and pod dir go; the API deletion is finished with grace 0.
    gone = dict(web, metadata=dict(web["metadata"], deletionTimestamp="2026-01-01T00:00:00Z",
                                   deletionGracePeriodSeconds=5, resourceVersion="2"))
    syncer.on_pod_update(web, gone)
    await wait_for(lambda: ("pods", "default", "web") in api.deleted, 30)
    uid = web["metadata"]["uid"]
    left = syncer.runtime.list_containers({"io.minikube-py.pod-uid": uid})
    assert left == []
    assert host_veth_name(uid) not in node.veths()
    assert not (syncer.state_dir / "pods" / uid).exists()
    assert "Killing" in api.reasons("web")
    assert syncer.network.ipam.ip_of(uid) is None
