"""The host side of the cluster network, as an ordered list of steps (kind-style Actions).

Every step knows how to check whether it is already in place (`present`), how to make it (`execute`, a
no-op when present) and how to remove it (`undo`, a no-op when absent). Bring-up *plans* the steps
from the config first, then executes them in order; on failure it undoes what this run made (unless asked
to keep it for debugging). Teardown re-plans from the saved config and undoes every step in reverse, so
`stop`/`delete` remove exactly what `start` made even after a crash that lost the in-memory record.

The order matters for safety: the `unreachable` routes for the node, pod and service ranges come first, so
that no packet to a cluster address can leave through the default route while the rest is half built
(DESIGN.md, "Facts measured"). They carry a high metric so that the service CIDR's `via <node>` route
(same prefix, metric 0) wins while it exists and the unreachable one takes over when it goes.

What a node looks like when done (node *i* of profile P on bridge mkpyK):

    host:   mkpyK 192.168.49.1/24  ── mkpyK-n<i> ═╗ veth
            unreachable 192.168.49.0/24 metric 4242 (under the bridge's own route; kept by `stop`)
            unreachable 10.244.0.0/16 metric 4242  ║
            unreachable 10.96.0.0/12  metric 4242  ║
            10.244.i.0/24 via 192.168.49.(2+i)     ║
            10.96.0.0/12  via 192.168.49.2         ║
    netns mkpy-P-i:  eth0 192.168.49.(2+i)/24 ════╝   (no default route)
                     cni0 10.244.i.1/24, ip_forward=1, 10.96.0.0/12 dev cni0
                     10.244.j.0/24 via 192.168.49.(2+j) for every other node j (host-gw)

`start` plans only the host side of a node here (`node_steps(..., inside=False)`: namespace, veth, the
service route): the inside is made by `minikube-py join` run in the namespace (nodeprep.py), with the pod
CIDR the control plane assigned, exactly as on a VM; the host's `<podCIDR> via <node IP>` routes follow
the Node objects (`host_pod_routes` + `sync_host_pod_routes`). `inside=True` (the default) still plans the
whole static layout above from the index-derived CIDRs, for callers that build a network without a
control plane (tests/integration/test_network.py).
"""
from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from minikube_py.config import ClusterConfig
from minikube_py.cluster import shell
from minikube_py.cluster.layout import BRIDGE_ALIAS_PREFIX, NodeSpec

log = logging.getLogger(__name__)

UNREACHABLE_METRIC = 4242
POD_BRIDGE = "cni0"
NODE_IFACE = "eth0"
NETNS_DIR = Path("/run/netns")


class Step(Protocol):
    """One idempotent piece of host state."""

    description: str

    def present(self) -> bool: ...
    def execute(self) -> None: ...
    def undo(self) -> None: ...


def netns_exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def link_exists(name: str, netns: str | None = None) -> bool:
    if netns and not netns_exists(netns):
        return False
    return bool(shell.ip_json(["link", "show", "dev", name], netns))


def link_is_up(name: str, netns: str | None = None) -> bool:
    links = shell.ip_json(["link", "show", "dev", name], netns)
    return bool(links) and "UP" in links[0].get("flags", [])


def has_address(dev: str, cidr: str, netns: str | None = None) -> bool:
    """True when *dev* (in *netns*) carries *cidr* ("10.244.0.1/24") exactly: address and prefix length."""
    want_ip, want_len = cidr.split("/")
    return any(a.get("local") == want_ip and str(a.get("prefixlen")) == want_len
               for link in shell.ip_json(["addr", "show", "dev", dev], netns) for a in link.get("addr_info", []))


def docker_user_chain_exists() -> bool:
    """Docker runs in this namespace (it made DOCKER-USER, where users add exceptions to its FORWARD DROP)."""
    return shell.ok(["iptables", "-w", "-n", "-L", "DOCKER-USER"])


