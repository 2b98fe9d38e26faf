"""Answer a parsed query from the cluster's state: `answer(request, view, qtype, qname=...) -> Answer`.

Pure: reads a `ClusterView` (indexed caches the server keeps current from informers), writes nothing,
returns dnslib resource records. The semantics are CoreDNS's `kubernetes` plugin with its defaults
(`pods verified`, TTL 5, no `fallthrough` inside the zones we own):

* A flat dispatch on the query type over one lookup of the name (`_lookup`). The lookup says whether the
  name exists (`None` = it does not) and lists what it points at; each type then picks its records.
* NXDOMAIN vs NODATA is deliberate. The name does not exist → NXDOMAIN (`redis.svc.cluster.local`: no
  namespace `redis`); it exists but has no record of
  the asked type (AAAA on an IPv4 service, TXT on a service, `default.svc.cluster.local`) → NOERROR with
  no answer. Both carry the zone's SOA in the authority section, so resolvers can cache the negative
  answer for its minimum TTL (RFC 2308). Getting this wrong is not cosmetic: a stub resolver that gets
  NXDOMAIN for `redis.default.svc.cluster.local` AAAA may give up on the name altogether.
* Services (`<svc>.<ns>.svc.<zone>`):
  - ClusterIP/NodePort/LoadBalancer: A = the ClusterIP(s), whether or not there are endpoints.
  - headless (`clusterIP: None`): A = each *ready* endpoint address (`subsets[].addresses`). With none,
    the name does not exist: NXDOMAIN, as in CoreDNS (`findServices` keeps `errNoItems` when no address
    matched). A pod that waits for its headless peers therefore sees NXDOMAIN, not an empty success.
  - ExternalName: a CNAME to `spec.externalName`, for every query type (RFC 1034: a CNAME owner has no
    other data); when the target is inside our zone we also add its records, as CoreDNS does.
  - SRV `_<port>._<proto>.<svc>...`: `0 <weight> <port> <target>` per matching named port, target =
    the service name (ClusterIP) or `<endpoint>.<svc>.<ns>.svc.<zone>` (headless), A records for the
    targets in the additional section; weights share 100 between the records. Without `_port._proto`,
    SRV lists every port. A port that matches nothing → NXDOMAIN (CoreDNS).
  - `<endpoint>.<svc>...`: the endpoint whose hostname, or dashed IP (`10-244-0-5`), is `<endpoint>`.
* Pods (`<a-b-c-d>.<ns>.pod.<zone>`): `verified` mode — answered only if a pod in `<ns>` has that IP.
  We already keep a pod-by-IP index for PTR, so the check is one dict lookup, and it stops the name
  from being a general "any IP you like" oracle (`insecure` mode, kube-dns's old behaviour).
* PTR for owned reverse names: a ClusterIP → `<svc>.<ns>.svc.<zone>`; else every endpoint address with
  that IP → `<hostname-or-dashed-ip>.<svc>.<ns>.svc.<zone>`; else NXDOMAIN (CoreDNS with no fallthrough:
  nobody upstream knows our 10.x addresses either, and a fast NXDOMAIN beats a 5 s timeout).
* ANY: RFC 8482's minimal answer, one synthesized `HINFO "RFC8482" ""` for a name that exists (NXDOMAIN
  otherwise). CoreDNS's plugin alone answers NODATA; RFC 8482 is the documented way to say "ask for what
  you need", and it keeps ANY from listing a whole service set in one packet.
* AXFR/IXFR: REFUSED. We never give the zone away (it would list every service of every namespace).
* Not synced yet: SERVFAIL for every name in our zones. An empty cache would otherwise answer NXDOMAIN
  for names that exist, and resolvers cache negatives; SERVFAIL makes them retry.
"""
from __future__ import annotations

import dataclasses
import ipaddress
from typing import Protocol

from dnslib import AAAA, CNAME, NS, PTR, QTYPE, RCODE, RD, RR, SOA, SRV, TXT, A

