"""Server-side printing: the `meta.k8s.io/v1 Table` kubectl asks for, with kubectl's own columns.

Why on the server: `kubectl get` sends `Accept: application/json;as=Table;…` and prints whatever
columns the server returns; without a Table it can only show NAME and AGE. So the columns, their
types, and the computed cells (a pod's STATUS, a service's PORT(S), AGE as `2m30s`) are the API
server's job, exactly as in Kubernetes' `pkg/printers/internalversion`. The server always fills the
wide (`priority: 1`) cells; kubectl hides them unless `-o wide`.

`render_text` lays a Table out the way kubectl's tabwriter does, for our own CLI and for golden tests.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

from minikube_py.api.resources import Resource
from minikube_py.api.selectors import format_labels, label_selector_from_spec

# --- durations and timestamps ---------------------------------------------------------------------


def format_age(delta_seconds: float) -> str:
    """apimachinery's `duration.HumanDuration`: `45s`, `119s`, `2m5s`, `10m`, `3h4m`, `2d3h`, `1y2d`."""
    seconds = int(delta_seconds)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        s = seconds % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = seconds // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp (`2026-01-01T00:00:00Z`, with or without fractions) or None."""
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _since(value: Any, now: datetime) -> str:
    t = parse_time(value)
    if t is None:
        return "<unknown>"
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return format_age((now - t).total_seconds())


# --- column definitions ---------------------------------------------------------------------------

NAME_DOC = ("Name must be unique within a namespace. Is required when creating resources, although some resources "
            "may allow a client to request the generation of an appropriate name automatically. Name is primarily "
            "intended for creation idempotence and configuration definition. Cannot be updated. More info: "
            "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names")
AGE_DOC = ("CreationTimestamp is a timestamp representing the server time when this object was created. It is not "
           "guaranteed to be set in happens-before order across separate operations. Clients may not set this "
           "value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for "
           "lists. More info: "
           "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata")


def _col(name: str, type_: str = "string", description: str = "", priority: int = 0, fmt: str = "") -> dict:
    return {"name": name, "type": type_, "format": fmt, "description": description, "priority": priority}


_NAME = _col("Name", fmt="name", description=NAME_DOC)
_AGE = _col("Age", description=AGE_DOC)
_CONTAINERS = _col("Containers", priority=1, description="Names of each container in the template.")
_IMAGES = _col("Images", priority=1, description="Images referenced by each container in the template.")

