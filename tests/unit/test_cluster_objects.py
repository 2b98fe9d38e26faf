"""Pure pieces of `start` and the CLI: the kube-dns objects, the node command line."""
from __future__ import annotations

from minikube_py.config import ClusterConfig
from minikube_py.cluster import layout, lifecycle


def test_kube_dns_objects_follow_the_profile_layout() -> None:
    cfg = ClusterConfig(profile="p", **layout.slot_networks(1))
    svc, eps = lifecycle.kube_dns_objects(cfg)
    assert svc["metadata"]["namespace"] == "kube-system" and svc["metadata"]["labels"]["k8s-app"] == "kube-dns"
    assert svc["spec"]["clusterIP"] == "10.112.0.10"
    assert "selector" not in svc["spec"]  # the DNS server is not a pod: Endpoints are ours
    assert [(p["name"], p["port"], p["protocol"]) for p in svc["spec"]["ports"]] == \
        [("dns", 53, "UDP"), ("dns-tcp", 53, "TCP")]
    assert eps["subsets"] == [{"addresses": [{"ip": "192.168.58.1"}],
                               "ports": [{"name": "dns", "port": 53, "protocol": "UDP"},
                                         {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]}]


def test_node_process_runs_inside_its_namespace() -> None:
    cfg = ClusterConfig(profile="p")
    node = layout.node_spec(cfg, 1)
    argv, match = lifecycle.node_argv(cfg, node)
    assert argv[:4] == ["ip", "netns", "exec", "mkpy-p-1"]
    assert argv[-len(match):] == match
    # What `join` starts: the pod CIDR the control plane gave (here: the one passed), told where the API is.
    assert match[:8] == ["-m", "agent", "--profile", "p", "--node-name", "p-m02", "--node-ip", "192.168.49.3"]
    assert match[8:12] == ["--pod-cidr", "10.244.1.0/24", "--api-url", "https://192.168.49.1:8443"]
    _, other = lifecycle.node_argv(cfg, node, pod_cidr="10.244.7.0/24")
    assert other[9] == "10.244.7.0/24"


def test_node_ready_reads_the_ready_condition() -> None:
    assert lifecycle.node_ready({"status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    assert not lifecycle.node_ready({"status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}})
    assert not lifecycle.node_ready(None)
