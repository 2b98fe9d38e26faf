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


def _stopped_profile(tmp_path, monkeypatch, name: str):
    """A profile whose control plane is not running (its cluster.json exists, no process)."""
    from minikube_py.config import ClusterConfig
    monkeypatch.setenv("MINIKUBE_PY_HOME", str(tmp_path / "home"))
    cfg = ClusterConfig(profile=name)
    cfg.state_dir.mkdir(parents=True)
    (cfg.state_dir / "cluster.json").write_text("{}")
    monkeypatch.setattr(lifecycle, "load_config", lambda profile: cfg)

    class NoApi:
        def __getattr__(self, name):
            raise AssertionError("must not connect to a stopped cluster's API address")

    monkeypatch.setattr(lifecycle, "api_for", lambda *a, **k: NoApi())
    return cfg


def test_commands_needing_the_api_refuse_a_stopped_cluster_without_connecting(tmp_path, monkeypatch):
    """minikube exits 83 (GUEST_NOT_RUNNING) and says how to start it; connecting would send packets to
    an address whose bridge is gone, i.e. out by the default route."""
    _stopped_profile(tmp_path, monkeypatch, "parked")
    for args in (["service", "web", "-p", "parked"], ["addons", "enable", "metallb", "-p", "parked"],
                 ["addons", "disable", "metallb", "-p", "parked"]):
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 83, (args, r.output)
        assert 'The control-plane node parked host is not running: state=Stopped' in r.output
        assert 'minikube-py start -p parked' in r.output
    r = CliRunner().invoke(main, ["addons", "list", "-p", "parked"])  # needs only the config
    assert r.exit_code == 0 and "metallb" in r.output, r.output


def test_service_not_found_exits_115(tmp_path, monkeypatch):
    """minikube's SVC_NOT_FOUND is ExSvcNotFound (115)."""
    _stopped_profile(tmp_path, monkeypatch, "up")

    class Api:
        def get_or_none(self, path):
            return None

    monkeypatch.setattr(lifecycle, "require_running", lambda cfg: None)
    monkeypatch.setattr(lifecycle, "api_for", lambda *a, **k: Api())
    r = CliRunner().invoke(main, ["service", "ghost", "-p", "up"])
    assert r.exit_code == 115, r.output
    assert "Exiting due to SVC_NOT_FOUND: Service 'ghost' was not found in 'default' namespace." in r.output
