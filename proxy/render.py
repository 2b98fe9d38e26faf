"""Render the proxy's whole iptables ruleset for one node as `iptables-restore` text (pure).

Why the whole ruleset, every time: it is how kube-proxy's iptables mode stays correct. Computing "the rules
that changed" means trusting a model of what the kernel holds; rendering everything from the desired state
and loading it with one `iptables-restore --noflush` needs no such trust, and each `*table … COMMIT` block is
applied atomically, so a packet never sees half a service. `--noflush` plus declaring only our chains
(`:CHAIN - [0:0]` flushes a chain) means rules that are not ours — Docker's, the admin's — are never touched.

The shapes follow kube-proxy (`pkg/proxy/iptables/proxier.go`):

    nat  PREROUTING/OUTPUT → KUBE-SERVICES
           -d <clusterIP> --dport <port>        → KUBE-SVC-<hash>
           -d <external/LB IP> --dport <port>   → KUBE-EXT-<hash>
           (last) --dst-type LOCAL              → KUBE-NODEPORTS  --dport <nodePort> → KUBE-EXT-<hash>
         KUBE-EXT-<hash>: mark for masquerade, → KUBE-SVC-<hash>
           (externalTrafficPolicy: Local) pod-CIDR sources → KUBE-SVC; the node's own traffic: masquerade,
           → KUBE-SVC; everything else, unmasqueraded (the client IP is kept) → KUBE-SVL-<hash>: only this
           node's endpoints, DROP when it has none — so a NodePort never forwards to another node
         KUBE-SVC-<hash>: mark traffic not from the pod CIDR, then pick an endpoint:
           1/n, 1/(n-1), … (the last unconditional) → KUBE-SEP-<hash>
         KUBE-SEP-<hash>: hairpin mark (the pod talking to itself), DNAT to ip:port
         POSTROUTING → KUBE-POSTROUTING: MASQUERADE what was marked (0x4000)
         PREROUTING/OUTPUT (--dst-type LOCAL) → KUBE-HOSTPORTS → KUBE-HP-<hash>: DNAT to podIP:containerPort
    filter INPUT/OUTPUT/FORWARD (NEW) → KUBE-SERVICES: REJECT services with no ready endpoint
           FORWARD → KUBE-FORWARD: accept marked and established service traffic

Chain names are a prefix plus the first 16 characters of base32(sha256(...)) because iptables chain names
are limited to 28 characters and service names are not.
"""
from __future__ import annotations

import base64
import hashlib
from typing import Iterable

from proxy.state import HostPort, ProxyState, ServicePort

MASQ_MARK = "0x4000"

# Chains every ruleset declares (and so flushes and refills).
NAT_FIXED_CHAINS = ("KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ", "KUBE-HOSTPORTS")
FILTER_FIXED_CHAINS = ("KUBE-SERVICES", "KUBE-FORWARD")
# Per-service/per-endpoint chains: anything with these prefixes in the nat table is ours.
OUR_CHAIN_PREFIXES = ("KUBE-SVC-", "KUBE-SVL-", "KUBE-SEP-", "KUBE-EXT-", "KUBE-HP-")


def is_our_chain(name: str) -> bool:
    """True for chains this proxy creates. Stale-chain deletion is filtered through this, so a chain that
    merely exists in the table (Docker's, a user's) is never deleted."""
    return name in NAT_FIXED_CHAINS or name in FILTER_FIXED_CHAINS or name.startswith(OUR_CHAIN_PREFIXES)


