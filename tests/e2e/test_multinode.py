"""Issue 8, "Many nodes", end to end on a real 3-node cluster (fixture `cluster3`: node grace 20 s, pod
eviction timeout 20 s), with the real CLI, the real kubectl and real curl.

The tests run in file order and build on each other (one cluster for the module, ≤ 4 minutes):

1. spread + reachability: a 6-replica echo Deployment covers all three nodes; a pod on node 1 reaches a
   pod on node 3 by IP and through the Service's DNS name; every node's NodePort answers from the host.
2. failure of the node holding the LoadBalancer IP (`node stop`): NotReady within the grace, its pods'
   endpoints drop out, the pods are replaced elsewhere after the toleration, the LB IP moves to another
   node and answers there, and a request loop against another node's NodePort sees no failure at all
   (the Service uses `externalTrafficPolicy: Local`, so that NodePort only ever sends to its own node's
   pods: a dead node elsewhere cannot swallow a connection, as in Kubernetes); `node start` brings it back
   Ready and its stale containers are removed.
3. `node add`: a 4th node joins the running cluster and receives new pods.
4. `delete`: nothing of any node is left on the host.
"""
from __future__ import annotations

import json
import subprocess
import threading
import time

import pytest

from minikube_py.addons import metallb
from tests.conftest import run_cli
from tests.e2e.conftest import E2E3_PROFILE
from tests.e2e.helpers import curl, host_leftovers, node_ready, wait_until

pytestmark = pytest.mark.e2e

NODE_PORT = 31808
APP = "mn-echo"

DEPLOYMENT = f"""
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {APP}
spec:
  replicas: 6
  selector:
    matchLabels: {{app: {APP}}}
  template:
    metadata:
      labels: {{app: {APP}}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: echo
        image: ghcr.io/subicura/echo:v1
        readinessProbe:
          httpGet: {{path: /, port: 3000}}
          periodSeconds: 2
---
apiVersion: v1
kind: Service
metadata:
  name: {APP}
spec:
  type: NodePort
  externalTrafficPolicy: Local
  selector: {{app: {APP}}}
  ports:
  - port: 80
    targetPort: 3000
    nodePort: {NODE_PORT}
"""


def pods(cluster, selector: str = f"app={APP}") -> list[dict]:
    return json.loads(cluster.kubectl("get", "pods", "-l", selector, "-o", "json", check=True).stdout)["items"]


def running_by_node(cluster) -> dict[str, list[dict]]:
    """Ready, not terminating pods of the app, by node name."""
    out: dict[str, list[dict]] = {}
    for p in pods(cluster):
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", []))
        if ready and not p["metadata"].get("deletionTimestamp"):
            out.setdefault(p["spec"]["nodeName"], []).append(p)
    return out


def endpoint_ips(cluster) -> set[str]:
    eps = json.loads(cluster.kubectl("get", "endpoints", APP, "-o", "json", check=True).stdout)
    return {a["ip"] for s in eps.get("subsets") or [] for a in s.get("addresses") or []}


def lb_holders(cluster, ip: str) -> list[int]:
    """Indices of the nodes whose eth0 holds *ip* (the speaker's announcement)."""
    out = []
    for node in cluster.nodes:
        addrs = cluster.node_exec(node.index, "ip", "-j", "addr", "show", "dev", "eth0").stdout or "[]"
        if any(a.get("local") == ip for link in json.loads(addrs) for a in link.get("addr_info", [])):
            out.append(node.index)
    return out


