"""The pod sync against real Docker in a test node namespace, without an API server (a `FakeApi` records
what the agent writes): the setup test_agent_pods, test_probes_real and test_agent_server share.

A test node namespace with its own `cni0` (agent/testing.py); the host reaches the test pod CIDR through a
route into that namespace only (plus an `unreachable` safety route). Everything is removed at the end,
also on failure: containers by the label `io.minikube-py.profile=mkt-agent`, the namespace, the routes.
"""
from __future__ import annotations

import os
import shutil
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

import pytest

from agent.network import PodNetwork
from agent.pods import PodSyncer
from agent.runtime import DockerRuntime
from agent.testing import FakeApi, TestNode, remove_containers
from minikube_py.client import EventRecorder
from minikube_py.config import IMAGES

PROFILE = "mkt-agent"


def missing_capability() -> str | None:
    """Why these tests cannot run here (root, iproute2, Docker, the pause and busybox images), or None."""
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


@asynccontextmanager
async def pod_syncer(tmp_path: Path, *, node: str, pod_cidr: str, index: int,
                     node_name: str) -> AsyncIterator[tuple[PodSyncer, FakeApi, TestNode]]:
    """A `PodSyncer` for test node namespace *node* (pods in *pod_cidr*); skips when `missing_capability`."""
    why = missing_capability()
    if why:
        pytest.skip(why)
    remove_containers(PROFILE)
    test_node = TestNode(node, pod_cidr, index).open()
    api = FakeApi()
    network = PodNetwork(pod_cidr, tmp_path / "ipam.json", netns_path=test_node.netns_path)
    syncer = PodSyncer(client=api, runtime=DockerRuntime(allow_pull=False), network=network,  # type: ignore[arg-type]
                       recorder=EventRecorder(api, "kubelet", node_name), profile=PROFILE, node_name=node_name,
                       node_ip=test_node.node_ip, state_dir=tmp_path, dns_service_ip="10.201.8.10")
    try:
        yield syncer, api, test_node
    finally:
        await syncer.stop()
        await network.close()
        remove_containers(PROFILE)
        test_node.close()


def make_pod(name: str, containers: list[dict], volumes: list[dict] | None = None, **spec: object) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "uid": str(uuid.uuid4()), "resourceVersion": "1"},
            "spec": {"containers": containers, "volumes": volumes or [], "restartPolicy": "Always",
                     "terminationGracePeriodSeconds": 5, "nodeName": "mkt-node", **spec},
            "status": {"phase": "Pending"}}


def bb(name: str, script: str, **extra: object) -> dict:
    """A busybox container running `sh -c script`."""
    return {"name": name, "image": IMAGES["busybox"], "imagePullPolicy": "IfNotPresent",
            "args": ["sh", "-c", script], **extra}


def running(api: FakeApi, name: str) -> bool:
    """The pod's last written status says Running with every container running."""
    st = api.status_of(name)
    return st.get("phase") == "Running" and all("running" in c["state"] for c in st.get("containerStatuses", []))
