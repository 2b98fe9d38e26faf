"""Pure pieces of the agent: DNS settings, names, env resolution, command/args, limits, volumes, exec frames."""
from __future__ import annotations

import base64
import os

import pytest

from agent import containers as cspec
from agent.network import Ipam, host_veth_name
from agent.runtime import demux_docker_stream
from agent.sandbox import dns_settings
from agent.server import DemuxParser, exec_status
from agent.volumes import binds_for, setup_volumes, write_atomic_dir

POD = {"metadata": {"name": "web", "namespace": "shop", "uid": "u-1", "labels": {"app": "web"}},
       "spec": {"nodeName": "n1", "serviceAccountName": "default"}}
HOST = "nameserver 1.1.1.1\nsearch corp.example\noptions edns0\n"


@pytest.mark.parametrize("spec,want", [
    ({}, (["10.96.0.10"], ["shop.svc.cluster.local", "svc.cluster.local", "cluster.local"], ["ndots:5"])),
    ({"dnsPolicy": "Default"}, (["1.1.1.1"], ["corp.example"], ["edns0"])),
    ({"dnsPolicy": "None", "dnsConfig": {"nameservers": ["9.9.9.9"], "searches": ["a.b"],
                                         "options": [{"name": "ndots", "value": "2"}]}},
     (["9.9.9.9"], ["a.b"], ["ndots:2"])),
    ({"dnsConfig": {"options": [{"name": "ndots", "value": "1"}, {"name": "single-request"}]}},
     (["10.96.0.10"], ["shop.svc.cluster.local", "svc.cluster.local", "cluster.local"],
      ["ndots:1", "single-request"])),
    ({"hostNetwork": True}, (["1.1.1.1"], ["corp.example"], ["edns0"])),
], ids=["cluster-first", "default", "none", "merge", "host-network"])
def test_dns_settings(spec, want):
    assert tuple(dns_settings({**POD, "spec": spec}, "10.96.0.10", HOST)) == want


def test_veth_names_fit_and_are_stable():
    assert host_veth_name("abc") == host_veth_name("abc") != host_veth_name("abd")
    assert len(host_veth_name("0" * 36)) <= 15


def test_ipam_skips_gateway_keeps_and_releases(tmp_path):
    ipam = Ipam(tmp_path / "ipam.json", "10.244.3.0/24")
    assert ipam.allocate("a") == "10.244.3.2" and ipam.allocate("a") == "10.244.3.2"
    assert ipam.allocate("b") == "10.244.3.3"
    again = Ipam(tmp_path / "ipam.json", "10.244.3.0/24")  # a restarted agent
    assert again.allocate("c") == "10.244.3.4"
    again.release("a")
    # Round-robin like CNI host-local: a freed address is not handed out again at once.
    assert again.allocate("d") == "10.244.3.5"
    again.reconcile({"d"})
    assert again.allocations == {"10.244.3.5": "d"}


def test_ipam_wraps_round_to_freed_addresses_and_survives_restarts(tmp_path):
    ipam = Ipam(tmp_path / "ipam.json", "10.244.3.0/29")   # .2 .. .6 (.1 is the gateway)
    got = [ipam.allocate(u) for u in "abcde"]
    assert got == ["10.244.3.2", "10.244.3.3", "10.244.3.4", "10.244.3.5", "10.244.3.6"]
    ipam.release("b")
    again = Ipam(tmp_path / "ipam.json", "10.244.3.0/29")
    assert again.last == "10.244.3.6" and again.allocate("f") == "10.244.3.3"
    with pytest.raises(RuntimeError, match="no free address"):
        again.allocate("g")


def lookups(cms: dict, secrets: dict):
    return (lambda ns, n: cms.get(n)), (lambda ns, n: secrets.get(n))


