"""The ingress controller: Ingresses + Services + Endpoints + TLS Secrets → one nginx.conf in a ConfigMap.

Everything funnels into one key: the whole nginx.conf is a function of all Ingresses of our class and the
ready endpoints behind them, so `sync_ingress_config` re-renders it from the caches and writes the
ConfigMap `ingress-nginx/nginx-conf` only when the text changed. The nginx Pod (addons/ingress.yml)
mounts that ConfigMap, tests a changed file with `nginx -t` and reloads gracefully (`nginx -s reload`
lets old workers finish in-flight keep-alive requests), so a bad render can never take nginx down.

Also: `status.loadBalancer.ingress` of each served Ingress is set to the node IP(s) where the nginx Pod
runs (the ADDRESS column of `kubectl get ing`), every added or changed Ingress gets ingress-nginx's
`Sync` event ("Scheduled for sync"), and an Ingress rejected by the allowlist gets a Warning
event naming the field (the API server already refuses such Ingresses with 422; this catches objects
stored before the rule existed).
"""
from __future__ import annotations

import logging

from minikube_py.client import ApiClient, Controller, EventRecorder, Informer, NotFound
from minikube_py.ingress.nginx_conf import CERT_DIR, build_config, render_nginx_conf

log = logging.getLogger(__name__)

NAMESPACE = "ingress-nginx"
CONFIGMAP = "nginx-conf"
CERTS_SECRET = "ingress-nginx-certs"
CLASS_NAME = "nginx"
CONTROLLER_NAME = "k8s.io/ingress-nginx"
DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
POD_LABEL = "app.kubernetes.io/name=ingress-nginx"
KEY = "ingress-nginx/config"


