"""Cluster layout and names shared by every component.

Why one module: the control plane, the node agent, the proxy, the DNS server, the images and the tests all
need the same addresses, labels and image names. Hard-coding `10.96.0.10` in five places is how a profile
with a different service CIDR ends up half-working. Everything here is plain data; a profile's
`ClusterConfig` is written to `<state dir>/cluster.json` at `start` and read back by every process.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
from pathlib import Path

DEFAULT_PROFILE = "minikube-py"

# Docker labels (DESIGN.md, "Docker").
LABEL_PREFIX = "io.minikube-py"
LABEL_PROFILE = f"{LABEL_PREFIX}.profile"
LABEL_NODE = f"{LABEL_PREFIX}.node"
LABEL_NAMESPACE = f"{LABEL_PREFIX}.namespace"
LABEL_POD = f"{LABEL_PREFIX}.pod"
LABEL_POD_UID = f"{LABEL_PREFIX}.pod-uid"
LABEL_CONTAINER = f"{LABEL_PREFIX}.container"
LABEL_SANDBOX = f"{LABEL_PREFIX}.sandbox"

# Images built by `minikube-py image bootstrap` (no registry needed), and the upstream names the guide
# uses that `--alias-upstream` tags them as.
IMAGE_PREFIX = "minikube-py"
IMAGES: dict[str, str] = {
    "base": f"{IMAGE_PREFIX}/debian:bookworm",
    "pause": f"{IMAGE_PREFIX}/pause:3.9",
    "redis": f"{IMAGE_PREFIX}/redis:7",
    "busybox": f"{IMAGE_PREFIX}/busybox:1",
    "nginx": f"{IMAGE_PREFIX}/nginx:1",
    "counter": f"{IMAGE_PREFIX}/counter:1",
    "echo-v1": f"{IMAGE_PREFIX}/echo:v1",
    "echo-v2": f"{IMAGE_PREFIX}/echo:v2",
}
UPSTREAM_ALIASES: dict[str, list[str]] = {
    "redis": ["redis:latest"],
    "busybox": ["busybox:latest"],
    "nginx": ["nginx:latest"],
    "counter": ["ghcr.io/subicura/counter:latest"],
    "echo-v1": ["ghcr.io/subicura/echo:v1"],
    "echo-v2": ["ghcr.io/subicura/echo:v2"],
    "pause": ["registry.k8s.io/pause:3.9"],
}

API_PORT = 8443
AGENT_PORT = 10250
CLUSTER_DOMAIN = "cluster.local"


def home_dir() -> Path:
    """Root of all profiles' state: `$MINIKUBE_PY_HOME` or `~/.minikube-py`."""
    return Path(os.environ.get("MINIKUBE_PY_HOME") or Path.home() / ".minikube-py")


def profile_dir(profile: str) -> Path:
    return home_dir() / profile


@dataclasses.dataclass
class ClusterConfig:
    """One profile's layout. Defaults follow DESIGN.md "Network layout"."""

    profile: str = DEFAULT_PROFILE
    node_subnet: str = "192.168.49.0/24"
    pod_cidr: str = "10.244.0.0/16"
    service_cidr: str = "10.96.0.0/12"
    nodeport_range: tuple[int, int] = (30000, 32767)
    bridge: str = "mkpy0"
    proxy_mode: str = "iptables"
    node_grace_seconds: float = 40.0
    pod_eviction_seconds: float = 300.0
    nodes: int = 1
    metallb_pool: list[str] = dataclasses.field(default_factory=list)  # ["start-end"]
    addons: dict[str, bool] = dataclasses.field(default_factory=dict)
    # Where the cluster DNS forwards names outside cluster.local: None = the host's resolv.conf;
    # ["none"] = nowhere (test clusters: no query may leave the machine); else "IP[:PORT]"s.
    dns_upstreams: list[str] | None = dataclasses.field(
        default_factory=lambda: [u for u in os.environ.get("MINIKUBE_PY_DNS_UPSTREAMS", "").split(",") if u] or None)
    # Never ask Docker to pull (`start --offline`): a missing image fails at once with ErrImagePull. For
    # machines without a registry, where a pull would only send Docker's DNS and HTTPS out to no avail.
    offline: bool = False
    # `minikube-py init` on a VM: the machine's own address is the gateway (API server, DNS), not the
    # subnet's `.1` as on a laptop's bridge. Empty = the subnet's first host.
    advertise_address: str = ""

    # --- derived addresses -------------------------------------------------------------------------
    @property
    def gateway_ip(self) -> str:
        """The host's address on the node network: API server, DNS server, control plane."""
        if self.advertise_address:
            return self.advertise_address
        return str(next(ipaddress.ip_network(self.node_subnet).hosts()))

    @property
    def node_prefixlen(self) -> int:
        return ipaddress.ip_network(self.node_subnet).prefixlen

    def node_ip(self, index: int) -> str:
        """Node *index* (0-based) gets the subnet's `.2`, `.3`, …"""
        return str(ipaddress.ip_network(self.node_subnet).network_address + 2 + index)

    def node_pod_cidr(self, index: int) -> str:
        """Node *index* (0-based) gets the index-th /24 of the pod CIDR: 10.244.0.0/24, 10.244.1.0/24, …"""
        net = ipaddress.ip_network(self.pod_cidr)
        return str(list(net.subnets(new_prefix=24))[index]) if net.prefixlen <= 24 else str(net)

    @property
    def kubernetes_service_ip(self) -> str:
        return str(ipaddress.ip_network(self.service_cidr).network_address + 1)

    @property
    def dns_service_ip(self) -> str:
        return str(ipaddress.ip_network(self.service_cidr).network_address + 10)

    @property
    def api_url(self) -> str:
        return f"https://{self.gateway_ip}:{API_PORT}"

    # --- names -------------------------------------------------------------------------------------
    def node_name(self, index: int) -> str:
        """minikube's scheme: the first node is the profile name, then `<profile>-m02`, `-m03`, …"""
        return self.profile if index == 0 else f"{self.profile}-m{index + 1:02d}"

    def netns_name(self, index: int) -> str:
        """Network namespace of node *index*; short enough to derive ≤ 15-char link names from."""
        return f"mkpy-{self.profile[:8]}-{index}"

    # --- persistence -------------------------------------------------------------------------------
    @property
    def state_dir(self) -> Path:
        return profile_dir(self.profile)

    def save(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        data = dataclasses.asdict(self)
        (self.state_dir / "cluster.json").write_text(json.dumps(data, indent=2))

    @classmethod
    def load(cls, profile: str) -> "ClusterConfig":
        data = json.loads((profile_dir(profile) / "cluster.json").read_text())
        data["nodeport_range"] = tuple(data.get("nodeport_range", (30000, 32767)))
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
