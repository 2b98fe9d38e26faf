"""The proxy's rules in a real kernel: a test "node" namespace with a `cni0` bridge and three "pod"
namespaces running a tiny HTTP responder that answers its own name.

Everything happens inside namespaces this module creates (none of them has a link to the host or the
outside), so no packet can leave: the node, pod, service and LB addresses below exist only in here. The
rules are loaded with the real applier (`iptables-restore --noflush` in the node namespace), and the
assertions are real outcomes: which pod answered, a refused connection, what `iptables-save` holds.
"""
from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import time

import pytest

from proxy.iptables import JUMPS, IptablesApplier
from proxy.proxier import Proxier, prepare_node_network
from proxy.render import render_nat_rules
from proxy.state import build_proxy_state

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces and iptables")]

POD_CIDR = "10.250.0.0/16"  # the test's "cluster" pod CIDR; the node's bridge holds 10.250.0.0/24
SERVICE_CIDR = "10.251.0.0/16"
GATEWAY = "10.250.0.1"
POD_IPS = {"p1": "10.250.0.11", "p2": "10.250.0.12", "p3": "10.250.0.13"}
LB_IP = "10.252.0.100"
APP_PORT = 8080

RESPONDER = r"""
import asyncio, sys
name, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
async def handle(reader, writer):
    try:
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
    except Exception:
        pass
    body = name.encode()
    writer.write(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
    try:
        await writer.drain()
    finally:
        writer.close()
async def main():
    server = await asyncio.start_server(handle, host, port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()
asyncio.run(main())
"""

# Makes N fresh TCP connections (each a new conntrack entry, so a new load-balancing decision) and
# prints a JSON list of the answers: the pod name, or the error's name.
CLIENT = r"""
import json, socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = []
for _ in range(n):
    t0 = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=2) as s:
            s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
        out.append(data.split(b"\r\n\r\n", 1)[1].decode())
    except OSError as exc:
        out.append(type(exc).__name__ + ":%.2f" % (time.monotonic() - t0))
print(json.dumps(out))
"""


