"""The guide's Pod and multi-container chapters on a real 1-node cluster, with the real kubectl.

- counter-pod-redis.yml: both containers run, `curl localhost:3000` from the app container counts 1, 2
  (redis reached over the pod's shared localhost); `kubectl logs counter app` / `-c app` work;
- empty-dir.yml: the sidecar's log shows the lines the app writes into the shared emptyDir;
- an image that exists nowhere: ErrImagePull → ImagePullBackOff with an event saying why, within ~15 s;
- `kill -9` of the node agent while pods run, then a restart: same container IDs, same restart counts.
"""
from __future__ import annotations

import json
import os
import signal
import time

import pytest

from tests.e2e.helpers import all_running, delete_pods, manifest, pod_json, wait_pod

pytestmark = pytest.mark.e2e


def test_counter_pod_redis_shares_localhost_and_logs_work(cluster) -> None:
    try:
        cluster.apply(manifest("counter-pod-redis.yml"))
        pod = wait_pod(cluster, "counter", all_running)
        assert {c["name"] for c in pod["status"]["containerStatuses"]} == {"app", "db"}
        assert pod["status"]["phase"] == "Running" and pod["status"]["podIP"]
        answers = []
        for _ in range(2):
            # The app may need a moment to connect to redis after start.
            for _ in range(20):
                out = cluster.kubectl("exec", "counter", "-c", "app", "--", "curl", "-s", "localhost:3000")
                if out.returncode == 0 and out.stdout.strip().isdigit():
                    break
                time.sleep(0.5)
            answers.append(out.stdout.strip())
        assert answers == ["1", "2"]
        for args in (("logs", "counter", "app"), ("logs", "counter", "-c", "app")):
            logs = cluster.kubectl(*args)
            assert logs.returncode == 0, logs.stderr
            assert "3000" in logs.stdout
        exit3 = cluster.kubectl("exec", "counter", "-c", "app", "--", "sh", "-c", "exit 3")
        assert exit3.returncode == 3
    finally:
        delete_pods(cluster, "counter")


def test_empty_dir_sidecar_reads_what_the_app_writes(cluster) -> None:
    try:
        cluster.apply(manifest("empty-dir.yml"))
        wait_pod(cluster, "sidecar", lambda p: p["status"].get("phase") == "Running")
        deadline = time.time() + 30
        lines: list[str] = []
        while time.time() < deadline:
            out = cluster.kubectl("logs", "sidecar", "-c", "sidecar")
            lines = [line for line in out.stdout.splitlines() if "UTC" in line or ":" in line]
            if len(lines) >= 2:
                break
            time.sleep(1)
        assert len(lines) >= 2, out.stdout + out.stderr
        # The same file, seen from the app container that writes it.
        app_view = cluster.kubectl("exec", "sidecar", "-c", "app", "--", "tail", "-n", "4", "/var/log/example.log")
        assert app_view.returncode == 0 and app_view.stdout.strip()
    finally:
        delete_pods(cluster, "sidecar")


MISSING_IMAGE = """
apiVersion: v1
kind: Pod
metadata: {name: missing-image}
spec:
  containers:
    - {name: app, image: "does-not-exist:1"}
"""


def test_missing_image_reports_err_image_pull_and_backoff(cluster) -> None:
    try:
        t0 = time.time()
        cluster.apply(MISSING_IMAGE)

        def waiting_reason(p: dict) -> str:
            cs = (p.get("status") or {}).get("containerStatuses") or [{}]
            return ((cs[0].get("state") or {}).get("waiting") or {}).get("reason", "")

        pod = wait_pod(cluster, "missing-image", lambda p: waiting_reason(p) in ("ErrImagePull", "ImagePullBackOff"),
                       timeout=15)
        assert time.time() - t0 < 16
        assert pod["status"]["phase"] == "Pending"
        events = cluster.kubectl("get", "events", "--field-selector", "involvedObject.name=missing-image",
                                 "-o", "json")
        messages = [e["message"] for e in json.loads(events.stdout)["items"]]
        # The profile is `--offline` (tests/e2e/conftest.py): the agent refused to ask a registry.
        assert any(m.startswith('Failed to pull image "does-not-exist:1":') and "pulling is disabled" in m
                   for m in messages), messages
        wait_pod(cluster, "missing-image", lambda p: waiting_reason(p) == "ImagePullBackOff", timeout=20)
    finally:
        delete_pods(cluster, "missing-image")


THREE_PODS = "\n---\n".join(f"""
apiVersion: v1
kind: Pod
metadata: {{name: adopt-{i}}}
spec:
  terminationGracePeriodSeconds: 2
  containers:
    - name: app
      image: busybox
      imagePullPolicy: IfNotPresent
      args: [sh, -c, "exec sleep 3600"]
""" for i in range(3))


def _ids(cluster) -> dict[str, tuple[str, int]]:
    out = {}
    for i in range(3):
        c = pod_json(cluster, f"adopt-{i}")["status"]["containerStatuses"][0]
        out[f"adopt-{i}"] = (c["containerID"], c["restartCount"])
    return out


def test_agent_kill_9_and_restart_adopts_running_containers(cluster) -> None:
    from minikube_py.cluster import layout, lifecycle, supervisor

    node = layout.load_nodes(cluster.config)[0]
    try:
        cluster.apply(THREE_PODS)
        for i in range(3):
            wait_pod(cluster, f"adopt-{i}", all_running)
        before = _ids(cluster)
        pid = supervisor.pid_of(cluster.config.state_dir, node.process_name)
        assert pid, "no node process pid"
        os.kill(pid, signal.SIGKILL)
        deadline = time.time() + 10
        while supervisor.is_running(cluster.config.state_dir, node.process_name) and time.time() < deadline:
            time.sleep(0.2)
        time.sleep(2)  # nobody is there to restart anything meanwhile
        lifecycle.start_node_process(cluster.config, node)
        time.sleep(6)  # the new agent adopts, syncs, writes status
        after = _ids(cluster)
        assert after == before
        for i in range(3):
            assert all_running(pod_json(cluster, f"adopt-{i}"))
    finally:
        if not supervisor.is_running(cluster.config.state_dir, node.process_name):
            lifecycle.start_node_process(cluster.config, node)
        delete_pods(cluster, "adopt-0", "adopt-1", "adopt-2")
