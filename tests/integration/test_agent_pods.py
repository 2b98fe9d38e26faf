"""The pod sync against real Docker and a real (test) node namespace; no API server (a FakeApi records).

A test node namespace with its own `cni0` (agent/testing.py); the host reaches the test pod CIDR through
a route into that namespace only (plus an `unreachable` safety route). Everything is removed at the end,
containers by the label `io.minikube-py.profile=mkt-agent`.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from agent.network import PodNetwork, host_veth_name
from agent.pods import PodSyncer
from agent.runtime import DockerRuntime
from agent.testing import FakeApi, TestNode, remove_containers
from minikube_py.client import EventRecorder
from minikube_py.client.client import wait_for
from minikube_py.config import IMAGES

pytestmark = pytest.mark.integration

PROFILE = "mkt-agent"
POD_CIDR = "10.201.7.0/24"


def _capable() -> str | None:
    if os.geteuid() != 0:
        return "needs root"
    if shutil.which("ip") is None:
        return "needs iproute2"
    try:
        rt = DockerRuntime(allow_pull=False)
    except Exception as exc:  # noqa: BLE001
        return f"needs a Docker engine ({exc})"
    for img in ("pause", "busybox"):
        if not rt.image_id(IMAGES[img]):
            return f"needs image {IMAGES[img]} (minikube-py image bootstrap)"
    return None


@pytest.fixture
async def agent(tmp_path: Path):
    why = _capable()
    if why:
        pytest.skip(why)
    remove_containers(PROFILE)
    node = TestNode("agpod", POD_CIDR, 77).open()
    api = FakeApi()
    network = PodNetwork(POD_CIDR, tmp_path / "ipam.json", netns_path=node.netns_path)
    syncer = PodSyncer(client=api, runtime=DockerRuntime(allow_pull=False), network=network,  # type: ignore[arg-type]
                       recorder=EventRecorder(api, "kubelet", "mkt-node"), profile=PROFILE, node_name="mkt-node",
                       node_ip=node.node_ip, state_dir=tmp_path, dns_service_ip="10.201.8.10")
    try:
        yield syncer, api, node
    finally:
        await syncer.stop()
        await network.close()
        remove_containers(PROFILE)
        node.close()


def make_pod(name: str, containers: list[dict], volumes: list[dict] | None = None, **spec: object) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "uid": str(uuid.uuid4()), "resourceVersion": "1"},
            "spec": {"containers": containers, "volumes": volumes or [], "restartPolicy": "Always",
                     "terminationGracePeriodSeconds": 5, "nodeName": "mkt-node", **spec},
            "status": {"phase": "Pending"}}


def bb(name: str, script: str, **extra: object) -> dict:
    return {"name": name, "image": IMAGES["busybox"], "imagePullPolicy": "IfNotPresent",
            "args": ["sh", "-c", script], **extra}


def docker_exec(syncer: PodSyncer, pod: dict, container: str, *argv: str) -> str:
    api = syncer.runtime.api  # type: ignore[attr-defined]
    ids = [c["Id"] for c in api.containers(filters={"label": [f"io.minikube-py.pod-uid={pod['metadata']['uid']}",
                                                              f"io.minikube-py.container={container}"]})]
    assert ids, f"no running container {container}"
    return subprocess.run(["docker", "exec", ids[0], *argv], capture_output=True, text=True, timeout=20).stdout


def running(api: FakeApi, name: str) -> bool:
    st = api.status_of(name)
    return st.get("phase") == "Running" and all("running" in c["state"] for c in st.get("containerStatuses", []))


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
