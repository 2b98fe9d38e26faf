"""`minikube-py profile list`: minikube's table (headers as typed, Status OK/Stopped, the two Active
columns) and its MK_USAGE_NO_PROFILE exit 14 when there is no profile (no cluster needed)."""
from __future__ import annotations

from click.testing import CliRunner

from minikube_py.cli.cluster import PROFILE_LIST_HEADER, profile_list_row, render_ascii_table
from minikube_py.cli.main import main
from minikube_py.cluster import lifecycle


def test_rows_and_table_follow_minikube() -> None:
    rows = [profile_list_row({"profile": "minikube", "driver": "netns", "ip": "192.168.49.2", "port": 8443,
                              "status": "OK", "nodes": 2, "active": True, "active_kubecontext": True}),
            profile_list_row({"profile": "other", "driver": "netns", "ip": "192.168.58.2", "port": 8443,
                              "status": "Stopped", "nodes": 1, "active": False, "active_kubecontext": False})]
    assert rows[0] == ["minikube", "netns", "docker", "192.168.49.2", "8443", "v1.33.0", "OK", "2", "*", "*"]
    lines = render_ascii_table(PROFILE_LIST_HEADER, rows, upper=False).splitlines()
    assert lines[1] == ("| Profile  | VM Driver | Runtime |      IP      | Port | Version | Status  | Nodes "
                        "| Active Profile | Active Kubecontext |")
    assert lines[3] == ("| minikube | netns     | docker  | 192.168.49.2 | 8443 | v1.33.0 | OK      |     2 "
                        "| *              | *                  |")
    assert lines[0] == lines[2] == lines[-1] and lines[0].startswith("|----------|")


def test_no_profile_exits_14(monkeypatch) -> None:
    monkeypatch.setattr(lifecycle, "list_profiles", lambda: [])
    r = CliRunner().invoke(main, ["profile", "list"])
    assert r.exit_code == 14, r.output
    assert "Exiting due to MK_USAGE_NO_PROFILE: No minikube profile was found." in r.output
