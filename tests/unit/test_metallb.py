"""Pool parsing, allocation and layer-2 election for LoadBalancer Services."""
import ipaddress

import pytest

from minikube_py.addons import metallb


def ips(*xs):
    return [ipaddress.IPv4Address(x) for x in xs]


def test_pool_from_range_and_cidr_deduplicated():
    cfg = metallb.render_config("192.168.49.100", "192.168.49.102")
    assert metallb.parse_pool(cfg) == ips("192.168.49.100", "192.168.49.101", "192.168.49.102")
    both = "address-pools:\n- name: a\n  addresses: [192.168.49.100-192.168.49.101, 192.168.49.100/31]\n"
    assert metallb.parse_pool(both) == ips("192.168.49.100", "192.168.49.101")
    assert metallb.parse_pool(None) == []


@pytest.mark.parametrize("bad", ["192.168.49.5-192.168.49.1", "300.1.1.1-300.1.1.2", "nonsense"])
def test_bad_ranges_are_errors(bad):
    with pytest.raises(metallb.PoolError):
        metallb.parse_range(bad)


def test_pool_must_stay_inside_the_node_network_and_off_our_ips():
    metallb.check_pool_inside(ips("192.168.49.100"), "192.168.49.0/24", {"192.168.49.1"})
    with pytest.raises(metallb.PoolError, match="outside"):
        metallb.check_pool_inside(ips("10.0.0.1"), "192.168.49.0/24", set())
    with pytest.raises(metallb.PoolError, match="already used"):
        metallb.check_pool_inside(ips("192.168.49.2"), "192.168.49.0/24", {"192.168.49.2"})


POOL = ips("192.168.49.100", "192.168.49.101")


@pytest.mark.parametrize("requested,current,used,expected", [
    (None, None, {}, ("192.168.49.100", None)),
    (None, None, {"192.168.49.100": "default/a"}, ("192.168.49.101", None)),
    (None, "192.168.49.101", {}, ("192.168.49.101", None)),  # keeps its IP
    ("192.168.49.101", None, {}, ("192.168.49.101", None)),
    ("192.168.49.101", None, {"192.168.49.101": "default/a"},
     (None, 'Failed to allocate IP for "default/me": "192.168.49.101" is already in use by default/a')),
    ("10.1.1.1", None, {}, (None, 'Failed to allocate IP for "default/me": "10.1.1.1" is not allowed in config')),
    (None, None, {"192.168.49.100": "a/a", "192.168.49.101": "a/b"},
     (None, 'Failed to allocate IP for "default/me": no available IPs')),
], ids=["first-free", "next-free", "keeps-current", "requested", "requested-taken", "requested-outside",
        "exhausted"])
def test_allocate(requested, current, used, expected):
    assert metallb.allocate("default/me", requested, current, POOL, used) == expected


def test_requested_ip_from_annotation_wins_over_spec():
    svc = {"metadata": {"annotations": {"metallb.universe.tf/loadBalancerIPs": "192.168.49.101"}},
           "spec": {"loadBalancerIP": "192.168.49.100"}}
    assert metallb.requested_ip(svc) == "192.168.49.101"


def test_election_is_deterministic_and_moves_only_when_the_holder_leaves():
    nodes = ["n1", "n2", "n3"]
    holder = metallb.elect("192.168.49.100", nodes)
    assert holder == metallb.elect("192.168.49.100", list(reversed(nodes)))
    others = [n for n in nodes if n != holder]
    successor = metallb.elect("192.168.49.100", others)
    assert successor in others
    # Removing a node that is not the holder keeps the holder.
    assert metallb.elect("192.168.49.100", [holder, successor]) == holder
    assert metallb.elect("192.168.49.100", []) is None


def _node(name, ready=True, **labels):
    return {"metadata": {"name": name, "labels": labels},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "Unknown"}]}}


def _lb(name, ip, type_="LoadBalancer"):
    return {"metadata": {"name": name, "namespace": "default"}, "spec": {"type": type_},
            "status": {"loadBalancer": {"ingress": [{"ip": ip}]}}}


def test_speaker_holds_exactly_the_ips_it_wins_among_ready_nodes():
    from agent.speaker import desired_ips

    svcs = [_lb("a", "192.168.49.100"), _lb("b", "192.168.49.101"), _lb("c", "192.168.49.102", "ClusterIP")]
    nodes = [_node("n1"), _node("n2")]
    held = {n: desired_ips(svcs, nodes, n) for n in ("n1", "n2")}
    assert held["n1"] | held["n2"] == {"192.168.49.100", "192.168.49.101"}
    assert not held["n1"] & held["n2"]
    # The node holding .100 goes NotReady: the other takes it over; a not-ready node holds nothing.
    holder = "n1" if "192.168.49.100" in held["n1"] else "n2"
    other = "n2" if holder == "n1" else "n1"
    nodes2 = [_node(holder, ready=False), _node(other)]
    assert desired_ips(svcs, nodes2, other) == {"192.168.49.100", "192.168.49.101"}
    assert desired_ips(svcs, nodes2, holder) == set()


def test_gratuitous_arp_frame_layout():
    from agent.speaker import garp_frame

    frame = garp_frame(bytes.fromhex("020000000001"), "192.168.49.100")
    assert len(frame) == 42
    assert frame[:6] == b"\xff" * 6 and frame[12:14] == b"\x08\x06"
    assert frame[28:32] == frame[38:42] == bytes([192, 168, 49, 100])  # sender IP == target IP
