"""IPVS mode: the virtual/real servers computed from the state, the diff against the kernel, the
fail-fast on a kernel without ip_vs (this machine's), and the iptables half it still needs."""
from __future__ import annotations

import pytest

from proxy.ipvs import (IPVS_MISSING, IpvsUnavailable, RealServer, VirtualServer, bound_addresses,
                        compute_virtual_servers, diff_virtual_servers, require_ipvs)
from proxy.render import render_ipvs_support_rules
from proxy.state import Endpoint, ProxyState, ServicePort

EPS = (Endpoint("10.244.0.5", 3000), Endpoint("10.244.1.4", 3000))


def state():
    return ProxyState(services=(
        ServicePort("default", "counter-lb", "", "TCP", "10.96.0.50", 30000, node_port=31500,
                    load_balancer_ips=("192.168.49.100",), endpoints=EPS),
        ServicePort("default", "sticky", "", "TCP", "10.96.0.40", 80, affinity_seconds=600, endpoints=EPS),
        ServicePort("kube-system", "kube-dns", "dns", "UDP", "10.96.0.10", 53,
                    endpoints=(Endpoint("10.244.0.2", 53),)),
        ServicePort("default", "empty", "", "TCP", "10.96.0.60", 80),
    ), cluster_cidr="10.244.0.0/16", node_ip="192.168.49.2")


def test_virtual_servers_for_every_entry_point():
    reals = (RealServer("10.244.0.5", 3000), RealServer("10.244.1.4", 3000))
    assert compute_virtual_servers(state()) == [
        VirtualServer("10.96.0.10", 53, "UDP", "rr", None, (RealServer("10.244.0.2", 53),),
                      "kube-system/kube-dns:dns cluster IP"),
        VirtualServer("10.96.0.40", 80, "TCP", "rr", 600, reals, "default/sticky cluster IP"),
        VirtualServer("10.96.0.50", 30000, "TCP", "rr", None, reals, "default/counter-lb cluster IP"),
        VirtualServer("10.96.0.60", 80, "TCP", "rr", None, (), "default/empty cluster IP"),
        VirtualServer("192.168.49.100", 30000, "TCP", "rr", None, reals, "default/counter-lb loadbalancer IP"),
        VirtualServer("192.168.49.2", 31500, "TCP", "rr", None, reals, "default/counter-lb node port"),
    ]


def test_node_ip_is_not_bound_to_the_dummy_device():
    assert bound_addresses(compute_virtual_servers(state()), "192.168.49.2") == [
        "10.96.0.10", "10.96.0.40", "10.96.0.50", "10.96.0.60", "192.168.49.100"]


def test_diff_adds_updates_and_removes():
    wanted = compute_virtual_servers(state())
    by_key = {vs.key: vs for vs in wanted}
    current = {
        # sticky exists without persistence and with a dead real server
        ("10.96.0.40", 80, "TCP"): (VirtualServer("10.96.0.40", 80, "TCP"),
                                    {RealServer("10.244.0.5", 3000), RealServer("10.244.0.9", 3000)}),
        # a deleted service
        ("10.96.0.77", 80, "TCP"): (VirtualServer("10.96.0.77", 80, "TCP"), {RealServer("10.244.0.5", 80)}),
    }
    d = diff_virtual_servers(current, wanted)
    assert d.delete == [("10.96.0.77", 80, "TCP")]
    assert [vs.key for vs in d.update] == [("10.96.0.40", 80, "TCP")]
    assert ("10.96.0.40", 80, "TCP") not in {vs.key for vs in d.add}
    assert len(d.add) == len(wanted) - 1
    assert d.reals_del == {("10.96.0.40", 80, "TCP"): [RealServer("10.244.0.9", 3000)]}
    assert d.reals_add[("10.96.0.40", 80, "TCP")] == [RealServer("10.244.1.4", 3000)]
    assert d.reals_add[("10.96.0.10", 53, "UDP")] == list(by_key[("10.96.0.10", 53, "UDP")].real_servers)
    # Applying the diff's result again changes nothing.
    converged = {vs.key: (vs, set(vs.real_servers)) for vs in wanted}
    again = diff_virtual_servers(converged, wanted)
    assert (again.add, again.update, again.delete, again.reals_add, again.reals_del) == ([], [], [], {}, {})


def test_missing_ip_vs_fails_fast_with_the_fix(tmp_path):
    with pytest.raises(IpvsUnavailable) as err:
        require_ipvs(str(tmp_path / "ip_vs"))
    assert str(err.value) == IPVS_MISSING
    assert "--proxy-mode iptables" in str(err.value)


def test_ipvs_support_rules_masquerade_but_do_not_dnat():
    text = render_ipvs_support_rules(state())
    assert "DNAT" not in text and "KUBE-SVC-" not in text
    assert ('-A KUBE-SERVICES -m comment --comment "default/sticky cluster IP" -d 10.96.0.40/32 -p tcp -m tcp '
            "--dport 80 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ") in text
    assert "-A KUBE-NODEPORTS -m comment --comment default/counter-lb -p tcp -m tcp --dport 31500 -j KUBE-MARK-MASQ" in text
    assert '"default/empty has no endpoints"' in text
    # the NodePort jump stays the last rule of KUBE-SERVICES
    nat_services = [l for l in text.split("*nat")[1].splitlines() if l.startswith("-A KUBE-SERVICES")]
    assert "KUBE-NODEPORTS" in nat_services[-1]


@pytest.mark.skipif(__import__("os").path.exists("/proc/net/ip_vs"), reason="this kernel has ip_vs")
async def test_run_proxy_in_ipvs_mode_fails_at_once_without_ip_vs():
    from minikube_py.config import ClusterConfig
    from proxy.proxier import run_proxy

    class NoApi:  # any use of the client would be a bug: the check comes first
        def __getattr__(self, name):
            raise AssertionError(f"client.{name} used before the ip_vs check")

    with pytest.raises(IpvsUnavailable, match="use --proxy-mode iptables"):
        await run_proxy(NoApi(), ClusterConfig(proxy_mode="ipvs"), "n", "192.168.49.2")
