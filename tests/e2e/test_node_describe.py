"""A real node looks like a Kubernetes 1.33 node: `kubectl describe node` shows the agent's Lease and the
kubelet/node-controller events; `minikube-py service list` prints minikube's table."""
from __future__ import annotations

import pytest

from tests.conftest import run_cli
from tests.e2e.helpers import wait_until

pytestmark = pytest.mark.e2e


def test_describe_node_shows_lease_and_events(cluster) -> None:
    name = cluster.profile

    # The agent creates its Lease on its first heartbeat, moments after it registers the Node, and the
    # node controller's RegisteredNode comes in between: on a fresh cluster wait for both.
    def described() -> str | None:
        out = cluster.kubectl("describe", "node", name, check=True).stdout
        return out if "RegisteredNode" in out and "HolderIdentity" in out else None

    out = wait_until(described, timeout=30, what="RegisteredNode and the Lease in describe node")
    assert f"Lease:\n  HolderIdentity:  {name}\n" in out, out
    events = out.split("Events:", 1)[1]
    assert "kubelet          Starting kubelet." in events, out
    assert f"Node {name} status is now: NodeReady" in events, out
    assert f"node-controller  Node {name} event: Registered Node {name} in Controller" in events, out


def test_service_list_table(cluster) -> None:
    cluster.kubectl("create", "service", "nodeport", "lst-np", "--tcp=80:8080", check=True)
    try:
        proc = run_cli("service", "list", "-p", cluster.profile)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        lines = proc.stdout.splitlines()
        assert [c.strip() for c in lines[1].split("|")[1:-1]] == ["NAMESPACE", "NAME", "TARGET PORT", "URL"]
        rows = {tuple(c.strip() for c in line.split("|")[1:3]): [c.strip() for c in line.split("|")[3:-1]]
                for line in lines[3:-1]}
        assert rows[("default", "kubernetes")] == ["No node port", ""]
        assert rows[("kube-system", "kube-dns")] == ["No node port", ""]
        port, url = rows[("default", "lst-np")]
        assert port == "80-8080/80" and url.startswith(f"http://{cluster.node_ip(0)}:3"), proc.stdout
        only = run_cli("service", "list", "-n", "kube-system", "-p", cluster.profile).stdout
        assert "kube-dns" in only and "kubernetes " not in only
    finally:
        cluster.kubectl("delete", "service", "lst-np", "--ignore-not-found")
