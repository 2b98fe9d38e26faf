"""Host network bring-up and teardown for real: bridge, node namespaces, veths, routes, the FORWARD rule.

Traffic in these tests only goes to addresses inside the bridge and namespaces the test creates (ICMP
to the node IPs and the pod bridge's gateway), and the pod/service CIDRs are unreachable on the host
before anything else is made.
"""
from __future__ import annotations

import ipaddress
import os
import subprocess
import sys

import pytest

from minikube_py.config import ClusterConfig
from minikube_py.cluster import layout, leftovers, network, shell

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces, bridges and routes")]

PROFILE = "mkt-net"

PING = r"""
import os, socket, struct, sys, time
dst = sys.argv[1]
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(1.0)
ident = os.getpid() & 0xffff
hdr = struct.pack('!BBHHH', 8, 0, 0, ident, 1) + b'mkpy-tst'
pkt = struct.pack('!BBHHH', 8, 0, csum(hdr), ident, 1) + b'mkpy-tst'
s.sendto(pkt, (dst, 0))
deadline = time.time() + 2
while time.time() < deadline:
    try:
        data, addr = s.recvfrom(1024)
    except socket.timeout:
        break
    icmp = data[(data[0] & 0x0f) * 4:]
    if addr[0] == dst and icmp[0] == 0 and struct.unpack('!H', icmp[4:6])[0] == ident:
        sys.exit(0)
sys.exit(1)
"""


def ping(ip: str, netns: str | None = None) -> bool:
    """One ICMP echo (raw socket; this machine has no `ping`), from the host or from a namespace."""
    prefix = ["ip", "netns", "exec", netns] if netns else []
    return subprocess.run(prefix + [sys.executable, "-c", PING, ip], capture_output=True).returncode == 0


@pytest.fixture
def profile_net():
    """A 2-node profile's network, torn down (and its state dir removed) even when the test fails."""
    leftovers.claim(PROFILE)
    cfg = ClusterConfig(profile=PROFILE, nodes=2, **layout.choose_slot(PROFILE))
    cfg.save()
    nodes = [layout.node_spec(cfg, 0), layout.node_spec(cfg, 1)]
    layout.save_nodes(cfg, nodes)
    try:
        yield cfg, nodes
    finally:
        network.tear_down(cfg, nodes)
        leftovers.clean_profile(PROFILE)


def _addrs(dev: str, netns: str | None = None) -> set[str]:
    return {f"{a['local']}/{a['prefixlen']}" for l in shell.ip_json(["addr", "show", "dev", dev], netns)
            for a in l.get("addr_info", []) if a.get("family") == "inet"}


def _routes(netns: str | None = None) -> list[dict]:
    return shell.ip_json(["route", "show"], netns)


def _our_host_state(cfg: ClusterConfig, nodes) -> list[str]:
    """Everything of this profile still on the host, as readable strings (empty = clean)."""
    found = []
    for n in nodes:
        if network.netns_exists(n.netns):
            found.append(f"netns {n.netns}")
        if network.link_exists(n.host_veth):
            found.append(f"link {n.host_veth}")
    if network.link_exists(cfg.bridge):
        found.append(f"bridge {cfg.bridge}")
    ours = [ipaddress.ip_network(c) for c in (cfg.pod_cidr, cfg.service_cidr, cfg.node_subnet)]
    for r in shell.ip_json(["route", "show", "table", "all"]):
        dst = r.get("dst", "")
        if dst and dst != "default" and ":" not in dst and r.get("type") not in ("local", "broadcast") and \
                any(ipaddress.ip_network(dst, strict=False).overlaps(o) for o in ours):
            found.append(f"route {r}")
    save = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
    found += [line for line in save.splitlines() if f"minikube-py:{cfg.profile}\"" in line]
    return found


