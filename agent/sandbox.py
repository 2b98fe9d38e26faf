"""The pod sandbox: a pause container that owns the pod's network namespace, hostname and resolv.conf.

Why a pause container: every app container of the pod joins its namespaces (`network_mode=container:`),
so they share `localhost`, and an app container can crash and restart without the pod losing its IP.
Docker refuses `dns`, `dns_search`, `dns_opt` and `hostname` on a container that joins another's network,
so all pod-level settings go here and the app containers inherit its resolv.conf, hostname and hosts file
(DESIGN.md, "Facts measured"). The pause image runs under tini, so it exits promptly on SIGTERM.

Everything here is pure: names, labels and the DNS settings, so they are unit-tested without Docker.
"""
from __future__ import annotations

import re
from typing import NamedTuple

from minikube_py.config import (CLUSTER_DOMAIN, IMAGES, LABEL_CONTAINER, LABEL_NAMESPACE, LABEL_NODE, LABEL_POD,
                                LABEL_POD_UID, LABEL_PROFILE, LABEL_SANDBOX)

from agent.runtime import LABEL_INIT, LABEL_RESTART_COUNT, ContainerSpec

SANDBOX_CONTAINER = "POD"  # the kubelet's name for the infra container in Docker names


class DnsSettings(NamedTuple):
    nameservers: list[str]
    searches: list[str]
    options: list[str]


def parse_resolv_conf(text: str) -> DnsSettings:
    """The nameserver, search and options lines of a resolv.conf (the node's, for dnsPolicy Default)."""
    ns, search, opts = [], [], []
    for line in text.splitlines():
        parts = line.split("#", 1)[0].split()
        if not parts:
            continue
        if parts[0] == "nameserver" and len(parts) > 1:
            ns.append(parts[1])
        elif parts[0] in ("search", "domain"):
            search = parts[1:]
        elif parts[0] == "options":
            opts.extend(parts[1:])
    return DnsSettings(ns, search, opts)


def dns_settings(pod: dict, dns_service_ip: str, host_resolv: str, cluster_domain: str = CLUSTER_DOMAIN) -> DnsSettings:
    """What the pod's resolv.conf holds, following the kubelet's dnsPolicy rules.

    - ClusterFirst (default): the cluster DNS Service, `<ns>.svc.<domain> svc.<domain> <domain>`, ndots:5
      (hostNetwork pods with ClusterFirst fall back to Default, as in Kubernetes);
    - ClusterFirstWithHostNet: ClusterFirst even with hostNetwork;
    - Default: the node's resolv.conf;
    - None: only `spec.dnsConfig`.
    `spec.dnsConfig` is then merged in: nameservers and searches appended (deduplicated), options by name
    (a later value for the same name wins).
    """
    spec = pod.get("spec") or {}
    ns = (pod.get("metadata") or {}).get("namespace") or "default"
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    if policy == "ClusterFirst" and spec.get("hostNetwork"):
        policy = "Default"
    if policy in ("ClusterFirst", "ClusterFirstWithHostNet"):
        base = DnsSettings([dns_service_ip],
                           [f"{ns}.svc.{cluster_domain}", f"svc.{cluster_domain}", cluster_domain],
                           ["ndots:5"])
    elif policy == "Default":
        base = parse_resolv_conf(host_resolv)
    else:  # None
        base = DnsSettings([], [], [])
    cfg = spec.get("dnsConfig") or {}
    nameservers = _dedup(base.nameservers + list(cfg.get("nameservers") or []))
    searches = _dedup(base.searches + list(cfg.get("searches") or []))
    options: dict[str, str | None] = {}
    for opt in base.options:
        name, _, value = opt.partition(":")
        options[name] = value or None
    for opt in cfg.get("options") or []:
        options[opt.get("name", "")] = opt.get("value")
    rendered = [f"{k}:{v}" if v not in (None, "") else k for k, v in options.items() if k]
    return DnsSettings(nameservers[:3], searches[:32], rendered)


def _dedup(items: list[str]) -> list[str]:
    seen: list[str] = []
    for i in items:
        if i and i not in seen:
            seen.append(i)
    return seen


def _docker_safe(s: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]", "-", s)


def container_name(profile: str, pod: dict, container: str, attempt: int) -> str:
    """A Docker name people can read (`mkpy_<profile>_<container>_<pod>_<ns>_<uid8>_<attempt>`).

    Names are for humans only; the agent finds containers by labels.
    """
    meta = pod["metadata"]
    return _docker_safe(f"mkpy_{profile}_{container}_{meta['name']}_{meta.get('namespace', 'default')}_"
                        f"{meta['uid'][:8]}_{attempt}")


def pod_labels(profile: str, node: str, pod: dict) -> dict[str, str]:
    meta = pod["metadata"]
    return {LABEL_PROFILE: profile, LABEL_NODE: node, LABEL_NAMESPACE: meta.get("namespace") or "default",
            LABEL_POD: meta["name"], LABEL_POD_UID: meta["uid"]}


def container_labels(profile: str, node: str, pod: dict, container: str, attempt: int,
                     init: bool = False) -> dict[str, str]:
    labels = pod_labels(profile, node, pod)
    labels[LABEL_CONTAINER] = container
    labels[LABEL_RESTART_COUNT] = str(attempt)
    if init:
        labels[LABEL_INIT] = "true"
    return labels


def sandbox_spec(profile: str, node: str, pod: dict, dns: DnsSettings, attempt: int = 0,
                 pause_image: str = IMAGES["pause"]) -> ContainerSpec:
    """The pause container of *pod*: no network (we plumb it), hostname = pod name, the pod's DNS."""
    meta = pod["metadata"]
    spec = pod.get("spec") or {}
    labels = pod_labels(profile, node, pod)
    labels[LABEL_SANDBOX] = "true"
    labels[LABEL_CONTAINER] = SANDBOX_CONTAINER
    labels[LABEL_RESTART_COUNT] = str(attempt)
    hostname = spec.get("hostname") or meta["name"]
    hosts = {h: a["ip"] for a in spec.get("hostAliases") or [] for h in a.get("hostnames") or []}
    return ContainerSpec(
        name=container_name(profile, pod, SANDBOX_CONTAINER, attempt), image=pause_image, labels=labels,
        network_mode="none", ipc_mode="shareable", hostname=hostname[:63],
        dns=dns.nameservers or None, dns_search=dns.searches or None, dns_opt=dns.options or None,
        extra_hosts=hosts or None)
