"""`minikube-py service list`: minikube's table (NAMESPACE, NAME, TARGET PORT, URL), `No node port` for
Services without one, `-n`, `-o json`, exit 119 when the API cannot be asked (no cluster needed)."""
from __future__ import annotations

import json

from click.testing import CliRunner

from minikube_py.cli.cluster import render_ascii_table, service_list_urls
from minikube_py.cli.main import main
from minikube_py.cluster import layout, lifecycle
from minikube_py.cluster.apicalls import ApiCallError

SERVICES = [
    {"metadata": {"name": "kubernetes", "namespace": "default"},
     "spec": {"type": "ClusterIP", "ports": [{"name": "https", "port": 443, "targetPort": 8443}]}},
    {"metadata": {"name": "web", "namespace": "default"},
     "spec": {"type": "NodePort", "ports": [{"port": 80, "targetPort": 3000, "nodePort": 30080}]}},
    {"metadata": {"name": "multi", "namespace": "apps"},
     "spec": {"type": "LoadBalancer", "ports": [{"name": "http", "port": 80, "nodePort": 31000},
                                                {"name": "https", "port": 443, "nodePort": 31001}]}},
]


def test_service_list_urls_follow_minikube():
    got = service_list_urls(SERVICES, "192.168.49.2")
    assert got == [
        {"Namespace": "default", "Name": "kubernetes", "URLs": [], "PortNames": ["No node port"]},
        {"Namespace": "default", "Name": "web", "URLs": ["http://192.168.49.2:30080"], "PortNames": ["80"]},
        {"Namespace": "apps", "Name": "multi", "URLs": ["http://192.168.49.2:31000", "http://192.168.49.2:31001"],
         "PortNames": ["http/80", "https/443"]},
    ]


def test_ascii_table_like_tablewriter():
    text = render_ascii_table(["Namespace", "Name", "Target Port", "URL"],
                              [["default", "kubernetes", "No node port", ""],
                               ["default", "web", "80", "http://192.168.49.2:30080"],
                               ["apps", "multi", "http/80\nhttps/443", "http://a:1\nhttp://a:2"]])
    assert text.splitlines() == [
        "|-----------|------------|--------------|---------------------------|",
        "| NAMESPACE |    NAME    | TARGET PORT  |            URL            |",
        "|-----------|------------|--------------|---------------------------|",
        "| default   | kubernetes | No node port |                           |",
        "| default   | web        |           80 | http://192.168.49.2:30080 |",
        "| apps      | multi      | http/80      | http://a:1                |",
        "|           |            | https/443    | http://a:2                |",
        "|-----------|------------|--------------|---------------------------|",
    ]


def _running(tmp_path, monkeypatch, answer):
    from minikube_py.config import ClusterConfig
    monkeypatch.setenv("MINIKUBE_PY_HOME", str(tmp_path / "home"))
    cfg = ClusterConfig(profile="up")
    monkeypatch.setattr(lifecycle, "load_config", lambda profile: cfg)
    monkeypatch.setattr(lifecycle, "require_running", lambda cfg: None)
    monkeypatch.setattr(layout, "load_nodes", lambda cfg: [layout.node_spec(cfg, 0)])
    asked: list[str] = []

    class Api:
        def get(self, path):
            asked.append(path)
            return answer(path)

    monkeypatch.setattr(lifecycle, "api_for", lambda *a, **k: Api())
    return cfg, asked


def test_service_list_is_a_subcommand_not_a_service_named_list(tmp_path, monkeypatch):
    cfg, asked = _running(tmp_path, monkeypatch, lambda path: {"items": SERVICES[:2]})
    r = CliRunner().invoke(main, ["service", "list", "-p", "up"])
    assert r.exit_code == 0, r.output
    assert asked == ["/api/v1/services"]  # every namespace by default
    lines = r.output.splitlines()
    assert lines[1].split("|")[1:-1] == [" NAMESPACE ", "    NAME    ", " TARGET PORT  ", "            URL            "]
    assert "| default   | kubernetes | No node port |" in r.output
    assert f"http://{cfg.node_ip(0)}:30080" in r.output

    r = CliRunner().invoke(main, ["service", "list", "-n", "apps", "-o", "json", "-p", "up"])
    assert r.exit_code == 0, r.output
    assert asked[-1] == "/api/v1/namespaces/apps/services"
    assert json.loads(r.output)[0]["Name"] == "kubernetes"


def test_service_list_exits_119_when_the_api_fails(tmp_path, monkeypatch):
    def boom(path):
        raise ApiCallError(500, "etcdserver: leader changed")
    _running(tmp_path, monkeypatch, boom)
    r = CliRunner().invoke(main, ["service", "list", "-p", "up"])
    assert r.exit_code == 119, r.output
    assert "Failed to get service URL - check that minikube is running" in r.output


def _one_service(tmp_path, monkeypatch, svc: dict | None):
    """A running profile whose API answers `get_or_none` for one Service (None: not found)."""
    cfg, _ = _running(tmp_path, monkeypatch, lambda path: {})

    class Api:
        def get_or_none(self, path):
            return svc

    monkeypatch.setattr(lifecycle, "api_for", lambda *a, **k: Api())
    return cfg


def test_service_prints_minikubes_table_with_the_service_port(tmp_path, monkeypatch):
    """minikube's WaitForService: the `service list` table; TARGET PORT is the Service port (30000 for
    the guide's counter-lb, whose targetPort is 3000), `name/port` for a named port."""
    lb = {"metadata": {"name": "counter-lb", "namespace": "default"},
          "spec": {"type": "LoadBalancer", "ports": [{"port": 30000, "targetPort": 3000, "nodePort": 32244}]}}
    cfg = _one_service(tmp_path, monkeypatch, lb)
    r = CliRunner().invoke(main, ["service", "counter-lb", "-p", "up"])
    assert r.exit_code == 0, r.output
    url = f"http://{cfg.node_ip(0)}:32244"
    assert r.output.splitlines()[3] == f"| default   | counter-lb |       30000 | {url} |"
    r = CliRunner().invoke(main, ["service", "counter-lb", "--url", "-p", "up"])
    assert r.exit_code == 0 and r.output == url + "\n", r.output


def test_service_without_node_port_is_no_error(tmp_path, monkeypatch):
    """minikube: a `No node port` row, `😿  service default/redis has no node port`, exit 0."""
    redis = {"metadata": {"name": "redis", "namespace": "default"},
             "spec": {"type": "ClusterIP", "ports": [{"port": 6379, "targetPort": 6379}]}}
    _one_service(tmp_path, monkeypatch, redis)
    r = CliRunner().invoke(main, ["service", "redis", "-p", "up"])
    assert r.exit_code == 0, r.output
    assert "| default   | redis |             | No node port |" in r.output
    assert r.output.endswith("😿  service default/redis has no node port\n")
    r = CliRunner().invoke(main, ["service", "redis", "--url", "-p", "up"])
    assert r.exit_code == 0 and r.output == "😿  service default/redis has no node port\n", r.output


def test_service_not_found_points_at_service_list(tmp_path, monkeypatch):
    _one_service(tmp_path, monkeypatch, None)
    r = CliRunner().invoke(main, ["service", "ghost", "-p", "up"])
    assert r.exit_code == 115, r.output
    assert "Or list out all the services using 'minikube-py service list'" in r.output