# --- routes ------------------------------------------------------------------------------------------
@dataclass
class Route:
    """A route on the host (netns=None) or in a node namespace.

    `kind="unreachable"` makes an unreachable route; otherwise `via` and/or `dev` say where it leads.
    Routes inside a namespace die with it, so their undo only matters for routes in *other* nodes'
    namespaces (node delete).
    """

    dst: str
    via: str | None = None
    dev: str | None = None
    netns: str | None = None
    kind: str = "unicast"
    metric: int | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if not self.description:
            where = f" in {self.netns}" if self.netns else " on the host"
            target = "unreachable" if self.kind == "unreachable" else f"via {self.via}" if self.via else f"dev {self.dev}"
            self.description = f"route {self.dst} {target}{where}"

    def _args(self) -> list[str]:
        args = ([self.kind] if self.kind != "unicast" else []) + [self.dst]
        if self.via:
            args += ["via", self.via]
        if self.dev:
            args += ["dev", self.dev]
        if self.metric is not None:
            args += ["metric", str(self.metric)]
        return args

    def present(self) -> bool:
        if self.netns and not netns_exists(self.netns):
            return False
        for r in shell.ip_json(["route", "show", self.dst], self.netns):
            if r.get("type", "unicast") != self.kind:
                continue
            if self.via and r.get("gateway") != self.via:
                continue
            if self.dev and r.get("dev") != self.dev:
                continue
            if (r.get("metric") or 0) != (self.metric or 0):
                continue
            return True
        return False

    def execute(self) -> None:
        if self.present():
            return
        # `replace` and not `add`: a stale route with the same key (e.g. via a node IP from an older run)
        # is corrected instead of failing; the unreachable routes have their own metric, so replacing a
        # metric-0 via-route never touches them.
        shell.ip(["route", "replace"] + self._args(), self.netns)

    def undo(self) -> None:
        if self.present():
            shell.ip(["route", "del"] + self._args(), self.netns, check=False)


# --- host ----------------------------------------------------------------------------------------------
@dataclass
class HostBridge:
    """The profile's bridge with the gateway address; its alias names the profile that owns it."""

    name: str
    address: str  # "192.168.49.1/24"
    profile: str
    description: str = ""

    def __post_init__(self) -> None:
        self.description = self.description or f"bridge {self.name} {self.address}"

    @property
    def alias(self) -> str:
        return BRIDGE_ALIAS_PREFIX + self.profile

    def owner(self) -> str | None:
        """The profile named in the bridge's alias, or None when the bridge doesn't exist / isn't ours."""
        links = shell.ip_json(["link", "show", "dev", self.name])
        if not links:
            return None
        alias = links[0].get("ifalias", "")
        return alias[len(BRIDGE_ALIAS_PREFIX):] if alias.startswith(BRIDGE_ALIAS_PREFIX) else ""

    def present(self) -> bool:
        return self.owner() == self.profile and has_address(self.name, self.address) and link_is_up(self.name)

    def execute(self) -> None:
        owner = self.owner()
        if owner is None:
            shell.ip(["link", "add", self.name, "type", "bridge"])
            shell.ip(["link", "set", "dev", self.name, "alias", self.alias])
        elif owner != self.profile:
            raise RuntimeError(f"bridge {self.name} exists and belongs to {owner or 'something else'}, "
                               f"not profile {self.profile}")
        if not has_address(self.name, self.address):
            shell.ip(["addr", "replace", self.address, "dev", self.name])
        shell.ip(["link", "set", "dev", self.name, "up"])

    def undo(self) -> None:
        if self.owner() == self.profile:
            shell.ip(["link", "del", self.name], check=False)


@dataclass
class Sysctl:
    """A sysctl on the host or in a namespace.

    Undo is deliberately a no-op: on the host `ip_forward` is shared with Docker and other profiles, and
    inside a namespace the value dies with it.
    """

    key: str
    value: str
    netns: str | None = None
    description: str = ""
    undoable = False  # class attribute: teardown doesn't list it

    def __post_init__(self) -> None:
        where = f" in {self.netns}" if self.netns else ""
        self.description = self.description or f"sysctl {self.key}={self.value}{where}"

    def _prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.netns] if self.netns else []

    def present(self) -> bool:
        if self.netns and not netns_exists(self.netns):
            return False
        proc = shell.run(self._prefix() + ["sysctl", "-n", self.key], check=False)
        return proc.returncode == 0 and proc.stdout.strip() == self.value

    def execute(self) -> None:
        if not self.present():
            shell.run(self._prefix() + ["sysctl", "-qw", f"{self.key}={self.value}"])

    def undo(self) -> None:
        return None


def forward_chain() -> str:
    """`DOCKER-USER` when Docker made it (Docker sets FORWARD to DROP and this chain is where users
    add exceptions); plain `FORWARD` on a host without Docker."""
    return "DOCKER-USER" if docker_user_chain_exists() else "FORWARD"