class IngressController(Controller):
    name = "ingress"
    workers = 1

    def __init__(self, client: ApiClient, *, ingresses: Informer, services: Informer, endpoints: Informer,
                 secrets: Informer, ingressclasses: Informer, configmaps: Informer, pods: Informer) -> None:
        super().__init__()
        self.client = client
        self.ingresses, self.services, self.endpoints = ingresses, services, endpoints
        self.secrets, self.ingressclasses, self.configmaps, self.pods = secrets, ingressclasses, configmaps, pods
        self.informers = [ingresses, services, endpoints, secrets, ingressclasses, configmaps, pods]
        self.recorder = EventRecorder(client, "nginx-ingress-controller")
        self._warned: set[tuple[str, str]] = set()
        self._scheduled: set[str] = set()  # Ingresses added or changed since the last sync: a Sync event each
        ingresses.add_handlers(on_add=self._schedule,
                               on_update=lambda old, new: self._schedule(new) if old != new else None)
        for inf in self.informers:
            inf.add_handlers(on_add=self._kick, on_update=lambda old, new: self._kick(new), on_delete=self._kick)

    def _kick(self, _obj: dict) -> None:
        self.queue.add(KEY)

    def _schedule(self, ing: dict) -> None:
        self._scheduled.add(f"{ing['metadata'].get('namespace')}/{ing['metadata']['name']}")

    # --- what we serve -----------------------------------------------------------------------------
    def _is_ours(self, ing: dict) -> bool:
        cls = (ing.get("spec") or {}).get("ingressClassName") or \
            (ing["metadata"].get("annotations") or {}).get("kubernetes.io/ingress.class")
        if cls:
            return cls == CLASS_NAME
        ic = self.ingressclasses.get(CLASS_NAME)
        return bool(ic) and (ic["metadata"].get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION) == "true"

    def endpoints_of(self, namespace: str, service: str, port: str) -> list[str]:
        """Ready `ip:port`s behind a Service port given by number or name, as the Ingress names it."""
        svc = self.services.get(f"{namespace}/{service}")
        ep = self.endpoints.get(f"{namespace}/{service}")
        if not svc or not ep:
            return []
        ports = (svc.get("spec") or {}).get("ports") or []
        sp = next((p for p in ports if str(p.get("port")) == port or p.get("name") == port), None)
        if sp is None:
            return []
        out: list[str] = []
        for subset in ep.get("subsets") or []:
            eports = subset.get("ports") or []
            match = next((p for p in eports if p.get("name") == sp.get("name")), None)
            if match is None and len(eports) == 1 and len(ports) == 1:
                match = eports[0]
            if match is None:
                continue
            out += [f"{a['ip']}:{match['port']}" for a in subset.get("addresses") or []]
        return out

    def _tls_secrets(self) -> dict[str, dict]:
        return {f"{s['metadata']['namespace']}/{s['metadata']['name']}": s for s in self.secrets.list()
                if (s.get("data") or {}).get("tls.crt") and (s.get("data") or {}).get("tls.key")}

    # --- the sync ----------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        current = self.configmaps.get(f"{NAMESPACE}/{CONFIGMAP}")
        if current is None:
            return  # the addon is not enabled
        ingresses = [i for i in self.ingresses.list() if self._is_ours(i)]
        await self._record_scheduled()
        tls = self._tls_secrets()
        config = build_config(ingresses, self.endpoints_of, set(tls))
        for ing_key, causes in config.rejected.items():
            for cause in causes:
                if (ing_key, cause.field) not in self._warned:
                    self._warned.add((ing_key, cause.field))
                    ing = self.ingresses.get(ing_key)
                    if ing:
                        await self.recorder.event(ing, "Rejected", f"{cause.field}: {cause.message}", "Warning")
        await self._write_certs(config, tls)
        text = render_nginx_conf(config)
        if (current.get("data") or {}).get("nginx.conf") != text:
            await self.client.patch("configmaps", CONFIGMAP, {"data": {"nginx.conf": text}}, namespace=NAMESPACE)
            log.info("ingress: nginx.conf updated (%d servers)", len(config.servers))
        await self._update_status([i for i in ingresses if f"{i['metadata']['namespace']}/{i['metadata']['name']}"
                                   not in config.rejected])

    async def _record_scheduled(self) -> None:
        """ingress-nginx's store records `Normal Sync "Scheduled for sync"` for every add of an Ingress of
        its class and every change to one (its own status write included, so a new Ingress shows
        `Sync ... (x2 over ...)` in `kubectl describe ing`). Kept until the addon is enabled: the
        controller then starts and sees every existing Ingress as an add."""
        keys, self._scheduled = self._scheduled, set()
        for key in sorted(keys):
            ing = self.ingresses.get(key)
            if ing is not None and self._is_ours(ing):
                await self.recorder.event(ing, "Sync", "Scheduled for sync")

    async def _write_certs(self, config, tls: dict[str, dict]) -> None:
        data: dict[str, str] = {}
        for server in config.servers:
            if server.tls_secret and server.tls_secret in tls:
                sd = tls[server.tls_secret]["data"]
                base = server.tls_secret.replace("/", "_")
                data[f"{base}.crt"] = sd["tls.crt"]
                data[f"{base}.key"] = sd["tls.key"]
        current = self.secrets.get(f"{NAMESPACE}/{CERTS_SECRET}")
        if current is None or (current.get("data") or {}) == data:
            return
        patch = {"data": {k: None for k in (current.get("data") or {}) if k not in data} | data}
        await self.client.patch("secrets", CERTS_SECRET, patch, namespace=NAMESPACE)

    def _addresses(self) -> list[str]:
        ips = sorted({p["status"]["hostIP"] for p in self.pods.list(NAMESPACE)
                      if (p.get("status") or {}).get("phase") == "Running" and p["status"].get("hostIP")
                      and not p["metadata"].get("deletionTimestamp")})
        return ips

    async def _update_status(self, ingresses: list[dict]) -> None:
        want = [{"ip": ip} for ip in self._addresses()]
        for ing in ingresses:
            have = ((ing.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
            if have == want:
                continue
            try:
                await self.client.patch("ingresses", ing["metadata"]["name"],
                                        {"status": {"loadBalancer": {"ingress": want or None}}},
                                        namespace=ing["metadata"]["namespace"], subresource="status")
            except NotFound:
                pass


__all__ = ["IngressController", "NAMESPACE", "CONFIGMAP", "CERTS_SECRET", "CERT_DIR", "CLASS_NAME"]
