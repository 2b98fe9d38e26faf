"""LoadBalancer IP allocation (the metallb controller's job) in the control plane.

`sync_service(key)`: a Service of `type: LoadBalancer` gets an IP from the pool in
`metallb-system/config` (see minikube_py/addons/metallb.py) written to `status.loadBalancer.ingress`;
without a pool it stays `<pending>`; an exhausted pool leaves it pending with an `AllocationFailed`
event. Announcing the IP on a node (ARP) is the speaker's job on the nodes (agent/speaker.py), and
DNAT'ing it is the proxy's.

One worker on purpose: allocation reads and then claims from one shared `used` map; serialising the
syncs is the simplest way to never hand one IP to two Services.
"""
from __future__ import annotations

import copy
import logging

from minikube_py.addons import metallb
from minikube_py.client import ApiClient, Controller, EventRecorder, Informer, NotFound

log = logging.getLogger(__name__)


def lb_ip(svc: dict) -> str | None:
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return ingress[0].get("ip") if ingress else None


class LoadBalancerController(Controller):
    name = "loadbalancer"
    workers = 1

    def __init__(self, client: ApiClient, services: Informer, configmaps: Informer) -> None:
        super().__init__()
        self.client = client
        self.services = services
        self.configmaps = configmaps
        self.informers = [services, configmaps]
        self.recorder = EventRecorder(client, "metallb-controller")
        services.add_handlers(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new),
                              on_delete=self._forget)
        configmaps.add_handlers(on_add=self._pool_changed, on_update=lambda o, n: self._pool_changed(n),
                                on_delete=self._pool_changed)
        self.used: dict[str, str] = {}

    def _forget(self, svc: dict) -> None:
        ip = lb_ip(svc)
        key = f"{svc['metadata'].get('namespace')}/{svc['metadata']['name']}"
        if ip and self.used.get(ip) == key:
            del self.used[ip]

    def _pool_changed(self, cm: dict) -> None:
        if cm["metadata"].get("namespace") == metallb.NAMESPACE and cm["metadata"]["name"] == metallb.CONFIGMAP:
            for svc in self.services.list():
                self.enqueue(svc)

    def pool(self) -> list:
        cm = self.configmaps.get(f"{metallb.NAMESPACE}/{metallb.CONFIGMAP}")
        try:
            return metallb.parse_pool(((cm or {}).get("data") or {}).get("config"))
        except (metallb.PoolError, ValueError) as exc:
            log.warning("metallb pool config invalid: %s", exc)
            return []

    def _rebuild_used(self) -> None:
        """The truth is what Services' status says; rebuilt each sync (cheap: a laptop's services)."""
        self.used = {}
        for svc in self.services.list():
            ip = lb_ip(svc)
            if ip and (svc.get("spec") or {}).get("type") == "LoadBalancer":
                self.used.setdefault(ip, f"{svc['metadata']['namespace']}/{svc['metadata']['name']}")

    async def sync(self, key: str) -> None:
        svc = self.services.get(key)
        if svc is None:
            return
        self._rebuild_used()
        current = lb_ip(svc)
        is_lb = (svc.get("spec") or {}).get("type") == "LoadBalancer"
        pool = self.pool()
        want: str | None = None
        error: str | None = None
        if is_lb and pool:
            want, error = metallb.allocate(key, metallb.requested_ip(svc), current, pool,
                                           {ip: k for ip, k in self.used.items() if k != key})
        if error:
            await self.recorder.event(svc, "AllocationFailed", error, "Warning")
            return
        if want == current:
            return
        status = copy.deepcopy(svc.get("status") or {})
        status["loadBalancer"] = {"ingress": [{"ip": want, "ipMode": "VIP"}] if want else None}
        ns, name = key.split("/", 1)
        try:
            await self.client.patch("services", name, {"status": status}, namespace=ns, subresource="status")
        except NotFound:
            return
        if want:
            self.used[want] = key
            await self.recorder.event(svc, "IPAllocated", f'Assigned IP ["{want}"]')
