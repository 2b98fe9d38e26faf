"""What the proxy must program on one node, distilled from Services, Endpoints and the node's Pods.

Why a separate, pure step: the API objects are large and full of things the data path does not care about
(labels, status conditions, managed fields). The renderers (iptables text, IPVS virtual servers) work on
this small frozen value instead, so they stay pure, their golden tests stay readable, and two syncs with the
same `ProxyState` are guaranteed to produce the same rules.

The rules of the distillation follow kube-proxy:
- one `ServicePort` per (Service, port); ExternalName and headless (`clusterIP: None`) Services get none;
- endpoints come from the Endpoints object of the same name, matched to the service port by port *name*
  and protocol. The endpoints controller has already resolved a named `targetPort` to the number each pod
  declares, so the number we DNAT to is the Endpoints port, never the Service's `targetPort`;
- only `subsets[].addresses` (ready) receive traffic; `notReadyAddresses` are ignored;
- `externalTrafficPolicy: Local` marks the port `external_local`; its endpoints keep their `nodeName` so the
  renderer can send external traffic (NodePort, LB, external IPs) only to this node's own endpoints;
- hostPorts come from the node's Running pods that have a pod IP.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

DEFAULT_AFFINITY_SECONDS = 10800  # kube-proxy's default sessionAffinityConfig.clientIP.timeoutSeconds


@dataclass(frozen=True, order=True)
class Endpoint:
    ip: str
    port: int
    node_name: str = ""  # the Endpoints address's nodeName; "" when unknown

    def __str__(self) -> str:
        return f"{self.ip}:{self.port}"


@dataclass(frozen=True)
class ServicePort:
    """One port of one Service, with everything needed to route it."""

    namespace: str
    name: str
    port_name: str  # "" for an unnamed port
    protocol: str  # "TCP" | "UDP" | "SCTP"
    cluster_ip: str
    port: int
    node_port: int | None = None
    external_ips: tuple[str, ...] = ()
    load_balancer_ips: tuple[str, ...] = ()
    affinity_seconds: int | None = None  # set when sessionAffinity is ClientIP
    endpoints: tuple[Endpoint, ...] = ()
    external_local: bool = False  # externalTrafficPolicy: Local (external traffic → this node's endpoints)

    @property
    def service_port_name(self) -> str:
        """kube-proxy's ServicePortName string: `ns/svc:port`, or `ns/svc` for an unnamed port."""
        base = f"{self.namespace}/{self.name}"
        return f"{base}:{self.port_name}" if self.port_name else base

    @property
    def proto(self) -> str:
        """Lower-case protocol, as iptables (`-p tcp`) and the chain hash want it."""
        return self.protocol.lower()


@dataclass(frozen=True)
class HostPort:
    """A container port published on the node (`hostPort`), DNAT'ed to the pod."""

    namespace: str
    pod: str
    protocol: str
    host_port: int
    pod_ip: str
    container_port: int
    host_ip: str = ""  # "" = every local address

    @property
    def pod_full_name(self) -> str:
        """The `name_namespace` form the hostport chain hash uses (as kubelet's hostport manager did)."""
        return f"{self.pod}_{self.namespace}"

    @property
    def proto(self) -> str:
        return self.protocol.lower()


@dataclass(frozen=True)
class ProxyState:
    """Everything one node's proxy programs. `cluster_cidr` is the whole pod CIDR: traffic to a service
    from outside it gets masqueraded so the reply comes back through this node."""

    services: tuple[ServicePort, ...] = ()
    host_ports: tuple[HostPort, ...] = ()
    cluster_cidr: str = "10.244.0.0/16"
    node_ip: str = ""  # used by IPVS mode for NodePort virtual servers
    node_name: str = ""  # this node: picks the local endpoints of `external_local` ports