def sh(*argv: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True, input=input, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed: {proc.stderr}")
    return proc


class Topology:
    """Names of what the fixture built; `ask` runs the client inside a namespace."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.node = f"mkpy-mkt-px{tag}-node"
        self.pods = {name: f"mkpy-mkt-px{tag}-{name}" for name in POD_IPS}

    def ask(self, netns: str, host: str, port: int, n: int = 1) -> list[str]:
        proc = sh("ip", "netns", "exec", netns, sys.executable, "-c", CLIENT, host, str(port), str(n))
        return json.loads(proc.stdout)

    def save(self) -> str:
        return sh("ip", "netns", "exec", self.node, "iptables-save").stdout


@pytest.fixture(scope="module")
def topo():
    tag = secrets.token_hex(2)
    t = Topology(tag)
    made: list[str] = []
    servers: list[subprocess.Popen] = []
    try:
        sh("ip", "netns", "add", t.node)
        made.append(t.node)
        node = ["ip", "-n", t.node]
        sh(*node, "link", "set", "lo", "up")
        sh(*node, "link", "add", "cni0", "type", "bridge")
        sh(*node, "addr", "add", f"{GATEWAY}/24", "dev", "cni0")
        sh(*node, "link", "set", "cni0", "up")
        # The node reaches ClusterIPs through the bridge, as a real node namespace does.
        sh(*node, "route", "add", SERVICE_CIDR, "dev", "cni0")
        sh("ip", "netns", "exec", t.node, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        for i, (name, ip) in enumerate(POD_IPS.items(), start=1):
            ns = t.pods[name]
            sh("ip", "netns", "add", ns)
            made.append(ns)
            host_if, pod_if = f"mktpx{tag}h{i}", f"mktpx{tag}c{i}"
            sh(*node, "link", "add", host_if, "type", "veth", "peer", "name", pod_if)
            sh(*node, "link", "set", pod_if, "netns", ns)
            sh(*node, "link", "set", host_if, "master", "cni0", "up")
            # Hairpin: a pod reaching itself through a service leaves and re-enters by the same port.
            sh(*node, "link", "set", host_if, "type", "bridge_slave", "hairpin", "on")
            pod = ["ip", "-n", ns]
            sh(*pod, "link", "set", "lo", "up")
            sh(*pod, "link", "set", pod_if, "name", "eth0")
            sh(*pod, "addr", "add", f"{ip}/24", "dev", "eth0")
            sh(*pod, "link", "set", "eth0", "up")
            sh(*pod, "route", "add", "default", "via", GATEWAY)
            proc = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", RESPONDER, name, ip,
                                     str(APP_PORT)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            servers.append(proc)
            assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        yield t
    finally:
        for proc in servers:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for ns in reversed(made):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


# --- cluster state (as the API would serve it) ---------------------------------------------------
def service(name: str, ip: str, port: int = 80, type_: str = "ClusterIP", **extra) -> dict:
    ports = [{"port": port, "protocol": "TCP", "targetPort": APP_PORT}]
    if "node_port" in extra:
        ports[0]["nodePort"] = extra.pop("node_port")
    status = extra.pop("status", {})
    return {"metadata": {"name": name, "namespace": "default"},
            "spec": {"type": type_, "clusterIP": ip, "ports": ports, **extra}, "status": status}


def endpoints(name: str, pods: list[str]) -> dict:
    subsets = [{"addresses": [{"ip": POD_IPS[p]} for p in pods], "ports": [{"port": APP_PORT, "protocol": "TCP"}]}]
    return {"metadata": {"name": name, "namespace": "default"}, "subsets": subsets if pods else []}


ALL = ["p1", "p2", "p3"]
SERVICES = [
    service("web", "10.251.0.10"),
    service("sticky", "10.251.0.11", sessionAffinity="ClientIP"),
    service("empty", "10.251.0.12"),
    service("np", "10.251.0.13", type_="NodePort", node_port=31000),
    service("lb", "10.251.0.14", port=30000, type_="LoadBalancer", node_port=31001,
            status={"loadBalancer": {"ingress": [{"ip": LB_IP}]}}),
]
ENDPOINTS = [endpoints("web", ALL), endpoints("sticky", ALL), endpoints("empty", []), endpoints("np", ALL),
             endpoints("lb", ["p2"])]
HOSTPORT_POD = {"metadata": {"name": "p1", "namespace": "default"},
                "spec": {"containers": [{"name": "app", "ports": [{"containerPort": APP_PORT, "hostPort": 18080}]}]},
                "status": {"phase": "Running", "podIP": POD_IPS["p1"]}}


def state(services=SERVICES, eps=ENDPOINTS, pods=(HOSTPORT_POD,)):
    return build_proxy_state(services, eps, pods, cluster_cidr=POD_CIDR, node_ip=GATEWAY)


async def apply(applier: IptablesApplier, st) -> None:
    existing = (await applier.existing_chains())["nat"]
    await applier.restore(render_nat_rules(st, existing))
    await applier.ensure_jumps()


@pytest.fixture
async def applied(topo):
    applier = IptablesApplier(topo.node)
    await prepare_node_network(topo.node)  # what the proxier does first (no ICMP redirects, …)
    try:
        await apply(applier, state())
        yield applier
    finally:
        await applier.cleanup()


# --- data path ------------------------------------------------------------------------------------
async def test_cluster_ip_balances_over_all_pods_from_node_and_pod(topo, applied):
    for netns in (topo.node, topo.pods["p3"]):
        answers = topo.ask(netns, "10.251.0.10", 80, 60)
        assert set(answers) == {"p1", "p2", "p3"}, answers


async def test_client_ip_affinity_sticks_to_one_pod(topo, applied):
    answers = topo.ask(topo.pods["p2"], "10.251.0.11", 80, 60)
    assert len(set(answers)) == 1 and answers[0] in POD_IPS, answers


async def test_hairpin_pod_reaches_itself_through_its_service(topo, applied):
    answers = topo.ask(topo.pods["p1"], "10.251.0.10", 80, 60)
    assert set(answers) == {"p1", "p2", "p3"}, answers  # every request answered, including by p1 itself


async def test_service_without_endpoints_is_refused_at_once(topo, applied):
    (answer,) = topo.ask(topo.pods["p1"], "10.251.0.12", 80)
    kind, seconds = answer.split(":")
    assert kind == "ConnectionRefusedError" and float(seconds) < 0.5, answer


async def test_node_port_load_balancer_ip_and_host_port(topo, applied):
    # NodePort on a node address (the pods' gateway is one), from a pod and from the node itself.
    assert set(topo.ask(topo.pods["p3"], GATEWAY, 31000, 30)) == {"p1", "p2", "p3"}
    assert set(topo.ask(topo.node, GATEWAY, 31000, 30)) == {"p1", "p2", "p3"}
    # The LB IP:port reaches its one endpoint; so does the LoadBalancer service's own node port.
    assert set(topo.ask(topo.pods["p3"], LB_IP, 30000, 5)) == {"p2"}
    assert set(topo.ask(topo.pods["p1"], GATEWAY, 31001, 5)) == {"p2"}
    # hostPort 18080 on the node → p1:8080, from another pod, from the node, and hairpin from p1.
    assert set(topo.ask(topo.pods["p2"], GATEWAY, 18080, 5)) == {"p1"}
    assert set(topo.ask(topo.node, GATEWAY, 18080, 5)) == {"p1"}
    assert set(topo.ask(topo.pods["p1"], GATEWAY, 18080, 5)) == {"p1"}


async def test_removed_service_leaves_no_rule_and_no_chain(topo, applied):
    assert "default/sticky" in topo.save()
    before = {line for line in topo.save().splitlines() if line.startswith(":KUBE-")}
    remaining = [s for s in SERVICES if s["metadata"]["name"] != "sticky"]
    await apply(applied, state(services=remaining))
    saved = topo.save()
    assert "default/sticky" not in saved
    after = {line for line in saved.splitlines() if line.startswith(":KUBE-")}
    assert len(before - after) == 4  # the SVC chain and its three SEP chains
    assert set(topo.ask(topo.node, "10.251.0.10", 80, 30)) == {"p1", "p2", "p3"}  # the others still work


async def test_endpoint_going_unready_stops_receiving_traffic(topo, applied):
    eps = [endpoints("web", ["p1", "p3"]) if e["metadata"]["name"] == "web" else e for e in ENDPOINTS]
    await apply(applied, state(eps=eps))
    assert set(topo.ask(topo.node, "10.251.0.10", 80, 40)) == {"p1", "p3"}


async def test_cleanup_removes_ours_and_keeps_everything_else(topo):
    node = ["ip", "netns", "exec", topo.node, "iptables"]
    sh(*node, "-t", "nat", "-N", "MKT-NOT-OURS")
    sh(*node, "-t", "nat", "-A", "MKT-NOT-OURS", "-p", "tcp", "--dport", "9999", "-j", "RETURN")
    sh(*node, "-t", "nat", "-A", "PREROUTING", "-j", "MKT-NOT-OURS")
    sh(*node, "-t", "filter", "-A", "INPUT", "-s", "10.250.9.9/32", "-j", "ACCEPT")
    applier = IptablesApplier(topo.node)
    try:
        for _ in range(3):
            await apply(applier, state())
        saved = topo.save()
        assert "-A PREROUTING -j MKT-NOT-OURS" in saved and "-A INPUT -s 10.250.9.9/32 -j ACCEPT" in saved
        await applier.cleanup()
        saved = topo.save()
        assert "KUBE-" not in saved
        assert "-A MKT-NOT-OURS -p tcp -m tcp --dport 9999 -j RETURN" in saved
        assert "-A PREROUTING -j MKT-NOT-OURS" in saved and "-A INPUT -s 10.250.9.9/32 -j ACCEPT" in saved
    finally:
        await applier.cleanup()
        sh(*node, "-t", "nat", "-D", "PREROUTING", "-j", "MKT-NOT-OURS", check=False)
        sh(*node, "-t", "nat", "-F", "MKT-NOT-OURS", check=False)
        sh(*node, "-t", "nat", "-X", "MKT-NOT-OURS", check=False)
        sh(*node, "-t", "filter", "-D", "INPUT", "-s", "10.250.9.9/32", "-j", "ACCEPT", check=False)


# --- the proxier loop against a static source at the informer boundary ---------------------------
class StaticSource:
    def __init__(self, items):
        self.items = list(items)

    def add_handlers(self, on_add=None, on_update=None, on_delete=None):
        pass

    async def start(self):
        pass

    def list(self, namespace=None):
        return list(self.items)


def _jump_count(saved: str, table: str, chain: str, target: str) -> int:
    block = saved.split(f"*{table}\n", 1)[1].split("COMMIT", 1)[0]
    return sum(1 for line in block.splitlines() if line.startswith(f"-A {chain} ") and line.endswith(f"-j {target}"))


async def test_proxier_repairs_a_flushed_nat_table_and_never_duplicates_jumps(topo):
    proxier = Proxier(services=StaticSource(SERVICES), endpoints=StaticSource(ENDPOINTS),
                      pods=StaticSource([HOSTPORT_POD]), cluster_cidr=POD_CIDR, node_ip=GATEWAY,
                      netns=topo.node, min_sync_interval=0.1, full_resync_interval=1.0)
    task = asyncio.create_task(proxier.run())
    try:
        deadline = time.monotonic() + 10
        while proxier.full_syncs < 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert set(topo.ask(topo.node, "10.251.0.10", 80, 30)) == {"p1", "p2", "p3"}
        # The proxier keeps the node namespace's sysctls as the rules need them.
        cat = ["ip", "netns", "exec", topo.node, "cat"]
        assert sh(*cat, "/proc/sys/net/ipv4/conf/all/route_localnet").stdout.strip() == "0"
        assert sh(*cat, "/proc/sys/net/bridge/bridge-nf-call-iptables").stdout.strip() == "1"
        assert sh(*cat, "/proc/sys/net/ipv4/conf/cni0/send_redirects").stdout.strip() == "0"

        # Someone flushes the nat table and deletes every chain in it.
        sh("ip", "netns", "exec", topo.node, "iptables", "-t", "nat", "-F")
        sh("ip", "netns", "exec", topo.node, "iptables", "-t", "nat", "-X")
        (broken,) = topo.ask(topo.node, "10.251.0.10", 80)
        assert broken not in POD_IPS
        repaired_by = proxier.full_syncs + 1
        deadline = time.monotonic() + 5
        while proxier.full_syncs < repaired_by and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert set(topo.ask(topo.node, "10.251.0.10", 80, 30)) == {"p1", "p2", "p3"}

        # Five more full syncs: still exactly one copy of every jump.
        target = proxier.full_syncs + 5
        deadline = time.monotonic() + 10
        while proxier.full_syncs < target and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert proxier.full_syncs >= target
        saved = topo.save()
        for j in JUMPS:
            assert _jump_count(saved, j.table, j.chain, j.target) == sum(
                1 for k in JUMPS if (k.table, k.chain, k.target) == (j.table, j.chain, j.target)), (j, saved)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await IptablesApplier(topo.node).cleanup()