from dns.qname import Kind, RecordRequest, dashed_ip, normalize, parse

DEFAULT_TTL = 5                  # CoreDNS kubernetes plugin default
DNS_SCHEMA_VERSION = "1.1.0"     # the Kubernetes DNS specification version we implement
RFC8482_HINFO = b"\x07RFC8482\x00"  # HINFO "RFC8482" "": character-strings on the wire


class ClusterView(Protocol):
    """What the answer needs from the cluster: lookups by key or by IP, never a scan.

    Objects are Kubernetes JSON dicts from the informer caches (read-only).
    """

    @property
    def synced(self) -> bool: ...

    def service(self, namespace: str, name: str) -> dict | None: ...

    def endpoints(self, namespace: str, name: str) -> dict | None: ...

    def pods_by_ip(self, ip: str) -> list[dict]: ...

    def namespace_exists(self, name: str) -> bool: ...

    def services_by_cluster_ip(self, ip: str) -> list[dict]: ...

    def endpoints_by_ip(self, ip: str) -> list[dict]: ...

    def serial(self) -> int:
        """SOA serial: changes when the cluster state changes (CoreDNS: last modification time)."""
        ...


@dataclasses.dataclass(frozen=True)
class ZoneSettings:
    """The constants of the zone we serve."""

    zone: str = "cluster.local"
    dns_ip: str = "10.96.0.10"    # `ns.dns.<zone>` A: the kube-dns ClusterIP
    ttl: int = DEFAULT_TTL


@dataclasses.dataclass
class Answer:
    rcode: int
    records: list[RR] = dataclasses.field(default_factory=list)
    authority: list[RR] = dataclasses.field(default_factory=list)
    additional: list[RR] = dataclasses.field(default_factory=list)
    authoritative: bool = True


@dataclasses.dataclass(frozen=True)
class _Hit:
    """One thing a name points at: an address (with the port and SRV target it came with) or a CNAME."""

    ip: str = ""
    port: int = -1        # -1: no port (CoreDNS's sentinel for objects without ports)
    target: str = ""      # SRV target name, no trailing dot
    cname: str = ""


_NO_PORTS = [{"port": -1, "name": "", "protocol": ""}]


def answer(request: RecordRequest, view: ClusterView, qtype: int, *, qname: str,
           settings: ZoneSettings = ZoneSettings()) -> Answer:
    """Answer *qtype* for *request* (parsed from *qname*, which names the records as the client asked)."""
    if qtype in (QTYPE.AXFR, QTYPE.IXFR):
        return Answer(RCODE.REFUSED, authoritative=False)
    if not view.synced:
        return Answer(RCODE.SERVFAIL, authoritative=False)
    owner = _fqdn(qname)
    kind = request.kind

    if kind is Kind.OUTSIDE:
        return Answer(RCODE.REFUSED, authoritative=False)  # not our zone: the server forwards these
    if kind is Kind.INVALID:
        return _negative(RCODE.NXDOMAIN, request, view, settings)
    if kind is Kind.APEX:
        if qtype == QTYPE.SOA:
            return Answer(RCODE.NOERROR, [_soa(owner, view, settings)])
        if qtype == QTYPE.NS:
            ns_name = f"ns.dns.{settings.zone}."
            return Answer(RCODE.NOERROR, [RR(owner, QTYPE.NS, rdata=NS(ns_name), ttl=settings.ttl)],
                          additional=[RR(ns_name, QTYPE.A, rdata=A(settings.dns_ip), ttl=settings.ttl)])
        return _exists_without(qtype, owner, request, view, settings)
    if kind is Kind.NAMESERVER:
        if qtype == QTYPE.A:
            return Answer(RCODE.NOERROR, [RR(owner, QTYPE.A, rdata=A(settings.dns_ip), ttl=settings.ttl)])
        return _exists_without(qtype, owner, request, view, settings)
    if kind is Kind.DNS_VERSION:
        if qtype == QTYPE.TXT:
            return Answer(RCODE.NOERROR,
                          [RR(owner, QTYPE.TXT, rdata=TXT(DNS_SCHEMA_VERSION), ttl=settings.ttl)])
        return _exists_without(qtype, owner, request, view, settings)
    if kind is Kind.REVERSE:
        return _answer_reverse(owner, request, view, qtype, settings)

    hits = _lookup(request, view, settings)
    if hits is None:
        return _negative(RCODE.NXDOMAIN, request, view, settings)
    return _answer_hits(owner, hits, request, view, qtype, settings, depth=0)


