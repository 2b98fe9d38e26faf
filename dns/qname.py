"""Parse a query name into a `RecordRequest`: which part of the cluster's DNS space it asks about.

Pure: no cache, no sockets. `records.answer` decides what exists; this module only decides what the name
*means*, following the Kubernetes DNS specification as CoreDNS's `plugin/kubernetes/parse.go` reads it.
Matching is case-insensitive and a trailing dot is optional.

Grammar, for zone `Z` (`cluster.local` by default, `config.CLUSTER_DOMAIN`)::

    Z                                   APEX        SOA, NS; anything else NODATA
    ns.dns.Z                            NAMESERVER  A = the kube-dns ClusterIP (CoreDNS's default NS name)
    dns-version.Z                       DNS_VERSION TXT "1.1.0" (the schema version the spec defines)
    svc.Z | pod.Z                       SVC / POD   namespace-less: NODATA
    <ns>.svc.Z | <ns>.pod.Z             SVC / POD   namespace only: NODATA if the namespace exists, else
                                                    NXDOMAIN (CoreDNS checks its namespace lister)
    <svc>.<ns>.svc.Z                    SVC         A: ClusterIP, or ready endpoint IPs when headless;
                                                    SRV: one record per port
    <endpoint>.<svc>.<ns>.svc.Z         SVC         A of the endpoint whose hostname (or dashed IP,
                                                    `10-244-0-5`) is <endpoint>
    _<port>._<proto>.<svc>.<ns>.svc.Z   SVC         SRV for the named port (underscores optional, as in
                                                    CoreDNS, which strips them if present)
    <a-b-c-d>.<ns>.pod.Z                POD         A of the pod with that IP
    anything else under Z               INVALID     NXDOMAIN (e.g. `foo.Z`, six labels before `svc`)

    d.c.b.a.in-addr.arpa                REVERSE     PTR, when a.b.c.d is in a reverse network we own
                                                    (the service and pod CIDRs)
    c.b.a.in-addr.arpa (fewer labels)   REVERSE     with `ip=None`: an owned interior name, NODATA
    x.d.c.b.a.in-addr.arpa, non-numeric INVALID     under an owned address: NXDOMAIN
    everything else                     OUTSIDE     not ours: forward upstream

Why reverse names need the networks: we answer PTR only for the CIDRs we allocate from. A PTR for
`1.0.168.192.in-addr.arpa` belongs to someone else and is forwarded; a partial name like `10.in-addr.arpa`
covers addresses outside our CIDRs, so it is not ours either.
"""
from __future__ import annotations

import dataclasses
import enum
import ipaddress
from typing import Iterable

SVC = "svc"
POD = "pod"
REVERSE_V4_SUFFIX = "in-addr.arpa"

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Kind(enum.Enum):
    OUTSIDE = "outside"          # not in any zone we own: forward
    INVALID = "invalid"          # in our zone, matches no grammar: NXDOMAIN
    APEX = "apex"
    NAMESERVER = "nameserver"
    DNS_VERSION = "dns-version"
    SVC = "svc"
    POD = "pod"
    REVERSE = "reverse"


@dataclasses.dataclass(frozen=True)
class RecordRequest:
    """What a query name asks for. Empty strings mean "not given" (CoreDNS's recordRequest)."""

    kind: Kind
    zone: str = ""          # the zone we own that contains the name, lower case, no trailing dot
    namespace: str = ""
    service: str = ""       # the service name (SVC) or the dashed pod IP (POD)
    endpoint: str = ""      # hostname or dashed IP of one endpoint of <service>
    port: str = ""          # the named port of an SRV query, underscore stripped
    protocol: str = ""      # `tcp`/`udp`/`sctp`, underscore stripped
    ip: str = ""            # REVERSE: the address asked about ("" for an interior name)


def normalize(qname: str) -> str:
    """Lower case, no trailing dot: the one form every comparison here uses."""
    return qname.rstrip(".").lower()


