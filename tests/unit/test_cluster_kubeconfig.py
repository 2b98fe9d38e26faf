"""Merging a profile's context into a kubeconfig keeps everything else."""
from __future__ import annotations

import base64
import stat

import yaml

from minikube_py.cluster import kubeconfig

OTHER = {
    "apiVersion": "v1", "kind": "Config", "current-context": "work",
    "clusters": [{"name": "work", "cluster": {"server": "https://work.example:6443"}}],
    "users": [{"name": "work", "user": {"token": "w"}}],
    "contexts": [{"name": "work", "context": {"cluster": "work", "user": "work"}}],
}


def test_merge_keeps_other_contexts_and_sets_current(tmp_path) -> None:
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(OTHER))
    kubeconfig.merge_context("mkt-a", "https://192.168.49.1:8443", b"PEM", "tok", path=path)
    data = yaml.safe_load(path.read_text())
    assert data["current-context"] == "mkt-a"
    assert [c["name"] for c in data["contexts"]] == ["work", "mkt-a"]
    assert data["clusters"][0] == OTHER["clusters"][0]
    mine = data["clusters"][1]["cluster"]
    assert mine["server"] == "https://192.168.49.1:8443"
    assert base64.b64decode(mine["certificate-authority-data"]) == b"PEM"
    assert data["users"][1] == {"name": "mkt-a", "user": {"token": "tok"}}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_merge_twice_updates_in_place(tmp_path) -> None:
    path = tmp_path / "config"
    kubeconfig.merge_context("mkt-a", "https://x:1", b"A", "t1", path=path)
    kubeconfig.merge_context("mkt-a", "https://x:2", b"B", "t2", path=path)
    data = yaml.safe_load(path.read_text())
    assert len(data["contexts"]) == len(data["clusters"]) == len(data["users"]) == 1
    assert data["clusters"][0]["cluster"]["server"] == "https://x:2"
    assert kubeconfig.context_configured("mkt-a", "https://x:2", path=path)
    assert not kubeconfig.context_configured("mkt-a", "https://x:1", path=path)


def test_remove_leaves_others_and_clears_current(tmp_path) -> None:
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(OTHER))
    kubeconfig.merge_context("mkt-a", "https://x:1", b"A", "t", path=path)
    assert kubeconfig.remove_context("mkt-a", path=path)
    data = yaml.safe_load(path.read_text())
    assert [c["name"] for c in data["contexts"]] == ["work"]
    assert data["current-context"] == ""
    assert not kubeconfig.remove_context("mkt-a", path=path)


def test_remove_keeps_current_context_of_another_profile(tmp_path) -> None:
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(OTHER))
    kubeconfig.merge_context("mkt-a", "https://x:1", b"A", "t", path=path, set_current=False)
    kubeconfig.remove_context("mkt-a", path=path)
    assert yaml.safe_load(path.read_text())["current-context"] == "work"


def test_path_from_kubeconfig_env_list(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path}/a:{tmp_path}/b")
    assert kubeconfig.kubeconfig_path() == tmp_path / "a"