class AcceptRule:
    """The shared mechanics of an `iptables -I <chain> <match> -j ACCEPT` step, tagged with the comment
    `minikube-py:<profile>` so that leftovers can be found and removed without touching anybody else's
    rules. Subclasses (dataclasses) have `chain` and `profile` fields and say what to match (`_match`)."""

    chain: str
    profile: str

    def _match(self) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _rule(self) -> list[str]:
        return self._match() + ["-m", "comment", "--comment", f"minikube-py:{self.profile}", "-j", "ACCEPT"]

    def present(self) -> bool:
        return shell.ok(["iptables", "-w", "-C", self.chain] + self._rule())

    def execute(self) -> None:
        if not self.present():
            shell.run(["iptables", "-w", "-I", self.chain] + self._rule())

    def undo(self) -> None:
        while self.present():  # a crash between -C and -I could have doubled it; remove every copy
            shell.run(["iptables", "-w", "-D", self.chain] + self._rule())


@dataclass
class ForwardAccept(AcceptRule):
    """`iptables -I DOCKER-USER -i <bridge> -o <bridge> -j ACCEPT` (see `AcceptRule`).

    Bridged traffic between our veths passes the host's FORWARD chain (Docker turns on bridge
    netfilter), which Docker has set to DROP; only bridge-to-same-bridge traffic is allowed, so nothing
    from a node is forwarded off the machine.
    """

    bridge: str
    profile: str
    description: str = ""
    chain: str = field(default_factory=forward_chain)

    def __post_init__(self) -> None:
        self.description = self.description or f"iptables {self.chain}: accept {self.bridge} → {self.bridge}"

    def _match(self) -> list[str]:
        return ["-i", self.bridge, "-o", self.bridge]


# --- nodes --------------------------------------------------------------------------------------------
@dataclass
class Netns:
    name: str
    description: str = ""

    def __post_init__(self) -> None:
        self.description = self.description or f"network namespace {self.name}"

    def present(self) -> bool:
        return netns_exists(self.name)

    def execute(self) -> None:
        if not self.present():
            shell.ip(["netns", "add", self.name])

    def undo(self) -> None:
        # Deleting the namespace deletes its veth end, hence the pair, and its iptables rules. (A process
        # still inside would keep the kernel object alive: the supervisor stops node processes first.)
        if self.present():
            shell.ip(["netns", "del", self.name], check=False)


@dataclass
class NodeLink:
    """The veth joining a node namespace to the host bridge: host end `<bridge>-n<i>` on the bridge,
    node end `eth0` in the namespace with the node IP; `lo` up. The namespace gets no default route:
    a node reaches the gateway, the other nodes and LB IPs on the connected /24 and nothing else."""

    host_veth: str
    bridge: str
    netns: str
    address: str  # "192.168.49.2/24"
    description: str = ""

    def __post_init__(self) -> None:
        self.description = self.description or f"veth {self.host_veth} ↔ {self.netns}:{NODE_IFACE} {self.address}"

    def present(self) -> bool:
        return (link_exists(self.host_veth) and link_exists(NODE_IFACE, self.netns)
                and has_address(NODE_IFACE, self.address, self.netns))

    def execute(self) -> None:
        if not link_exists(self.host_veth):
            if link_exists(NODE_IFACE, self.netns):  # half-made pair from an older run: start clean
                shell.ip(["link", "del", NODE_IFACE], self.netns, check=False)
            shell.ip(["link", "add", self.host_veth, "type", "veth", "peer", "name", NODE_IFACE,
                      "netns", self.netns])
        shell.ip(["link", "set", "dev", self.host_veth, "master", self.bridge, "up"])
        shell.ip(["addr", "replace", self.address, "dev", NODE_IFACE], self.netns)
        shell.ip(["link", "set", "dev", "lo", "up"], self.netns)
        shell.ip(["link", "set", "dev", NODE_IFACE, "up"], self.netns)

    def undo(self) -> None:
        if link_exists(self.host_veth):
            shell.ip(["link", "del", self.host_veth], check=False)


@dataclass
class PodBridge:
    """`cni0` in the node namespace with the node pod CIDR's `.1`: the pods' gateway."""

    netns: str
    address: str  # "10.244.0.1/24"
    description: str = ""
    undoable = False  # dies with the namespace

    def __post_init__(self) -> None:
        self.description = self.description or f"pod bridge {POD_BRIDGE} {self.address} in {self.netns}"

    def present(self) -> bool:
        if not link_exists(POD_BRIDGE, self.netns):
            return False
        addrs = shell.ip_json(["addr", "show", "dev", POD_BRIDGE], self.netns)
        return any(a.get("local") == self.address.split("/")[0] for l in addrs for a in l.get("addr_info", []))

    def execute(self) -> None:
        if not link_exists(POD_BRIDGE, self.netns):
            shell.ip(["link", "add", POD_BRIDGE, "type", "bridge"], self.netns)
        shell.ip(["addr", "replace", self.address, "dev", POD_BRIDGE], self.netns)
        shell.ip(["link", "set", "dev", POD_BRIDGE, "up"], self.netns)

    def undo(self) -> None:
        return None  # dies with the namespace