def test_env_order_sources_and_expansion():
    cm = {"data": {"MODE": "prod", "LEVEL": "3"}}
    secret = {"data": {"PASSWORD": base64.b64encode(b"s3cret").decode()}}
    c = {"name": "app", "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}],
         "env": [{"name": "A", "value": "x"}, {"name": "B", "value": "$(A)-$(MISSING)-$$(A)"},
                 {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                 {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                 {"name": "LBL", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                 {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "s", "key": "PASSWORD"}}},
                 {"name": "CFG_MODE", "value": "override"}]}
    get_cm, get_secret = lookups({"cfg": cm}, {"s": secret})
    svc = {"metadata": {"name": "redis-db"}, "spec": {"clusterIP": "10.96.0.7", "ports": [{"port": 6379, "protocol": "TCP"}]}}
    env = cspec.resolve_env(POD, c, get_configmap=get_cm, get_secret=get_secret, services=[svc],
                            host_ip="192.168.49.2", pod_ip="10.244.0.5")
    assert env["B"] == "x-$(MISSING)-$(A)" and env["POD"] == "web" and env["IP"] == "10.244.0.5"
    assert env["LBL"] == "web" and env["PW"] == "s3cret" and env["CFG_LEVEL"] == "3"
    assert env["CFG_MODE"] == "override"
    assert env["REDIS_DB_SERVICE_HOST"] == "10.96.0.7" and env["REDIS_DB_PORT"] == "tcp://10.96.0.7:6379"


def test_env_missing_sources():
    get_cm, get_secret = lookups({"cfg": {"data": {}}}, {})
    with pytest.raises(cspec.ConfigError, match='configmap "nope" not found'):
        cspec.resolve_env(POD, {"envFrom": [{"configMapRef": {"name": "nope"}}]}, get_configmap=get_cm,
                          get_secret=get_secret)
    with pytest.raises(cspec.ConfigError, match="couldn't find key K in ConfigMap shop/cfg"):
        cspec.resolve_env(POD, {"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "K"}}}]},
                          get_configmap=get_cm, get_secret=get_secret)
    assert cspec.resolve_env(POD, {"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {
        "name": "nope", "key": "K", "optional": True}}}]}, get_configmap=get_cm, get_secret=get_secret) == {}


@pytest.mark.parametrize("c,want", [
    ({}, (None, None)),
    ({"args": ["-p", "$(PORT)"]}, (None, ["-p", "80"])),
    ({"command": ["sh"]}, (["sh"], [])),
    ({"command": ["sh"], "args": ["-c", "x"]}, (["sh"], ["-c", "x"])),
], ids=["image", "args-replace-cmd", "command-drops-cmd", "both"])
def test_entrypoint_and_cmd(c, want):
    assert cspec.entrypoint_and_cmd(c, {"PORT": "80"}) == want


def test_limits():
    c = {"resources": {"limits": {"memory": "128Mi", "cpu": "500m"}}}
    assert cspec.memory_limit(c) == 128 * 2**20 and cspec.nano_cpus(c) == 500_000_000
    assert cspec.memory_limit({}) is None and cspec.nano_cpus({}) is None


def test_configmap_volume_atomic_swap_and_binds(tmp_path):
    pod = {"metadata": {"name": "p", "namespace": "default", "uid": "u-2"},
           "spec": {"volumes": [{"name": "conf", "configMap": {"name": "cfg"}}, {"name": "scratch", "emptyDir": {}}]}}
    data = {"cfg": {"data": {"nginx.conf": "v1", "extra": "e"}}}
    vols = setup_volumes(pod, tmp_path, lambda ns, n: data.get(n), lambda ns, n: None)
    conf = tmp_path / "pods" / "u-2" / "volumes" / "conf"
    assert (conf / "nginx.conf").read_text() == "v1" and os.readlink(conf / "nginx.conf") == "..data/nginx.conf"
    first = os.readlink(conf / "..data")
    data["cfg"] = {"data": {"nginx.conf": "v2"}}
    setup_volumes(pod, tmp_path, lambda ns, n: data.get(n), lambda ns, n: None)
    assert (conf / "nginx.conf").read_text() == "v2" and not (conf / "extra").exists()
    assert os.readlink(conf / "..data") != first and not (conf / first).exists()
    assert write_atomic_dir(conf, {"nginx.conf": (b"v2", 0o644)}) is False  # unchanged: no swap
    binds = binds_for({"volumeMounts": [{"name": "conf", "mountPath": "/etc/nginx"},
                                        {"name": "scratch", "mountPath": "/data", "subPath": "a/b"}]}, vols)
    assert binds[0] == f"{conf}:/etc/nginx:ro"
    assert binds[1].endswith("/volumes/scratch/a/b:/data:rw")


def test_exec_frames_and_status():
    frame = lambda s, d: bytes([s, 0, 0, 0]) + len(d).to_bytes(4, "big") + d  # noqa: E731
    stream = frame(1, b"out") + frame(2, b"err")
    p = DemuxParser()
    assert p.feed(stream[:5]) == [] and p.feed(stream[5:]) == [(1, b"out"), (2, b"err")]
    assert demux_docker_stream(stream) == (b"outerr", b"out", b"err")
    assert exec_status(0, ["true"]) == {"metadata": {}, "status": "Success"}
    assert exec_status(3, ["sh", "-c", "exit 3"])["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