class RequestLoop:
    """curl a URL back to back in a thread, counting answers and failures (with their messages)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.ok = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                curl(self.url, timeout=2)
                self.ok += 1
            except AssertionError as err:
                self.failures.append(f"{time.strftime('%X')} {err}")
            time.sleep(0.1)

    def __enter__(self) -> "RequestLoop":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@pytest.fixture(scope="module")
def app(cluster3):
    cluster3.apply(DEPLOYMENT)
    wait_until(lambda: sum(len(v) for v in running_by_node(cluster3).values()) == 6, 120,
               "6 ready echo pods")
    return cluster3


def test_six_replicas_spread_and_reach_each_other(app) -> None:
    cluster = app
    names = [n.name for n in cluster.nodes]
    assert node_ready(cluster) == {n: "True" for n in names}
    by_node = running_by_node(cluster)
    assert set(by_node) == set(names), {k: len(v) for k, v in by_node.items()}

    src = by_node[names[0]][0]["metadata"]["name"]
    target = by_node[names[2]][0]
    # By pod IP, node 1 → node 3 (host-gw route between the namespaces).
    body = cluster.kubectl("exec", src, "--", "curl", "-sS", "-m", "3", f"http://{target['status']['podIP']}:3000/",
                           check=True).stdout
    assert f"from {target['metadata']['name']}" in body
    # By Service name (cluster DNS + ClusterIP): the answers come from every node, node 3 included.
    node3_pods = {p["metadata"]["name"] for p in by_node[names[2]]}
    seen: set[str] = set()
    for _ in range(30):
        out = cluster.kubectl("exec", src, "--", "sh", "-c",
                              f"for i in 1 2 3 4 5; do curl -sS -m 3 http://{APP}/; done", check=True).stdout
        seen |= {line.split(" from ", 1)[1].strip() for line in out.splitlines() if " from " in line}
        if seen & node3_pods:
            break
    assert seen & node3_pods, f"no answer from a pod on {names[2]} through http://{APP}/ (saw {seen})"
    # NodePort on every node, from the host; with the Local policy each node answers with its own pods.
    # (A node's proxy programs its local endpoints once the EndpointSlice reaches it: moments after Ready,
    # and until then the Local policy rejects, as kube-proxy does.)
    for node in cluster.nodes:
        body = wait_until(lambda: curl(f"http://{node.ip}:{NODE_PORT}/"), 15, f"the NodePort on {node.name}")
        assert body.split(" from ", 1)[1].split()[0] in {p["metadata"]["name"] for p in by_node[node.name]}


# The pool the failover test configures: wide enough that some address elects any given node (the
# profile name, and so the election hash, is random per run; eleven addresses missed one in ~1 % of runs).
POOL_FIRST, POOL_LAST = 100, 199


def _lb_ip_elected_for(cluster, index: int) -> str:
    """A pool address whose metallb election, with every node Ready, picks node *index*."""
    names = [n.name for n in cluster.nodes]
    net = cluster.config.node_subnet.rsplit(".", 1)[0]
    for last in range(POOL_FIRST, POOL_LAST + 1):
        ip = f"{net}.{last}"
        if metallb.elect(ip, names) == names[index]:
            return ip
    raise AssertionError(f"no pool address elects {names[index]}")


def test_node_failure_moves_pods_and_lb_ip_while_other_nodeport_keeps_answering(app) -> None:
    cluster = app
    nodes = cluster.nodes
    victim = nodes[2]
    net = cluster.config.node_subnet.rsplit(".", 1)[0]
    run_cli("addons", "enable", "metallb", "-p", cluster.profile, check=True)
    run_cli("addons", "configure", "metallb", "-p", cluster.profile, "--start-ip", f"{net}.{POOL_FIRST}",
            "--end-ip", f"{net}.{POOL_LAST}", check=True)
    lb_ip = _lb_ip_elected_for(cluster, victim.index)
    cluster.apply(f"""
apiVersion: v1
kind: Service
metadata:
  name: {APP}-lb
  annotations: {{metallb.universe.tf/loadBalancerIPs: "{lb_ip}"}}
spec:
  type: LoadBalancer
  selector: {{app: {APP}}}
  ports: [{{port: 80, targetPort: 3000}}]