# --- builder -----------------------------------------------------------------------------------------
def build_proxy_state(services: Iterable[dict], endpoints: Iterable[dict], pods: Iterable[dict] = (), *,
                      cluster_cidr: str = "10.244.0.0/16", node_ip: str = "", node_name: str = "") -> ProxyState:
    """Distil API objects (plain dicts, as the informers cache them) into a `ProxyState`.

    Output is sorted (services by port name, endpoints by address) so that the same cluster state always
    renders byte-identical rules, whatever order the informer caches happen to list objects in.
    """
    eps_by_key = {_key(e): e for e in endpoints}
    ports: list[ServicePort] = []
    for svc in services:
        ports.extend(_service_ports(svc, eps_by_key.get(_key(svc))))
    ports.sort(key=lambda p: (p.service_port_name, p.protocol))
    host_ports = sorted((hp for pod in pods for hp in _host_ports(pod)),
                        key=lambda h: (h.host_ip, h.host_port, h.protocol, h.namespace, h.pod))
    return ProxyState(services=tuple(ports), host_ports=tuple(host_ports), cluster_cidr=cluster_cidr,
                      node_ip=node_ip, node_name=node_name)


def _key(obj: dict) -> str:
    meta = obj.get("metadata", {})
    return f"{meta.get('namespace', 'default')}/{meta.get('name', '')}"


def _service_ports(svc: dict, eps: dict | None) -> list[ServicePort]:
    spec = svc.get("spec") or {}
    stype = spec.get("type", "ClusterIP")
    cluster_ip = spec.get("clusterIP") or ""
    if stype == "ExternalName" or cluster_ip in ("", "None"):
        return []  # no virtual IP to program: DNS answers for these
    meta = svc["metadata"]
    affinity = None
    if spec.get("sessionAffinity") == "ClientIP":
        cfg = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {})
        affinity = int(cfg.get("timeoutSeconds") or DEFAULT_AFFINITY_SECONDS)
    lb_ips = tuple(i["ip"] for i in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
                   if i.get("ip")) if stype == "LoadBalancer" else ()
    out = []
    for p in spec.get("ports") or []:
        protocol = p.get("protocol", "TCP")
        port_name = p.get("name") or ""
        node_port = p.get("nodePort") if stype in ("NodePort", "LoadBalancer") else None
        out.append(ServicePort(
            namespace=meta.get("namespace", "default"), name=meta["name"], port_name=port_name,
            protocol=protocol, cluster_ip=cluster_ip, port=int(p["port"]),
            node_port=int(node_port) if node_port else None,
            external_ips=tuple(spec.get("externalIPs") or ()), load_balancer_ips=lb_ips,
            affinity_seconds=affinity, endpoints=_ready_endpoints(eps, port_name, protocol),
            external_local=(spec.get("externalTrafficPolicy") == "Local"
                            and bool(node_port or spec.get("externalIPs") or lb_ips))))
    return out


def _ready_endpoints(eps: dict | None, port_name: str, protocol: str) -> tuple[Endpoint, ...]:
    """Ready addresses × the Endpoints port with this name and protocol, de-duplicated and sorted."""
    found: set[Endpoint] = set()
    for subset in (eps or {}).get("subsets") or []:
        for ep_port in subset.get("ports") or []:
            if (ep_port.get("name") or "") != port_name or ep_port.get("protocol", "TCP") != protocol:
                continue
            for addr in subset.get("addresses") or []:
                found.add(Endpoint(addr["ip"], int(ep_port["port"]), addr.get("nodeName") or ""))
    return tuple(sorted(found, key=lambda e: (_ip_sort_key(e.ip), e.port)))


def _ip_sort_key(ip: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in ip.split("."))
    except ValueError:
        return (999,)


def _host_ports(pod: dict) -> list[HostPort]:
    status = pod.get("status") or {}
    if status.get("phase") != "Running" or not status.get("podIP"):
        return []
    meta = pod["metadata"]
    out = []
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if not p.get("hostPort"):
                continue
            out.append(HostPort(namespace=meta.get("namespace", "default"), pod=meta["name"],
                                protocol=p.get("protocol", "TCP"), host_port=int(p["hostPort"]),
                                pod_ip=status["podIP"], container_port=int(p["containerPort"]),
                                host_ip="" if p.get("hostIP") in (None, "", "0.0.0.0") else p["hostIP"]))
    return out