# --- the lookup ----------------------------------------------------------------------------------------
def _lookup(request: RecordRequest, view: ClusterView, settings: ZoneSettings) -> list[_Hit] | None:
    """What the name points at; None when it does not exist, [] when it exists with no data."""
    if not request.namespace:
        return []  # `svc.zone`, `pod.zone`: existing interior names (CoreDNS: NODATA)
    if not request.service:
        # `<ns>.svc.zone`, `<ns>.pod.zone`: NODATA when the namespace exists, else NXDOMAIN (CoreDNS's
        # namespaceExposed asks its namespace lister). busybox's nslookup shows it: `nslookup redis` prints
        # "can't find redis.svc.cluster.local: NXDOMAIN" for the search domain that names no namespace.
        return [] if view.namespace_exists(request.namespace) else None
    if request.kind is Kind.POD:
        return _lookup_pod(request, view)
    return _lookup_service(request, view, settings)


def _lookup_pod(request: RecordRequest, view: ClusterView) -> list[_Hit] | None:
    ip = dashed_ip(request.service)
    if not ip:
        return None
    for pod in view.pods_by_ip(ip):
        if pod.get("metadata", {}).get("namespace") == request.namespace:
            return [_Hit(ip=ip)]
    return None


def _lookup_service(request: RecordRequest, view: ClusterView, settings: ZoneSettings) -> list[_Hit] | None:
    svc = view.service(request.namespace, request.service)
    if svc is None:
        return None
    spec = svc.get("spec", {})
    name, namespace = svc["metadata"]["name"], svc["metadata"]["namespace"]
    service_fqdn = f"{name}.{namespace}.svc.{settings.zone}"

    if spec.get("type") == "ExternalName":
        target = normalize(spec.get("externalName", ""))
        if request.endpoint or not target or _is_ip(target):
            return None  # ExternalName has no endpoints; an IP is no CNAME target (CoreDNS HostType)
        return [_Hit(cname=target)]

    hits: list[_Hit] = []
    if spec.get("clusterIP") == "None" or request.endpoint:
        eps = view.endpoints(namespace, name) or {}
        for subset in eps.get("subsets") or []:
            for addr in subset.get("addresses") or []:  # ready addresses only
                host = endpoint_hostname(addr)
                if request.endpoint and request.endpoint != host.lower():
                    continue
                for port in subset.get("ports") or _NO_PORTS:
                    if _port_matches(request, port):
                        hits.append(_Hit(ip=addr.get("ip", ""), port=int(port.get("port", -1)),
                                         target=f"{host}.{service_fqdn}"))
        return hits or None

    cluster_ips = spec.get("clusterIPs") or [spec.get("clusterIP", "")]
    matched = False
    for port in spec.get("ports") or _NO_PORTS:
        if not _port_matches(request, port):
            continue
        matched = True
        for ip in cluster_ips:
            if ip and ip != "None":
                hits.append(_Hit(ip=ip, port=int(port.get("port", -1)), target=service_fqdn))
    return hits if matched else None


def _port_matches(request: RecordRequest, port: dict) -> bool:
    """CoreDNS matchPortAndProtocol: an absent port/protocol in the query matches any."""
    name_ok = not request.port or request.port == (port.get("name") or "").lower()
    proto_ok = not request.protocol or request.protocol == (port.get("protocol") or "TCP").lower()
    return name_ok and proto_ok