COLUMNS: dict[str, list[dict]] = {
    "pods": [
        _NAME,
        _col("Ready", description="The aggregate readiness state of this pod for accepting traffic."),
        _col("Status", description="The aggregate status of the containers in this pod."),
        _col("Restarts", description="The number of times the containers in this pod have been restarted and when "
                                     "the last container in this pod has restarted."),
        _AGE,
        _col("IP", priority=1, description="podIP address allocated to the pod."),
        _col("Node", priority=1, description="NodeName indicates in which node this pod is scheduled."),
        _col("Nominated Node", priority=1, description="nominatedNodeName is set only when this pod preempts other "
                                                        "pods on the node."),
        _col("Readiness Gates", priority=1, description="If specified, all readiness gates will be evaluated for "
                                                         "pod readiness."),
    ],
    "services": [
        _NAME,
        _col("Type", description="type determines how the Service is exposed."),
        _col("Cluster-IP", description="clusterIP is the IP address of the service."),
        _col("External-IP", description="externalIPs is a list of IP addresses for which nodes in the cluster will "
                                        "also accept traffic for this service."),
        _col("Port(s)", description="The list of ports that are exposed by this service."),
        _AGE,
        _col("Selector", priority=1, description="Route service traffic to pods with label keys and values "
                                                 "matching this selector."),
    ],
    "endpoints": [
        _NAME,
        _col("Endpoints", description="The set of all endpoints is the union of all subsets."),
        _AGE,
    ],
    "endpointslices": [
        _NAME,
        _col("AddressType", description="addressType specifies the type of address carried by this EndpointSlice. "
                                        "All addresses in this slice must be the same type. This field is immutable "
                                        "after creation. The following address types are currently supported:\n* "
                                        "IPv4: Represents an IPv4 Address.\n* IPv6: Represents an IPv6 Address.\n"
                                        "* FQDN: Represents a Fully Qualified Domain Name. (Deprecated) The "
                                        "EndpointSlice controller only generates, and kube-proxy only processes, "
                                        "slices of addressType \"IPv4\" and \"IPv6\". No semantics are defined for "
                                        "the \"FQDN\" type."),
        _col("Ports", description="ports specifies the list of network ports exposed by each endpoint in this "
                                  "slice. Each port must have a unique name. Each slice may include a maximum of 100 "
                                  "ports. Services always have at least 1 port, so EndpointSlices generated by the "
                                  "EndpointSlice controller will likewise always have at least 1 port. "
                                  "EndpointSlices used for other purposes may have an empty ports list."),
        _col("Endpoints", description="endpoints is a list of unique endpoints in this slice. Each slice may include "
                                      "a maximum of 1000 endpoints."),
        _AGE,
    ],
    "deployments": [
        _NAME,
        _col("Ready", description="Number of the pod with ready state"),
        _col("Up-to-date", description="Total number of non-terminated pods targeted by this deployment that have "
                                       "the desired template spec."),
        _col("Available", description="Total number of available pods (ready for at least minReadySeconds) "
                                      "targeted by this deployment."),
        _AGE, _CONTAINERS, _IMAGES,
        _col("Selector", priority=1, description="Label selector for pods."),
    ],
    "replicasets": [
        _NAME,
        _col("Desired", "integer", "Replicas is the number of desired replicas."),
        _col("Current", "integer", "Replicas is the most recently observed number of replicas."),
        _col("Ready", "integer", "The number of ready replicas for this replica set."),
        _AGE, _CONTAINERS, _IMAGES,
        _col("Selector", priority=1, description="Selector is a label query over pods that should match the "
                                                 "replica count."),
    ],
    "nodes": [
        _NAME,
        _col("Status", description="The status of the node"),
        _col("Roles", description="The roles of the node"),
        _AGE,
        _col("Version", description="Kubelet Version reported by the node."),
        _col("Internal-IP", priority=1, description="List of addresses reachable to the node."),
        _col("External-IP", priority=1, description="List of addresses reachable to the node."),
        _col("OS-Image", priority=1, description="OS Image reported by the node from /etc/os-release."),
        _col("Kernel-Version", priority=1, description="Kernel Version reported by the node from 'uname -r'."),
        _col("Container-Runtime", priority=1, description="ContainerRuntime Version reported by the node through "
                                                          "runtime remote API."),
    ],
    "namespaces": [_NAME, _col("Status", description="The status of the namespace"), _AGE],
    "configmaps": [_NAME, _col("Data", description="Data contains the configuration data."), _AGE],
    "secrets": [
        _NAME,
        _col("Type", description="Used to facilitate programmatic handling of secret data."),
        _col("Data", description="Data contains the secret data."),
        _AGE,
    ],
    "events": [
        _col("Last Seen", description="The time at which the most recent occurrence of this event was recorded."),
        _col("Type", description="Type of this event (Normal, Warning), new types could be added in the future"),
        _col("Reason", description="This should be a short, machine understandable string that gives the reason "
                                   "for the transition into the object's current status."),
        _col("Object", description="The object that this event is about."),
        _col("Subobject", priority=1, description="If referring to a piece of an object instead of an entire "
                                                  "object, this string should contain a valid JSON/Go field access "
                                                  "statement."),
        _col("Source", priority=1, description="The component reporting this event."),
        _col("Message", description="A human-readable description of the status of this operation."),
        _col("First Seen", priority=1, description="The time at which the event was first recorded."),
        _col("Count", priority=1, description="The number of times this event has occurred."),
        _col("Name", priority=1, fmt="name", description=NAME_DOC),
    ],
    "ingresses": [
        _NAME,
        _col("Class", description="The name of the IngressClass resource that should be used for additional "
                                  "configuration"),
        _col("Hosts", description="Hosts that incoming requests are matched against before the ingress rule"),
        _col("Address", description="Address is a list containing ingress points for the load-balancer"),
        _col("Ports", description="Ports of TLS configurations that open"),
        _AGE,
    ],
    "ingressclasses": [
        _NAME,
        _col("Controller", description="Controller that is responsible for handling this class"),
        _col("Parameters", description="A reference to a resource with additional parameters"),
        _AGE,
    ],
    "serviceaccounts": [
        _NAME,
        _col("Secrets", description="Secrets is a list of the secrets in the same namespace that pods running "
                                    "using this ServiceAccount are allowed to use. Pods are only limited to this "
                                    "list if this service account has a \"kubernetes.io/enforce-mountable-secrets\" "
                                    "annotation set to \"true\". The \"kubernetes.io/enforce-mountable-secrets\" "
                                    "annotation is deprecated since v1.32. Prefer separate namespaces to isolate "
                                    "access to mounted secrets. This field should not be used to find "
                                    "auto-generated service account token secrets for use outside of pods. "
                                    "Instead, tokens can be requested directly using the TokenRequest API, or "
                                    "service account token secrets can be manually created. More info: "
                                    "https://kubernetes.io/docs/concepts/configuration/secret"),
        _AGE,
    ],
    "leases": [
        _NAME,
        _col("Holder", description="holderIdentity contains the identity of the holder of a current lease. If "
                                   "Coordinated Leader Election is used, the holder identity must be equal to the "
                                   "elected LeaseCandidate.metadata.name field."),
        _AGE,
    ],
}
_DEFAULT_COLUMNS = [_NAME, _AGE]


