"""The node-local network of a joining node, made in the *current* network namespace.

`minikube-py start` builds a local node from the host (network.py: namespace, veth, then the inside). A
node that *joins* — a Vagrant VM, or a namespace someone prepared with a link to the node network — is
already connected; what it still needs is the inside part, which `join` makes here, in whatever namespace
it runs in (the VM's root namespace, or the test's namespace via `ip netns exec`):

    unreachable <cluster pod CIDR>  metric 4242     nothing for the cluster leaves by the default route
    unreachable <service CIDR>      metric 4242
    cni0 <pod CIDR>.1               the pods' gateway (alias `minikube-py:<profile>` marks it ours)
    net.ipv4.ip_forward=1
    net.bridge.bridge-nf-call-iptables=1            only where br_netfilter is loaded
    <service CIDR> dev cni0         the node itself reaches ClusterIPs through the proxy's rules
    DOCKER-USER (or FORWARD when its policy is DROP): accept -i cni0 / -o cni0
                                    Docker sets FORWARD to DROP on a VM; pod traffic to and from other
                                    nodes is forwarded between cni0 and the node interface

Same Step protocol as network.py (present/execute/undo) so `network.execute_plan`/`undo_plan` run it and
a failure undoes what this run made. The plan is a pure function of the spec and three facts about the
namespace (Docker's chain, the FORWARD policy, br_netfilter), which tests pass explicitly.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from minikube_py.cluster import shell
from minikube_py.cluster.layout import BRIDGE_ALIAS_PREFIX
from minikube_py.cluster.network import (POD_BRIDGE, UNREACHABLE_METRIC, AcceptRule, Route, Step, Sysctl,
                                         docker_user_chain_exists, has_address, link_is_up)

BR_NETFILTER_SYSCTL = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")


@dataclass(frozen=True)
class NamespaceFacts:
    """What the plan depends on in this namespace."""

    docker_user_chain: bool  # Docker runs here (it made DOCKER-USER)
    forward_policy_drop: bool
    br_netfilter: bool

    @classmethod
    def probe(cls) -> "NamespaceFacts":
        proc = shell.run(["iptables", "-w", "-S", "FORWARD"], check=False)
        drop = "-P FORWARD DROP" in proc.stdout
        return cls(docker_user_chain_exists(), drop, BR_NETFILTER_SYSCTL.exists())


@dataclass
class LocalPodBridge:
    """`cni0` with the pod CIDR's `.1` in the current namespace. Undo deletes it only if its alias says it
    is this profile's (a bridge somebody else made is never removed)."""

    address: str  # "10.244.1.1/24"
    profile: str
    description: str = ""

    def __post_init__(self) -> None:
        self.description = self.description or f"pod bridge {POD_BRIDGE} {self.address}"

    @property
    def alias(self) -> str:
        return BRIDGE_ALIAS_PREFIX + self.profile

    def _link(self) -> dict | None:
        links = shell.ip_json(["link", "show", "dev", POD_BRIDGE])
        return links[0] if links else None

    def present(self) -> bool:
        return link_is_up(POD_BRIDGE) and has_address(POD_BRIDGE, self.address)

    def execute(self) -> None:
        if self._link() is None:
            shell.ip(["link", "add", POD_BRIDGE, "type", "bridge"])
            shell.ip(["link", "set", "dev", POD_BRIDGE, "alias", self.alias])
        shell.ip(["addr", "replace", self.address, "dev", POD_BRIDGE])
        shell.ip(["link", "set", "dev", POD_BRIDGE, "up"])

    def undo(self) -> None:
        link = self._link()
        if link and link.get("ifalias") == self.alias:
            shell.ip(["link", "del", POD_BRIDGE], check=False)


@dataclass
class IfaceAccept(AcceptRule):
    """`iptables -I <chain> -i|-o cni0 -m comment --comment minikube-py:<profile> -j ACCEPT`."""

    chain: str
    direction: str  # "-i" or "-o"
    profile: str
    iface: str = POD_BRIDGE
    description: str = ""

    def __post_init__(self) -> None:
        self.description = self.description or f"iptables {self.chain}: accept {self.direction} {self.iface}"

    def _match(self) -> list[str]:
        return [self.direction, self.iface]


def node_local_steps(*, profile: str, pod_cidr: str, cluster_pod_cidr: str, service_cidr: str,
                     facts: NamespaceFacts) -> list[Step]:
    """The plan for this namespace, in bring-up order (see the module docstring)."""
    net = ipaddress.ip_network(pod_cidr)
    steps: list[Step] = [
        Route(cluster_pod_cidr, kind="unreachable", metric=UNREACHABLE_METRIC),
        Route(service_cidr, kind="unreachable", metric=UNREACHABLE_METRIC),
        LocalPodBridge(f"{net.network_address + 1}/{net.prefixlen}", profile),
        Sysctl("net.ipv4.ip_forward", "1"),
    ]
    if facts.br_netfilter:
        steps.append(Sysctl("net.bridge.bridge-nf-call-iptables", "1"))
    steps.append(Route(service_cidr, dev=POD_BRIDGE))
    chain = "DOCKER-USER" if facts.docker_user_chain else "FORWARD" if facts.forward_policy_drop else None
    if chain:
        steps += [IfaceAccept(chain, "-i", profile), IfaceAccept(chain, "-o", profile)]
    return steps
