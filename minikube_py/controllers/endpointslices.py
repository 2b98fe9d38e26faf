"""What a Service's EndpointSlices should hold (Kubernetes `pkg/controller/endpointslice` and
`staging/src/k8s.io/endpointslice`), as pure functions the endpoints controller turns into API calls.

Why slices besides Endpoints: kubectl 1.33 reads only slices (`describe svc` → `Endpoints:`, `describe ing`
→ backends), while our kube-proxy, DNS and ingress read Endpoints. The controller keeps both.

Semantics kept from Kubernetes:
- every selected pod with an IP of the slice's family that has not finished (Succeeded/Failed) is an
  endpoint, terminating pods included: `conditions.serving` = pod Ready, `terminating` = has a
  deletionTimestamp, `ready` = serving and not terminating (always true with `publishNotReadyAddresses`);
- `targetRef` is the pod, `nodeName` its node, `hostname` when the pod's hostname/subdomain ask for it;
- each service port resolves per pod (`targetPort` number, or a named container port of the same
  protocol); pods resolving to different port sets land in different slices (one slice per port set,
  so normally one per Service);
- a Service with no endpoints still gets one placeholder slice (no ports, no endpoints);
- labels: the Service's own (minus the reserved two), `service.kubernetes.io/headless` for headless
  Services, `kubernetes.io/service-name` and `endpointslice.kubernetes.io/managed-by`; the Service is the
  controller owner, so the garbage collector deletes the slices with it.

Desired content is in the form the API server stores (port `name` always present, empty lists as null),
so "unchanged" is a plain comparison and a resync writes nothing.
"""
from __future__ import annotations

import copy
import ipaddress

from minikube_py.controllers.common import is_pod_ready

SERVICE_NAME = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
HEADLESS = "service.kubernetes.io/headless"
API_VERSION = "discovery.k8s.io/v1"


def selects(service: dict, pod: dict) -> bool:
    selector = (service.get("spec") or {}).get("selector") or {}
    if not selector or (pod.get("metadata") or {}).get("namespace", "default") != \
            (service.get("metadata") or {}).get("namespace", "default"):
        return False
    labels = (pod.get("metadata") or {}).get("labels") or {}
    return all(labels.get(k) == v for k, v in selector.items())


def address_type(service: dict) -> str:
    """The slice's family: the Service's first IP family (we run single-stack)."""
    families = (service.get("spec") or {}).get("ipFamilies") or ["IPv4"]
    return "IPv6" if families[0] == "IPv6" else "IPv4"


def pod_address(pod: dict, addr_type: str) -> str | None:
    """The pod's IP of *addr_type* (`getEndpointAddresses`), or None."""
    status = pod.get("status") or {}
    candidates = [p.get("ip") for p in status.get("podIPs") or [] if isinstance(p, dict)] or [status.get("podIP")]
    want = 6 if addr_type == "IPv6" else 4
    for ip in candidates:
        try:
            if ip and ipaddress.ip_address(ip).version == want:
                return ip
        except ValueError:
            continue
    return None


def should_be_in_slices(pod: dict) -> bool:
    """`ShouldPodBeInEndpoints(pod, includeTerminating=true)`: not finished; terminating pods stay."""
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def find_port(pod: dict, service_port: dict) -> int | None:
    """The container port a service port targets in *pod* (`podutil.FindPort`)."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol") or "TCP"
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == target and (p.get("protocol") or "TCP") == protocol:
                return int(p["containerPort"])
    return None


def endpoint_ports(service: dict, pod: dict) -> list[dict]:
    """`getEndpointPorts`: the service's ports as this pod serves them, in the service's order."""
    out = []
    for sp in (service.get("spec") or {}).get("ports") or []:
        number = find_port(pod, sp)
        if number is None:
            continue
        port = {"name": sp.get("name") or "", "port": number, "protocol": sp.get("protocol") or "TCP"}
        if sp.get("appProtocol"):
            port["appProtocol"] = sp["appProtocol"]
        out.append(port)
    return out


def pod_to_endpoint(pod: dict, service: dict, address: str) -> dict:
    """`podToEndpoint`."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    serving = is_pod_ready(pod)
    terminating = bool(meta.get("deletionTimestamp"))
    ready = bool((service.get("spec") or {}).get("publishNotReadyAddresses")) or (serving and not terminating)
    ep: dict = {"addresses": [address],
                "conditions": {"ready": ready, "serving": serving, "terminating": terminating}}
    svc_meta = service.get("metadata") or {}
    if spec.get("hostname") and spec.get("subdomain") == svc_meta.get("name"):
        ep["hostname"] = spec["hostname"]
    ep["targetRef"] = {"kind": "Pod", "namespace": meta.get("namespace") or "default", "name": meta.get("name"),
                       "uid": meta.get("uid")}
    if spec.get("nodeName"):
        ep["nodeName"] = spec["nodeName"]
    return ep


def _ip_key(ep: dict) -> tuple:
    try:
        ip = ipaddress.ip_address(ep["addresses"][0])
        return (ip.version, int(ip), ep["targetRef"].get("uid") or "")
    except ValueError:
        return (0, 0, ep["targetRef"].get("uid") or "")