# --- per-kind cells -------------------------------------------------------------------------------

def _d(v: Any) -> dict:
    return v if isinstance(v, dict) else {}


def _l(v: Any) -> list:
    return v if isinstance(v, list) else []


def _name(obj: dict) -> str:
    return _d(obj.get("metadata")).get("name", "")


def _age(obj: dict, now: datetime) -> str:
    return _since(_d(obj.get("metadata")).get("creationTimestamp"), now)


def _is_restartable_init(c: dict | None) -> bool:
    return bool(c) and c.get("restartPolicy") == "Always"


def pod_status_reason(pod: dict, now: datetime | None = None) -> str:
    """The STATUS kubectl shows for *pod* (`Running`, `CrashLoopBackOff`, `Init:0/1`, `Terminating`, …)."""
    return _pod_cells(pod, now or datetime.now(timezone.utc))[0][2]


def _pod_cells(pod: dict, now: datetime) -> tuple[list[Any], list[dict] | None]:
    spec, status = _d(pod.get("spec")), _d(pod.get("status"))
    containers = _l(spec.get("containers"))
    init_specs = {c.get("name"): c for c in _l(spec.get("initContainers")) if isinstance(c, dict)}
    total = len(containers) + sum(1 for c in init_specs.values() if _is_restartable_init(c))
    ready = restarts = sidecar_restarts = 0
    last_restart: datetime | None = None
    last_sidecar_restart: datetime | None = None
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    for cond in _l(status.get("conditions")):
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    conditions = None
    if phase == "Succeeded":
        conditions = [{"type": "Completed", "status": "True", "reason": "Succeeded",
                       "message": "The pod has completed successfully."}]
    elif phase == "Failed":
        conditions = [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]

    def later(a: datetime | None, b: Any) -> datetime | None:
        t = parse_time(b)
        return t if t is not None and (a is None or t > a) else a

    initializing = False
    init_statuses = _l(status.get("initContainerStatuses"))
    for i, cs in enumerate(init_statuses):
        state, last = _d(cs.get("state")), _d(cs.get("lastState"))
        restarts += int(cs.get("restartCount") or 0)
        term_last = _d(last.get("terminated"))
        if term_last:
            last_restart = later(last_restart, term_last.get("finishedAt"))
        sidecar = _is_restartable_init(init_specs.get(cs.get("name")))
        if sidecar:
            sidecar_restarts += int(cs.get("restartCount") or 0)
            if term_last:
                last_sidecar_restart = later(last_sidecar_restart, term_last.get("finishedAt"))
        term, waiting = state.get("terminated"), state.get("waiting")
        if isinstance(term, dict) and int(term.get("exitCode") or 0) == 0:
            continue
        if sidecar and cs.get("started"):
            if cs.get("ready"):
                ready += 1
            continue
        if isinstance(term, dict):
            if not term.get("reason"):
                reason = (f"Init:Signal:{term['signal']}" if term.get("signal")
                          else f"Init:ExitCode:{int(term.get('exitCode') or 0)}")
            else:
                reason = "Init:" + term["reason"]
        elif isinstance(waiting, dict) and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    initialized = any(c.get("type") == "Initialized" and c.get("status") == "True"
                      for c in _l(status.get("conditions")))
    if not initializing or initialized:
        restarts, last_restart = sidecar_restarts, last_sidecar_restart
        has_running = False
        for cs in reversed(_l(status.get("containerStatuses"))):
            state, last = _d(cs.get("state")), _d(cs.get("lastState"))
            restarts += int(cs.get("restartCount") or 0)
            term_last = _d(last.get("terminated"))
            if term_last:
                last_restart = later(last_restart, term_last.get("finishedAt"))
            waiting, term = _d(state.get("waiting")), state.get("terminated")
            if waiting.get("reason"):
                reason = waiting["reason"]
            elif isinstance(term, dict) and term.get("reason"):
                reason = term["reason"]
            elif isinstance(term, dict):
                reason = (f"Signal:{term['signal']}" if term.get("signal")
                          else f"ExitCode:{int(term.get('exitCode') or 0)}")
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            pod_ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                            for c in _l(status.get("conditions")))
            reason = "Running" if pod_ready else "NotReady"

    if _d(pod.get("metadata")).get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"

    restarts_cell = str(restarts)
    if restarts and last_restart is not None:
        restarts_cell = f"{restarts} ({format_age((now - last_restart).total_seconds())} ago)"

    ips = _l(status.get("podIPs"))
    pod_ip = (ips[0].get("ip") if ips and isinstance(ips[0], dict) else "") or "<none>"
    gates = _l(spec.get("readinessGates"))
    gates_cell = "<none>"
    if gates:
        conds = {c.get("type"): c.get("status") for c in _l(status.get("conditions"))}
        gates_cell = f"{sum(1 for g in gates if conds.get(g.get('conditionType')) == 'True')}/{len(gates)}"
    cells = [_name(pod), f"{ready}/{total}", reason, restarts_cell, _age(pod, now),
             pod_ip, spec.get("nodeName") or "<none>", status.get("nominatedNodeName") or "<none>", gates_cell]
    return cells, conditions


