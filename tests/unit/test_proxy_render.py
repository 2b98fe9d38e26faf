"""Golden-file tests of the iptables renderer: one scenario per file in tests/unit/golden/proxy/.

Regenerate after an intended change with `UPDATE_GOLDEN=1 pytest tests/unit/test_proxy_render.py` and
read the diff: the golden files are the review surface for rule changes.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from proxy.render import render_nat_rules, sep_chain, svc_chain
from proxy.state import Endpoint, ServicePort, build_proxy_state

GOLDEN = Path(__file__).parent / "golden" / "proxy"


def svc(name, ports, *, ns="default", type_="ClusterIP", cluster_ip="10.96.0.20", selector=None, **spec_extra):
    spec = {"type": type_, "clusterIP": cluster_ip, "ports": ports, "selector": selector or {"app": name}}
    status = spec_extra.pop("status", {})
    spec.update(spec_extra)
    return {"metadata": {"name": name, "namespace": ns}, "spec": spec, "status": status}


def eps(name, ips, ports, *, ns="default", not_ready=()):
    subset = {"addresses": [{"ip": ip} for ip in ips], "ports": ports}
    if not_ready:
        subset["notReadyAddresses"] = [{"ip": ip} for ip in not_ready]
    return {"metadata": {"name": name, "namespace": ns}, "subsets": [subset] if ips or not_ready else []}


def pod(name, ip, containers, *, ns="default", phase="Running"):
    return {"metadata": {"name": name, "namespace": ns},
            "spec": {"nodeName": "minikube-py", "containers": containers},
            "status": {"phase": phase, "podIP": ip}}


THREE = ["10.244.0.5", "10.244.0.6", "10.244.0.7"]

SCENARIOS = {
    "clusterip_3_endpoints": (
        [svc("redis", [{"port": 6379, "protocol": "TCP"}], cluster_ip="10.96.0.20")],
        [eps("redis", THREE, [{"port": 6379, "protocol": "TCP"}])],
        [], ()),
    "nodeport_counter_np": (
        [svc("counter-np", [{"port": 3000, "protocol": "TCP", "nodePort": 31000, "targetPort": 3000}],
             type_="NodePort", cluster_ip="10.96.0.30")],
        [eps("counter-np", ["10.244.0.8", "10.244.1.4"], [{"port": 3000, "protocol": "TCP"}])],
        [], ()),
    "no_endpoints_reject": (
        [svc("redis", [{"name": "redis", "port": 6379, "protocol": "TCP"}], cluster_ip="10.96.0.20"),
         svc("web", [{"port": 80, "protocol": "TCP", "nodePort": 30080}], type_="NodePort",
             cluster_ip="10.96.0.21")],
        # redis: only a not-ready address; web: no Endpoints object at all.
        [eps("redis", [], [{"name": "redis", "port": 6379, "protocol": "TCP"}], not_ready=["10.244.0.9"])],
        [], ()),
    "clientip_affinity": (
        [svc("sticky", [{"port": 80, "protocol": "TCP", "targetPort": 8080}], cluster_ip="10.96.0.40",
             sessionAffinity="ClientIP")],
        [eps("sticky", ["10.244.0.5", "10.244.0.6"], [{"port": 8080, "protocol": "TCP"}])],
        [], ()),
    "loadbalancer_ingress_ip": (
        [svc("counter-lb", [{"port": 30000, "targetPort": 3000, "protocol": "TCP", "nodePort": 31500}],
             type_="LoadBalancer", cluster_ip="10.96.0.50",
             status={"loadBalancer": {"ingress": [{"ip": "192.168.49.100"}]}})],
        [eps("counter-lb", ["10.244.0.8"], [{"port": 3000, "protocol": "TCP"}])],
        [], ()),
    "multiport_tcp_udp": (
        [svc("kube-dns", [{"name": "dns", "port": 53, "protocol": "UDP"},
                          {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
                          {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": "metrics"}],
             ns="kube-system", cluster_ip="10.96.0.10")],
        [eps("kube-dns", ["10.244.0.2", "10.244.0.3"],
             [{"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
              {"name": "metrics", "port": 9153, "protocol": "TCP"}], ns="kube-system")],
        [], ()),
    "hostport": (
        [], [],
        [pod("ingress-nginx-abc", "10.244.0.12",
             [{"name": "nginx", "ports": [{"containerPort": 80, "hostPort": 80, "protocol": "TCP"},
                                          {"containerPort": 443, "hostPort": 443, "protocol": "TCP"},
                                          {"containerPort": 8080}]}], ns="ingress-nginx"),
         pod("pending", "", [{"name": "x", "ports": [{"containerPort": 80, "hostPort": 8081}]}], phase="Pending")],
        ()),
    "stale_chains": (
        [svc("redis", [{"port": 6379, "protocol": "TCP"}], cluster_ip="10.96.0.20")],
        [eps("redis", ["10.244.0.5"], [{"port": 6379, "protocol": "TCP"}])],
        [],
        # The table still holds chains of a deleted service and of a removed endpoint, plus chains that
        # are not ours (Docker's), which must survive.
        ("KUBE-SERVICES", "KUBE-SVC-OLDOLDOLDOLDOLD1", "KUBE-SEP-OLDOLDOLDOLDOLD2", "KUBE-EXT-OLDOLDOLDOLDOLD3",
         "KUBE-HP-OLDOLDOLDOLDOLD04", "DOCKER", "DOCKER-INGRESS", "KUBE-KUBELET-CANARY")),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_render_matches_golden(scenario):
    services, endpoints, pods, existing = SCENARIOS[scenario]
    state = build_proxy_state(services, endpoints, pods, cluster_cidr="10.244.0.0/16")
    text = render_nat_rules(state, existing_chains=existing)
    path = GOLDEN / f"{scenario}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()


def test_render_is_deterministic_whatever_the_input_order():
    services, endpoints, _, _ = SCENARIOS["multiport_tcp_udp"]
    a = render_nat_rules(build_proxy_state(services, endpoints))
    rev = [dict(e, subsets=[dict(s, addresses=list(reversed(s["addresses"]))) for s in e["subsets"]])
           for e in endpoints]
    assert render_nat_rules(build_proxy_state(list(reversed(services)), rev)) == a


def test_probabilities_split_uniformly():
    """1/n, 1/(n-1), …, last unconditional: each of n endpoints gets 1/n of the new connections."""
    sp = ServicePort("default", "s", "", "TCP", "10.96.0.9", 80,
                     endpoints=tuple(Endpoint(f"10.244.0.{i}", 80) for i in range(2, 6)))
    text = render_nat_rules(build_state(sp))
    probs = [float(p) for p in re.findall(rf"-A {svc_chain(sp)} .*--probability (\S+)", text)]
    assert probs == pytest.approx([0.25, 1 / 3, 0.5])
    remaining, shares = 1.0, []
    for p in probs + [1.0]:
        shares.append(remaining * p)
        remaining -= remaining * p
    assert shares == pytest.approx([0.25] * 4)


def build_state(*ports):
    from proxy.state import ProxyState
    return ProxyState(services=ports)


def test_chain_names_match_kube_proxy_hashing():
    """Same recipe as kube-proxy: base32(sha256(name + protocol [+ endpoint]))[:16], ≤ 28 characters."""
    sp = ServicePort("ns1", "svc1", "p80", "TCP", "172.30.0.41", 80)
    # Values computed by kube-proxy's own portProtoHash for "ns1/svc1:p80" + "tcp" (proxier_test.go).
    assert svc_chain(sp) == "KUBE-SVC-XPGD46QRK7WJZT7O"
    assert sep_chain(sp, "10.180.0.1:80") == "KUBE-SEP-SXIVWICOYRO3J4NJ"
    assert len(sep_chain(sp, "255.255.255.255:65535")) <= 28


def test_headless_and_externalname_get_no_rules():
    services = [svc("headless", [{"port": 80}], cluster_ip="None"),
                svc("ext", [{"port": 80}], type_="ExternalName", cluster_ip="", externalName="example.org")]
    endpoints = [eps("headless", ["10.244.0.5"], [{"port": 80, "protocol": "TCP"}])]
    state = build_proxy_state(services, endpoints)
    assert state.services == ()
    text = render_nat_rules(state)
    assert "headless" not in text and "ext" not in text.replace("external", "")


def test_external_traffic_policy_local_sends_outside_clients_only_to_this_nodes_endpoints():
    """NodePort with externalTrafficPolicy: Local: an outside client (not the pod CIDR, not the node itself)
    reaches only this node's endpoints, unmasqueraded; a node without local endpoints drops it."""
    service = svc("web", [{"port": 80, "targetPort": 3000, "nodePort": 31000}], type_="NodePort",
                  externalTrafficPolicy="Local")
    endpoints = {"metadata": {"name": "web", "namespace": "default"},
                 "subsets": [{"addresses": [{"ip": "10.244.0.5", "nodeName": "n0"},
                                            {"ip": "10.244.1.5", "nodeName": "n1"},
                                            {"ip": "10.244.1.6", "nodeName": "n1"}],
                              "ports": [{"port": 3000, "protocol": "TCP"}]}]}
    on_n1 = build_proxy_state([service], [endpoints], node_name="n1")
    sp = on_n1.services[0]
    assert sp.external_local
    text = render_nat_rules(on_n1)
    svl = "KUBE-SVL-" + svc_chain(sp)[len("KUBE-SVC-"):]
    ext = "KUBE-EXT-" + svc_chain(sp)[len("KUBE-SVC-"):]
    svl_rules = [line for line in text.splitlines() if line.startswith(f"-A {svl} ")]
    assert [r.rsplit("-j ", 1)[1] for r in svl_rules] == [sep_chain(sp, "10.244.1.5:3000"),
                                                          sep_chain(sp, "10.244.1.6:3000")]
    ext_rules = [line for line in text.splitlines() if line.startswith(f"-A {ext} ")]
    assert ext_rules[0].endswith(f"-s 10.244.0.0/16 -j {svc_chain(sp)}")
    assert ext_rules[-1] == f"-A {ext} -j {svl}"
    # Only the node's own (LOCAL-sourced) traffic is masqueraded; outside clients keep their address.
    assert all("--src-type LOCAL" in r for r in ext_rules if "KUBE-MARK-MASQ" in r)
    # The cluster IP still balances over every endpoint.
    assert len([l for l in text.splitlines() if l.startswith(f"-A {svc_chain(sp)} ") and "KUBE-SEP-" in l]) == 3

    on_n2 = render_nat_rules(build_proxy_state([service], [endpoints], node_name="n2"))
    assert f"-A {svl} -m comment --comment \"default/web has no local endpoints\" -j DROP" in on_n2
    # Cluster policy (the default) never makes a KUBE-SVL chain.
    del service["spec"]["externalTrafficPolicy"]
    assert "KUBE-SVL-" not in render_nat_rules(build_proxy_state([service], [endpoints], node_name="n1"))
