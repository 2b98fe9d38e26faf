"""`start --offline`: a profile setting that reaches the node processes as the agent's no-pull switch."""
from __future__ import annotations

from pathlib import Path

import pytest

from agent.runtime import DockerRuntime
from minikube_py.cluster import lifecycle
from minikube_py.config import ClusterConfig


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MINIKUBE_PY_HOME", str(tmp_path))
    monkeypatch.delenv("MINIKUBE_PY_OFFLINE", raising=False)
    return tmp_path


def test_an_offline_profile_gives_its_node_processes_the_no_pull_switch(home: Path) -> None:
    assert lifecycle.child_env(ClusterConfig(profile="p", offline=True))["MINIKUBE_PY_OFFLINE"] == "1"
    assert "MINIKUBE_PY_OFFLINE" not in lifecycle.child_env(ClusterConfig(profile="p"))
    assert "MINIKUBE_PY_OFFLINE" not in lifecycle.child_env()


def test_offline_is_kept_by_the_profile_and_old_profiles_default_online(home: Path) -> None:
    ClusterConfig(profile="p", offline=True).save()
    assert ClusterConfig.load("p").offline is True
    (home / "old").mkdir()
    (home / "old" / "cluster.json").write_text('{"profile": "old"}')
    assert ClusterConfig.load("old").offline is False


def test_the_agent_runtime_reads_the_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    """The switch the profile sets is the one the runtime obeys (no Docker call is made to decide)."""
    monkeypatch.setattr("minikube_py.images.docker_client.docker_client", lambda: type("C", (), {"api": None})())
    monkeypatch.setenv("MINIKUBE_PY_OFFLINE", lifecycle.child_env(ClusterConfig(offline=True))["MINIKUBE_PY_OFFLINE"])
    runtime = DockerRuntime()
    assert runtime.allow_pull is False
    with pytest.raises(Exception, match="pulling is disabled"):
        runtime.pull("does-not-exist:1")