def _lb_ingress(status: dict) -> str:
    found = set()
    for ing in _l(_d(status.get("loadBalancer")).get("ingress")):
        if ing.get("ip"):
            found.add(ing["ip"])
        elif ing.get("hostname"):
            found.add(ing["hostname"])
    return ",".join(sorted(found))


def service_external_ip(svc: dict) -> str:
    spec = _d(svc.get("spec"))
    external = [str(x) for x in _l(spec.get("externalIPs"))]
    stype = spec.get("type") or "ClusterIP"
    if stype in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if stype == "LoadBalancer":
        lb = _lb_ingress(_d(svc.get("status")))
        if external:
            return ",".join((lb.split(",") if lb else []) + external)
        return lb or "<pending>"
    if stype == "ExternalName":
        return spec.get("externalName") or ""
    return "<unknown>"


def service_ports(ports: list) -> str:
    """`3000:31000/TCP,53/UDP` as kubectl prints PORT(S)."""
    pieces = []
    for p in ports:
        p = _d(p)
        proto = p.get("protocol") or "TCP"
        if p.get("nodePort"):
            pieces.append(f"{p.get('port')}:{p['nodePort']}/{proto}")
        else:
            pieces.append(f"{p.get('port')}/{proto}")
    return ",".join(pieces)


def _service_cells(svc: dict, now: datetime) -> list[Any]:
    spec = _d(svc.get("spec"))
    ips = _l(spec.get("clusterIPs")) or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return [_name(svc), spec.get("type") or "ClusterIP", ips[0] if ips else "<none>", service_external_ip(svc),
            service_ports(_l(spec.get("ports"))) or "<none>", _age(svc, now), format_labels(spec.get("selector"))]


