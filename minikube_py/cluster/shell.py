"""Running host tools (`ip`, `iptables`, `sysctl`) for cluster bring-up.

Why subprocesses and not pyroute2 here: bring-up runs a few dozen commands once per `start`, so the
~3 ms per `ip` call doesn't matter, and every step then reads exactly like the command a learner would type
(`ip -n mkpy-x-0 route add 10.96.0.0/12 dev cni0`). The hot path (pod plumbing, per pod) lives in the agent
and uses in-process pyroute2 handles instead (DESIGN.md, "Facts measured").
"""
from __future__ import annotations

import json
import subprocess
from typing import Any


class CommandError(RuntimeError):
    """A host command failed; the message carries the command line and its stderr."""

    def __init__(self, argv: list[str], returncode: int, stderr: str) -> None:
        self.argv = argv
        self.returncode = returncode
        self.stderr = stderr
        super().__init__(f"`{' '.join(argv)}` failed ({returncode}): {stderr.strip()}")


def run(argv: list[str], check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run *argv* without a shell, capturing output; raise `CommandError` when *check* and it fails."""
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise CommandError(argv, proc.returncode, proc.stderr)
    return proc


def ok(argv: list[str]) -> bool:
    """True when *argv* exits 0 (used for `iptables -C`-style checks)."""
    return run(argv, check=False).returncode == 0


def ip_json(args: list[str], netns: str | None = None) -> list[dict[str, Any]]:
    """`ip -j [-n NS] ARGS` parsed; an empty list when the object doesn't exist."""
    argv = ["ip", "-j"] + (["-n", netns] if netns else []) + args
    proc = run(argv, check=False)
    if proc.returncode != 0 or not proc.stdout.strip():
        return []
    return json.loads(proc.stdout)


def ip(args: list[str], netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`ip [-n NS] ARGS`."""
    return run(["ip"] + (["-n", netns] if netns else []) + args, check=check)
