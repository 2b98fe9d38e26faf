"""Suite-wide test setup: a stable, separate state root and kubeconfig, and removal of leftovers.

Why a stable root (`/tmp/minikube-py-tests`) and not a tmp dir per run: a run that crashed or was killed
leaves processes, namespaces, bridges, routes and containers behind; the next run finds them through the
profiles' state dirs there and removes them (`minikube_py.cluster.leftovers`). Tests never touch the
user's `~/.minikube-py` or `~/.kube/config`: both variables are forced here, before any test module is
imported, so child processes (`minikube-py start`, the control plane, the agents) inherit them.

Test profiles are named `mkt-*`; their namespaces are `mkpy-mkt-…`, their bridges carry the alias
`minikube-py:mkt-…` and their iptables rules the comment `minikube-py:mkt-…`.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TEST_HOME = Path(os.environ.get("MINIKUBE_PY_TEST_HOME", "/tmp/minikube-py-tests"))
os.environ["MINIKUBE_PY_HOME"] = str(TEST_HOME)
os.environ["KUBECONFIG"] = str(TEST_HOME / "kubeconfig")
os.environ.pop("MINIKUBE_PY_PROFILE", None)
# Test clusters' DNS forwards nothing: the host's resolver is not an address our tests may send to.
os.environ["MINIKUBE_PY_DNS_UPSTREAMS"] = "none"
# ...and its agents never ask Docker to pull: no registry is ours to send to (a missing image fails at once).
os.environ["MINIKUBE_PY_OFFLINE"] = "1"
TEST_HOME.mkdir(parents=True, exist_ok=True)

TEST_PROFILE_PREFIX = "mkt-"


def is_root() -> bool:
    return os.geteuid() == 0


def pytest_sessionstart(session: pytest.Session) -> None:
    """Remove what earlier, dead test runs left behind (never what a live parallel run owns)."""
    if not is_root():
        return
    from minikube_py.cluster.leftovers import remove_leftovers
    removed = remove_leftovers(TEST_PROFILE_PREFIX)
    if removed:
        sys.stderr.write("removed test leftovers: " + ", ".join(removed) + "\n")


def run_cli(*args: str, timeout: float = 600, check: bool = False,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `minikube-py ARGS…` as a child process (as a user would), with the test environment (or *env*)."""
    proc = subprocess.run([sys.executable, "-m", "minikube_py.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=Path(__file__).resolve().parent.parent, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"minikube-py {' '.join(args)} exited {proc.returncode}\n"
                             f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def test_home() -> Path:
    return TEST_HOME