def format_endpoints(ep: dict) -> str:
    """`10.244.0.5:6379,10.244.0.6:6379 + 1 more...` (at most 3 shown), `<none>` without subsets."""
    subsets = _l(ep.get("subsets"))
    if not subsets:
        return "<none>"
    shown: list[str] = []
    limit, more, count = 3, False, 0
    for ss in subsets:
        ss = _d(ss)
        addresses = _l(ss.get("addresses"))
        ports = _l(ss.get("ports"))
        if not ports:
            count += len(addresses)
            for a in addresses:
                if len(shown) == limit:
                    more = True
                    break
                shown.append(a.get("ip", ""))
            continue
        for port in ports:
            count += len(addresses)
            for a in addresses:
                if len(shown) == limit:
                    more = True
                    break
                ip = a.get("ip", "")
                host = f"[{ip}]" if ":" in ip else ip
                shown.append(f"{host}:{_d(port).get('port')}")
    text = ",".join(shown)
    return f"{text} + {count - limit} more..." if more else text


def _endpoints_cells(ep: dict, now: datetime) -> list[Any]:
    return [_name(ep), format_endpoints(ep), _age(ep, now)]


def _list_with_more(items: list[str], count: int, limit: int = 3) -> str:
    """printers' `listWithMoreString`: the first *limit* joined by commas, `+ N more...`, `<unset>` if none."""
    text = ",".join(items[:limit])
    if count > limit:
        return f"{text} + {count - limit} more..."
    return text or "<unset>"


def format_slice_ports(ports: Any) -> str:
    """`formatDiscoveryPorts`: each port's number (its name when the number is unset, `*` for neither)."""
    cells = []
    for p in _l(ports):
        p = _d(p)
        cells.append(str(p["port"]) if p.get("port") is not None else (p["name"] if p.get("name") is not None
                                                                        else "*"))
    return _list_with_more(cells, len(cells))


def format_slice_endpoints(endpoints: Any) -> str:
    """`formatDiscoveryEndpoints`: every address of every endpoint, ready or not."""
    addresses = [str(a) for ep in _l(endpoints) for a in _l(_d(ep).get("addresses"))]
    return _list_with_more(addresses, len(addresses))


def _endpointslice_cells(es: dict, now: datetime) -> list[Any]:
    return [_name(es), es.get("addressType") or "", format_slice_ports(es.get("ports")),
            format_slice_endpoints(es.get("endpoints")), _age(es, now)]


def _containers_and_images(template: dict) -> tuple[str, str]:
    containers = _l(_d(_d(template).get("spec")).get("containers"))
    return (",".join(c.get("name", "") for c in containers if isinstance(c, dict)),
            ",".join(c.get("image", "") for c in containers if isinstance(c, dict)))


def _selector_string(sel: Any, empty: str) -> str:
    try:
        text = str(label_selector_from_spec(sel))
    except ValueError:
        return "<invalid>"
    return text or empty


def _deployment_cells(d: dict, now: datetime) -> list[Any]:
    spec, status = _d(d.get("spec")), _d(d.get("status"))
    names, images = _containers_and_images(spec.get("template"))
    desired = spec.get("replicas", 1)
    return [_name(d), f"{int(status.get('readyReplicas') or 0)}/{int(desired or 0)}",
            int(status.get("updatedReplicas") or 0), int(status.get("availableReplicas") or 0), _age(d, now),
            names, images, _selector_string(spec.get("selector"), "")]


def _replicaset_cells(rs: dict, now: datetime) -> list[Any]:
    spec, status = _d(rs.get("spec")), _d(rs.get("status"))
    names, images = _containers_and_images(spec.get("template"))
    return [_name(rs), int(spec.get("replicas", 1) or 0), int(status.get("replicas") or 0),
            int(status.get("readyReplicas") or 0), _age(rs, now), names, images,
            _selector_string(spec.get("selector"), "<none>")]


