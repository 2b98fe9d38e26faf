"""Whole-cluster fixtures: `cluster` (1 node, profile `mkt-eNNN`) and `cluster3` (3 nodes, `mkt-mNNN`).

A cluster is started with the real CLI (`minikube-py start`, as a user would) after the images exist
(`image bootstrap --alias-upstream`, idempotent, so the guide's YAML with upstream image names applies
unchanged) and is always deleted at the end, also when tests fail.

Only one test cluster runs at a time: a `_Clusters` manager (session-scoped) starts the profile a test
asks for and deletes the other one first. The 1-node cluster therefore lives for the whole session unless
a multi-node module needs `cluster3`, after which the next `cluster` user starts it again. (Why: two
running profiles cannot both own 127.0.0.1:8443, and 2 cores run one cluster much better than two.)

Helpers on the `Cluster` object: `kubectl(*args)` (the real kubectl v1.33 with `--context <profile>`),
`apply(path_or_yaml)`, `node_exec(node_index, *cmd)` (a command inside a node's network namespace),
`new_client()` (an `ApiClient`; the async fixture `api` gives one per test and closes it).
"""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator, Iterator

import pytest

from minikube_py.config import ClusterConfig
from tests.conftest import run_cli

# Unique per test session: several people (and CI) run the e2e suite on one machine at once, and a
# session must never start, stop or delete another session's cluster. Exactly 8 characters, because node
# namespace names are cut from the first 8 characters of the profile (`mkpy-<profile[:8]>-<i>`).
_SESSION = f"{os.getpid() % 1000:03d}"
E2E_PROFILE = f"mkt-e{_SESSION}"
E2E3_PROFILE = f"mkt-m{_SESSION}"


def _require_root_and_docker() -> None:
    if os.geteuid() != 0:
        pytest.skip("e2e needs root (namespaces, bridges, iptables)")
    try:
        import docker
        docker.from_env(timeout=10).ping()
    except Exception as err:  # noqa: BLE001
        pytest.skip(f"e2e needs the Docker engine: {err}")


@dataclass
class Cluster:
    profile: str
    config: ClusterConfig
    kubeconfig: Path = field(default_factory=lambda: Path(os.environ["KUBECONFIG"]))

    @property
    def nodes(self):
        from minikube_py.cluster import layout
        return layout.load_nodes(self.config)

    def kubectl(self, *args: str, input: str | None = None, timeout: float = 120,
                check: bool = False) -> subprocess.CompletedProcess[str]:
        from minikube_py.kubectl import kubectl_path
        proc = subprocess.run([str(kubectl_path()), "--kubeconfig", str(self.kubeconfig), "--context",
                               self.profile, *args], input=input, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} exited {proc.returncode}: {proc.stderr}{proc.stdout}")
        return proc

    def apply(self, path_or_yaml: str | Path, *extra: str) -> subprocess.CompletedProcess[str]:
        """`kubectl apply -f` a file/dir, or YAML text given as a string containing a newline."""
        text = str(path_or_yaml)
        if isinstance(path_or_yaml, str) and "\n" in text:
            return self.kubectl("apply", "-f", "-", *extra, input=text, check=True)
        return self.kubectl("apply", "-f", text, *extra, check=True)

    def node_exec(self, node_index: int, *cmd: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run *cmd* inside node *node_index*'s network namespace (e.g. `curl` a ClusterIP from a node)."""
        return subprocess.run(["ip", "netns", "exec", self.config.netns_name(node_index), *cmd],
                              capture_output=True, text=True, timeout=timeout)

    def new_client(self):
        from minikube_py.client import ApiClient
        return ApiClient.from_kubeconfig(self.kubeconfig, context=self.profile)

    def node_ip(self, node_index: int = 0) -> str:
        return self.config.node_ip(node_index)


class _Clusters:
    """Starts the requested test profile (one at a time) and deletes everything at the end."""

    def __init__(self) -> None:
        self.running: str | None = None
        self.images_ready = False

    def ensure_images(self) -> None:
        if self.images_ready:
            return
        proc = run_cli("image", "bootstrap", "--alias-upstream", timeout=1800)
        if proc.returncode != 0:
            pytest.fail(f"image bootstrap failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        self.images_ready = True

    def ensure(self, profile: str, *start_args: str) -> Cluster:
        from minikube_py.cluster.leftovers import claim
        _require_root_and_docker()
        if self.running and self.running != profile:
            self.delete(self.running)
        if self.running != profile:
            self.ensure_images()
            claim(profile)  # a parallel test session's leftover cleanup leaves an owned profile alone
            # `--offline` keeps the agents from pulling, and without the test-wide MINIKUBE_PY_OFFLINE
            # switch it is the profile's setting that does (test_missing_image_... checks the refusal).
            env = {k: v for k, v in os.environ.items() if k != "MINIKUBE_PY_OFFLINE"}
            proc = run_cli("start", "-p", profile, "--offline", *start_args, timeout=600, env=env)
            self.running = profile
            if proc.returncode != 0:
                pytest.fail(f"minikube-py start -p {profile} failed ({proc.returncode}):\n"
                            f"{proc.stdout}\n{proc.stderr}")
        return Cluster(profile, ClusterConfig.load(profile))

    def delete(self, profile: str) -> None:
        proc = run_cli("delete", "-p", profile, timeout=300)
        if self.running == profile:
            self.running = None
        if proc.returncode != 0:
            raise AssertionError(f"delete -p {profile} failed: {proc.stdout}\n{proc.stderr}")

    def delete_all(self) -> None:
        for profile in (E2E_PROFILE, E2E3_PROFILE):
            run_cli("delete", "-p", profile, timeout=300)
        self.running = None


@pytest.fixture(scope="session")
def _clusters() -> Iterator[_Clusters]:
    manager = _Clusters()
    try:
        yield manager
    finally:
        manager.delete_all()


@pytest.fixture
def cluster(_clusters: _Clusters) -> Cluster:
    """The 1-node cluster `mkt-e2e` (started once, shared by every test that uses it)."""
    return _clusters.ensure(E2E_PROFILE)


@pytest.fixture(scope="module")
def cluster3(_clusters: _Clusters) -> Iterator[Cluster]:
    """A 3-node cluster `mkt-e2e3` for a module's multi-node tests; deleted after the module."""
    # A short grace and eviction timeout so that node-failure tests finish in seconds, not minutes.
    c = _clusters.ensure(E2E3_PROFILE, "--nodes", "3", "--node-grace", "20", "--pod-eviction-timeout", "20")
    try:
        yield c
    finally:
        _clusters.delete(E2E3_PROFILE)


@pytest.fixture
async def api(cluster: Cluster) -> AsyncIterator:
    """An `ApiClient` for the 1-node cluster, on this test's event loop."""
    client = cluster.new_client()
    try:
        yield client
    finally:
        await client.close()

