"""Detached processes with pid and log files: the control plane, DNS and one process per node.

Why not a long-running supervisor daemon: `minikube-py start` is a CLI that returns, like minikube's. Each
process is started in its own session (so a Ctrl-C in the user's shell doesn't reach it), logs to
`<state dir>/logs/<name>.log`, and is remembered in `<state dir>/pids/<name>.pid` together with the argv it
was started with (`<name>.cmd`). `start` run again is the restart: it starts whatever isn't running.

PIDs are reused by the kernel, so before signalling a pid we check that `/proc/<pid>/cmdline` still
contains the command we started ("match"); a pid that now belongs to something else is never touched.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcessInfo:
    name: str
    pid: int | None
    running: bool
    log: Path


def _paths(state_dir: Path, name: str) -> tuple[Path, Path, Path]:
    return (state_dir / "pids" / f"{name}.pid", state_dir / "pids" / f"{name}.cmd",
            state_dir / "logs" / f"{name}.log")


def _cmdline(pid: int) -> list[str] | None:
    """argv of a live (non-zombie) process, or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
            return None
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, IndexError, PermissionError):
        return None
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a] or None


def _contains(argv: list[str], sub: list[str]) -> bool:
    n = len(sub)
    return any(argv[i:i + n] == sub for i in range(len(argv) - n + 1))


def _reap(pid: int) -> None:
    """Collect *pid* if it is our own child (tests start processes directly); ignore it otherwise."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def pid_of(state_dir: Path, name: str) -> int | None:
    """The pid of *name* if it is running *and* still runs the command we started; else None."""
    pid_file, cmd_file, _ = _paths(state_dir, name)
    try:
        pid = int(pid_file.read_text().strip())
        match = json.loads(cmd_file.read_text())["match"]
    except (FileNotFoundError, ValueError, KeyError):
        return None
    _reap(pid)
    argv = _cmdline(pid)
    return pid if argv is not None and _contains(argv, match) else None


def is_running(state_dir: Path, name: str) -> bool:
    return pid_of(state_dir, name) is not None


def start(state_dir: Path, name: str, argv: list[str], match: list[str] | None = None,
          cwd: Path | None = None, env: dict[str, str] | None = None) -> int:
    """Start *argv* detached unless *name* already runs; return its pid.

    *match* is the part of the final argv that identifies the process in `/proc/<pid>/cmdline` (it
    defaults to *argv*; pass the tail when a wrapper like `ip netns exec NS` execs into it).
    """
    existing = pid_of(state_dir, name)
    if existing:
        return existing
    pid_file, cmd_file, log_file = _paths(state_dir, name)
    for d in (pid_file.parent, log_file.parent):
        d.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log, open(os.devnull, "rb") as devnull:
        log.write(f"\n--- {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} start: {' '.join(argv)}\n".encode())
        log.flush()
        proc = subprocess.Popen(argv, stdin=devnull, stdout=log, stderr=subprocess.STDOUT, cwd=cwd,
                                env=env, start_new_session=True, close_fds=True)
    cmd_file.write_text(json.dumps({"argv": argv, "match": match or argv}))
    pid_file.write_text(f"{proc.pid}\n")
    return proc.pid


def stop(state_dir: Path, name: str, timeout: float = 10.0) -> bool:
    """SIGTERM, wait up to *timeout*, then SIGKILL — only if the pid still runs our command.

    Returns True when a process was stopped. The pid files are removed either way.
    """
    pid = pid_of(state_dir, name)
    stopped = False
    if pid:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pid = None
        deadline = time.monotonic() + timeout
        while pid and time.monotonic() < deadline:
            _reap(pid)
            if _cmdline(pid) is None:
                break
            time.sleep(0.05)
        else:
            if pid and pid_of(state_dir, name) == pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                for _ in range(100):
                    _reap(pid)
                    if _cmdline(pid) is None:
                        break
                    time.sleep(0.02)
        stopped = pid is not None
    pid_file, cmd_file, _ = _paths(state_dir, name)
    pid_file.unlink(missing_ok=True)
    cmd_file.unlink(missing_ok=True)
    return stopped


def names(state_dir: Path) -> list[str]:
    """Every process name with a pid file."""
    d = state_dir / "pids"
    return sorted(p.stem for p in d.glob("*.pid")) if d.is_dir() else []


def info(state_dir: Path, name: str) -> ProcessInfo:
    pid = pid_of(state_dir, name)
    return ProcessInfo(name, pid, pid is not None, _paths(state_dir, name)[2])


def wait_exit_or(state_dir: Path, name: str, seconds: float) -> bool:
    """Sleep up to *seconds* unless *name* dies first; True when it is still running (start checks)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not is_running(state_dir, name):
            return False
        time.sleep(0.05)
    return is_running(state_dir, name)


def log_tail(state_dir: Path, name: str, lines: int = 20) -> str:
    """The last *lines* of a process log, for error messages."""
    path = _paths(state_dir, name)[2]
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""