def node_roles(node: dict) -> str:
    roles = set()
    for k, v in _d(_d(node.get("metadata")).get("labels")).items():
        if k.startswith("node-role.kubernetes.io/") and k[len("node-role.kubernetes.io/"):]:
            roles.add(k[len("node-role.kubernetes.io/"):])
        elif k == "kubernetes.io/role" and v:
            roles.add(v)
    return ",".join(sorted(roles)) or "<none>"


def _node_cells(node: dict, now: datetime) -> list[Any]:
    spec, status = _d(node.get("spec")), _d(node.get("status"))
    states = []
    for cond in _l(status.get("conditions")):
        if cond.get("type") == "Ready":
            states = ["Ready" if cond.get("status") == "True" else "NotReady"]
    if not states:
        states = ["Unknown"]
    if spec.get("unschedulable"):
        states.append("SchedulingDisabled")
    info = _d(status.get("nodeInfo"))

    def address(kind: str) -> str:
        for a in _l(status.get("addresses")):
            if a.get("type") == kind:
                return a.get("address", "")
        return "<none>"

    return [_name(node), ",".join(states), node_roles(node), _age(node, now), info.get("kubeletVersion", ""),
            address("InternalIP"), address("ExternalIP"), info.get("osImage") or "<unknown>",
            info.get("kernelVersion") or "<unknown>", info.get("containerRuntimeVersion") or "<unknown>"]


def _event_cells(ev: dict, now: datetime) -> list[Any]:
    first = _since(ev.get("firstTimestamp"), now) if ev.get("firstTimestamp") else _since(ev.get("eventTime"), now)
    last = _since(ev.get("lastTimestamp"), now) if ev.get("lastTimestamp") else first
    count = ev.get("count") or 0
    series = ev.get("series")
    if isinstance(series, dict):
        last = _since(series.get("lastObservedTime"), now)
        count = series.get("count") or 0
    elif count == 0:
        count = 1
    inv = _d(ev.get("involvedObject"))
    kind = (inv.get("kind") or "").lower()
    target = f"{kind}/{inv['name']}" if inv.get("name") else kind
    source = _d(ev.get("source"))
    component = source.get("component") or ev.get("reportingComponent") or ""
    instance = source.get("host") or ev.get("reportingInstance") or ""
    source_cell = f"{component}, {instance}" if instance else component
    return [last, ev.get("type", ""), ev.get("reason", ""), target, inv.get("fieldPath", ""), source_cell,
            (ev.get("message") or "").strip(), first, int(count), _name(ev)]


def _ingress_cells(ing: dict, now: datetime) -> list[Any]:
    spec = _d(ing.get("spec"))
    rules = _l(spec.get("rules"))
    hosts: list[str] = []
    more = False
    for r in rules:
        if len(hosts) == 3:
            more = True
        if not more and _d(r).get("host"):
            hosts.append(r["host"])
    hosts_cell = "*" if not hosts else ",".join(hosts) + (f" + {len(rules) - 3} more..." if more else "")
    ports = "80, 443" if _l(spec.get("tls")) else "80"
    return [_name(ing), spec.get("ingressClassName") or "<none>", hosts_cell, _lb_ingress(_d(ing.get("status"))),
            ports, _age(ing, now)]


def _ingressclass_cells(ic: dict, now: datetime) -> list[Any]:
    spec = _d(ic.get("spec"))
    params = spec.get("parameters")
    cell = "<none>"
    if isinstance(params, dict):
        cell = params.get("kind", "")
        if params.get("apiGroup"):
            cell += "." + params["apiGroup"]
        cell += "/" + params.get("name", "")
    return [_name(ic), spec.get("controller", ""), cell, _age(ic, now)]


