"""Where a profile lives on the host: its network slot and its nodes.

Several profiles may run at once (like minikube's `-p`), so each gets a *slot* k chosen at its first
`start` and saved in `cluster.json`:

| slot k | bridge   | node subnet            | pod CIDR           | service CIDR        |
|--------|----------|------------------------|--------------------|---------------------|
| 0      | mkpy0    | 192.168.49.0/24        | 10.244.0.0/16      | 10.96.0.0/12        |
| 1      | mkpy1    | 192.168.58.0/24        | 10.245.0.0/16      | 10.112.0.0/12       |
| k      | mkpy{k}  | 192.168.(49+9k).0/24   | 10.(244+k).0.0/16  | 10.(96+16k).0.0/12  |

The node subnet steps by 9 like minikube's docker driver; pod and service CIDRs step too so that two
running profiles' host routes never overlap. Nine slots fit below 10.240.0.0 (service CIDRs) and 10.255
(pod CIDRs).

Nodes are kept in `<state dir>/nodes.json` as a list of indices (plus a `stopped` flag), not as a count,
because `node delete m02` leaves a gap, as in minikube: the remaining nodes keep their names and IPs.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import json
from pathlib import Path
from typing import Iterable

from minikube_py.config import ClusterConfig, home_dir
from minikube_py.cluster import shell

MAX_SLOTS = 9
BRIDGE_ALIAS_PREFIX = "minikube-py:"


def slot_networks(slot: int) -> dict[str, str]:
    """The bridge name and the three networks of *slot* (see the module table)."""
    if not 0 <= slot < MAX_SLOTS:
        raise ValueError(f"slot {slot} out of range 0..{MAX_SLOTS - 1}")
    return {
        "bridge": f"mkpy{slot}",
        "node_subnet": f"192.168.{49 + 9 * slot}.0/24",
        "pod_cidr": f"10.{244 + slot}.0.0/16",
        "service_cidr": f"10.{96 + 16 * slot}.0.0/12",
    }


def pick_slot(taken_bridges: Iterable[str], taken_networks: Iterable[str]) -> int:
    """The first slot whose bridge name is free and whose networks overlap none of *taken_networks*.

    Pure, so the choice is unit-tested; `choose_slot` feeds it from the host and the other profiles.
    """
    bridges = set(taken_bridges)
    nets = [ipaddress.ip_network(n, strict=False) for n in taken_networks]
    for slot in range(MAX_SLOTS):
        cand = slot_networks(slot)
        if cand["bridge"] in bridges:
            continue
        mine = [ipaddress.ip_network(cand[k]) for k in ("node_subnet", "pod_cidr", "service_cidr")]
        if any(m.overlaps(n) for m in mine for n in nets):
            continue
        return slot
    raise RuntimeError(f"all {MAX_SLOTS} network slots are in use (delete a profile first)")


def _host_taken() -> tuple[set[str], list[str]]:
    """Bridges (all links) and route destinations present on the host now, except the default route."""
    links = {l["ifname"] for l in shell.ip_json(["link", "show"])}
    nets = []
    for r in shell.ip_json(["route", "show", "table", "all"]):
        dst = r.get("dst", "")
        if dst and dst != "default" and ":" not in dst and r.get("type") not in ("local", "broadcast"):
            nets.append(dst if "/" in dst else dst + "/32")
    return links, nets


def other_profiles_configs(profile: str) -> list[ClusterConfig]:
    """Configs of every other profile under the home dir (running or not)."""
    out = []
    root = home_dir()
    if root.is_dir():
        for d in sorted(root.iterdir()):
            if d.name != profile and (d / "cluster.json").is_file():
                try:
                    out.append(ClusterConfig.load(d.name))
                except (ValueError, TypeError, OSError):
                    continue
    return out


def choose_slot(profile: str) -> dict[str, str]:
    """Pick networks for a new profile: free on the host and unused by the other saved profiles."""
    links, nets = _host_taken()
    for other in other_profiles_configs(profile):
        links.add(other.bridge)
        nets += [other.node_subnet, other.pod_cidr, other.service_cidr]
    return slot_networks(pick_slot(links, nets))


# --- nodes ------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class NodeSpec:
    """One local node: everything bring-up and the supervisor need, derived from config + index."""

    index: int
    name: str
    ip: str
    pod_cidr: str
    netns: str
    host_veth: str
    stopped: bool = False

    @property
    def process_name(self) -> str:
        """Supervisor name of the node process (agent + proxy)."""
        return f"node-{self.name}"


def node_spec(cfg: ClusterConfig, index: int, stopped: bool = False) -> NodeSpec:
    return NodeSpec(
        index=index,
        name=cfg.node_name(index),
        ip=cfg.node_ip(index),
        pod_cidr=cfg.node_pod_cidr(index),
        netns=cfg.netns_name(index),
        host_veth=f"{cfg.bridge}-n{index}",  # unique across profiles because the bridge name is
        stopped=stopped,
    )


def _nodes_file(cfg: ClusterConfig) -> Path:
    return cfg.state_dir / "nodes.json"


def load_nodes(cfg: ClusterConfig) -> list[NodeSpec]:
    """The profile's nodes; before the first save, `cfg.nodes` nodes numbered 0..n-1."""
    path = _nodes_file(cfg)
    if path.is_file():
        rows = json.loads(path.read_text())
        return [node_spec(cfg, r["index"], r.get("stopped", False)) for r in rows]
    return [node_spec(cfg, i) for i in range(max(cfg.nodes, 1))]


def save_nodes(cfg: ClusterConfig, nodes: list[NodeSpec]) -> None:
    """Persist the node list and keep `cfg.nodes` equal to its length (other components may read it)."""
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    rows = [{"index": n.index, "name": n.name, "stopped": n.stopped} for n in sorted(nodes, key=lambda n: n.index)]
    _nodes_file(cfg).write_text(json.dumps(rows, indent=2))
    cfg.nodes = len(nodes)
    cfg.save()


def next_node_index(nodes: list[NodeSpec]) -> int:
    """Lowest unused index ≥ 1 (index 0 is the control-plane node)."""
    used = {n.index for n in nodes}
    i = 1
    while i in used:
        i += 1
    return i


def find_node(cfg: ClusterConfig, name: str) -> NodeSpec:
    """A node by its name (`p-m02`) or, as minikube's `node.Retrieve` also accepts, by its short config
    name (`m02`: what minikube's docs type, `minikube node stop m02`). The control-plane node has no
    short name (minikube's is empty)."""
    for n in load_nodes(cfg):
        if name == n.name or (name and name == short_node_name(cfg, n)):
            return n
    raise KeyError(name)


def short_node_name(cfg: ClusterConfig, node: NodeSpec) -> str:
    """`m02` for `<profile>-m02`; "" for the control-plane node (named after the profile)."""
    prefix = cfg.profile + "-"
    return node.name[len(prefix):] if node.index and node.name.startswith(prefix) else ""