# --- plans ---------------------------------------------------------------------------------------------
def _prefix(cidr: str) -> int:
    return ipaddress.ip_network(cidr).prefixlen


def guard_routes(cfg: ClusterConfig) -> list[Step]:
    """`unreachable` routes for all three cluster ranges: no packet to a cluster address may leave by the
    default route. They go in first at `start` and stay through `stop` (the bridge, the nodes and their
    routes are gone then, but the user's kubeconfig and curl history still point at the API address, the
    node IPs, pod and service IPs); only `delete` removes them. Each sits under the live route of the
    same prefix (metric 4242 against the bridge's connected route and the `via <node>` routes, metric 0)."""
    return [Route(cidr, kind="unreachable", metric=UNREACHABLE_METRIC)
            for cidr in (cfg.node_subnet, cfg.pod_cidr, cfg.service_cidr)]


def host_steps(cfg: ClusterConfig) -> list[Step]:
    """The host part, in bring-up order."""
    return [
        # First, before anything else: no packet to a cluster address may leave by the default route.
        *guard_routes(cfg),
        # The node network; the host is its gateway (API server, DNS).
        HostBridge(cfg.bridge, f"{cfg.gateway_ip}/{cfg.node_prefixlen}", cfg.profile),
        Sysctl("net.ipv4.ip_forward", "1"),
        # Docker's FORWARD DROP would drop bridged node-to-node traffic.
        ForwardAccept(cfg.bridge, cfg.profile),
    ]


def node_steps(cfg: ClusterConfig, node: NodeSpec, all_nodes: list[NodeSpec], inside: bool = True) -> list[Step]:
    """One node's part, in bring-up order. *all_nodes* gives the host-gw routes to and from the others.

    Routes *into* another node's namespace are planned only for nodes listed before this one in
    *all_nodes* (those are made first); the later ones add their route to this node themselves.
    `inside=False`: only the host side (namespace, veth, the host's service route); `join` does the rest.
    """
    if not inside:
        host_side: list[Step] = [
            Netns(node.netns),
            NodeLink(node.host_veth, cfg.bridge, node.netns, f"{node.ip}/{cfg.node_prefixlen}"),
        ]
        if node.index == min(n.index for n in all_nodes):
            host_side.append(Route(cfg.service_cidr, via=node.ip))
        return host_side
    pod_gw = str(ipaddress.ip_network(node.pod_cidr).network_address + 1)
    others = [n for n in all_nodes if n.index != node.index]
    position = next(i for i, n in enumerate(all_nodes) if n.index == node.index)
    earlier = {n.index for n in all_nodes[:position]}
    steps: list[Step] = [
        Netns(node.netns),
        NodeLink(node.host_veth, cfg.bridge, node.netns, f"{node.ip}/{cfg.node_prefixlen}"),
        PodBridge(node.netns, f"{pod_gw}/{_prefix(node.pod_cidr)}"),
        Sysctl("net.ipv4.ip_forward", "1", node.netns),
        # Kept at 1 (the default in a new namespace): the proxy's rules must see bridged pod traffic.
        Sysctl("net.bridge.bridge-nf-call-iptables", "1", node.netns),
        # The node itself reaches ClusterIPs through cni0 (the proxy DNATs in OUTPUT/PREROUTING).
        Route(cfg.service_cidr, dev=POD_BRIDGE, netns=node.netns),
    ]
    # host-gw: this node → the others' pods, and the others → this node's pods (the agent keeps these
    # from Node objects too; adding them here makes a fresh cluster work before the first sync).
    for o in others:
        steps.append(Route(o.pod_cidr, via=o.ip, netns=node.netns))
        if o.index in earlier:
            steps.append(Route(node.pod_cidr, via=node.ip, netns=o.netns))
    # The host reaches this node's pods (more specific than the unreachable /16).
    steps.append(Route(node.pod_cidr, via=node.ip))
    if node.index == min(n.index for n in all_nodes):
        # ClusterIPs from the host go through the first node's proxy rules (same prefix as the
        # unreachable route, lower metric, so it wins while it exists).
        steps.append(Route(cfg.service_cidr, via=node.ip))
    return steps


# --- running plans ------------------------------------------------------------------------------------
Progress = Callable[[str], None]


