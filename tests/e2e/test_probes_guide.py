"""The guide's probe chapter on a real cluster: liveness restarts, readiness gates Ready, never restarts.

- echo-lp.yml (liveness on a port nothing listens on): restarts again and again, `CrashLoopBackOff`
  with a growing restartCount (initialDelay 5 + period 5, then back-off 10 s, 20 s…);
- echo-rp.yml (readiness failing): stays `0/1 Running`, 0 restarts;
- readiness is never True before initialDelaySeconds;
- an exec liveness probe `cat /tmp/healthy` restarts the container exactly once after the file is removed;
- a tcpSocket liveness probe on an open port never restarts.
"""
from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from tests.e2e.helpers import all_running, delete_pods, manifest, pod_json, wait_pod

pytestmark = pytest.mark.e2e


def _status(pod: dict) -> dict:
    return (pod.get("status") or {}).get("containerStatuses", [{}])[0]


def _t(s: str) -> float:
    return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc).timestamp()


def test_echo_lp_liveness_failure_crash_loops_with_growing_restarts(cluster) -> None:
    try:
        cluster.apply(manifest("echo-lp.yml"))
        seen_crashloop = False
        counts = []
        deadline = time.time() + 85
        while time.time() < deadline:
            cs = _status(pod_json(cluster, "echo-lp"))
            counts.append(cs.get("restartCount", 0))
            if ((cs.get("state") or {}).get("waiting") or {}).get("reason") == "CrashLoopBackOff":
                seen_crashloop = True
            if seen_crashloop and counts[-1] >= 3:
                break
            time.sleep(1)
        assert seen_crashloop, counts
        assert counts[-1] >= 2 and counts == sorted(counts), counts
        table = cluster.kubectl("get", "pod", "echo-lp").stdout
        assert "echo-lp" in table
        events = json.loads(cluster.kubectl("get", "events", "--field-selector", "involvedObject.name=echo-lp",
                                            "-o", "json").stdout)["items"]
        reasons = {e["reason"] for e in events}
        assert {"Unhealthy", "Killing", "BackOff"} <= reasons, reasons
        assert any(e["message"].startswith("Liveness probe failed:") for e in events)
        assert any(e["message"] == "Container app failed liveness probe, will be restarted" for e in events)
        prev = cluster.kubectl("logs", "echo-lp", "--previous")
        assert prev.returncode == 0, prev.stderr
    finally:
        delete_pods(cluster, "echo-lp")


def test_echo_rp_readiness_failure_stays_unready_without_restarts(cluster) -> None:
    try:
        cluster.apply(manifest("echo-rp.yml"))
        wait_pod(cluster, "echo-rp", lambda p: p["status"].get("phase") == "Running")
        time.sleep(16)  # initialDelay 5 + a few failing periods of 5 s
        pod = pod_json(cluster, "echo-rp")
        cs = _status(pod)
        assert cs["ready"] is False and cs["restartCount"] == 0 and "running" in cs["state"]
        conds = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
        assert conds["Ready"] == "False" and conds["ContainersReady"] == "False"
        row = cluster.kubectl("get", "pod", "echo-rp", "--no-headers").stdout.split()
        assert row[1:4] == ["0/1", "Running", "0"], row
    finally:
        delete_pods(cluster, "echo-rp")


READY_DELAY = """
apiVersion: v1
kind: Pod
metadata: {name: ready-delay}
spec:
  containers:
    - name: app
      image: ghcr.io/subicura/echo:v1
      readinessProbe:
        httpGet: {path: /, port: 3000}
        initialDelaySeconds: 8
        periodSeconds: 1
"""


def test_readiness_never_true_before_initial_delay(cluster) -> None:
    try:
        cluster.apply(READY_DELAY)
        t_ready = None
        started = None
        deadline = time.time() + 30
        while time.time() < deadline:
            pod = pod_json(cluster, "ready-delay")
            cs = _status(pod)
            running = (cs.get("state") or {}).get("running")
            if running and started is None:
                started = _t(running["startedAt"])
            if cs.get("ready"):
                t_ready = time.time()
                break
            if started is not None:
                assert time.time() - started < 8.5 or not cs.get("ready")
            time.sleep(0.3)
        assert t_ready is not None and started is not None
        assert t_ready - started >= 7.5, t_ready - started
        cond = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
        assert cond["status"] == "True" and _t(cond["lastTransitionTime"]) - started >= 7
    finally:
        delete_pods(cluster, "ready-delay")


EXEC_PROBE = """
apiVersion: v1
kind: Pod
metadata: {name: exec-probe}
spec:
  terminationGracePeriodSeconds: 2
  containers:
    - name: app
      image: busybox
      args: [sh, -c, "touch /tmp/healthy; exec sleep 3600"]
      livenessProbe:
        exec: {command: [cat, /tmp/healthy]}
        initialDelaySeconds: 1
        periodSeconds: 2
        failureThreshold: 1
"""


def test_exec_probe_restarts_exactly_once_after_the_file_goes(cluster) -> None:
    try:
        cluster.apply(EXEC_PROBE)
        wait_pod(cluster, "exec-probe", all_running)
        time.sleep(4)
        assert _status(pod_json(cluster, "exec-probe"))["restartCount"] == 0
        rm = cluster.kubectl("exec", "exec-probe", "--", "rm", "/tmp/healthy")
        assert rm.returncode == 0, rm.stderr
        wait_pod(cluster, "exec-probe", lambda p: _status(p).get("restartCount") == 1 and all_running(p), timeout=30)
        time.sleep(8)  # the new instance re-created the file: no second restart
        assert _status(pod_json(cluster, "exec-probe"))["restartCount"] == 1
    finally:
        delete_pods(cluster, "exec-probe")


TCP_PROBE = """
apiVersion: v1
kind: Pod
metadata: {name: tcp-probe}
spec:
  containers:
    - name: db
      image: redis
      ports: [{name: redis, containerPort: 6379}]
      livenessProbe:
        tcpSocket: {port: redis}
        initialDelaySeconds: 3
        periodSeconds: 1
        failureThreshold: 1
      readinessProbe:
        tcpSocket: {port: 6379}
        periodSeconds: 1
"""


def test_tcp_probe_on_an_open_port_never_restarts(cluster) -> None:
    try:
        cluster.apply(TCP_PROBE)
        wait_pod(cluster, "tcp-probe", all_running)
        time.sleep(8)
        cs = _status(pod_json(cluster, "tcp-probe"))
        assert cs["restartCount"] == 0 and cs["ready"] is True
    finally:
        delete_pods(cluster, "tcp-probe")
