"""`ClusterCache`: the `ClusterView` the server answers from, kept current by informer handlers.

Why a cache of our own beside the informers': the answers need lookups the informer cache does not index
(service by ClusterIP, endpoints by address, pod by IP — PTR and `pods verified`). The handlers keep those
indexes in step with every add/update/delete, so each query is a few dict lookups and nothing scans.
The objects themselves are the informers' (shared, read-only); we store references, never copies.

Synced is explicit: `mark_synced()` is called once every informer has finished its initial list. Until
then `records.answer` returns SERVFAIL for our zones (an empty cache would claim names do not exist).
"""
from __future__ import annotations

import time
from collections import defaultdict
from typing import Callable

from minikube_py.client import ApiClient, Informer, object_key

KINDS = ("services", "endpoints", "pods", "namespaces")


class ClusterCache:
    """Services, endpoints and pods by `namespace/name`, namespaces by name, plus the IP indexes PTR and
    pod names need."""

    def __init__(self) -> None:
        self._objects: dict[str, dict[str, dict]] = {kind: {} for kind in KINDS}
        self._by_ip: dict[str, dict[str, set[str]]] = {kind: defaultdict(set) for kind in KINDS}
        self._ips_of: dict[str, dict[str, tuple[str, ...]]] = {kind: {} for kind in KINDS}
        self._synced = False
        self._serial = int(time.time())

    # --- ClusterView -------------------------------------------------------------------------------
    @property
    def synced(self) -> bool:
        return self._synced

    def service(self, namespace: str, name: str) -> dict | None:
        return self._objects["services"].get(f"{namespace}/{name}")

    def endpoints(self, namespace: str, name: str) -> dict | None:
        return self._objects["endpoints"].get(f"{namespace}/{name}")

    def pods_by_ip(self, ip: str) -> list[dict]:
        return self._by_ip_list("pods", ip)

    def namespace_exists(self, name: str) -> bool:
        return name in self._objects["namespaces"]

    def services_by_cluster_ip(self, ip: str) -> list[dict]:
        return self._by_ip_list("services", ip)

    def endpoints_by_ip(self, ip: str) -> list[dict]:
        return self._by_ip_list("endpoints", ip)

    def serial(self) -> int:
        return self._serial

    # --- updates -----------------------------------------------------------------------------------
    def mark_synced(self) -> None:
        self._synced = True

    def upsert(self, kind: str, obj: dict) -> None:
        key = object_key(obj)
        self._unindex(kind, key)
        ips = _IPS_OF[kind](obj)
        if kind == "pods" and not ips:
            # Pods without an IP yet, terminating or finished: nothing to answer for (an IP may be reused).
            self._objects[kind].pop(key, None)
        else:
            self._objects[kind][key] = obj
        self._ips_of[kind][key] = ips
        for ip in ips:
            self._by_ip[kind][ip].add(key)
        self._serial = max(self._serial + 1, int(time.time()))

    def delete(self, kind: str, obj: dict) -> None:
        key = object_key(obj)
        self._unindex(kind, key)
        self._objects[kind].pop(key, None)
        self._serial = max(self._serial + 1, int(time.time()))

    def handlers(self, kind: str) -> tuple[Callable[[dict], None], Callable[[dict, dict], None],
                                          Callable[[dict], None]]:
        """(on_add, on_update, on_delete) for the informer of *kind*."""
        return (lambda obj: self.upsert(kind, obj),
                lambda _old, new: self.upsert(kind, new),
                lambda obj: self.delete(kind, obj))

    def _unindex(self, kind: str, key: str) -> None:
        for ip in self._ips_of[kind].pop(key, ()):
            keys = self._by_ip[kind].get(ip)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_ip[kind][ip]

    def _by_ip_list(self, kind: str, ip: str) -> list[dict]:
        objects = self._objects[kind]
        return [objects[k] for k in sorted(self._by_ip[kind].get(ip, ())) if k in objects]


def _service_ips(svc: dict) -> tuple[str, ...]:
    spec = svc.get("spec", {})
    ips = spec.get("clusterIPs") or [spec.get("clusterIP", "")]
    return tuple(ip for ip in ips if ip and ip != "None")


def _endpoint_ips(eps: dict) -> tuple[str, ...]:
    """Ready addresses only: PTR for an address that gets no traffic would point at nothing useful."""
    ips: list[str] = []
    for subset in eps.get("subsets") or []:
        ips += [a["ip"] for a in subset.get("addresses") or [] if a.get("ip")]
    return tuple(dict.fromkeys(ips))


def _pod_ips(pod: dict) -> tuple[str, ...]:
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return ()
    status = pod.get("status", {})
    if status.get("phase") in ("Succeeded", "Failed"):
        return ()
    ips = [p.get("ip", "") for p in status.get("podIPs") or []] or [status.get("podIP", "")]
    return tuple(ip for ip in ips if ip)


_IPS_OF: dict[str, Callable[[dict], tuple[str, ...]]] = {
    "services": _service_ips, "endpoints": _endpoint_ips, "pods": _pod_ips, "namespaces": lambda ns: ()}


def cluster_informers(client: ApiClient, cache: ClusterCache) -> list[Informer]:
    """One informer per kind the answers read, each feeding *cache*. Start them, then `mark_synced`."""
    informers = []
    for kind in KINDS:
        informer = Informer(client, kind)
        on_add, on_update, on_delete = cache.handlers(kind)
        informer.add_handlers(on_add=on_add, on_update=on_update, on_delete=on_delete)
        informers.append(informer)
    return informers
