"""The supervisor starts detached processes and stops them by pid, never touching a reused pid."""
from __future__ import annotations

import os
import subprocess
import sys
import time

from minikube_py.cluster import supervisor

SLEEPER = [sys.executable, "-c", "import time, sys; print('up', flush=True); time.sleep(600)", "mkt-sup"]


def test_start_then_stop_by_pid(tmp_path) -> None:
    pid = supervisor.start(tmp_path, "sleeper", SLEEPER)
    try:
        assert supervisor.is_running(tmp_path, "sleeper")
        assert (tmp_path / "pids" / "sleeper.pid").read_text().strip() == str(pid)
        assert os.getsid(pid) == pid  # its own session: a Ctrl-C in the CLI's terminal doesn't reach it
        # Starting again is a no-op while it runs.
        assert supervisor.start(tmp_path, "sleeper", SLEEPER) == pid
        deadline = time.monotonic() + 5
        while "up" not in (tmp_path / "logs" / "sleeper.log").read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "up" in (tmp_path / "logs" / "sleeper.log").read_text()
        assert supervisor.stop(tmp_path, "sleeper", timeout=5)
        assert not supervisor.is_running(tmp_path, "sleeper")
        assert not (tmp_path / "pids" / "sleeper.pid").exists()
    finally:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass


def test_sigkill_after_timeout_when_sigterm_is_ignored(tmp_path) -> None:
    argv = [sys.executable, "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); "
            "time.sleep(600)", "mkt-stubborn"]
    pid = supervisor.start(tmp_path, "stubborn", argv)
    deadline = time.monotonic() + 5
    while "ready" not in (tmp_path / "logs" / "stubborn.log").read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    t0 = time.monotonic()
    assert supervisor.stop(tmp_path, "stubborn", timeout=0.5)
    assert time.monotonic() - t0 < 5
    assert not supervisor.is_running(tmp_path, "stubborn")
    assert supervisor._cmdline(pid) is None


def test_reused_pid_is_never_signalled(tmp_path) -> None:
    """A pid file pointing at some other process (pid reuse) is reported stopped and left alone."""
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "not-ours"])
    try:
        (tmp_path / "pids").mkdir()
        (tmp_path / "pids" / "ghost.pid").write_text(f"{other.pid}\n")
        (tmp_path / "pids" / "ghost.cmd").write_text('{"argv": ["x"], "match": ["-m", "agent"]}')
        assert not supervisor.is_running(tmp_path, "ghost")
        assert not supervisor.stop(tmp_path, "ghost", timeout=0.2)
        assert other.poll() is None  # still alive
    finally:
        other.kill()
        other.wait()


def test_crashed_process_reports_stopped(tmp_path) -> None:
    supervisor.start(tmp_path, "crasher", [sys.executable, "-c", "raise SystemExit(3)"])
    deadline = time.monotonic() + 5
    while supervisor.is_running(tmp_path, "crasher") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert supervisor.info(tmp_path, "crasher").running is False