def endpoint_hostname(addr: dict) -> str:
    """An endpoint's DNS label: its `hostname`, else its IP with dashes (`10-244-0-5`)."""
    if addr.get("hostname"):
        return addr["hostname"]
    return addr.get("ip", "").replace(".", "-").replace(":", "-")


# --- answers per type ----------------------------------------------------------------------------------
def _answer_hits(owner: str, hits: list[_Hit], request: RecordRequest, view: ClusterView, qtype: int,
                 settings: ZoneSettings, depth: int) -> Answer:
    ttl = settings.ttl
    cnames = [h for h in hits if h.cname]
    if cnames:
        return _answer_cname(owner, cnames[0].cname, request, view, qtype, settings, depth)

    if qtype == QTYPE.ANY:
        return Answer(RCODE.NOERROR, [RR(owner, QTYPE.HINFO, rdata=RD(RFC8482_HINFO), ttl=ttl)])

    records: list[RR] = []
    additional: list[RR] = []
    if qtype in (QTYPE.A, QTYPE.AAAA):
        want = 4 if qtype == QTYPE.A else 6
        for ip in _unique(h.ip for h in hits):
            if _ip_version(ip) == want:
                records.append(RR(owner, qtype, rdata=A(ip) if want == 4 else AAAA(ip), ttl=ttl))
    elif qtype == QTYPE.SRV:
        srv_hits = [h for h in hits if h.port >= 0]
        services = _unique((h.port, h.target) for h in srv_hits)
        weight = 100 // len(services) if services else 0  # equal shares, as CoreDNS
        for port, target in services:
            records.append(RR(owner, QTYPE.SRV, rdata=SRV(0, weight, port, target + "."), ttl=ttl))
        for target, ip in _unique((h.target, h.ip) for h in srv_hits):
            v = _ip_version(ip)
            if v:
                additional.append(RR(target + ".", QTYPE.A if v == 4 else QTYPE.AAAA,
                                     rdata=A(ip) if v == 4 else AAAA(ip), ttl=ttl))
        additional = _unique_rrs(additional)
    if not records:
        return _negative(RCODE.NOERROR, request, view, settings)
    return Answer(RCODE.NOERROR, records, additional=additional)


def _answer_cname(owner: str, target: str, request: RecordRequest, view: ClusterView, qtype: int,
                  settings: ZoneSettings, depth: int) -> Answer:
    """ExternalName: the CNAME, then the target's own records when we are authoritative for it.

    Out-of-zone targets are left to the client's resolver (it follows CNAMEs), which keeps this module
    pure; chains inside the zone are followed a few steps, never in a loop.
    """
    cname = RR(owner, QTYPE.CNAME, rdata=CNAME(target + "."), ttl=settings.ttl)
    if qtype == QTYPE.CNAME:
        return Answer(RCODE.NOERROR, [cname])
    result = Answer(RCODE.NOERROR, [cname])
    target_request = parse(target, settings.zone)
    if target_request.kind in (Kind.OUTSIDE, Kind.REVERSE) or depth >= 8:
        return result
    if target_request.kind in (Kind.SVC, Kind.POD):
        hits = _lookup(target_request, view, settings)
        if hits is None:
            # RFC 6604: the rcode describes the last name in the chain.
            return Answer(RCODE.NXDOMAIN, [cname], authority=[_soa(f"{settings.zone}.", view, settings)])
        chained = _answer_hits(target + ".", hits, target_request, view, qtype, settings, depth + 1)
    else:
        chained = answer(target_request, view, qtype, qname=target, settings=settings)
    result.rcode = chained.rcode
    result.records += chained.records
    result.additional += chained.additional
    if not chained.records:
        result.authority = chained.authority
    return result


