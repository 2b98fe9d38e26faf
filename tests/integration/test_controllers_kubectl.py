"""The real kubectl v1.33 driving the controllers (embedded API server + fake kubelet, no Docker):
apply, rollout status/history/undo, set image, scale, label, cordon/drain — what the guide types."""
from __future__ import annotations

import asyncio
import subprocess

import pytest

from tests.integration.controllers_harness import GUIDE, Cluster, running_cluster

pytestmark = pytest.mark.integration


@pytest.fixture
async def cluster(tmp_path):
    async with running_cluster(tmp_path, ["node-a", "node-b"]) as c:
        yield c


def _kubectl_path() -> str:
    from minikube_py.kubectl import kubectl_path

    return str(kubectl_path())


async def kubectl(cluster: Cluster, *args: str, check: bool = True, timeout: float = 60) -> str:
    """Run kubectl off the event loop (the controllers run on it)."""
    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run([_kubectl_path(), "--kubeconfig", str(cluster.kubeconfig), *args],
                              capture_output=True, text=True, timeout=timeout)

    proc = await asyncio.to_thread(run)
    if check and proc.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} → {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout + proc.stderr


async def test_rollout_status_history_and_undo(cluster):
    await kubectl(cluster, "apply", "-f", str(GUIDE / "echo-deployment.yml"))
    out = await kubectl(cluster, "rollout", "status", "deployment/echo-deploy", "--timeout=30s")
    assert 'deployment "echo-deploy" successfully rolled out' in out
    await kubectl(cluster, "apply", "-f", str(GUIDE / "echo-deployment-v2.yml"))
    await kubectl(cluster, "rollout", "status", "deployment/echo-deploy", "--timeout=30s")

    history = await kubectl(cluster, "rollout", "history", "deployment/echo-deploy")
    revisions = [line.split()[0] for line in history.splitlines() if line[:1].isdigit()]
    assert revisions == ["1", "2"], history

    out = await kubectl(cluster, "rollout", "undo", "deployment/echo-deploy", "--to-revision=1")
    assert "rolled back" in out
    await kubectl(cluster, "rollout", "status", "deployment/echo-deploy", "--timeout=30s")
    history = await kubectl(cluster, "rollout", "history", "deployment/echo-deploy")
    revisions = [line.split()[0] for line in history.splitlines() if line[:1].isdigit()]
    assert revisions == ["2", "3"], history
    images = await kubectl(cluster, "get", "pods", "-l", "app=echo", "-o",
                           "jsonpath={.items[*].spec.containers[0].image}")
    assert set(images.split()) == {"ghcr.io/subicura/echo:v1"}
    assert len((await kubectl(cluster, "get", "rs", "-o", "name")).split()) == 2


async def test_set_image_scale_and_describe_events(cluster):
    await kubectl(cluster, "apply", "-f", str(GUIDE / "echo-strategy.yml"))
    await kubectl(cluster, "rollout", "status", "deployment/echo-deploy-st", "--timeout=30s")
    await kubectl(cluster, "set", "image", "deployment/echo-deploy-st", "echo=ghcr.io/subicura/echo:v2")
    await kubectl(cluster, "rollout", "status", "deployment/echo-deploy-st", "--timeout=40s")
    described = await kubectl(cluster, "describe", "deployment", "echo-deploy-st")
    scaled = [line.split("deployment-controller")[-1].strip() for line in described.splitlines()
              if "ScalingReplicaSet" in line]
    # describe orders by second-resolution lastTimestamp, ties by event name (random here): compare as a
    # multiset; test_controllers_deployment asserts the exact order through resourceVersions.
    assert sorted((s.split(" replica set ")[0], s.split(" from ")[1]) for s in scaled) == sorted([
        ("Scaled up", "0 to 4"), ("Scaled up", "0 to 3"), ("Scaled down", "4 to 1"), ("Scaled up", "3 to 4"),
        ("Scaled down", "1 to 0")]), described

    await kubectl(cluster, "scale", "deployment/echo-deploy-st", "--replicas=2")
    await kubectl(cluster, "rollout", "status", "deployment/echo-deploy-st", "--timeout=30s")
    ready = await kubectl(cluster, "get", "deployment", "echo-deploy-st", "-o", "jsonpath={.status.readyReplicas}")
    assert ready == "2"


async def test_label_dance_with_kubectl(cluster):
    await kubectl(cluster, "apply", "-f", str(GUIDE / "echo-rs.yml"))

    async def pods() -> list[str]:
        out = await kubectl(cluster, "get", "pods", "-l", "app=echo,tier=app", "-o", "name")
        return out.split()

    first = (await cluster.wait(pods))[0]
    await kubectl(cluster, "label", first, "app-")

    async def replaced():
        names = await pods()
        return len(names) == 1 and names[0] != first

    await cluster.wait(replaced)
    await kubectl(cluster, "label", first, "app=echo")

    async def one_again():
        return len(await pods()) == 1

    await cluster.wait(one_again)
    await asyncio.sleep(0.5)
    assert len(await pods()) == 1


async def test_cordon_and_uncordon(cluster):
    await kubectl(cluster, "cordon", "node-a")
    nodes = await kubectl(cluster, "get", "nodes")
    assert "SchedulingDisabled" in nodes
    await kubectl(cluster, "apply", "-f", str(GUIDE / "echo-rs-scaled.yml"))

    async def on_b():
        out = await kubectl(cluster, "get", "pods", "-o", "jsonpath={.items[*].spec.nodeName}")
        return out.split() == ["node-b"] * 4

    await cluster.wait(on_b)
    await kubectl(cluster, "uncordon", "node-a")

    async def untainted():
        out = await kubectl(cluster, "get", "node", "node-a", "-o", "jsonpath={.spec.taints}")
        return out.strip() == ""

    await cluster.wait(untainted)


async def test_drain_evicts_or_deletes_pods(cluster):
    await kubectl(cluster, "apply", "-f", str(GUIDE / "echo-rs-scaled.yml"))

    async def four_running():
        out = await kubectl(cluster, "get", "pods", "-o", "jsonpath={.items[*].status.phase}")
        return out.split() == ["Running"] * 4

    await cluster.wait(four_running)
    out = await kubectl(cluster, "drain", "node-a", "--ignore-daemonsets", "--timeout=30s", check=False, timeout=60)

    async def all_on_b():
        got = await kubectl(cluster, "get", "pods", "-o", "jsonpath={.items[*].spec.nodeName}")
        return got.split() == ["node-b"] * 4

    await cluster.wait(all_on_b, timeout=30)
    assert "drained" in out, out
