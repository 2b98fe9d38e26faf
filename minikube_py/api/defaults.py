"""Defaulting: fill in what Kubernetes fills in, so `kubectl get -o yaml` shows what a real cluster shows.

Why it matters beyond looks: the agent, controllers and proxy read these fields (a probe's
`periodSeconds`, a Service port's `targetPort`, a Deployment's `maxSurge`) and should never have to
repeat the defaults themselves. Kubernetes splits this into versioned defaulting (`SetDefaults_*`) and a
few admission plugins (priority, default tolerations, service account); we do both here, in one pure
function, so the server calls exactly one thing before validation.

Rules: only fill what is missing, never overwrite; applying twice changes nothing (the server defaults
on create *and* on update, and an unchanged `kubectl apply` must stay unchanged).
"""
from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import Any

from minikube_py.api.quantity import parse_quantity
from minikube_py.api.resources import Resource


def apply_defaults(resource: Resource, obj: dict, now: datetime | None = None) -> None:
    """Default *obj* (a *resource* object) in place. *now* is only used for Event timestamps."""
    _drop_empty_metadata(obj)
    fn = _BY_PLURAL.get(resource.plural)
    if fn is not None:
        fn(obj, now)
    drop_zero_status(resource, obj)


# Status counters whose Go field is a plain number tagged `omitempty`: Kubernetes never serialises a 0, so a
# ReplicaSet scaled to 0 shows only `replicas: 0` (not omitempty) and `observedGeneration`, and
# `kubectl get deploy -o jsonpath='{.status.readyReplicas}'` prints nothing while no pod is ready.
_OMIT_ZERO_STATUS: dict[str, tuple[str, ...]] = {
    "replicasets": ("fullyLabeledReplicas", "readyReplicas", "availableReplicas", "observedGeneration"),
    "deployments": ("observedGeneration", "replicas", "updatedReplicas", "readyReplicas", "availableReplicas",
                    "unavailableReplicas"),
}


def drop_zero_status(resource: Resource, obj: dict) -> None:
    """Remove the `omitempty` status counters that are 0, as the API server's encoding does. Called on every
    write, status writes included, so controllers may keep computing full status dicts."""
    keys = _OMIT_ZERO_STATUS.get(resource.plural)
    status = obj.get("status")
    if not keys or not isinstance(status, dict):
        return
    for key in keys:
        if key in status and status[key] in (0, None):
            del status[key]


# ObjectMeta fields that are `omitempty` in Go: an empty list or map is never stored or shown.
_OMIT_EMPTY_METADATA = ("labels", "annotations", "ownerReferences", "finalizers")


def _drop_empty_metadata(obj: dict) -> None:
    """A ReplicaSet releasing its only pod (strategic-merge `$patch: delete` of the last ownerReference) or
    `kubectl label pod p app-` on the last label leaves `[]`/`{}`; Kubernetes serialises those as absent,
    so `kubectl get -o yaml` shows no `ownerReferences: []` / `labels: {}`."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return
    for key in _OMIT_EMPTY_METADATA:
        if key in meta and meta[key] in ([], {}, None):
            del meta[key]


# --- pods ------------------------------------------------------------------------------------------

def image_pull_policy_for(image: str) -> str:
    """`Always` for `:latest` or an untagged image, else `IfNotPresent` (digests pin, so IfNotPresent)."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "Always"
    return "Always" if last.rsplit(":", 1)[1] == "latest" else "IfNotPresent"


def _default_probe(probe: dict | None) -> None:
    if not isinstance(probe, dict):
        return
    probe.setdefault("timeoutSeconds", 1)
    probe.setdefault("periodSeconds", 10)
    probe.setdefault("successThreshold", 1)
    probe.setdefault("failureThreshold", 3)
    # Kubernetes treats an explicit 0 like "unset" for these (the Go field is a plain int32).
    for k, v in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1), ("failureThreshold", 3)):
        if probe.get(k) == 0:
            probe[k] = v
    http = probe.get("httpGet")
    if isinstance(http, dict):
        http.setdefault("path", "/")
        if not http.get("path"):
            http["path"] = "/"
        http.setdefault("scheme", "HTTP")