def compute_slices(service: dict, pods: list[dict]) -> list[dict]:
    """The desired `{addressType, endpoints, ports}` of the Service's slices (pure; one per port set,
    ordered by first appearance; a single placeholder when nothing is selected)."""
    addr_type = address_type(service)
    groups: dict[tuple, list[dict]] = {}
    ports_of: dict[tuple, list[dict]] = {}
    for pod in pods:
        if not selects(service, pod) or not should_be_in_slices(pod):
            continue
        address = pod_address(pod, addr_type)
        if address is None:
            continue
        ports = endpoint_ports(service, pod)
        key = tuple(tuple(sorted(p.items())) for p in ports)
        ports_of.setdefault(key, ports)
        groups.setdefault(key, []).append(pod_to_endpoint(pod, service, address))
    if not groups:
        return [{"addressType": addr_type, "endpoints": None, "ports": None}]
    return [{"addressType": addr_type, "endpoints": sorted(eps, key=_ip_key), "ports": ports_of[key] or None}
            for key, eps in groups.items()]


def slice_labels(service: dict) -> dict:
    """`setEndpointSliceLabels`: the Service's labels minus the reserved keys, plus the headless marker,
    the service name and our manager."""
    labels = {k: v for k, v in ((service.get("metadata") or {}).get("labels") or {}).items()
              if k not in (SERVICE_NAME, MANAGED_BY)}
    if (service.get("spec") or {}).get("clusterIP") in ("None", "", None):
        labels[HEADLESS] = ""
    else:
        labels.pop(HEADLESS, None)
    labels[SERVICE_NAME] = service["metadata"]["name"]
    labels[MANAGED_BY] = CONTROLLER_NAME
    return labels


def owner_reference(service: dict) -> dict:
    meta = service["metadata"]
    return {"apiVersion": "v1", "kind": "Service", "name": meta["name"], "uid": meta.get("uid"),
            "controller": True, "blockOwnerDeletion": True}


def owned_by(slice_: dict, service_name: str) -> bool:
    """Is this one of the slices this controller manages for the Service called *service_name*?"""
    labels = (slice_.get("metadata") or {}).get("labels") or {}
    return labels.get(SERVICE_NAME) == service_name and labels.get(MANAGED_BY) == CONTROLLER_NAME


def new_slice(service: dict, content: dict) -> dict:
    """A slice to POST: name generated from `<service>-`, labelled and owned by the Service."""
    meta = service["metadata"]
    return {"apiVersion": API_VERSION, "kind": "EndpointSlice",
            "metadata": {"generateName": f"{meta['name']}-", "namespace": meta.get("namespace") or "default",
                         "labels": slice_labels(service), "ownerReferences": [owner_reference(service)]},
            **content}


def _needs_update(current: dict, service: dict, content: dict) -> bool:
    meta = current.get("metadata") or {}
    if (meta.get("labels") or {}) != slice_labels(service):
        return True
    return any(current.get(k) != v for k, v in content.items())


def updated_slice(current: dict, service: dict, content: dict) -> dict:
    """*current* rewritten to hold *content* (labels and controller reference put right too)."""
    fresh = copy.deepcopy(current)
    fresh["metadata"]["labels"] = slice_labels(service)
    others = [r for r in fresh["metadata"].get("ownerReferences") or [] if not r.get("controller")]
    fresh["metadata"]["ownerReferences"] = [owner_reference(service)] + others
    fresh.update(content)
    return fresh


def controlled_by(slice_: dict, service: dict) -> bool:
    """Does the slice's controller reference name this very Service (same uid)? Slices left by an
    earlier Service of the same name are not reused but deleted, as Kubernetes' reconciler does."""
    uid = (service.get("metadata") or {}).get("uid")
    return any(r.get("controller") and r.get("kind") == "Service" and r.get("uid") == uid
               for r in (slice_.get("metadata") or {}).get("ownerReferences") or [])


def plan(service: dict, desired: list[dict], existing: list[dict]) -> tuple[list[dict], list[dict], list[dict]]:
    """(to create, to update, to delete) taking *existing* slices to *desired* contents (pure).

    A desired content first takes an existing slice with the same address type and ports (the usual
    case: only endpoints change), then any leftover slice of the same address type (ports changed),
    else a new slice; slices left over, or controlled by another Service, are deleted. Slices already
    right are left alone."""
    existing = sorted(existing, key=lambda s: s["metadata"]["name"])
    free = [s for s in existing if controlled_by(s, service)]
    delete = [s for s in existing if not controlled_by(s, service)]
    matched: list[tuple[dict, dict | None]] = []
    for content in desired:
        same = next((s for s in free if s.get("addressType") == content["addressType"]
                     and s.get("ports") == content["ports"]), None)
        if same is not None:
            free.remove(same)
        matched.append((content, same))
    create, update = [], []
    for content, current in matched:
        if current is None:
            current = next((s for s in free if s.get("addressType") == content["addressType"]), None)
            if current is not None:
                free.remove(current)
        if current is None:
            create.append(new_slice(service, content))
        elif _needs_update(current, service, content):
            update.append(updated_slice(current, service, content))
    return create, update, delete + free
