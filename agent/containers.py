"""From a pod's container spec to a Docker container spec: command/args, env, mounts, limits.

Pure, given lookups for ConfigMaps, Secrets and Services, so the Kubernetes semantics are unit-tested:
- `command` replaces the image ENTRYPOINT and `args` replace its CMD (a `command` alone also drops CMD);
- `$(VAR)` in env values, command and args expands from the variables defined before it (`$$` escapes);
- env order: Service links, then `envFrom` (in order), then `env` (later wins);
- a missing ConfigMap/Secret or key that isn't `optional` is a `ConfigError`, which the pod sync reports
  as the waiting reason `CreateContainerConfigError`.
"""
from __future__ import annotations

import base64
import re
from fractions import Fraction
from typing import Callable

from minikube_py.api.quantity import parse_quantity

Lookup = Callable[[str, str], "dict | None"]


class ConfigError(Exception):
    """The container can't be configured yet (missing ConfigMap/Secret/key)."""


_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(value: str, env: dict[str, str]) -> str:
    """Kubernetes `$(VAR)` expansion: defined names are replaced, unknown references stay as written."""
    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env[name] if name in env else m.group(0)

    return _VAR_REF.sub(sub, value)


def field_ref_value(pod: dict, path: str, host_ip: str, pod_ip: str) -> str:
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    simple = {
        "metadata.name": meta.get("name", ""), "metadata.namespace": meta.get("namespace", "default"),
        "metadata.uid": meta.get("uid", ""), "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""), "status.hostIP": host_ip,
        "status.hostIPs": host_ip, "status.podIP": pod_ip, "status.podIPs": pod_ip,
    }
    if path in simple:
        return simple[path]
    m = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
    if m:
        return (meta.get(m.group(1)) or {}).get(m.group(2), "")
    raise ConfigError(f"unsupported fieldRef {path!r}")


def _decoded(kind: str, obj: dict) -> dict[str, str]:
    if kind == "ConfigMap":
        return dict(obj.get("data") or {})
    out = {k: base64.b64decode(v).decode(errors="replace") for k, v in (obj.get("data") or {}).items()}
    out.update(obj.get("stringData") or {})
    return out


def service_env(services: list[dict]) -> dict[str, str]:
    """Docker-link style variables for Services (`REDIS_SERVICE_HOST`, `REDIS_PORT_6379_TCP`, …)."""
    env: dict[str, str] = {}
    for svc in sorted(services, key=lambda s: s["metadata"]["name"]):
        spec = svc.get("spec") or {}
        ip = spec.get("clusterIP")
        if not ip or ip == "None" or spec.get("type") == "ExternalName":
            continue
        name = svc["metadata"]["name"].upper().replace("-", "_")
        ports = spec.get("ports") or []
        if not ports:
            continue
        env[f"{name}_SERVICE_HOST"] = ip
        env[f"{name}_SERVICE_PORT"] = str(ports[0]["port"])
        for p in ports:
            if p.get("name"):
                env[f"{name}_SERVICE_PORT_{p['name'].upper().replace('-', '_')}"] = str(p["port"])
        first = ports[0]
        env[f"{name}_PORT"] = f"{first.get('protocol', 'TCP').lower()}://{ip}:{first['port']}"
        for p in ports:
            proto = p.get("protocol", "TCP")
            prefix = f"{name}_PORT_{p['port']}_{proto.upper()}"
            env[prefix] = f"{proto.lower()}://{ip}:{p['port']}"
            env[f"{prefix}_PROTO"] = proto.lower()
            env[f"{prefix}_PORT"] = str(p["port"])
            env[f"{prefix}_ADDR"] = ip
    return env


def resolve_env(pod: dict, container: dict, *, get_configmap: Lookup, get_secret: Lookup,
                services: list[dict] | None = None, host_ip: str = "", pod_ip: str = "") -> dict[str, str]:
    """The container's environment, in Kubernetes order; raises ConfigError."""
    ns = pod["metadata"].get("namespace") or "default"
    env: dict[str, str] = {}
    if (pod.get("spec") or {}).get("enableServiceLinks", True) and services:
        env.update(service_env(services))
    for src in container.get("envFrom") or []:
        prefix = src.get("prefix", "")
        for kind, key, lookup in (("ConfigMap", "configMapRef", get_configmap), ("Secret", "secretRef", get_secret)):
            ref = src.get(key)
            if not ref:
                continue
            obj = lookup(ns, ref.get("name", ""))
            if obj is None:
                if ref.get("optional"):
                    continue
                raise ConfigError(f'{kind.lower()} "{ref.get("name")}" not found')
            for k, v in _decoded(kind, obj).items():
                env[prefix + k] = v
    for item in container.get("env") or []:
        name = item["name"]
        if "valueFrom" not in item:
            env[name] = expand(str(item.get("value", "")), env)
            continue
        vf = item["valueFrom"] or {}
        if "fieldRef" in vf:
            env[name] = field_ref_value(pod, vf["fieldRef"].get("fieldPath", ""), host_ip, pod_ip)
        elif "configMapKeyRef" in vf or "secretKeyRef" in vf:
            kind, ref, lookup = (("ConfigMap", vf["configMapKeyRef"], get_configmap) if "configMapKeyRef" in vf
                                 else ("Secret", vf["secretKeyRef"], get_secret))
            obj = lookup(ns, ref.get("name", ""))
            if obj is None:
                if ref.get("optional"):
                    continue
                raise ConfigError(f'{kind.lower()} "{ref.get("name")}" not found')
            data = _decoded(kind, obj)
            if ref.get("key") not in data:
                if ref.get("optional"):
                    continue
                raise ConfigError(f"couldn't find key {ref.get('key')} in {kind} {ns}/{ref.get('name')}")
            env[name] = data[ref["key"]]
        elif "resourceFieldRef" in vf:
            env[name] = _resource_field(container, vf["resourceFieldRef"])
    return env


def _resource_field(container: dict, ref: dict) -> str:
    section, _, res = ref.get("resource", "").partition(".")
    value = ((container.get("resources") or {}).get(section) or {}).get(res)
    if value is None:
        return "0"
    q = parse_quantity(value)
    divisor = parse_quantity(ref.get("divisor", "1"))
    return str(-(-q // divisor))  # ceil, as the kubelet does


def entrypoint_and_cmd(container: dict, env: dict[str, str]) -> tuple[list[str] | None, list[str] | None]:
    """(entrypoint, cmd) for Docker; None keeps the image's value."""
    command = container.get("command")
    args = container.get("args")
    ep = [expand(c, env) for c in command] if command else None
    cmd = [expand(a, env) for a in args] if args else None
    if ep is not None and cmd is None:
        cmd = []  # `command` without `args` ignores the image's CMD, as in Kubernetes
    return ep, cmd


def memory_limit(container: dict) -> int | None:
    value = ((container.get("resources") or {}).get("limits") or {}).get("memory")
    return int(parse_quantity(value)) if value is not None else None


def nano_cpus(container: dict) -> int | None:
    value = ((container.get("resources") or {}).get("limits") or {}).get("cpu")
    if value is None:
        return None
    return max(1, int(parse_quantity(value) * Fraction(10**9)))