def _default_lifecycle_handler(handler: Any) -> None:
    if isinstance(handler, dict) and isinstance(handler.get("httpGet"), dict):
        handler["httpGet"].setdefault("path", "/")
        handler["httpGet"].setdefault("scheme", "HTTP")


def _default_container(c: dict, host_network: bool) -> None:
    if not isinstance(c, dict):
        return
    if "image" in c and isinstance(c["image"], str) and c["image"]:
        c.setdefault("imagePullPolicy", image_pull_policy_for(c["image"]))
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("resources", {})
    for port in c.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if host_network and "containerPort" in port:
                port.setdefault("hostPort", port["containerPort"])
    for name in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(c.get(name))
    lifecycle = c.get("lifecycle")
    if isinstance(lifecycle, dict):
        _default_lifecycle_handler(lifecycle.get("postStart"))
        _default_lifecycle_handler(lifecycle.get("preStop"))
    for env in c.get("env") or []:
        ref = ((env or {}).get("valueFrom") or {}).get("fieldRef") if isinstance(env, dict) else None
        if isinstance(ref, dict):
            ref.setdefault("apiVersion", "v1")


def _default_volume(v: dict) -> None:
    if not isinstance(v, dict):
        return
    for source in ("configMap", "secret", "projected", "downwardAPI"):
        if isinstance(v.get(source), dict):
            v[source].setdefault("defaultMode", 420)
    if isinstance(v.get("hostPath"), dict):
        v["hostPath"].setdefault("type", "")
    for item in (v.get("downwardAPI") or {}).get("items") or [] if isinstance(v.get("downwardAPI"), dict) else []:
        if isinstance(item, dict) and isinstance(item.get("fieldRef"), dict):
            item["fieldRef"].setdefault("apiVersion", "v1")


def default_pod_spec(spec: dict) -> None:
    """`SetDefaults_PodSpec` + container/volume defaults: shared by Pods and pod templates."""
    if not isinstance(spec, dict):
        return
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    host_network = bool(spec.get("hostNetwork"))
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        _default_container(c, host_network)
    for v in spec.get("volumes") or []:
        _default_volume(v)


def _default_pod_template(template: Any) -> None:
    """Defaults of a Deployment's or ReplicaSet's pod template. Its `metadata.creationTimestamp` is the Go
    zero time, which Kubernetes 1.33 serialises as an explicit `null` (omitted only from 1.34 on), so
    `kubectl get deploy -o yaml` shows `creationTimestamp: null` under `template.metadata`."""
    if isinstance(template, dict):
        meta = template.setdefault("metadata", {})
        if isinstance(meta, dict):
            meta.setdefault("creationTimestamp", None)
        default_pod_spec(template.setdefault("spec", {}))


# The tolerations the DefaultTolerationSeconds admission plugin adds to every pod: without them a pod
# would be evicted the moment its node goes NotReady instead of after 5 minutes.
_DEFAULT_TOLERATIONS = [
    {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300},
    {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 300},
]


def qos_class(spec: dict) -> str:
    """`Guaranteed` (every container limits cpu+memory and requests equal them), `BestEffort` (no
    requests or limits anywhere) or `Burstable`."""
    containers = (spec.get("containers") or []) + (spec.get("initContainers") or [])
    any_set, guaranteed = False, True
    for c in containers:
        res = (c or {}).get("resources") or {}
        requests, limits = res.get("requests") or {}, res.get("limits") or {}
        if requests or limits:
            any_set = True
        for r in ("cpu", "memory"):
            if r not in limits:
                guaranteed = False
                continue
            try:
                if parse_quantity(requests.get(r, limits[r])) != parse_quantity(limits[r]):
                    guaranteed = False
            except ValueError:
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _default_pod(pod: dict, now: datetime | None) -> None:
    spec = pod.setdefault("spec", {})
    default_pod_spec(spec)
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    tolerations = spec.setdefault("tolerations", [])
    for t in _DEFAULT_TOLERATIONS:
        if not any(isinstance(x, dict) and x.get("key") == t["key"] and x.get("effect") in (None, "", "NoExecute")
                   for x in tolerations):
            tolerations.append(dict(t))
    # SetDefaults_Pod: limits without requests → requests = limits.
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        res = (c or {}).get("resources") if isinstance(c, dict) else None
        if isinstance(res, dict) and isinstance(res.get("limits"), dict) and res["limits"]:
            requests = res.setdefault("requests", {})
            for k, v in res["limits"].items():
                requests.setdefault(k, v)
    status = pod.setdefault("status", {})
    status.setdefault("phase", "Pending")
    status.setdefault("qosClass", qos_class(spec))


