"""Building `ProxyState` from API objects: what receives traffic and where it goes."""
from __future__ import annotations

from proxy.state import Endpoint, HostPort, build_proxy_state


def _svc(name="web", ports=None, **spec):
    spec = {"type": "ClusterIP", "clusterIP": "10.96.0.20", "ports": ports or [{"port": 80, "protocol": "TCP"}],
            **spec}
    return {"metadata": {"name": name, "namespace": "default"}, "spec": spec}


def test_only_ready_addresses_receive_traffic():
    eps = {"metadata": {"name": "web", "namespace": "default"},
           "subsets": [{"addresses": [{"ip": "10.244.0.6"}, {"ip": "10.244.0.5"}],
                        "notReadyAddresses": [{"ip": "10.244.0.7"}],
                        "ports": [{"port": 8080, "protocol": "TCP"}]}]}
    (sp,) = build_proxy_state([_svc()], [eps]).services
    assert sp.endpoints == (Endpoint("10.244.0.5", 8080), Endpoint("10.244.0.6", 8080))


def test_named_target_port_uses_the_numbers_the_endpoints_controller_resolved():
    """targetPort "http" means a different number per pod; the Endpoints object carries the numbers,
    one subset per distinct port, matched to the service port by *name*."""
    svc = _svc(ports=[{"name": "web", "port": 80, "targetPort": "http", "protocol": "TCP"},
                      {"name": "dns", "port": 53, "targetPort": 5353, "protocol": "UDP"}])
    eps = {"metadata": {"name": "web", "namespace": "default"},
           "subsets": [{"addresses": [{"ip": "10.244.0.5"}],
                        "ports": [{"name": "web", "port": 8080, "protocol": "TCP"},
                                  {"name": "dns", "port": 5353, "protocol": "UDP"}]},
                       {"addresses": [{"ip": "10.244.1.9"}],
                        "ports": [{"name": "web", "port": 9090, "protocol": "TCP"},
                                  {"name": "dns", "port": 5353, "protocol": "UDP"}]}]}
    by_name = {sp.port_name: sp for sp in build_proxy_state([svc], [eps]).services}
    assert by_name["web"].endpoints == (Endpoint("10.244.0.5", 8080), Endpoint("10.244.1.9", 9090))
    assert by_name["dns"].endpoints == (Endpoint("10.244.0.5", 5353), Endpoint("10.244.1.9", 5353))
    assert by_name["dns"].protocol == "UDP"


def test_same_port_name_other_protocol_does_not_match():
    svc = _svc(ports=[{"port": 53, "protocol": "UDP"}])
    eps = {"metadata": {"name": "web", "namespace": "default"},
           "subsets": [{"addresses": [{"ip": "10.244.0.5"}], "ports": [{"port": 53, "protocol": "TCP"}]}]}
    (sp,) = build_proxy_state([svc], [eps]).services
    assert sp.endpoints == ()


def test_endpoints_of_another_namespace_do_not_count():
    eps = {"metadata": {"name": "web", "namespace": "other"},
           "subsets": [{"addresses": [{"ip": "10.244.0.5"}], "ports": [{"port": 80, "protocol": "TCP"}]}]}
    (sp,) = build_proxy_state([_svc()], [eps]).services
    assert sp.endpoints == ()


def test_types_decide_node_ports_and_lb_ips():
    lb = _svc("lb", type="LoadBalancer", ports=[{"port": 80, "nodePort": 31500, "protocol": "TCP"}],
              externalIPs=["192.168.49.50"])
    lb["status"] = {"loadBalancer": {"ingress": [{"ip": "192.168.49.100"}, {"hostname": "x.example"}]}}
    # A ClusterIP service that still carries a stale nodePort field must not open it.
    cip = _svc("cip", ports=[{"port": 80, "nodePort": 31501, "protocol": "TCP"}])
    a, b = build_proxy_state([lb, cip], []).services
    assert (b.name, b.node_port, b.load_balancer_ips) == ("lb", 31500, ("192.168.49.100",))
    assert b.external_ips == ("192.168.49.50",)
    assert (a.name, a.node_port) == ("cip", None)


def test_client_ip_affinity_timeout():
    s1 = _svc("a", sessionAffinity="ClientIP")
    s2 = _svc("b", sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}})
    s3 = _svc("c", sessionAffinity="None")
    got = {sp.name: sp.affinity_seconds for sp in build_proxy_state([s1, s2, s3], []).services}
    assert got == {"a": 10800, "b": 60, "c": None}


def test_host_ports_only_from_running_pods_with_an_ip():
    def pod(name, phase, ip):
        return {"metadata": {"name": name, "namespace": "default"},
                "spec": {"containers": [{"name": "c", "ports": [
                    {"containerPort": 80, "hostPort": 8080},
                    {"containerPort": 53, "hostPort": 5353, "protocol": "UDP", "hostIP": "192.168.49.2"},
                    {"containerPort": 9000}]}]},
                "status": {"phase": phase, "podIP": ip}}
    state = build_proxy_state([], [], [pod("run", "Running", "10.244.0.5"), pod("pend", "Pending", ""),
                                       pod("noip", "Running", "")])
    assert state.host_ports == (
        HostPort("default", "run", "TCP", 8080, "10.244.0.5", 80, ""),
        HostPort("default", "run", "UDP", 5353, "10.244.0.5", 53, "192.168.49.2"),
    )