""")
    wait_until(lambda: lb_holders(cluster, lb_ip) == [victim.index], 30, f"{victim.name} to hold {lb_ip}")
    curl(f"http://{lb_ip}/")
    victim_ips = {p["status"]["podIP"] for p in running_by_node(cluster)[victim.name]}
    assert victim_ips <= endpoint_ips(cluster)

    with RequestLoop(f"http://{nodes[0].ip}:{NODE_PORT}/") as loop:
        t0 = time.monotonic()
        run_cli("node", "stop", victim.name, "-p", cluster.profile, check=True)
        # NotReady (Unknown: the kubelet stopped posting) within the grace (20 s) + one heartbeat (10 s).
        wait_until(lambda: node_ready(cluster)[victim.name] == "Unknown", 40, f"{victim.name} NotReady")
        not_ready_after = time.monotonic() - t0
        # Its pods leave the Service's ready endpoints.
        wait_until(lambda: not (victim_ips & endpoint_ips(cluster)), 15, "the stopped node's endpoints to drop")
        # The LB IP moves to a Ready node and answers there.
        # (The stopped node's eth0 keeps the address: its speaker is gone and its link is down.)
        wait_until(lambda: [i for i in lb_holders(cluster, lb_ip) if i != victim.index], 20,
                   "another node to take the LB IP")
        wait_until(lambda: curl(f"http://{lb_ip}/"), 20, f"{lb_ip} to answer from another node")
        # After the eviction timeout (20 s) the pods are replaced on the other nodes.
        wait_until(lambda: victim.name not in running_by_node(cluster)
                   and sum(len(v) for v in running_by_node(cluster).values()) == 6, 90,
                   "6 ready pods on the remaining nodes")
    assert not_ready_after < 35
    assert loop.ok > 20 and loop.failures == [], f"{len(loop.failures)} failures: {loop.failures[:5]}"
    holders = lb_holders(cluster, lb_ip)
    assert any(i != victim.index for i in holders), holders

    run_cli("node", "start", victim.name, "-p", cluster.profile, check=True)
    assert node_ready(cluster)[victim.name] == "True"

    def stale_gone() -> bool:
        bound = {p["metadata"]["uid"] for p in pods(cluster) if p["spec"].get("nodeName") == victim.name}
        ps = subprocess.run(["docker", "ps", "-a", "--filter", f"label=io.minikube-py.node={victim.name}",
                             "--filter", f"label=io.minikube-py.profile={cluster.profile}",
                             "--format", '{{.Label "io.minikube-py.pod-uid"}}'],
                            capture_output=True, text=True, check=True).stdout.split()
        return set(ps) <= bound

    wait_until(stale_gone, 30, f"the containers of pods no longer on {victim.name} to be removed")
    # The LB IP is announced by exactly one node again, and answers.
    wait_until(lambda: len(lb_holders(cluster, lb_ip)) == 1, 20, "a single holder of the LB IP")
    wait_until(lambda: curl(f"http://{lb_ip}/"), 20, f"{lb_ip} to answer after node start")


def test_node_add_joins_and_receives_new_pods(app) -> None:
    cluster = app
    add = run_cli("node", "add", "-p", cluster.profile)
    assert add.returncode == 0, add.stdout + add.stderr
    new = f"{E2E3_PROFILE}-m04"
    assert node_ready(cluster).get(new) == "True"
    cluster.kubectl("scale", "deployment", APP, "--replicas", "10", check=True)
    wait_until(lambda: len(running_by_node(cluster).get(new, [])) > 0, 90, f"a ready pod on {new}")
    # Reachable from the first node's pods and from the host.
    pod = running_by_node(cluster)[new][0]
    src = running_by_node(cluster)[cluster.nodes[0].name][0]["metadata"]["name"]
    body = cluster.kubectl("exec", src, "--", "curl", "-sS", "-m", "3", f"http://{pod['status']['podIP']}:3000/",
                           check=True).stdout
    assert f"from {pod['metadata']['name']}" in body
    node = next(n for n in cluster.nodes if n.name == new)
    # (Its proxy programs the NodePort once the new pod's endpoint reaches it: moments after Ready.)
    wait_until(lambda: curl(f"http://{node.ip}:{NODE_PORT}/"), 15, f"the NodePort on {new}")


def test_delete_leaves_nothing_of_any_node(app) -> None:
    cluster = app
    count = max(n.index for n in cluster.nodes) + 1
    run_cli("delete", "-p", cluster.profile, check=True)
    assert host_leftovers(cluster.profile, cluster.config, node_count=count) == []
