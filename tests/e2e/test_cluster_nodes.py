"""Local multi-node: `start --nodes 3`, `node stop|start|add|delete|list` with real namespaces and agents."""
from __future__ import annotations

import json
import subprocess
import time

import pytest

from minikube_py.cluster import layout, network, supervisor
from tests.conftest import run_cli
from tests.e2e.conftest import E2E3_PROFILE
from tests.e2e.helpers import node_ready

pytestmark = pytest.mark.e2e


def _wait_ready(cluster, name: str, want: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if node_ready(cluster).get(name) == want:
            return
        time.sleep(1)
    raise AssertionError(f"node {name} not Ready={want} after {timeout}s: {node_ready(cluster)}")


def test_three_ready_nodes_with_minikube_names(cluster3) -> None:
    names = [E2E3_PROFILE, f"{E2E3_PROFILE}-m02", f"{E2E3_PROFILE}-m03"]
    assert node_ready(cluster3) == {n: "True" for n in names}
    listed = run_cli("node", "list", "-p", E2E3_PROFILE).stdout.splitlines()
    assert listed == [f"{n}\t{cluster3.node_ip(i)}" for i, n in enumerate(names)]
    # host-gw: node 0 has a route to node 2's pod CIDR via node 2.
    routes = cluster3.node_exec(0, "ip", "-j", "route").stdout
    assert {"dst": cluster3.config.node_pod_cidr(2), "gateway": cluster3.node_ip(2)}.items() <= \
        next(r for r in json.loads(routes) if r.get("dst") == cluster3.config.node_pod_cidr(2)).items()


def test_node_stop_partitions_and_node_start_heals(cluster3) -> None:
    name = f"{E2E3_PROFILE}-m03"
    node = layout.find_node(cluster3.config, name)
    stop = run_cli("node", "stop", "m03", "-p", E2E3_PROFILE)  # minikube's short name, as its docs type it
    assert stop.returncode == 0, stop.stderr
    assert f'Successfully stopped node "{name}"' in stop.stdout
    status = run_cli("status", "-p", E2E3_PROFILE)
    assert status.returncode == 3 and f"{name}\ntype: Worker\nhost: Stopped\nkubelet: Stopped\n" in status.stdout
    assert not supervisor.is_running(cluster3.config.state_dir, node.process_name)
    link = json.loads(subprocess.run(["ip", "-j", "link", "show", "dev", node.host_veth],
                                     capture_output=True, text=True).stdout)[0]
    assert "UP" not in link["flags"]
    assert network.netns_exists(node.netns)  # the "machine" still exists; it is only cut off
    _wait_ready(cluster3, name, "Unknown", timeout=60)
    start = run_cli("node", "start", name, "-p", E2E3_PROFILE)
    assert start.returncode == 0, start.stdout + start.stderr
    _wait_ready(cluster3, name, "True", timeout=60)


def test_node_add_then_delete(cluster3) -> None:
    add = run_cli("node", "add", "-p", E2E3_PROFILE)
    assert add.returncode == 0, add.stdout + add.stderr
    new = f"{E2E3_PROFILE}-m04"
    assert node_ready(cluster3).get(new) == "True"
    node = layout.find_node(cluster3.config, new)
    # Existing nodes learned the route to the new node's pods.
    assert cluster3.config.node_pod_cidr(3) in cluster3.node_exec(0, "ip", "route").stdout

    delete = run_cli("node", "delete", new, "-p", E2E3_PROFILE)
    assert delete.returncode == 0, delete.stdout + delete.stderr
    assert new not in node_ready(cluster3)
    assert not network.netns_exists(node.netns)
    assert not network.link_exists(node.host_veth)
    assert cluster3.config.node_pod_cidr(3) not in cluster3.node_exec(0, "ip", "route").stdout
    assert cluster3.config.node_pod_cidr(3) not in subprocess.run(["ip", "route"], capture_output=True,
                                                                  text=True).stdout
