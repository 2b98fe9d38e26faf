"""The guide's ReplicaSet and Deployment chapters on a real 1-node cluster (real agent, Docker, kubectl).

- echo-rs.yml → 1 running pod, echo-rs-scaled.yml → 4, the label dance both ways;
- echo-deployment.yml → -v2: rolling update, `rollout history` 1, 2; `rollout undo --to-revision=1` →
  revision 3 running v1 again;
- echo-strategy.yml + `set image`: new → 3, old → 1, new → 4, old → 0;
- `kill -9` of the control plane mid-rollout of 10 replicas, `minikube-py start` again: the rollout
  completes, revisions stay contiguous, no duplicate ReplicaSet, no orphaned pod.
"""
from __future__ import annotations

import os
import re
import signal

import pytest

from tests.conftest import run_cli
from tests.e2e.helpers import get_json, manifest, wait_until

pytestmark = pytest.mark.e2e


def running_ready(cluster, selector: str) -> list[dict]:
    pods = get_json(cluster, "pods", "-l", selector).get("items", [])
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")
            and p.get("status", {}).get("phase") == "Running"
            and all(c.get("ready") for c in p["status"].get("containerStatuses") or [{}])]


def active_pods(cluster, selector: str) -> list[dict]:
    return [p for p in get_json(cluster, "pods", "-l", selector).get("items", [])
            if not p["metadata"].get("deletionTimestamp")]


def history(cluster, deploy: str) -> list[str]:
    out = cluster.kubectl("rollout", "history", f"deployment/{deploy}", check=True).stdout
    return [line.split()[0] for line in out.splitlines() if line[:1].isdigit()]


def scaling_steps(cluster, deploy: str) -> list[tuple[str, int, int]]:
    """ScalingReplicaSet events in write order (resourceVersion is the store's global revision)."""
    events = get_json(cluster, "events", "--field-selector", f"involvedObject.name={deploy}").get("items", [])
    events = sorted((e for e in events if e.get("reason") == "ScalingReplicaSet"),
                    key=lambda e: int(e["metadata"]["resourceVersion"]))
    out = []
    for e in events:
        m = re.fullmatch(r"Scaled (up|down) replica set (\S+) from (\d+) to (\d+)", e["message"])
        assert m, e["message"]
        out.append((m.group(2), int(m.group(3)), int(m.group(4))))
    return out


def tag(pod: dict) -> str:
    """The echo version a pod runs (`v1`/`v2`); the cluster may map upstream names to local images."""
    image = pod["spec"]["containers"][0]["image"]
    assert "echo" in image, image
    return image.rsplit(":", 1)[1]


def cleanup(cluster, *objs: str) -> None:
    cluster.kubectl("delete", *objs, "--ignore-not-found", "--wait=true", timeout=120)


def test_replicaset_scale_and_label_dance(cluster) -> None:
    try:
        cluster.apply(manifest("echo-rs.yml"))
        wait_until(lambda: len(running_ready(cluster, "app=echo,tier=app")) == 1, timeout=120, what="1 echo pod")
        cluster.apply(manifest("echo-rs-scaled.yml"))
        wait_until(lambda: len(running_ready(cluster, "app=echo,tier=app")) == 4, timeout=120, what="4 echo pods")
        rs = get_json(cluster, "rs", "echo-rs")
        assert rs["status"]["readyReplicas"] == 4 and rs["status"]["availableReplicas"] == 4

        first = active_pods(cluster, "app=echo,tier=app")[0]["metadata"]["name"]
        cluster.kubectl("label", "pod", first, "app-", check=True)
        wait_until(lambda: len(running_ready(cluster, "app=echo,tier=app")) == 4
                   and first not in {p["metadata"]["name"] for p in active_pods(cluster, "app=echo,tier=app")},
                   timeout=120, what="a replacement pod")
        assert not get_json(cluster, "pod", first)["metadata"].get("ownerReferences")
        cluster.kubectl("label", "pod", first, "app=echo", check=True)
        wait_until(lambda: len(active_pods(cluster, "app=echo,tier=app")) == 4, timeout=120,
                   what="one pod deleted again")
    finally:
        cleanup(cluster, "rs/echo-rs")
        cluster.kubectl("delete", "pods", "-l", "tier=app", "--ignore-not-found", "--wait=true", timeout=120)


