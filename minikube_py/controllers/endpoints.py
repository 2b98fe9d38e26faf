"""The Endpoints controller: for each Service with a selector, an Endpoints object of the same name listing
the selected pods' IPs and the ports they serve (Kubernetes `pkg/controller/endpoint`).

`sync_endpoints(key)`:
- service gone → delete its Endpoints;
- service without selector → leave its Endpoints alone (someone else manages them: `kubernetes`, or a
  user pointing a Service at an outside address);
- otherwise, for every selected pod with an IP that is not terminating: an address
  `{ip, nodeName, targetRef}` under `addresses` when the pod is Ready, else under `notReadyAddresses`
  (or always `addresses` with `publishNotReadyAddresses`); each service port resolved per pod
  (`targetPort` number, or a name looked up in the pod's container ports); addresses grouped into subsets
  by the port set they resolve to, like `RepackSubsets`;
- write only when the result differs from the cache.

Handlers enqueue every Service whose selector matches a changed pod (old or new labels), so an Endpoints
object follows a readiness change within one watch round-trip. The proxy and DNS read these objects.

The same sync keeps the Service's EndpointSlices (`discovery.k8s.io/v1`, what kubectl 1.33 reads; content
from the pure `endpointslices` module): created with generated names, updated in place, extra ones
deleted. A Service that is gone leaves its slices to the garbage collector (they name it as controller
owner), as in Kubernetes.
"""
from __future__ import annotations

import copy
import logging

from minikube_py.client import ApiClient, Conflict, Controller, NotFound
from minikube_py.client.informer import object_key
from minikube_py.controllers import endpointslices as slices
from minikube_py.controllers.endpointslices import find_port, selects  # shared with the slices
from minikube_py.controllers.common import is_pod_ready

log = logging.getLogger(__name__)

MANAGED_BY = "endpoints.kubernetes.io/managed-by"
HEADLESS = "service.kubernetes.io/headless"


def pod_ip(pod: dict) -> str | None:
    status = pod.get("status") or {}
    if status.get("podIP"):
        return status["podIP"]
    ips = status.get("podIPs") or []
    return ips[0].get("ip") if ips else None


def should_be_in_endpoints(pod: dict) -> bool:
    """k8s `ShouldPodBeInEndpoints` (without terminating endpoints): has an IP, not finished, not deleting."""
    if not pod_ip(pod):
        return False
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return False
    phase = (pod.get("status") or {}).get("phase")
    if phase == "Failed":
        return False
    if phase == "Succeeded":
        return False
    return True


def endpoint_address(pod: dict, service: dict) -> dict:
    meta = pod["metadata"]
    addr = {"ip": pod_ip(pod)}
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        addr["nodeName"] = spec["nodeName"]
    # Headless services publish per-pod DNS names when the pod asks for them (hostname + subdomain).
    if ((service.get("spec") or {}).get("clusterIP") == "None" and spec.get("hostname")
            and spec.get("subdomain") == service["metadata"]["name"]):
        addr["hostname"] = spec["hostname"]
    addr["targetRef"] = {"kind": "Pod", "namespace": meta.get("namespace") or "default", "name": meta["name"],
                         "uid": meta.get("uid")}
    return addr