# --- services and endpoints -----------------------------------------------------------------------

def _default_service(svc: dict, now: datetime | None) -> None:
    spec = svc.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    kind = spec["type"]
    spec.setdefault("sessionAffinity", "None")
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if "port" in port and port.get("targetPort") in (None, 0, ""):
                port["targetPort"] = port["port"]
    if kind != "ExternalName":
        spec.setdefault("internalTrafficPolicy", "Cluster")
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
    if kind in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if kind == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    if spec.get("sessionAffinity") == "ClientIP":
        cfg = spec.setdefault("sessionAffinityConfig", {}).setdefault("clientIP", {})
        cfg.setdefault("timeoutSeconds", 10800)
    svc.setdefault("status", {}).setdefault("loadBalancer", {})


def _default_endpoints(ep: dict, now: datetime | None) -> None:
    for subset in ep.get("subsets") or []:
        for port in (subset or {}).get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")


def _default_endpointslice(es: dict, now: datetime | None) -> None:
    """discovery/v1 defaults: a port's `name` is "" and its `protocol` TCP. `endpoints` and `ports` are
    never omitted (no omitempty in the Go type): an empty list is stored as null, as etcd's protobuf
    round trip leaves it (a placeholder slice reads `endpoints: null`, `ports: null`)."""
    for key in ("endpoints", "ports"):
        if not es.get(key):
            es[key] = None
    for port in es.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("name", "")
            port.setdefault("protocol", "TCP")


# --- workloads -------------------------------------------------------------------------------------

def _default_replicaset(rs: dict, now: datetime | None) -> None:
    spec = rs.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    _default_pod_template(spec.get("template"))


def _default_deployment(d: dict, now: datetime | None) -> None:
    spec = d.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    strategy = spec.setdefault("strategy", {})
    if isinstance(strategy, dict):
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            ru = strategy.setdefault("rollingUpdate", {})
            if isinstance(ru, dict):
                ru.setdefault("maxUnavailable", "25%")
                ru.setdefault("maxSurge", "25%")
    _default_pod_template(spec.get("template"))


# --- config and cluster objects --------------------------------------------------------------------

def _default_secret(secret: dict, now: datetime | None) -> None:
    secret.setdefault("type", "Opaque")
    # `stringData` is write-only: Kubernetes merges it into `data` (base64) and never stores it.
    string_data = secret.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = secret.get("data") or {}
        for k, v in string_data.items():
            data[k] = base64.b64encode(str(v).encode()).decode()
        secret["data"] = data


def _default_namespace(ns: dict, now: datetime | None) -> None:
    name = (ns.get("metadata") or {}).get("name")
    if name:
        labels = ns.setdefault("metadata", {}).setdefault("labels", {})
        if isinstance(labels, dict):
            labels.setdefault("kubernetes.io/metadata.name", name)
    spec = ns.setdefault("spec", {})
    spec.setdefault("finalizers", ["kubernetes"])
    ns.setdefault("status", {}).setdefault("phase", "Active")


def _default_event(ev: dict, now: datetime | None) -> None:
    ev.setdefault("type", "Normal")
    ev.setdefault("count", 1)
    if now is not None and not ev.get("eventTime"):
        stamp = now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        if not ev.get("firstTimestamp"):
            ev["firstTimestamp"] = ev.get("lastTimestamp") or stamp
        if not ev.get("lastTimestamp"):
            ev["lastTimestamp"] = ev["firstTimestamp"]


_BY_PLURAL = {
    "pods": _default_pod,
    "services": _default_service,
    "endpoints": _default_endpoints,
    "endpointslices": _default_endpointslice,
    "replicasets": _default_replicaset,
    "deployments": _default_deployment,
    "secrets": _default_secret,
    "namespaces": _default_namespace,
    "events": _default_event,
}
