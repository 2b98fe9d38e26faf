"""`kubectl run -i --rm` and `kubectl attach` on a real 1-node cluster (pods/attach → agent → Docker attach).

- `run -i --rm --restart=Never -- sh -c 'read x; echo got $x'` with stdin "hello": the container reads
  kubectl's stdin (stdin + stdinOnce), prints `got hello`, exits; kubectl waits for Succeeded, deletes the
  pod and exits 0 — and with the container's code when it fails (`exit 3` → 3);
- `run -it --rm -- sh` on a pseudo-terminal: the typed command runs in the container's tty (which has
  the size kubectl's terminal has), `exit 5` ends the session and kubectl exits 5;
- `kubectl attach cat -i` to a running `cat` with `stdin: true`: a line typed comes back; closing
  kubectl's stdin ends the session (exit 0) and leaves the container running (no stdinOnce).
"""
from __future__ import annotations

import os
import queue
import subprocess
import threading
import time

import pytest

from minikube_py.config import IMAGES
from minikube_py.kubectl import kubectl_path
from tests.e2e.helpers import all_running, delete_pods, pod_json, wait_pod, wait_until

pytestmark = pytest.mark.e2e

CAT_POD = f"""
apiVersion: v1
kind: Pod
metadata:
  name: cat
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: cat
    image: {IMAGES["busybox"]}
    command: ["cat"]
    stdin: true
"""


def test_run_i_rm_pipes_stdin_and_returns_the_exit_code(cluster) -> None:
    try:
        p = cluster.kubectl("run", "-i", "--rm", "bb", f"--image={IMAGES['busybox']}", "--restart=Never", "--",
                            "sh", "-c", "read x; echo got $x", input="hello\n", timeout=90)
        assert p.returncode == 0, p.stderr
        assert p.stdout.splitlines()[0] == "got hello", p.stdout
        assert "couldn't attach" not in p.stderr, p.stderr
        wait_until(lambda: not pod_json(cluster, "bb"), 30, "pod bb deleted by --rm")

        p = cluster.kubectl("run", "-i", "--rm", "bb3", f"--image={IMAGES['busybox']}", "--restart=Never", "--",
                            "sh", "-c", "read x; echo failing $x; exit 3", input="now\n", timeout=90)
        assert p.returncode == 3, (p.stdout, p.stderr)
        assert p.stdout.splitlines()[0] == "failing now"
        assert "pod default/bb3 terminated (Error)" in p.stderr
        wait_until(lambda: not pod_json(cluster, "bb3"), 30, "pod bb3 deleted by --rm")
    finally:
        delete_pods(cluster, "bb", "bb3")


def test_run_it_rm_shell_on_a_tty(cluster) -> None:
    master, slave = os.openpty()
    os.set_blocking(master, False)
    subprocess.run(["stty", "rows", "33", "cols", "101"], stdin=slave, check=True)
    proc = subprocess.Popen([str(kubectl_path()), "--kubeconfig", str(cluster.kubeconfig), "--context",
                             cluster.profile, "run", "-it", "--rm", "sh", f"--image={IMAGES['busybox']}",
                             "--restart=Never", "--", "sh"], stdin=slave, stdout=slave, stderr=slave,
                            start_new_session=True)
    os.close(slave)
    seen = b""

    def read_until(marker: bytes, timeout: float) -> None:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while marker not in seen:
            assert time.monotonic() < deadline, f"no {marker!r} in {seen!r}"
            try:
                seen += os.read(master, 4096)
            except (BlockingIOError, OSError):
                time.sleep(0.05)

    try:
        read_until(b"try pressing enter", 60)
        time.sleep(0.5)  # the session is being set up right after the message
        os.write(master, b"echo hi-$((40+2)); stty size\r")
        read_until(b"hi-42", 20)
        read_until(b"33 101", 10)
        os.write(master, b"exit 5\r")
        assert proc.wait(timeout=60) == 5, seen
        wait_until(lambda: not pod_json(cluster, "sh"), 30, "pod sh deleted by --rm")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
        delete_pods(cluster, "sh")


def test_attach_to_running_cat_echoes_a_line(cluster) -> None:
    try:
        cluster.apply(CAT_POD)
        wait_pod(cluster, "cat", all_running)
        proc = subprocess.Popen([str(kubectl_path()), "--kubeconfig", str(cluster.kubeconfig), "--context",
                                 cluster.profile, "attach", "cat", "-i"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
        try:
            proc.stdin.write("ping\n")
            proc.stdin.flush()
            assert lines.get(timeout=30) == "ping\n"
            proc.stdin.close()  # stdin EOF ends the session, not the container
            assert proc.wait(timeout=30) == 0, proc.stderr.read()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        pod = pod_json(cluster, "cat")
        assert pod["status"]["phase"] == "Running" and all_running(pod)
    finally:
        delete_pods(cluster, "cat")
