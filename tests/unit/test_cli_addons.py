"""`minikube-py addons list|enable` in minikube's words: the tablewriter table and the 3rd-party warnings
(no cluster needed)."""
from __future__ import annotations

from click.testing import CliRunner

from minikube_py.cli.cluster import display_width, render_ascii_table
from minikube_py.cli.main import main
from minikube_py.cluster import lifecycle
from minikube_py.config import ClusterConfig


def _profile(tmp_path, monkeypatch, addons: dict[str, bool]) -> ClusterConfig:
    monkeypatch.setenv("MINIKUBE_PY_HOME", str(tmp_path / "home"))
    cfg = ClusterConfig(profile="p")
    cfg.addons.update(addons)
    cfg.save = lambda: None  # type: ignore[method-assign]
    monkeypatch.setattr(lifecycle, "load_config", lambda profile: cfg)
    monkeypatch.setattr(lifecycle, "require_running", lambda cfg: None)
    monkeypatch.setattr(lifecycle, "api_for", lambda *a, **k: None)
    return cfg


def test_wide_characters_count_two_columns_like_runewidth() -> None:
    assert display_width("enabled ✅") == 10 and display_width("disabled") == 8
    lines = render_ascii_table(["Status"], [["enabled ✅"], ["disabled"]]).splitlines()
    assert lines[0] == "|------------|" and lines[3] == "| enabled ✅ |" and lines[4] == "| disabled   |"


def test_addons_list_is_minikubes_table(tmp_path, monkeypatch) -> None:
    _profile(tmp_path, monkeypatch, {"metallb": True})
    r = CliRunner().invoke(main, ["addons", "list", "-p", "p"])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines() == [
        "|------------|---------|------------|---------------------|",
        "| ADDON NAME | PROFILE |   STATUS   |     MAINTAINER      |",
        "|------------|---------|------------|---------------------|",
        "| ingress    | p       | disabled   | Kubernetes          |",
        "| metallb    | p       | enabled ✅ | 3rd party (MetalLB) |",
        "|------------|---------|------------|---------------------|",
    ]


def test_enabling_metallb_warns_like_minikube(tmp_path, monkeypatch) -> None:
    _profile(tmp_path, monkeypatch, {})

    class Api:
        def get_or_none(self, path):
            return None

        def ensure(self, collection, obj):
            return obj

    monkeypatch.setattr(lifecycle, "api_for", lambda *a, **k: Api())
    r = CliRunner().invoke(main, ["addons", "enable", "metallb", "-p", "p"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0] == ("❗  metallb is a 3rd party addon and is not maintained or verified by minikube "
                        "maintainers, enable at your own risk.")
    assert lines[1] == "❗  metallb does not currently have an associated maintainer."
    assert lines[-1] == "🌟  The 'metallb' addon is enabled"


def test_configure_of_an_addon_without_options_is_minikubes_failure_line(tmp_path, monkeypatch) -> None:
    _profile(tmp_path, monkeypatch, {})
    for name in ("ingress", "nosuch"):
        r = CliRunner().invoke(main, ["addons", "configure", name, "-p", "p"])
        assert r.exit_code == 0 and r.output == f"❌  {name} has no available configuration options\n", r.output


def test_configure_metallb_asks_again_like_minikube(tmp_path, monkeypatch) -> None:
    """minikube's AskForStaticValidatedValue: an answer that is no IP gets `--Invalid input, please enter
    a value:`, an empty one `--Error, please enter a value:`, and the same prompt again."""
    cfg = _profile(tmp_path, monkeypatch, {})
    written: list[dict] = []

    class Api:
        def get_or_none(self, path):
            return None

        def ensure(self, collection, obj):
            written.append(obj)
            return obj

    monkeypatch.setattr(lifecycle, "api_for", lambda *a, **k: Api())
    r = CliRunner().invoke(main, ["addons", "configure", "metallb", "-p", "p"],
                           input="192.168.49.300\n\n192.168.49.100\n192.168.49.110\n")
    assert r.exit_code == 0, r.output
    assert r.stderr == "--Invalid input, please enter a value:--Error, please enter a value:"
    assert r.stdout.count("-- Enter Load Balancer Start IP: ") == 3
    assert r.stdout.count("-- Enter Load Balancer End IP: ") == 1
    assert r.stdout.endswith("✅  metallb was successfully configured\n")
    assert cfg.metallb_pool == ["192.168.49.100-192.168.49.110"]
    assert any(o["kind"] == "ConfigMap" for o in written)