def parse(qname: str, zone: str, reverse_networks: Iterable[str | IPNetwork] = ()) -> RecordRequest:
    """Parse *qname* against cluster zone *zone* and the reverse networks we answer PTR for."""
    name = normalize(qname)
    zone = normalize(zone)
    if name == zone or name.endswith("." + zone):
        base = name[: -len(zone)].rstrip(".")
        return _parse_cluster(base, zone)
    if name == REVERSE_V4_SUFFIX or name.endswith("." + REVERSE_V4_SUFFIX):
        nets = [ipaddress.ip_network(n) if isinstance(n, str) else n for n in reverse_networks]
        return _parse_reverse(name, [n for n in nets if n.version == 4])
    return RecordRequest(Kind.OUTSIDE)


def _parse_cluster(base: str, zone: str) -> RecordRequest:
    if base == "":
        return RecordRequest(Kind.APEX, zone)
    if base == "ns.dns":
        return RecordRequest(Kind.NAMESERVER, zone)
    if base == "dns-version":
        return RecordRequest(Kind.DNS_VERSION, zone)
    labels = base.split(".")
    if "" in labels:
        return RecordRequest(Kind.INVALID, zone)
    kind_label = labels.pop()
    if kind_label not in (SVC, POD):
        return RecordRequest(Kind.INVALID, zone)
    kind = Kind.SVC if kind_label == SVC else Kind.POD
    fields: dict[str, str] = {}
    for field in ("namespace", "service"):
        if not labels:
            return RecordRequest(kind, zone, **fields)
        fields[field] = labels.pop()
    if len(labels) == 1:
        fields["endpoint"] = labels[0]
    elif len(labels) == 2:
        fields["port"] = _strip_underscore(labels[0])
        fields["protocol"] = _strip_underscore(labels[1])
    elif labels:
        return RecordRequest(Kind.INVALID, zone)  # too long to mean anything
    if kind is Kind.POD and (fields.get("endpoint") or fields.get("port")):
        return RecordRequest(Kind.INVALID, zone)  # pods have no endpoints or ports in the grammar
    return RecordRequest(kind, zone, **fields)


def _strip_underscore(label: str) -> str:
    return label[1:] if label.startswith("_") else label


def _parse_reverse(name: str, networks: list[IPNetwork]) -> RecordRequest:
    """`d.c.b.a.in-addr.arpa` → the address a.b.c.d, if we own it.

    The numeric labels nearest the suffix name a network (`96.10` = 10.96.0.0/16); the name is ours when
    that network lies inside one of *networks*. Leftover labels beyond an owned address make it INVALID.
    """
    zone = REVERSE_V4_SUFFIX
    labels = name[: -len(zone)].rstrip(".").split(".") if name != zone else []
    octets: list[int] = []
    for label in reversed(labels):
        if len(octets) == 4 or not label.isdigit() or int(label) > 255 or (len(label) > 1 and label[0] == "0"):
            break
        octets.append(int(label))
    if not octets:
        return RecordRequest(Kind.OUTSIDE)
    prefix = ipaddress.ip_network(
        (bytes(octets + [0] * (4 - len(octets))), 8 * len(octets)))
    if not any(prefix.subnet_of(net) for net in networks):
        return RecordRequest(Kind.OUTSIDE)
    if len(octets) != len(labels):
        return RecordRequest(Kind.INVALID, zone)
    if len(octets) < 4:
        return RecordRequest(Kind.REVERSE, zone)
    return RecordRequest(Kind.REVERSE, zone, ip=str(prefix.network_address))


def dashed_ip(label: str) -> str:
    """`10-244-0-5` → `10.244.0.5` (pod names; CoreDNS: three dashes and no `--` means IPv4, else IPv6).

    Returns "" when the label is no address at all.
    """
    if label.count("-") == 3 and "--" not in label:
        candidate = label.replace("-", ".")
    else:
        candidate = label.replace("-", ":")
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return ""