def test_bring_up_builds_the_documented_layout(profile_net) -> None:
    cfg, nodes = profile_net
    made = network.bring_up(cfg, nodes)
    assert made, "a fresh profile must create steps"
    n0, n1 = nodes

    # Host: bridge with the gateway, unreachable CIDRs, routes to each node's pods and to services.
    assert _addrs(cfg.bridge) == {f"{cfg.gateway_ip}/24"}
    host = _routes()
    assert {"type": "unreachable", "dst": cfg.pod_cidr, "metric": network.UNREACHABLE_METRIC} in \
        [{k: r.get(k) for k in ("type", "dst", "metric")} for r in host]
    assert any(r.get("dst") == n1.pod_cidr and r.get("gateway") == n1.ip for r in host)

    # Each node: eth0 with the node IP, cni0 with the pod CIDR's .1, no default route, host-gw routes.
    for node, other in ((n0, n1), (n1, n0)):
        assert _addrs("eth0", node.netns) == {f"{node.ip}/24"}
        gw = str(ipaddress.ip_network(node.pod_cidr).network_address + 1)
        assert _addrs("cni0", node.netns) == {f"{gw}/24"}
        routes = _routes(node.netns)
        assert not any(r.get("dst") == "default" for r in routes), routes
        assert any(r.get("dst") == cfg.service_cidr and r.get("dev") == "cni0" for r in routes)
        assert any(r.get("dst") == other.pod_cidr and r.get("gateway") == other.ip for r in routes)
        fwd = shell.run(["ip", "netns", "exec", node.netns, "sysctl", "-n", "net.ipv4.ip_forward"]).stdout
        assert fwd.strip() == "1"

    # A second run finds everything in place.
    assert network.bring_up(cfg, nodes) == []


def test_host_routes_lead_only_into_our_namespaces(profile_net) -> None:
    cfg, nodes = profile_net
    network.bring_up(cfg, nodes)
    pod_net = ipaddress.ip_network(cfg.pod_cidr)
    unused = str(list(pod_net.subnets(new_prefix=24))[99].network_address + 9)  # 10.x.99.9: no node there
    get = subprocess.run(["ip", "route", "get", unused], capture_output=True, text=True)
    assert get.returncode != 0 and "No route to host" in get.stderr
    svc_ip = str(ipaddress.ip_network(cfg.service_cidr).network_address + 1)
    via = shell.run(["ip", "route", "get", svc_ip]).stdout
    assert f"via {nodes[0].ip} dev {cfg.bridge}" in via


def test_host_and_nodes_reach_each_other(profile_net) -> None:
    cfg, nodes = profile_net
    network.bring_up(cfg, nodes)
    n0, n1 = nodes
    assert ping(n0.ip) and ping(n1.ip), "host → node IPs"
    assert ping(cfg.gateway_ip, n1.netns), "node → gateway"
    # Node → node crosses the host bridge, hence Docker's FORWARD DROP: needs our DOCKER-USER rule.
    assert ping(n1.ip, n0.netns), "node → node over the bridge"
    n1_pod_gw = str(ipaddress.ip_network(n1.pod_cidr).network_address + 1)
    assert ping(n1_pod_gw, n0.netns), "node → other node's pod bridge (host-gw route)"
    assert ping(n1_pod_gw), "host → a node's pod bridge"


def test_node_link_down_partitions_a_node(profile_net) -> None:
    cfg, nodes = profile_net
    network.bring_up(cfg, nodes)
    network.set_node_link(nodes[1], up=False)
    assert not ping(nodes[1].ip)
    network.set_node_link(nodes[1], up=True)
    assert ping(nodes[1].ip)


def test_teardown_leaves_nothing(profile_net) -> None:
    cfg, nodes = profile_net
    network.bring_up(cfg, nodes)
    assert _our_host_state(cfg, nodes)
    assert network.tear_down(cfg, nodes) == []
    assert _our_host_state(cfg, nodes) == []
    # And teardown is idempotent.
    assert network.tear_down(cfg, nodes) == []


class Boom:
    description = "a step that fails"

    def present(self) -> bool:
        return False

    def execute(self) -> None:
        raise RuntimeError("boom")

    def undo(self) -> None:
        pass


def test_failed_bring_up_undoes_what_it_made(profile_net) -> None:
    cfg, nodes = profile_net
    plan = network.host_steps(cfg) + network.node_steps(cfg, nodes[0], nodes[:1]) + [Boom()]
    with pytest.raises(network.StepFailed, match="boom"):
        network.execute_plan(plan)
    assert _our_host_state(cfg, nodes) == []


def test_keep_on_failure_keeps_it(profile_net) -> None:
    cfg, nodes = profile_net
    plan = network.host_steps(cfg) + [Boom()]
    with pytest.raises(network.StepFailed):
        network.execute_plan(plan, keep_on_failure=True)
    assert f"bridge {cfg.bridge}" in _our_host_state(cfg, nodes)


def test_bridge_of_another_profile_is_refused(profile_net) -> None:
    cfg, nodes = profile_net
    network.execute_plan(network.host_steps(cfg))
    intruder = network.HostBridge(cfg.bridge, f"{cfg.gateway_ip}/24", "mkt-other")
    with pytest.raises(RuntimeError, match="belongs to mkt-net"):
        intruder.execute()
    intruder.undo()  # not its bridge: left alone
    assert network.link_exists(cfg.bridge)