# --- chain names ---------------------------------------------------------------------------------------
def _hash16(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


def svc_chain(sp: ServicePort) -> str:
    return "KUBE-SVC-" + _hash16(sp.service_port_name + sp.proto)


def ext_chain(sp: ServicePort) -> str:
    return "KUBE-EXT-" + _hash16(sp.service_port_name + sp.proto)


def svl_chain(sp: ServicePort) -> str:
    return "KUBE-SVL-" + _hash16(sp.service_port_name + sp.proto)


def sep_chain(sp: ServicePort, endpoint: str) -> str:
    return "KUBE-SEP-" + _hash16(sp.service_port_name + sp.proto + endpoint)


def hostport_chain(hp: HostPort) -> str:
    return "KUBE-HP-" + _hash16(str(hp.host_port) + hp.proto + hp.pod_full_name)


def _comment(text: str) -> str:
    """`-m comment --comment …`, quoted when it has spaces (iptables-restore splits on whitespace)."""
    return f'-m comment --comment "{text}"' if " " in text else f"-m comment --comment {text}"


# --- rendering -----------------------------------------------------------------------------------------
def render_nat_rules(state: ProxyState, existing_chains: Iterable[str] = ()) -> str:
    """The proxy's whole ruleset for one node: a `*filter` block and a `*nat` block for
    `iptables-restore --noflush`.

    *existing_chains* are the nat chains the table holds now (the applier reads them with
    `iptables-save`); those of ours that the new ruleset no longer needs are flushed and deleted (`-X`)
    in the same atomic transaction.
    """
    return render_filter_table(state) + render_nat_table(state, existing_chains)


def render_filter_table(state: ProxyState) -> str:
    rules: list[str] = []
    for sp in state.services:
        if sp.endpoints:
            continue
        # No ready endpoint: answer at once with "connection refused" instead of letting clients time out.
        reject = "-j REJECT --reject-with icmp-port-unreachable"
        match = f"-p {sp.proto} -m {sp.proto}"
        what = f"{sp.service_port_name} has no endpoints"
        rules.append(f"-A KUBE-SERVICES {_comment(what)} -d {sp.cluster_ip}/32 {match} --dport {sp.port} {reject}")
        for ip in sp.external_ips + sp.load_balancer_ips:
            rules.append(f"-A KUBE-SERVICES {_comment(what)} -d {ip}/32 {match} --dport {sp.port} {reject}")
        if sp.node_port:
            rules.append(f"-A KUBE-SERVICES {_comment(what)} -m addrtype --dst-type LOCAL {match} "
                         f"--dport {sp.node_port} {reject}")
    rules += [
        f'-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark {MASQ_MARK}/{MASQ_MARK} '
        f"-j ACCEPT",
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" '
        "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    ]
    chains = [f":{c} - [0:0]" for c in FILTER_FIXED_CHAINS]
    return "\n".join(["*filter", *chains, *rules, "COMMIT", ""])


def render_nat_table(state: ProxyState, existing_chains: Iterable[str] = ()) -> str:
    chains: list[str] = list(NAT_FIXED_CHAINS)
    rules: list[str] = [
        f"-A KUBE-POSTROUTING -m mark ! --mark {MASQ_MARK}/{MASQ_MARK} -j RETURN",
        # Clear the mark so a packet re-traversing the stack (e.g. through a tunnel) isn't masqueraded twice.
        f"-A KUBE-POSTROUTING -j MARK --xor-mark {MASQ_MARK}",
        '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" '
        "-j MASQUERADE --random-fully",
        f"-A KUBE-MARK-MASQ -j MARK --or-mark {MASQ_MARK}",
    ]
    for sp in state.services:
        if sp.endpoints:
            _service_rules(sp, state.cluster_cidr, chains, rules, state.node_name)
    for hp in state.host_ports:
        _hostport_rules(hp, chains, rules)
    rules.append('-A KUBE-SERVICES -m comment --comment '
                 '"kubernetes service nodeports; NOTE: this must be the last rule in this chain" '
                 "-m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS")
    wanted = set(chains)
    stale = sorted(c for c in set(existing_chains) if is_our_chain(c) and c not in wanted)
    # Declaring a stale chain flushes it, so by the `-X` at the end nothing references it any more.
    declarations = [f":{c} - [0:0]" for c in chains + stale]
    deletions = [f"-X {c}" for c in stale]
    return "\n".join(["*nat", *declarations, *rules, *deletions, "COMMIT", ""])


def _pick_endpoint_rules(chain: str, name: str, seps: list[tuple[str, str]], rules: list[str]) -> None:
    """Jump to one of *seps* uniformly: endpoint i of n is taken with probability 1/(n-i) among those not
    yet skipped."""
    n = len(seps)
    for i, (ep, sep) in enumerate(seps):
        chance = f"-m statistic --mode random --probability {1.0 / (n - i):.10f} " if i < n - 1 else ""
        rules.append(f'-A {chain} {_comment(name + " -> " + ep)} {chance}-j {sep}')


def _service_rules(sp: ServicePort, cluster_cidr: str, chains: list[str], rules: list[str],
                   node_name: str = "") -> None:
    name = sp.service_port_name
    svc = svc_chain(sp)
    ext = ext_chain(sp)
    match = f"-p {sp.proto} -m {sp.proto}"
    chains.append(svc)
    has_external = bool(sp.node_port or sp.external_ips or sp.load_balancer_ips)
    if has_external:
        chains.append(ext)

    # Entry points.
    rules.append(f'-A KUBE-SERVICES {_comment(name + " cluster IP")} -d {sp.cluster_ip}/32 {match} '
                 f"--dport {sp.port} -j {svc}")
    for ip in sp.external_ips:
        rules.append(f'-A KUBE-SERVICES {_comment(name + " external IP")} -d {ip}/32 {match} '
                     f"--dport {sp.port} -j {ext}")
    for ip in sp.load_balancer_ips:
        rules.append(f'-A KUBE-SERVICES {_comment(name + " loadbalancer IP")} -d {ip}/32 {match} '
                     f"--dport {sp.port} -j {ext}")
    if sp.node_port:
        rules.append(f"-A KUBE-NODEPORTS {_comment(name)} {match} --dport {sp.node_port} -j {ext}")

    if has_external and sp.external_local:
        # Local policy: pods and the node itself still get the whole service; outside clients only this
        # node's endpoints, with their source address kept.
        svl = svl_chain(sp)
        chains.append(svl)
        rules.append(f'-A {ext} {_comment("pod traffic for " + name + " external destinations")} '
                     f"-s {cluster_cidr} -j {svc}")
        rules.append(f'-A {ext} {_comment("masquerade LOCAL traffic for " + name + " external destinations")} '
                     f"-m addrtype --src-type LOCAL -j KUBE-MARK-MASQ")
        rules.append(f'-A {ext} {_comment("route LOCAL traffic for " + name + " external destinations")} '
                     f"-m addrtype --src-type LOCAL -j {svc}")
        rules.append(f"-A {ext} -j {svl}")
        local = [(str(ep), sep_chain(sp, str(ep))) for ep in sp.endpoints if ep.node_name == node_name]
        if local:
            _pick_endpoint_rules(svl, name, local, rules)
        else:
            rules.append(f'-A {svl} {_comment(name + " has no local endpoints")} -j DROP')
    # External traffic: always masquerade (the client is not in the pod network), then the service.
    elif has_external:
        rules.append(f'-A {ext} {_comment("masquerade traffic for " + name + " external destinations")} '
                     f"-j KUBE-MARK-MASQ")
        rules.append(f"-A {ext} -j {svc}")

    # Cluster IP traffic from outside the pod network (the node itself, the host) must come back here.
    rules.append(f'-A {svc} {_comment(name + " cluster IP")} -d {sp.cluster_ip}/32 {match} --dport {sp.port} '
                 f"! -s {cluster_cidr} -j KUBE-MARK-MASQ")

    seps = [(str(ep), sep_chain(sp, str(ep))) for ep in sp.endpoints]
    if sp.affinity_seconds:
        # A client seen recently goes back to the same endpoint; `--reap` keeps the recent list bounded.
        for ep, sep in seps:
            rules.append(f'-A {svc} {_comment(name + " -> " + ep)} -m recent --name {sep} --rcheck '
                         f"--seconds {sp.affinity_seconds} --reap -j {sep}")
    _pick_endpoint_rules(svc, name, seps, rules)

    for ep, sep in seps:
        chains.append(sep)
        ip = ep.rsplit(":", 1)[0]
        recent = f"-m recent --name {sep} --set " if sp.affinity_seconds else ""
        # Hairpin: a pod reaching itself through the service must be masqueraded, or it would answer itself
        # from its own address and the connection would never match.
        rules.append(f"-A {sep} {_comment(name)} -s {ip}/32 -j KUBE-MARK-MASQ")
        rules.append(f"-A {sep} {_comment(name)} {recent}{match} -j DNAT --to-destination {ep}")


def _hostport_rules(hp: HostPort, chains: list[str], rules: list[str]) -> None:
    chain = hostport_chain(hp)
    chains.append(chain)
    what = f"{hp.namespace}/{hp.pod} hostport {hp.host_port}"
    match = f"-p {hp.proto} -m {hp.proto}"
    dest = f"-d {hp.host_ip}/32 " if hp.host_ip else ""
    rules.append(f'-A KUBE-HOSTPORTS {_comment(what)} {dest}{match} --dport {hp.host_port} -j {chain}')
    # Hairpin (the pod reaching its own hostPort) and connections made from the node itself (whose source
    # is a local address the pod would answer directly) are masqueraded.
    rules.append(f'-A {chain} {_comment(what)} -s {hp.pod_ip}/32 -j KUBE-MARK-MASQ')
    rules.append(f'-A {chain} {_comment(what)} -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ')
    rules.append(f'-A {chain} {_comment(what)} {match} -j DNAT --to-destination {hp.pod_ip}:{hp.container_port}')


def render_ipvs_support_rules(state: ProxyState, existing_chains: Iterable[str] = ()) -> str:
    """The iptables half of IPVS mode: IPVS does the load balancing, but masquerading (off-cluster clients
    of a cluster IP, every external/LB/NodePort client), the REJECTs and hostPorts are still iptables.
    Same chains and jumps as iptables mode, minus the per-service KUBE-SVC/SEP/EXT chains."""
    rules: list[str] = []
    for sp in state.services:
        match = f"-p {sp.proto} -m {sp.proto}"
        name = sp.service_port_name
        rules.append(f'-A KUBE-SERVICES {_comment(name + " cluster IP")} -d {sp.cluster_ip}/32 {match} '
                     f"--dport {sp.port} ! -s {state.cluster_cidr} -j KUBE-MARK-MASQ")
        for ip in sp.external_ips + sp.load_balancer_ips:
            rules.append(f'-A KUBE-SERVICES {_comment(name + " external IP")} -d {ip}/32 {match} '
                         f"--dport {sp.port} -j KUBE-MARK-MASQ")
        if sp.node_port:
            rules.append(f"-A KUBE-NODEPORTS {_comment(name)} {match} --dport {sp.node_port} -j KUBE-MARK-MASQ")
    without_services = ProxyState(services=(), host_ports=state.host_ports, cluster_cidr=state.cluster_cidr,
                                  node_ip=state.node_ip)
    nat = render_nat_table(without_services, existing_chains)
    last = '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports'
    head, sep, tail = nat.partition(last)
    return render_filter_table(state) + head + "".join(r + "\n" for r in rules) + sep + tail