def _answer_reverse(owner: str, request: RecordRequest, view: ClusterView, qtype: int,
                    settings: ZoneSettings) -> Answer:
    if not request.ip:
        return _exists_without(qtype, owner, request, view, settings)  # interior name, e.g. 96.10.in-addr.arpa
    targets = ptr_targets(request.ip, view, settings.zone)
    if not targets:
        return _negative(RCODE.NXDOMAIN, request, view, settings)
    if qtype == QTYPE.PTR:
        return Answer(RCODE.NOERROR, [RR(owner, QTYPE.PTR, rdata=PTR(t + "."), ttl=settings.ttl)
                                      for t in targets])
    if qtype == QTYPE.ANY:
        return Answer(RCODE.NOERROR, [RR(owner, QTYPE.HINFO, rdata=RD(RFC8482_HINFO), ttl=settings.ttl)])
    return _negative(RCODE.NOERROR, request, view, settings)


def ptr_targets(ip: str, view: ClusterView, zone: str) -> list[str]:
    """Names for an address: its service (ClusterIP), else the endpoints that carry it (CoreDNS order)."""
    services = sorted(view.services_by_cluster_ip(ip),
                      key=lambda s: (s["metadata"]["namespace"], s["metadata"]["name"]))
    if services:
        meta = services[0]["metadata"]
        return [f"{meta['name']}.{meta['namespace']}.svc.{zone}"]
    names: list[str] = []
    for eps in view.endpoints_by_ip(ip):
        meta = eps["metadata"]
        for subset in eps.get("subsets") or []:
            for addr in subset.get("addresses") or []:
                if addr.get("ip") == ip:
                    names.append(f"{endpoint_hostname(addr)}.{meta['name']}.{meta['namespace']}.svc.{zone}")
    return sorted(set(names))


# --- negative answers ----------------------------------------------------------------------------------
def _exists_without(qtype: int, owner: str, request: RecordRequest, view: ClusterView,
                    settings: ZoneSettings) -> Answer:
    """A name that exists but has no records of *qtype*: NODATA (ANY gets RFC 8482's HINFO)."""
    if qtype == QTYPE.ANY:
        return Answer(RCODE.NOERROR, [RR(owner, QTYPE.HINFO, rdata=RD(RFC8482_HINFO), ttl=settings.ttl)])
    return _negative(RCODE.NOERROR, request, view, settings)


def _negative(rcode: int, request: RecordRequest, view: ClusterView, settings: ZoneSettings) -> Answer:
    """NXDOMAIN or NODATA, with the SOA of the zone the name is in (negative caching, RFC 2308)."""
    zone = request.zone or settings.zone
    return Answer(rcode, authority=[_soa(f"{zone}.", view, settings)])


def _soa(owner: str, view: ClusterView, settings: ZoneSettings) -> RR:
    """CoreDNS's synthesized SOA: `ns.dns.<zone>. hostmaster.<zone>. serial 7200 1800 86400 <ttl>`."""
    zone = settings.zone
    times = (view.serial() & 0xFFFFFFFF, 7200, 1800, 86400, settings.ttl)
    return RR(owner, QTYPE.SOA, rdata=SOA(f"ns.dns.{zone}.", f"hostmaster.{zone}.", times), ttl=settings.ttl)


# --- small helpers -------------------------------------------------------------------------------------
def _fqdn(name: str) -> str:
    return name if name.endswith(".") else name + "."


def _unique(items):  # type: ignore[no-untyped-def]
    seen: list = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def _unique_rrs(rrs: list[RR]) -> list[RR]:
    seen: set[str] = set()
    out = []
    for rr in rrs:
        key = str(rr)
        if key not in seen:
            seen.add(key)
            out.append(rr)
    return out


def _is_ip(text: str) -> bool:
    return _ip_version(text) != 0


def _ip_version(text: str) -> int:
    try:
        return ipaddress.ip_address(text).version
    except ValueError:
        return 0