def compute_subsets(service: dict, pods: list[dict]) -> list[dict]:
    """The `subsets` of the service's Endpoints (pure; golden-tested)."""
    spec = service.get("spec") or {}
    publish_not_ready = bool(spec.get("publishNotReadyAddresses"))
    ports = spec.get("ports") or []
    headless = spec.get("clusterIP") == "None"
    # address identity -> (address, ready, frozenset of ports)
    entries: dict[tuple, tuple[dict, bool, set]] = {}
    for pod in pods:
        if not selects(service, pod) or not should_be_in_endpoints(pod):
            continue
        addr = endpoint_address(pod, service)
        ready = publish_not_ready or is_pod_ready(pod)
        ident = (addr["ip"], addr["targetRef"]["uid"])
        if not ports:
            if headless:
                entries.setdefault(ident, (addr, ready, set()))
            continue
        for sp in ports:
            number = find_port(pod, sp)
            if number is None:
                continue  # this pod doesn't serve that named port
            epp = (sp.get("name") or "", number, sp.get("protocol") or "TCP")
            entries.setdefault(ident, (addr, ready, set()))[2].add(epp)
    groups: dict[frozenset, dict] = {}
    for addr, ready, portset in entries.values():
        if ports and not portset:
            continue
        g = groups.setdefault(frozenset(portset), {"addresses": [], "notReadyAddresses": []})
        g["addresses" if ready else "notReadyAddresses"].append(addr)
    subsets = []
    for portset, g in groups.items():
        subset: dict = {}
        for k in ("addresses", "notReadyAddresses"):
            if g[k]:
                subset[k] = sorted(g[k], key=lambda a: (tuple(int(x) if x.isdigit() else 0
                                                              for x in a["ip"].split(".")), a["targetRef"]["uid"] or ""))
        if portset:
            subset["ports"] = [({"name": n} if n else {}) | {"port": p, "protocol": proto}
                               for n, p, proto in sorted(portset)]
        subsets.append(subset)
    subsets.sort(key=lambda s: repr(s.get("ports") or []))
    return subsets


def endpoints_labels(service: dict) -> dict:
    labels = dict(service.get("metadata", {}).get("labels") or {})
    if (service.get("spec") or {}).get("clusterIP") == "None":
        labels[HEADLESS] = ""
    labels[MANAGED_BY] = "endpoint-controller"
    return labels


def _rv(obj: dict) -> int:
    try:
        return int(obj["metadata"].get("resourceVersion") or 0)
    except ValueError:
        return 0


