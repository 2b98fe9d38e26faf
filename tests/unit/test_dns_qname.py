"""Query-name parsing: one row per name shape in `dns.qname`'s grammar (CoreDNS's parse_test.go table)."""
import pytest

from dns.qname import Kind, RecordRequest, dashed_ip, parse

ZONE = "cluster.local"
REVERSE = ["10.96.0.0/12", "10.244.0.0/16"]

CASES = [
    # name                                          expected
    ("cluster.local.", RecordRequest(Kind.APEX, ZONE)),
    ("Cluster.Local", RecordRequest(Kind.APEX, ZONE)),
    ("ns.dns.cluster.local.", RecordRequest(Kind.NAMESERVER, ZONE)),
    ("dns-version.cluster.local.", RecordRequest(Kind.DNS_VERSION, ZONE)),
    ("svc.cluster.local.", RecordRequest(Kind.SVC, ZONE)),
    ("pod.cluster.local.", RecordRequest(Kind.POD, ZONE)),
    ("default.svc.cluster.local.", RecordRequest(Kind.SVC, ZONE, namespace="default")),
    ("default.pod.cluster.local.", RecordRequest(Kind.POD, ZONE, namespace="default")),
    ("redis.default.svc.cluster.local.", RecordRequest(Kind.SVC, ZONE, namespace="default", service="redis")),
    ("REDIS.Default.SVC.cluster.local", RecordRequest(Kind.SVC, ZONE, namespace="default", service="redis")),
    ("web-0.web.default.svc.cluster.local.",
     RecordRequest(Kind.SVC, ZONE, namespace="default", service="web", endpoint="web-0")),
    ("10-244-0-5.web.default.svc.cluster.local.",
     RecordRequest(Kind.SVC, ZONE, namespace="default", service="web", endpoint="10-244-0-5")),
    ("_http._tcp.web.default.svc.cluster.local.",
     RecordRequest(Kind.SVC, ZONE, namespace="default", service="web", port="http", protocol="tcp")),
    ("_DNS._UDP.kube-dns.kube-system.svc.cluster.local.",
     RecordRequest(Kind.SVC, ZONE, namespace="kube-system", service="kube-dns", port="dns", protocol="udp")),
    ("http.tcp.web.default.svc.cluster.local.",  # CoreDNS strips underscores only if present
     RecordRequest(Kind.SVC, ZONE, namespace="default", service="web", port="http", protocol="tcp")),
    ("10-244-0-5.default.pod.cluster.local.",
     RecordRequest(Kind.POD, ZONE, namespace="default", service="10-244-0-5")),
    ("a.b.c.d.default.svc.cluster.local.", RecordRequest(Kind.INVALID, ZONE)),
    ("x.10-244-0-5.default.pod.cluster.local.", RecordRequest(Kind.INVALID, ZONE)),
    ("foo.cluster.local.", RecordRequest(Kind.INVALID, ZONE)),
    ("redis.default.cluster.local.", RecordRequest(Kind.INVALID, ZONE)),
    ("redis..svc.cluster.local.", RecordRequest(Kind.INVALID, ZONE)),
    # reverse names
    ("10.0.96.10.in-addr.arpa.", RecordRequest(Kind.REVERSE, "in-addr.arpa", ip="10.96.0.10")),
    ("5.0.244.10.IN-ADDR.ARPA", RecordRequest(Kind.REVERSE, "in-addr.arpa", ip="10.244.0.5")),
    ("1.0.111.10.in-addr.arpa.", RecordRequest(Kind.REVERSE, "in-addr.arpa", ip="10.111.0.1")),  # inside /12
    ("96.10.in-addr.arpa.", RecordRequest(Kind.REVERSE, "in-addr.arpa")),  # interior name: NODATA
    ("x.1.0.96.10.in-addr.arpa.", RecordRequest(Kind.INVALID, "in-addr.arpa")),
    ("1.0.112.10.in-addr.arpa.", RecordRequest(Kind.OUTSIDE)),  # just past 10.96.0.0/12
    ("1.0.168.192.in-addr.arpa.", RecordRequest(Kind.OUTSIDE)),
    ("10.in-addr.arpa.", RecordRequest(Kind.OUTSIDE)),  # covers addresses we do not own
    ("in-addr.arpa.", RecordRequest(Kind.OUTSIDE)),
    ("01.0.96.10.in-addr.arpa.", RecordRequest(Kind.INVALID, "in-addr.arpa")),  # not a canonical octet
    # not ours
    ("example.com.", RecordRequest(Kind.OUTSIDE)),
    ("cluster.local.example.com.", RecordRequest(Kind.OUTSIDE)),
    ("notcluster.local.", RecordRequest(Kind.OUTSIDE)),
    (".", RecordRequest(Kind.OUTSIDE)),
]


@pytest.mark.parametrize("qname,expected", CASES, ids=[c[0] for c in CASES])
def test_parse_query_name(qname: str, expected: RecordRequest) -> None:
    assert parse(qname, ZONE, REVERSE) == expected


def test_reverse_names_are_outside_when_no_networks_are_owned() -> None:
    assert parse("10.0.96.10.in-addr.arpa.", ZONE, []).kind is Kind.OUTSIDE


def test_custom_zone() -> None:
    assert parse("redis.default.svc.k8s.example.", "k8s.example.", REVERSE) == RecordRequest(
        Kind.SVC, "k8s.example", namespace="default", service="redis")
    assert parse("redis.default.svc.cluster.local.", "k8s.example", REVERSE).kind is Kind.OUTSIDE


@pytest.mark.parametrize("label,ip", [
    ("10-244-0-5", "10.244.0.5"),
    ("10-244-0-256", ""),
    ("web-0", ""),
    ("fd00--5", "fd00::5"),
    ("1-2-3", ""),
])
def test_dashed_ip(label: str, ip: str) -> None:
    assert dashed_ip(label) == ip