_CELLS: dict[str, Callable[[dict, datetime], list[Any]]] = {
    "services": _service_cells,
    "endpoints": _endpoints_cells,
    "endpointslices": _endpointslice_cells,
    "deployments": _deployment_cells,
    "replicasets": _replicaset_cells,
    "nodes": _node_cells,
    "namespaces": lambda o, now: [_name(o), _d(o.get("status")).get("phase", ""), _age(o, now)],
    "configmaps": lambda o, now: [_name(o), len(_d(o.get("data"))) + len(_d(o.get("binaryData"))), _age(o, now)],
    "secrets": lambda o, now: [_name(o), o.get("type", ""), len(_d(o.get("data"))), _age(o, now)],
    "events": _event_cells,
    "ingresses": _ingress_cells,
    "ingressclasses": _ingressclass_cells,
    "leases": lambda o, now: [_name(o), _d(o.get("spec")).get("holderIdentity") or "", _age(o, now)],
    # printers.go printServiceAccount: the number of `secrets` (an int64 cell under a "string" column)
    "serviceaccounts": lambda o, now: [_name(o), len(_l(o.get("secrets"))), _age(o, now)],
}


# --- the Table ------------------------------------------------------------------------------------

def _row_object(resource: Resource, obj: dict, include_object: str) -> dict | None:
    if include_object == "None":
        return None
    if include_object == "Metadata":
        return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                "metadata": obj.get("metadata") or {}}
    return {"kind": resource.kind, "apiVersion": resource.api_version, **obj}


def to_table(resource: Resource, objs: list[dict], include_object: str = "Object", now: datetime | None = None,
             resource_version: str | None = None) -> dict:
    """A `meta.k8s.io/v1 Table` of *objs* with kubectl's server-side columns (wide cells included).

    *include_object* is the `includeObject` query parameter: `Object` (default), `Metadata` or `None`.
    *resource_version* goes into the Table's metadata (kubectl's `get -w` needs it on lists).
    """
    now = now or datetime.now(timezone.utc)
    rows = []
    for obj in objs:
        conditions = None
        if resource.plural == "pods":
            cells, conditions = _pod_cells(obj, now)
        elif resource.plural in _CELLS:
            cells = _CELLS[resource.plural](obj, now)
        else:
            cells = [_name(obj), _age(obj, now)]
        row: dict[str, Any] = {"cells": cells}
        if conditions:
            row["conditions"] = conditions
        row_obj = _row_object(resource, obj, include_object)
        if row_obj is not None:
            row["object"] = row_obj
        rows.append(row)
    metadata = {"resourceVersion": resource_version} if resource_version else {}
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata,
            "columnDefinitions": [dict(c) for c in COLUMNS.get(resource.plural, _DEFAULT_COLUMNS)], "rows": rows}


# --- text rendering -------------------------------------------------------------------------------

def _cell_text(v: Any) -> str:
    if v is None:
        return "<none>"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def render_text(table: dict, wide: bool = False, show_labels: bool = False, no_headers: bool = False,
                namespace_column: bool = False) -> str:
    """The Table as kubectl prints it: uppercase headers, columns padded to the widest cell + 3 spaces
    (tabwriter: min width 6, padding 3), the last column unpadded; `-o wide` shows priority-1 columns."""
    cols = table.get("columnDefinitions") or []
    keep = [i for i, c in enumerate(cols) if wide or not c.get("priority")]
    headers = [cols[i]["name"].upper() for i in keep]
    lines: list[list[str]] = []
    for row in table.get("rows") or []:
        cells = row.get("cells") or []
        line = [_cell_text(cells[i]) if i < len(cells) else "" for i in keep]
        meta = _d(_d(row.get("object")).get("metadata"))
        if namespace_column:
            line.insert(0, meta.get("namespace", ""))
        if show_labels:
            line.append(format_labels(meta.get("labels")))
        lines.append(line)
    if namespace_column:
        headers.insert(0, "NAMESPACE")
    if show_labels:
        headers.append("LABELS")
    if not no_headers:
        lines.insert(0, headers)
    if not lines:
        return ""
    ncols = max(len(line) for line in lines)
    widths = [0] * ncols
    for line in lines:
        for i, cell in enumerate(line[:-1]):
            widths[i] = max(widths[i], len(cell))
    out = []
    for line in lines:
        parts = [cell.ljust(max(6, widths[i] + 3)) if i < len(line) - 1 else cell for i, cell in enumerate(line)]
        out.append("".join(parts))
    return "\n".join(out) + "\n"
