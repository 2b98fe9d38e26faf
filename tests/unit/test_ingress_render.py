"""nginx.conf rendering from Ingresses (golden files) and the allowlist in front of it."""
import os
from pathlib import Path

import pytest
import yaml

from minikube_py.ingress.nginx_conf import build_config, render_nginx_conf, validate_ingress

GOLDEN = Path(__file__).parent / "golden" / "ingress"
GUIDE = Path(__file__).resolve().parents[2].parent / "shared" / "guide"


def guide_ingress(name: str, ip: str = "192.168.49.2") -> dict:
    text = (GUIDE / name).read_text().replace("NODEIP", ip)
    return next(d for d in yaml.safe_load_all(text) if d and d["kind"] == "Ingress")


def endpoints(ns: str, svc: str, port: str) -> list[str]:
    table = {("default", "echo-v1"): ["10.244.0.5", "10.244.0.6"], ("default", "echo-v2"): ["10.244.0.7"]}
    return [f"{ip}:3000" for ip in table.get((ns, svc), [])]


def check_golden(name: str, text: str) -> None:
    """Regenerate after an intended change with `UPDATE_GOLDEN=1` and review the diff like code; a missing
    golden file fails (it used to be written silently, so the test could not fail when one was lost)."""
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()


def test_guide_echo_v1_and_v2_route_by_host():
    ings = [dict(guide_ingress("echo-v1.yml"), metadata={"name": "echo-v1", "namespace": "default"}),
            dict(guide_ingress("echo-v2.yml"), metadata={"name": "echo-v2", "namespace": "default"})]
    check_golden("echo-hosts.conf", render_nginx_conf(build_config(ings, endpoints)))


def test_paths_prefix_exact_annotations_and_missing_endpoints():
    ing = {"metadata": {"name": "paths", "namespace": "default", "annotations": {
        "nginx.ingress.kubernetes.io/proxy-read-timeout": "1",
        "nginx.ingress.kubernetes.io/proxy-body-size": "1k",
        "nginx.ingress.kubernetes.io/rewrite-target": "/"}},
        "spec": {"rules": [{"http": {"paths": [
            {"path": "/v1", "pathType": "Prefix",
             "backend": {"service": {"name": "echo-v1", "port": {"number": 3000}}}},
            {"path": "/exact", "pathType": "Exact",
             "backend": {"service": {"name": "echo-v2", "port": {"number": 3000}}}},
            {"path": "/gone", "pathType": "Prefix",
             "backend": {"service": {"name": "nobody", "port": {"number": 80}}}}]}}]}}
    check_golden("paths.conf", render_nginx_conf(build_config([ing], endpoints)))


def test_two_ingresses_claiming_the_same_path_render_one_location():
    a = guide_ingress("echo-v1.yml") | {"metadata": {"name": "a", "namespace": "default"}}
    b = guide_ingress("echo-v1.yml") | {"metadata": {"name": "b", "namespace": "default"}}
    text = render_nginx_conf(build_config([a, b], endpoints))
    assert text.count("# default/a -> echo-v1:3000") == 1
    assert "# default/b" not in text


@pytest.mark.parametrize("annotation,value", [
    ("proxy-read-timeout", "1s; load_module /tmp/x.so"),
    ("proxy-body-size", "1m;}"),
    ("rewrite-target", "/$1 break; return 200"),
    ("ssl-redirect", "yes"),
    ("proxy-send-timeout", "1s\nerror_log /tmp/x"),
])
def test_injected_annotation_is_rejected_and_left_out(annotation, value):
    ing = guide_ingress("echo-v1.yml")
    ing["metadata"] = {"name": "evil", "namespace": "default",
                       "annotations": {f"nginx.ingress.kubernetes.io/{annotation}": value}}
    causes = validate_ingress(ing)
    assert [c.field for c in causes] == [f"metadata.annotations[nginx.ingress.kubernetes.io/{annotation}]"]
    config = build_config([ing], endpoints)
    assert "default/evil" in config.rejected
    text = render_nginx_conf(config)
    assert "load_module" not in text and "evil" not in text


@pytest.mark.parametrize("path", ["/a{b", "/a;b", "/a b", "/$host", "/a#", 'x/"'])
def test_path_outside_the_allowlist_is_rejected(path):
    ing = guide_ingress("echo-v1.yml")
    ing["spec"]["rules"][0]["http"]["paths"][0]["path"] = path
    assert [c.field for c in validate_ingress(ing)] == ["spec.rules[0].http.paths[0].path"]


def test_bad_host_is_rejected():
    ing = guide_ingress("echo-v1.yml")
    ing["spec"]["rules"][0]["host"] = "a.b;c"
    assert [c.field for c in validate_ingress(ing)] == ["spec.rules[0].host"]


def test_api_validation_refuses_what_the_nginx_allowlist_refuses():
    from minikube_py.api.resources import RESOURCES
    from minikube_py.api.validation import validate

    ing = guide_ingress("echo-v1.yml")
    ing["metadata"]["annotations"] = {"nginx.ingress.kubernetes.io/proxy-read-timeout": "1s; load_module /x"}
    causes = validate(RESOURCES["ingresses"], ing)
    assert [c["field"] for c in causes] == ["metadata.annotations[nginx.ingress.kubernetes.io/proxy-read-timeout]"]
    assert causes[0]["message"].startswith('Invalid value: "1s; load_module /x"')
    assert validate(RESOURCES["ingresses"], guide_ingress("echo-v1.yml")) == []