class StepFailed(RuntimeError):
    def __init__(self, step: Step, cause: Exception, undone: bool) -> None:
        self.step = step
        self.cause = cause
        self.undone = undone
        what = "undid what this run made" if undone else "kept what this run made (--keep-on-failure)"
        super().__init__(f"{step.description}: {cause} ({what})")


def execute_plan(steps: list[Step], keep_on_failure: bool = False, progress: Progress | None = None) -> list[Step]:
    """Execute *steps* in order; return the ones this run created (present ones are skipped).

    On failure undo, in reverse, what this run created (unless *keep_on_failure*) and raise `StepFailed`.
    """
    made: list[Step] = []
    for step in steps:
        if step.present():
            continue
        if progress:
            progress(step.description)
        try:
            step.execute()
        except Exception as exc:  # noqa: BLE001 — report which step, then clean up
            if not keep_on_failure:
                undo_plan(made + [step])
            raise StepFailed(step, exc, not keep_on_failure) from exc
        made.append(step)
    return made


def undo_plan(steps: list[Step], progress: Progress | None = None) -> list[str]:
    """Undo *steps* in reverse order, continuing past errors; return the error messages."""
    errors = []
    for step in reversed(steps):
        try:
            if progress and getattr(step, "undoable", True) and step.present():
                progress(step.description)
            step.undo()
        except Exception as exc:  # noqa: BLE001 — teardown removes as much as it can
            errors.append(f"{step.description}: {exc}")
            log.warning("undo %s failed: %s", step.description, exc)
    return errors


def bring_up(cfg: ClusterConfig, nodes: list[NodeSpec], keep_on_failure: bool = False,
             progress: Progress | None = None, inside: bool = True) -> list[Step]:
    """Host network plus every node's namespace, as one plan (so a failure undoes the whole run)."""
    plan = host_steps(cfg)
    for node in nodes:
        plan += node_steps(cfg, node, nodes, inside)
    return execute_plan(plan, keep_on_failure, progress)


def tear_down(cfg: ClusterConfig, nodes: list[NodeSpec], progress: Progress | None = None,
              keep_guards: bool = False) -> list[str]:
    """Undo every node's part, then the host's: the reverse of `bring_up`. *keep_guards* (`stop`) leaves
    the `unreachable` routes in place (see `guard_routes`)."""
    plan = host_steps(cfg)
    if keep_guards:
        guards = guard_routes(cfg)
        plan = [step for step in plan if step not in guards]
    for node in nodes:
        plan += node_steps(cfg, node, nodes)
    return undo_plan(plan, progress)


def host_pod_routes(cfg: ClusterConfig, nodes: list[dict]) -> dict[str, str]:
    """Pure: {Node spec.podCIDR: its InternalIP} for the Nodes on this profile's node network whose range
    lies in the cluster pod CIDR — the host's host-gw routes (a VM node elsewhere is not routed from here)."""
    pods = ipaddress.ip_network(cfg.pod_cidr)
    subnet = ipaddress.ip_network(cfg.node_subnet)
    out = {}
    for n in nodes:
        cidr = (n.get("spec") or {}).get("podCIDR")
        ip = next((a.get("address") for a in (n.get("status") or {}).get("addresses") or []
                   if a.get("type") == "InternalIP"), None)
        try:
            if cidr and ip and ipaddress.ip_network(cidr).subnet_of(pods) and ipaddress.ip_address(ip) in subnet:
                out[str(ipaddress.ip_network(cidr))] = ip
        except ValueError:
            continue
    return out


def sync_host_pod_routes(cfg: ClusterConfig, want: dict[str, str]) -> None:
    """Make the host's gateway routes inside the cluster pod CIDR exactly *want* (`replace` each, delete the
    others: a deleted node's range). Only routes inside this profile's pod CIDR are touched."""
    pods = ipaddress.ip_network(cfg.pod_cidr)
    for dst, via in want.items():
        Route(dst, via=via).execute()
    for r in shell.ip_json(["route", "show"]):
        dst, gw = r.get("dst", ""), r.get("gateway")
        if not gw or "/" not in dst or r.get("type", "unicast") != "unicast":
            continue
        net = ipaddress.ip_network(dst, strict=False)
        if net.subnet_of(pods) and net != pods and want.get(str(net)) != gw:
            shell.ip(["route", "del", dst, "via", gw], check=False)


def set_node_link(node: NodeSpec, up: bool) -> None:
    """`node stop`/`node start`: the host end of the node's veth down/up — a partitioned machine."""
    if link_exists(node.host_veth):
        shell.ip(["link", "set", "dev", node.host_veth, "up" if up else "down"])