def test_deployment_update_history_and_undo(cluster) -> None:
    try:
        cluster.apply(manifest("echo-deployment.yml"))
        cluster.kubectl("rollout", "status", "deployment/echo-deploy", "--timeout=120s", check=True, timeout=150)
        cluster.apply(manifest("echo-deployment-v2.yml"))
        cluster.kubectl("rollout", "status", "deployment/echo-deploy", "--timeout=120s", check=True, timeout=150)
        assert history(cluster, "echo-deploy") == ["1", "2"]
        assert {tag(p) for p in running_ready(cluster, "app=echo")} == {"v2"}

        cluster.kubectl("rollout", "undo", "deployment/echo-deploy", "--to-revision=1", check=True)
        cluster.kubectl("rollout", "status", "deployment/echo-deploy", "--timeout=120s", check=True, timeout=150)
        assert history(cluster, "echo-deploy") == ["2", "3"]
        wait_until(lambda: {tag(p) for p in active_pods(cluster, "app=echo")} == {"v1"}, timeout=120,
                   what="v1 pods only")
        assert len(get_json(cluster, "rs").get("items", [])) == 2
    finally:
        cleanup(cluster, "deployment/echo-deploy")
        wait_until(lambda: not active_pods(cluster, "app=echo"), timeout=120, what="pods gone with the deployment")


def test_echo_strategy_steps(cluster) -> None:
    try:
        cluster.apply(manifest("echo-strategy.yml"))
        cluster.kubectl("rollout", "status", "deployment/echo-deploy-st", "--timeout=120s", check=True, timeout=150)
        cluster.kubectl("set", "image", "deployment/echo-deploy-st", "echo=ghcr.io/subicura/echo:v2", check=True)
        cluster.kubectl("rollout", "status", "deployment/echo-deploy-st", "--timeout=120s", check=True, timeout=150)
        steps = scaling_steps(cluster, "echo-deploy-st")
        old, new = steps[0][0], steps[1][0]
        assert steps == [(old, 0, 4), (new, 0, 3), (old, 4, 1), (new, 3, 4), (old, 1, 0)]
    finally:
        cleanup(cluster, "deployment/echo-deploy-st")
        wait_until(lambda: not active_pods(cluster, "app=echo"), timeout=120, what="pods gone with the deployment")


def test_control_plane_kill_9_mid_rollout(cluster) -> None:
    from minikube_py.cluster import supervisor

    name = "echo-crash"
    yaml_text = manifest("echo-deployment.yml").read_text().replace("name: echo-deploy", f"name: {name}") \
        .replace("replicas: 4", "replicas: 10")
    try:
        cluster.apply(yaml_text)
        cluster.kubectl("rollout", "status", f"deployment/{name}", "--timeout=180s", check=True, timeout=200)
        cluster.kubectl("set", "image", f"deployment/{name}", "echo=ghcr.io/subicura/echo:v2", check=True)
        wait_until(lambda: len(get_json(cluster, "rs").get("items", [])) == 2, timeout=30, interval=0.1,
                   what="the new ReplicaSet")
        pid = supervisor.pid_of(cluster.config.state_dir, "controlplane")
        assert pid, "no control plane pid"
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not supervisor.is_running(cluster.config.state_dir, "controlplane"), timeout=10,
                   what="the control plane to die")
        proc = run_cli("start", "-p", cluster.profile, timeout=600)
        assert proc.returncode == 0, proc.stdout + proc.stderr

        cluster.kubectl("rollout", "status", f"deployment/{name}", "--timeout=240s", check=True, timeout=260)
        rss = get_json(cluster, "rs").get("items", [])
        assert len(rss) == 2, [r["metadata"]["name"] for r in rss]
        revisions = sorted(int(r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]) for r in rss)
        assert revisions == [1, 2]
        assert history(cluster, name) == ["1", "2"]
        pods = get_json(cluster, "pods").get("items", [])
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        assert all(p["metadata"].get("ownerReferences") for p in pods), "orphaned pod"
        assert len(live) == 10
        assert {tag(p) for p in live} == {"v2"}
    finally:
        if not supervisor.is_running(cluster.config.state_dir, "controlplane"):
            run_cli("start", "-p", cluster.profile, timeout=600)
        cleanup(cluster, f"deployment/{name}")
        wait_until(lambda: not active_pods(cluster, "app=echo"), timeout=180, what="pods gone with the deployment")
