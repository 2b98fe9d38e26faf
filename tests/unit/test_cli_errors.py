"""The CLI's answers to bad input, in minikube's words (no cluster needed)."""
from __future__ import annotations

from click.testing import CliRunner

from minikube_py.cli.main import main
from minikube_py.cluster import lifecycle


def test_delete_of_an_absent_profile_says_so_and_still_cleans(tmp_path, monkeypatch):
    """minikube: `🤷  "x" profile does not exist, trying anyways.` then `Removed all traces`, exit 0."""
    monkeypatch.setenv("MINIKUBE_PY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    swept: list[str] = []
    monkeypatch.setattr(lifecycle, "remove_containers", lambda profile, node=None: swept.append(profile) or 0)
    r = CliRunner().invoke(main, ["delete", "-p", "ghost"])
    assert r.exit_code == 0, r.output
    assert '"ghost" profile does not exist, trying anyways.' in r.output
    assert 'Removed all traces of the "ghost" cluster.' in r.output
    assert "Deleting" not in r.output and swept == ["ghost"]