class EndpointsController(Controller):
    name = "endpoint-controller"
    workers = 2

    def __init__(self, client: ApiClient, factory) -> None:
        super().__init__()
        self.client = client
        self.services = factory.informer("services")
        self.pods = factory.informer("pods")
        self.endpoints = factory.informer("endpoints")
        self.slices = factory.informer("endpointslices")
        self.informers = [self.services, self.pods, self.endpoints, self.slices]
        # Our last write per key: when the cache still shows an older version, build on this one instead
        # of earning a certain 409 (a burst of pod events outruns the Endpoints watch).
        self._written: dict[str, dict] = {}
        # The same for slices, per Service key and slice name; and the slices we deleted, until the cache
        # drops them. Slices have generated names: without this a second sync before the watch delivers
        # our create would create a duplicate (Kubernetes keeps an endpointSliceTracker for this).
        self._slices_written: dict[str, dict[str, dict]] = {}
        self._slices_deleted: dict[str, set[str]] = {}
        self.services.add_handlers(on_add=self.enqueue, on_update=lambda o, n: self.enqueue(n),
                                   on_delete=self.enqueue)
        self.pods.add_handlers(on_add=self._on_pod, on_update=self._on_pod_update, on_delete=self._on_pod)
        # Someone edited or deleted "our" Endpoints: put it back the way the service says.
        self.endpoints.add_handlers(on_update=lambda o, n: self._on_endpoints(n), on_delete=self._on_endpoints)
        self.slices.add_handlers(on_update=lambda o, n: self._on_slice(n), on_delete=self._on_slice)

    def _services_for(self, pod: dict) -> list[str]:
        ns = pod.get("metadata", {}).get("namespace") or "default"
        return [object_key(s) for s in self.services.list(ns) if selects(s, pod)]

    def _on_pod(self, pod: dict) -> None:
        for key in self._services_for(pod):
            self.queue.add(key)

    def _on_pod_update(self, old: dict, new: dict) -> None:
        for key in set(self._services_for(old)) | set(self._services_for(new)):
            self.queue.add(key)

    def _on_endpoints(self, ep: dict) -> None:
        key = object_key(ep)
        if self.services.get(key) is not None:
            self.queue.add(key)

    def _on_slice(self, es: dict) -> None:
        meta = es.get("metadata") or {}
        service = (meta.get("labels") or {}).get(slices.SERVICE_NAME)
        if service and slices.owned_by(es, service):
            key = f"{meta.get('namespace') or 'default'}/{service}"
            if self.services.get(key) is not None:
                self.queue.add(key)

    def _freshest(self, key: str) -> dict | None:
        cached, written = self.endpoints.get(key), self._written.get(key)
        if cached is None:
            self._written.pop(key, None)  # deleted (or never seen): trust the cache
            return None
        if written is not None and written["metadata"].get("uid") == cached["metadata"].get("uid") \
                and _rv(written) > _rv(cached):
            return written
        self._written.pop(key, None)
        return cached

    async def sync(self, key: str) -> None:
        try:
            await self.sync_endpoints(key)
        finally:
            await self.sync_slices(key)

    def _current_slices(self, key: str, ns: str, name: str) -> list[dict]:
        """Our slices of the Service: the cache's, overlaid with our newer writes (creates the watch has
        not delivered yet included) and without the ones we deleted."""
        cached = {s["metadata"]["name"]: s for s in self.slices.list(ns) if slices.owned_by(s, name)}
        written = self._slices_written.setdefault(key, {})
        deleted = self._slices_deleted.setdefault(key, set())
        deleted &= set(cached)
        out: dict[str, dict] = {}
        for n, cur in cached.items():
            if n in deleted:
                continue
            mine = written.get(n)
            if mine is not None and mine["metadata"].get("uid") == cur["metadata"].get("uid") \
                    and _rv(mine) > _rv(cur):
                out[n] = mine
            else:
                written.pop(n, None)
                out[n] = cur
        for n, mine in written.items():
            out.setdefault(n, mine)
        return list(out.values())

    async def sync_slices(self, key: str) -> None:
        ns, _, name = key.rpartition("/")
        service = self.services.get(key)
        if service is None:
            self._slices_written.pop(key, None)
            self._slices_deleted.pop(key, None)
            return  # the garbage collector deletes slices whose owner is gone
        spec = service.get("spec") or {}
        if not spec.get("selector") or spec.get("type") == "ExternalName" \
                or service["metadata"].get("deletionTimestamp"):
            return
        desired = slices.compute_slices(service, self.pods.list(ns))
        create, update, delete = slices.plan(service, desired, self._current_slices(key, ns, name))
        written = self._slices_written.setdefault(key, {})
        for es in update:
            try:
                written[es["metadata"]["name"]] = await self.client.update("endpointslices", es)
            except NotFound:
                written.pop(es["metadata"]["name"], None)
                self.queue.add(key)  # look again once this sync is done
        for es in create:
            made = await self.client.create("endpointslices", es, namespace=ns)
            written[made["metadata"]["name"]] = made
        for es in delete:
            slice_name = es["metadata"]["name"]
            written.pop(slice_name, None)
            self._slices_deleted.setdefault(key, set()).add(slice_name)
            try:
                await self.client.delete("endpointslices", slice_name, namespace=ns,
                                         preconditions={"uid": es["metadata"].get("uid")})
            except (NotFound, Conflict):
                pass

    async def sync_endpoints(self, key: str) -> None:
        ns, _, name = key.rpartition("/")
        service = self.services.get(key)
        if service is None:
            self._written.pop(key, None)
            if self.endpoints.get(key) is not None:
                try:
                    await self.client.delete("endpoints", name, namespace=ns)
                except NotFound:
                    pass
            return
        if not (service.get("spec") or {}).get("selector"):
            return
        if service["metadata"].get("deletionTimestamp"):
            return
        subsets = compute_subsets(service, self.pods.list(ns))
        labels = endpoints_labels(service)
        current = self._freshest(key)
        if current is not None:
            if (current.get("subsets") or []) == subsets and (current["metadata"].get("labels") or {}) == labels:
                return
            fresh = copy.deepcopy(current)
            fresh["metadata"]["labels"] = labels
            if subsets:
                fresh["subsets"] = subsets
            else:
                fresh.pop("subsets", None)
            self._written[key] = await self.client.update("endpoints", fresh)  # 409 → requeue, fresher cache
            return
        ep = {"apiVersion": "v1", "kind": "Endpoints",
              "metadata": {"name": name, "namespace": ns, "labels": labels}}
        if subsets:
            ep["subsets"] = subsets
        try:
            self._written[key] = await self.client.create("endpoints", ep, namespace=ns)
        except Conflict:
            # Exists but not yet in our cache: take it over with the current content.
            live = await self.client.get("endpoints", name, ns)
            live["metadata"]["labels"] = labels
            live["subsets"] = subsets
            await self.client.update("endpoints", live)
