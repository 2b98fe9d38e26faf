"""Answers per query type against a cluster cache, named by scenario (CoreDNS's handler_*_test.go).

Each case is a golden answer: the rcode, then the answer, authority and additional sections in zone-file
form. The view is the real `ClusterCache` filled with plain Kubernetes objects — no mocks.
"""
from __future__ import annotations

import pytest
from dnslib import QTYPE, RCODE

from dns.qname import parse
from dns.records import Answer, ZoneSettings, answer
from dns.view import ClusterCache

ZONE = "cluster.local"
REVERSE = ["10.96.0.0/12", "10.244.0.0/16"]
SERIAL = 1700000000
SOA = f"cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. {SERIAL} 7200 1800 86400 5"
SOA_ARPA = f"in-addr.arpa. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. {SERIAL} 7200 1800 86400 5"


def service(name: str, ns: str = "default", cluster_ip: str = "10.96.0.20", ports=None, **spec) -> dict:
    ports = [{"name": "http", "port": 80, "protocol": "TCP"}] if ports is None else ports
    return {"kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"clusterIP": cluster_ip, "ports": ports, "type": "ClusterIP", **spec}}


def endpoints(name: str, addresses: list[dict], ns: str = "default", ports=None, not_ready=()) -> dict:
    ports = [{"name": "http", "port": 8080, "protocol": "TCP"}] if ports is None else ports
    subset = {"addresses": addresses, "ports": ports}
    if not_ready:
        subset["notReadyAddresses"] = list(not_ready)
    return {"kind": "Endpoints", "metadata": {"name": name, "namespace": ns}, "subsets": [subset]}


def pod(name: str, ip: str, ns: str = "default", phase: str = "Running") -> dict:
    return {"kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "status": {"phase": phase, "podIP": ip, "podIPs": [{"ip": ip}]}}


def cluster() -> ClusterCache:
    cache = ClusterCache()
    for svc in [
        service("redis", cluster_ip="10.96.0.20", ports=[{"name": "redis", "port": 6379, "protocol": "TCP"}]),
        service("web", cluster_ip="10.96.0.30", ports=[{"name": "http", "port": 80, "protocol": "TCP"},
                                                       {"name": "https", "port": 443, "protocol": "TCP"}]),
        service("db", cluster_ip="None", ports=[{"name": "pg", "port": 5432, "protocol": "TCP"}]),
        service("empty-headless", cluster_ip="None"),
        service("noports-headless", cluster_ip="None", ports=[]),
        service("kube-dns", ns="kube-system", cluster_ip="10.96.0.10",
                ports=[{"name": "dns", "port": 53, "protocol": "UDP"},
                       {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]),
        service("ext", cluster_ip="", type="ExternalName", externalName="example.com", ports=[]),
        service("alias", cluster_ip="", type="ExternalName", externalName="redis.default.svc.cluster.local",
                ports=[]),
        service("dangling", cluster_ip="", type="ExternalName", externalName="nope.default.svc.cluster.local",
                ports=[]),
    ]:
        cache.upsert("services", svc)
    for eps in [
        endpoints("redis", [{"ip": "10.244.0.7"}], ports=[{"name": "redis", "port": 6379, "protocol": "TCP"}]),
        endpoints("db", [{"ip": "10.244.0.5", "hostname": "db-0"}, {"ip": "10.244.1.6"}],
                  ports=[{"name": "pg", "port": 5432, "protocol": "TCP"}], not_ready=[{"ip": "10.244.0.9"}]),
        endpoints("empty-headless", [], not_ready=[{"ip": "10.244.0.10"}]),
        endpoints("noports-headless", [{"ip": "10.244.0.11"}], ports=[]),
    ]:
        cache.upsert("endpoints", eps)
    for p in [pod("db-0", "10.244.0.5"), pod("db-1", "10.244.1.6"), pod("redis-1", "10.244.0.7"),
              pod("done", "10.244.0.12", phase="Succeeded")]:
        cache.upsert("pods", p)
    for ns in ("default", "kube-system"):
        cache.upsert("namespaces", {"kind": "Namespace", "metadata": {"name": ns}})
    cache._serial = SERIAL  # a fixed serial for golden answers
    cache.mark_synced()
    return cache


def render(ans: Answer) -> list[str]:
    lines = [RCODE.get(ans.rcode) + (" aa" if ans.authoritative else "")]
    for section, rrs in (("AN", ans.records), ("NS", ans.authority), ("AR", ans.additional)):
        lines += [f"{section} " + " ".join(str(rr).split()) for rr in rrs]
    return lines


def ask(qname: str, qtype: str, view=None) -> list[str]:
    view = view if view is not None else cluster()
    request = parse(qname, ZONE, REVERSE)
    return render(answer(request, view, getattr(QTYPE, qtype), qname=qname, settings=ZoneSettings()))


# (scenario id, qname, qtype, golden answer)
SCENARIOS = [
    ("clusterip_service_a", "redis.default.svc.cluster.local.", "A",
     ["NOERROR aa", "AN redis.default.svc.cluster.local. 5 IN A 10.96.0.20"]),
    ("clusterip_service_a_mixed_case_keeps_owner", "Redis.Default.svc.cluster.local.", "A",
     ["NOERROR aa", "AN Redis.Default.svc.cluster.local. 5 IN A 10.96.0.20"]),
    ("clusterip_service_aaaa_is_nodata", "redis.default.svc.cluster.local.", "AAAA",
     ["NOERROR aa", f"NS {SOA}"]),
    ("clusterip_service_txt_is_nodata", "redis.default.svc.cluster.local.", "TXT",
     ["NOERROR aa", f"NS {SOA}"]),
    ("unknown_service_nxdomain", "nope.default.svc.cluster.local.", "A",
     ["NXDOMAIN aa", f"NS {SOA}"]),
    ("unknown_service_aaaa_nxdomain", "nope.default.svc.cluster.local.", "AAAA",
     ["NXDOMAIN aa", f"NS {SOA}"]),
    ("service_in_other_namespace_nxdomain", "redis.other.svc.cluster.local.", "A",
     ["NXDOMAIN aa", f"NS {SOA}"]),
    ("namespace_name_is_nodata", "default.svc.cluster.local.", "A", ["NOERROR aa", f"NS {SOA}"]),
    ("svc_label_is_nodata", "svc.cluster.local.", "A", ["NOERROR aa", f"NS {SOA}"]),
    ("pod_namespace_is_nodata", "default.pod.cluster.local.", "A", ["NOERROR aa", f"NS {SOA}"]),
    # CoreDNS: a namespace-only name whose namespace does not exist is NXDOMAIN (busybox's `nslookup redis`
    # walks the search list and prints this for redis.svc.cluster.local).
    ("unknown_namespace_nxdomain", "redis.svc.cluster.local.", "A", ["NXDOMAIN aa", f"NS {SOA}"]),
    ("unknown_namespace_aaaa_nxdomain", "redis.svc.cluster.local.", "AAAA", ["NXDOMAIN aa", f"NS {SOA}"]),
    ("unknown_pod_namespace_nxdomain", "nope.pod.cluster.local.", "A", ["NXDOMAIN aa", f"NS {SOA}"]),
    ("invalid_name_in_zone_nxdomain", "foo.cluster.local.", "A", ["NXDOMAIN aa", f"NS {SOA}"]),
    ("search_path_expansion_of_external_name_nxdomain", "google.com.default.svc.cluster.local.", "A",
     ["NXDOMAIN aa", f"NS {SOA}"]),
    ("srv_named_port_clusterip", "_redis._tcp.redis.default.svc.cluster.local.", "SRV",
     ["NOERROR aa", "AN _redis._tcp.redis.default.svc.cluster.local. 5 IN SRV 0 100 6379 redis.default.svc.cluster.local.",
      "AR redis.default.svc.cluster.local. 5 IN A 10.96.0.20"]),
    ("srv_protocol_mismatch_nxdomain", "_redis._udp.redis.default.svc.cluster.local.", "SRV",
     ["NXDOMAIN aa", f"NS {SOA}"]),
    ("srv_unknown_port_nxdomain", "_nope._tcp.redis.default.svc.cluster.local.", "SRV",
     ["NXDOMAIN aa", f"NS {SOA}"]),
    ("srv_all_ports_share_weight", "web.default.svc.cluster.local.", "SRV",
     ["NOERROR aa", "AN web.default.svc.cluster.local. 5 IN SRV 0 50 80 web.default.svc.cluster.local.",
      "AN web.default.svc.cluster.local. 5 IN SRV 0 50 443 web.default.svc.cluster.local.",
      "AR web.default.svc.cluster.local. 5 IN A 10.96.0.30"]),
    ("srv_udp_port_of_kube_dns", "_dns._udp.kube-dns.kube-system.svc.cluster.local.", "SRV",
     ["NOERROR aa",
      "AN _dns._udp.kube-dns.kube-system.svc.cluster.local. 5 IN SRV 0 100 53 kube-dns.kube-system.svc.cluster.local.",
      "AR kube-dns.kube-system.svc.cluster.local. 5 IN A 10.96.0.10"]),
    ("headless_a_lists_ready_endpoints_only", "db.default.svc.cluster.local.", "A",
     ["NOERROR aa", "AN db.default.svc.cluster.local. 5 IN A 10.244.0.5",
      "AN db.default.svc.cluster.local. 5 IN A 10.244.1.6"]),
    ("headless_srv_targets_endpoints", "_pg._tcp.db.default.svc.cluster.local.", "SRV",
     ["NOERROR aa",
      "AN _pg._tcp.db.default.svc.cluster.local. 5 IN SRV 0 50 5432 db-0.db.default.svc.cluster.local.",
      "AN _pg._tcp.db.default.svc.cluster.local. 5 IN SRV 0 50 5432 10-244-1-6.db.default.svc.cluster.local.",
      "AR db-0.db.default.svc.cluster.local. 5 IN A 10.244.0.5",
      "AR 10-244-1-6.db.default.svc.cluster.local. 5 IN A 10.244.1.6"]),
    ("headless_endpoint_by_hostname", "db-0.db.default.svc.cluster.local.", "A",
     ["NOERROR aa", "AN db-0.db.default.svc.cluster.local. 5 IN A 10.244.0.5"]),
    ("headless_endpoint_by_dashed_ip", "10-244-1-6.db.default.svc.cluster.local.", "A",
     ["NOERROR aa", "AN 10-244-1-6.db.default.svc.cluster.local. 5 IN A 10.244.1.6"]),
    ("headless_not_ready_endpoint_nxdomain", "10-244-0-9.db.default.svc.cluster.local.", "A",
     ["NXDOMAIN aa", f"NS {SOA}"]),
    ("headless_without_ready_endpoints_nxdomain", "empty-headless.default.svc.cluster.local.", "A",
     ["NXDOMAIN aa", f"NS {SOA}"]),
    ("headless_without_ports_still_has_a", "noports-headless.default.svc.cluster.local.", "A",
     ["NOERROR aa", "AN noports-headless.default.svc.cluster.local. 5 IN A 10.244.0.11"]),
    ("headless_without_ports_srv_nodata", "noports-headless.default.svc.cluster.local.", "SRV",
     ["NOERROR aa", f"NS {SOA}"]),
    ("endpoint_of_clusterip_service", "10-244-0-7.redis.default.svc.cluster.local.", "A",
     ["NOERROR aa", "AN 10-244-0-7.redis.default.svc.cluster.local. 5 IN A 10.244.0.7"]),
    ("externalname_cname", "ext.default.svc.cluster.local.", "A",
     ["NOERROR aa", "AN ext.default.svc.cluster.local. 5 IN CNAME example.com."]),
    ("externalname_cname_for_aaaa_too", "ext.default.svc.cluster.local.", "AAAA",
     ["NOERROR aa", "AN ext.default.svc.cluster.local. 5 IN CNAME example.com."]),
    ("externalname_cname_query", "ext.default.svc.cluster.local.", "CNAME",
     ["NOERROR aa", "AN ext.default.svc.cluster.local. 5 IN CNAME example.com."]),
    ("externalname_in_cluster_target_resolved", "alias.default.svc.cluster.local.", "A",
     ["NOERROR aa", "AN alias.default.svc.cluster.local. 5 IN CNAME redis.default.svc.cluster.local.",
      "AN redis.default.svc.cluster.local. 5 IN A 10.96.0.20"]),
    ("externalname_dangling_in_cluster_target_nxdomain", "dangling.default.svc.cluster.local.", "A",
     ["NXDOMAIN aa", "AN dangling.default.svc.cluster.local. 5 IN CNAME nope.default.svc.cluster.local.",
      f"NS {SOA}"]),
    ("externalname_has_no_endpoints", "x.ext.default.svc.cluster.local.", "A", ["NXDOMAIN aa", f"NS {SOA}"]),
    ("cname_query_on_clusterip_nodata", "redis.default.svc.cluster.local.", "CNAME",
     ["NOERROR aa", f"NS {SOA}"]),
    ("pod_verified_a", "10-244-0-5.default.pod.cluster.local.", "A",
     ["NOERROR aa", "AN 10-244-0-5.default.pod.cluster.local. 5 IN A 10.244.0.5"]),
    ("pod_verified_wrong_namespace_nxdomain", "10-244-0-5.other.pod.cluster.local.", "A",
     ["NXDOMAIN aa", f"NS {SOA}"]),
    ("pod_verified_unknown_ip_nxdomain", "10-244-0-99.default.pod.cluster.local.", "A",
     ["NXDOMAIN aa", f"NS {SOA}"]),
    ("pod_finished_is_forgotten", "10-244-0-12.default.pod.cluster.local.", "A", ["NXDOMAIN aa", f"NS {SOA}"]),
    ("pod_not_an_ip_nxdomain", "web-0.default.pod.cluster.local.", "A", ["NXDOMAIN aa", f"NS {SOA}"]),
    ("pod_aaaa_nodata", "10-244-0-5.default.pod.cluster.local.", "AAAA", ["NOERROR aa", f"NS {SOA}"]),
    ("ptr_cluster_ip", "20.0.96.10.in-addr.arpa.", "PTR",
     ["NOERROR aa", "AN 20.0.96.10.in-addr.arpa. 5 IN PTR redis.default.svc.cluster.local."]),
    ("ptr_kube_dns", "10.0.96.10.in-addr.arpa.", "PTR",
     ["NOERROR aa", "AN 10.0.96.10.in-addr.arpa. 5 IN PTR kube-dns.kube-system.svc.cluster.local."]),
    ("ptr_endpoint_with_hostname", "5.0.244.10.in-addr.arpa.", "PTR",
     ["NOERROR aa", "AN 5.0.244.10.in-addr.arpa. 5 IN PTR db-0.db.default.svc.cluster.local."]),
    ("ptr_endpoint_without_hostname", "6.1.244.10.in-addr.arpa.", "PTR",
     ["NOERROR aa", "AN 6.1.244.10.in-addr.arpa. 5 IN PTR 10-244-1-6.db.default.svc.cluster.local."]),
    ("ptr_unknown_owned_ip_nxdomain", "99.0.96.10.in-addr.arpa.", "PTR", ["NXDOMAIN aa", f"NS {SOA_ARPA}"]),
    ("ptr_interior_reverse_name_nodata", "96.10.in-addr.arpa.", "PTR", ["NOERROR aa", f"NS {SOA_ARPA}"]),
    ("a_on_reverse_name_nodata", "20.0.96.10.in-addr.arpa.", "A", ["NOERROR aa", f"NS {SOA_ARPA}"]),
    ("apex_soa", "cluster.local.", "SOA", ["NOERROR aa", f"AN {SOA}"]),
    ("apex_ns", "cluster.local.", "NS",
     ["NOERROR aa", "AN cluster.local. 5 IN NS ns.dns.cluster.local.", "AR ns.dns.cluster.local. 5 IN A 10.96.0.10"]),
    ("apex_a_nodata", "cluster.local.", "A", ["NOERROR aa", f"NS {SOA}"]),
    ("nameserver_a", "ns.dns.cluster.local.", "A", ["NOERROR aa", "AN ns.dns.cluster.local. 5 IN A 10.96.0.10"]),
    ("dns_schema_version_txt", "dns-version.cluster.local.", "TXT",
     ["NOERROR aa", 'AN dns-version.cluster.local. 5 IN TXT "1.1.0"']),
    ("any_on_existing_name_rfc8482", "redis.default.svc.cluster.local.", "ANY",
     ["NOERROR aa", "AN redis.default.svc.cluster.local. 5 IN HINFO \\# 9 075246433834383200"]),
    ("any_on_unknown_name_nxdomain", "nope.default.svc.cluster.local.", "ANY", ["NXDOMAIN aa", f"NS {SOA}"]),
    ("outside_name_is_not_answered_here", "example.com.", "A", ["REFUSED"]),
    ("axfr_refused", "cluster.local.", "AXFR", ["REFUSED"]),
    ("ixfr_refused", "cluster.local.", "IXFR", ["REFUSED"]),
]


@pytest.mark.parametrize("qname,qtype,golden", [s[1:] for s in SCENARIOS], ids=[s[0] for s in SCENARIOS])
def test_answer(qname: str, qtype: str, golden: list[str]) -> None:
    assert ask(qname, qtype) == golden


def test_servfail_before_informers_synced() -> None:
    view = ClusterCache()
    view.upsert("services", service("redis"))
    assert ask("redis.default.svc.cluster.local.", "A", view) == ["SERVFAIL"]
    assert ask("nope.default.svc.cluster.local.", "A", view) == ["SERVFAIL"]
    view.mark_synced()
    assert ask("redis.default.svc.cluster.local.", "A", view)[0] == "NOERROR aa"


def test_deleted_service_stops_answering_and_loses_its_ptr() -> None:
    view = cluster()
    view.delete("services", service("redis", cluster_ip="10.96.0.20"))
    assert ask("redis.default.svc.cluster.local.", "A", view)[0] == "NXDOMAIN aa"
    assert ask("20.0.96.10.in-addr.arpa.", "PTR", view)[0] == "NXDOMAIN aa"


def test_endpoint_update_moves_headless_answer_and_ptr() -> None:
    view = cluster()
    view.upsert("endpoints", endpoints("db", [{"ip": "10.244.2.8", "hostname": "db-0"}],
                                       ports=[{"name": "pg", "port": 5432, "protocol": "TCP"}]))
    assert ask("db.default.svc.cluster.local.", "A", view) == [
        "NOERROR aa", "AN db.default.svc.cluster.local. 5 IN A 10.244.2.8"]
    assert ask("5.0.244.10.in-addr.arpa.", "PTR", view)[0] == "NXDOMAIN aa"
    assert ask("8.2.244.10.in-addr.arpa.", "PTR", view)[1].endswith("PTR db-0.db.default.svc.cluster.local.")


def test_terminating_pod_is_forgotten() -> None:
    view = cluster()
    gone = pod("db-0", "10.244.0.5")
    gone["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    view.upsert("pods", gone)
    assert ask("10-244-0-5.default.pod.cluster.local.", "A", view)[0] == "NXDOMAIN aa"


def test_namespace_existence_follows_the_informer_events():
    """A namespace-only name turns NXDOMAIN once its namespace is deleted, NODATA again when recreated."""
    view = cluster()
    ns = {"kind": "Namespace", "metadata": {"name": "team"}}
    assert ask("team.svc.cluster.local.", "A", view)[0] == "NXDOMAIN aa"
    view.upsert("namespaces", ns)
    assert ask("team.svc.cluster.local.", "A", view)[:1] == ["NOERROR aa"]  # NODATA: no answer records
    assert len(ask("team.svc.cluster.local.", "A", view)) == 2
    view.delete("namespaces", ns)
    assert ask("team.svc.cluster.local.", "A", view)[0] == "NXDOMAIN aa"
