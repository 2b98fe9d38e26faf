"""`init`, `join`, `reset` and the join command: one path by which any machine becomes a node.

kubeadm's split, for the case where the control plane and the nodes are different machines (Vagrant VMs),
and usable locally too (a network namespace that can reach the control plane joins the same way):

`init --advertise-address IP` (the first VM), a straight line of phases reusing `start`'s:
config (gateway = IP) → pki (+ the CA in the served chain, for discovery) → control plane → kubeconfig →
system objects (kube-dns, and ConfigMap kube-system/minikube-py-cluster with the layout joiners need) →
DNS → print `minikube-py join …`.

`join --api-url URL --token T --ca-cert-hash sha256:H --node-name N --node-ip IP [--pod-cidr CIDR]`:
validate flags → preflight (the node IP is this machine's) → discovery (the pinned CA, before the token is
sent anywhere: discovery.py) → fetch the cluster layout with the token over verified TLS → register the
Node and read back the pod CIDR the control plane gave it (node IPAM, api/nodeipam.py; --pod-cidr only
asks for one) → save CA, token and layout under the state dir → prepare the node-local network in the
current namespace (nodeprep.py) →
run the node process (`python -m agent … --api-url --token-file --ca-file`): exec'd with `--foreground`
(systemd), else supervised like `start`'s nodes and waited for until Ready.

This is the only way a node joins: `start`/`node add` run it too, inside each local node namespace
(lifecycle.py `join_node`), so a laptop namespace and a VM register, get their range and build `cni0` the
same way.

`reset --node-name N` undoes what `join` made here: the node process, the network plan, the saved record.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any, Callable

from minikube_py import config as C
from minikube_py.config import ClusterConfig, home_dir, profile_dir
from minikube_py.cluster import discovery, layout, network, nodeprep, shell, supervisor
from minikube_py.cluster.apicalls import Api, ApiCallError
from minikube_py.cluster.lifecycle import (CONTROLPLANE, DNS, PROJECT_ROOT, ClusterError, Out, StartOptions,
                                           child_env, dns_answers, node_ready, phase_control_plane,
                                           phase_kubeconfig, phase_pki, phase_system_objects, profile_exists)

CLUSTER_CONFIGMAP = "minikube-py-cluster"
CLUSTER_CONFIGMAP_PATH = f"/api/v1/namespaces/kube-system/configmaps/{CLUSTER_CONFIGMAP}"
JOIN_TOKEN_FILE = "join.token"
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_TOKEN = re.compile(r"^[A-Za-z0-9._~+/=-]+$")


# --- flags ---------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class JoinOptions:
    api_url: str
    node_name: str
    node_ip: str
    pod_cidr: str | None = None  # None: the control plane assigns one
    token: str | None = None
    token_file: Path | None = None
    ca_cert_hash: str | None = None
    ca_file: Path | None = None
    interface: str | None = None
    foreground: bool = False
    wait_timeout: float = 120.0


@dataclasses.dataclass(frozen=True)
class JoinSpec:
    """Validated, normalised join flags: what the rest of `join` works from."""

    api_url: str
    node_name: str
    node_ip: str
    pod_cidr: str | None  # requested (flag) until registration, then the one the control plane gave
    token: str
    ca_cert_hash: str | None
    ca_pem: bytes | None  # from --ca-file; None → discovery with the hash
    interface: str | None
    foreground: bool
    wait_timeout: float


def validate_join(opts: JoinOptions) -> JoinSpec:
    """Check every flag before anything touches the network; raise ClusterError("BAD_FLAG") with the reason.

    Exactly one of --token/--token-file and one of --ca-cert-hash/--ca-file: a join without a trusted CA
    would send the token to whoever answers (kubeadm's --discovery-token-unsafe-skip-ca-verification is
    deliberately not offered)."""
    def bad(msg: str) -> ClusterError:
        return ClusterError("BAD_FLAG", msg, exit_code=64)

    try:
        discovery.split_url(opts.api_url)
    except ValueError as err:
        raise bad(str(err)) from None
    if (opts.token is None) == (opts.token_file is None):
        raise bad("give exactly one of --token and --token-file")
    if (opts.ca_cert_hash is None) == (opts.ca_file is None):
        raise bad("give exactly one of --ca-cert-hash and --ca-file")
    if opts.token is not None:
        token = opts.token.strip()
    else:
        try:
            token = Path(opts.token_file).read_text().strip()  # type: ignore[arg-type]
        except OSError as err:
            raise bad(f"--token-file: {err}") from None
    if not token or not _TOKEN.match(token):
        raise bad("the token is empty or contains characters a bearer token cannot carry")
    pin = None
    ca_pem = None
    if opts.ca_cert_hash is not None:
        try:
            pin = discovery.parse_ca_cert_hash(opts.ca_cert_hash)
        except ValueError as err:
            raise bad(str(err)) from None
    else:
        try:
            ca_pem = Path(opts.ca_file).read_bytes()  # type: ignore[arg-type]
            if not discovery.is_ca(discovery.load_certificate(ca_pem)):
                raise bad(f"--ca-file {opts.ca_file} is not a CA certificate")
        except (OSError, ValueError) as err:
            raise bad(f"--ca-file: {err}") from None
    if len(opts.node_name) > 63 or not _DNS1123_SUBDOMAIN.match(opts.node_name):
        raise bad(f"--node-name {opts.node_name!r} must be a lowercase RFC 1123 name (a-z, 0-9, '-', '.')")
    try:
        node_ip = ipaddress.IPv4Address(opts.node_ip)
    except ValueError:
        raise bad(f"--node-ip {opts.node_ip!r} is not an IPv4 address") from None
    pod_net = None
    if opts.pod_cidr is not None:
        try:
            pod_net = ipaddress.IPv4Network(opts.pod_cidr, strict=True)
        except ValueError as err:
            raise bad(f"--pod-cidr {opts.pod_cidr!r}: {err}") from None
        if pod_net.prefixlen > 28:
            raise bad(f"--pod-cidr {opts.pod_cidr} is too small for pods (at most /28)")
        if node_ip in pod_net:
            raise bad(f"--node-ip {node_ip} lies inside --pod-cidr {pod_net}")
    if opts.interface is not None and (not opts.interface or len(opts.interface) > 15 or "/" in opts.interface):
        raise bad(f"--interface {opts.interface!r} is not an interface name")
    return JoinSpec(api_url=opts.api_url.rstrip("/"), node_name=opts.node_name, node_ip=str(node_ip),
                    pod_cidr=str(pod_net) if pod_net else None, token=token, ca_cert_hash=pin, ca_pem=ca_pem,
                    interface=opts.interface, foreground=opts.foreground, wait_timeout=opts.wait_timeout)


def check_against_cluster(spec: JoinSpec, cfg: ClusterConfig) -> None:
    """The node's addresses must fit the cluster's layout (pure; after the layout was fetched)."""
    for cidr in (cfg.pod_cidr, cfg.service_cidr):
        if ipaddress.ip_address(spec.node_ip) in ipaddress.ip_network(cidr):
            raise ClusterError("BAD_FLAG", f"--node-ip {spec.node_ip} lies inside the cluster's {cidr}", exit_code=64)
    if spec.pod_cidr is None:
        return
    pod_net = ipaddress.ip_network(spec.pod_cidr)
    if not pod_net.subnet_of(ipaddress.ip_network(cfg.pod_cidr)):  # type: ignore[arg-type]
        raise ClusterError("BAD_FLAG", f"--pod-cidr {spec.pod_cidr} is not inside the cluster's pod CIDR "
                           f"{cfg.pod_cidr}", exit_code=64)
    if pod_net.overlaps(ipaddress.ip_network(cfg.service_cidr)):
        raise ClusterError("BAD_FLAG", f"--pod-cidr {spec.pod_cidr} overlaps the service CIDR {cfg.service_cidr}",
                           exit_code=64)


def config_from_json(text: str) -> ClusterConfig:
    """A ClusterConfig from cluster.json text (what ClusterConfig.load does with a file)."""
    data = json.loads(text)
    data["nodeport_range"] = tuple(data.get("nodeport_range", (30000, 32767)))
    known = {f.name for f in dataclasses.fields(ClusterConfig)}
    return ClusterConfig(**{k: v for k, v in data.items() if k in known})


def join_command(api_url: str, token: str, ca_pem: bytes) -> str:
    """The line `init` prints; the node adds --node-name/--node-ip (and may add --pod-cidr)."""
    return (f"minikube-py join --api-url {api_url} --token {token} "
            f"--ca-cert-hash {discovery.ca_cert_hash(ca_pem)}")


def node_argv(profile: str, spec: JoinSpec, token_file: Path, ca_file: Path) -> list[str]:
    """The node process: the same agent `start` runs in its namespaces, told where the API is (and the pod
    CIDR the control plane gave at registration)."""
    assert spec.pod_cidr, "register_node() fills in the pod CIDR first"
    return [sys.executable, "-m", "agent", "--profile", profile, "--node-name", spec.node_name,
            "--node-ip", spec.node_ip, "--pod-cidr", spec.pod_cidr, "--api-url", spec.api_url,
            "--token-file", str(token_file), "--ca-file", str(ca_file)]


# --- join ------------------------------------------------------------------------------------------------
def local_addresses() -> dict[str, str]:
    """{IPv4 address: interface} of the current network namespace."""
    out = {}
    for link in shell.ip_json(["-4", "addr", "show"]):
        for a in link.get("addr_info", []):
            out[a.get("local", "")] = link.get("ifname", "")
    return out


def preflight(spec: JoinSpec) -> str:
    """The interface holding the node IP, or ClusterError: the agent binds and announces there."""
    addrs = local_addresses()
    iface = addrs.get(spec.node_ip)
    if iface is None:
        raise ClusterError("PREFLIGHT", f"--node-ip {spec.node_ip} is not an address of this machine "
                           f"(network namespace); it has {', '.join(sorted(a for a in addrs if a)) or 'none'}")
    if spec.interface and iface != spec.interface:
        raise ClusterError("PREFLIGHT", f"--node-ip {spec.node_ip} is on {iface}, not on --interface {spec.interface}")
    return iface


def trusted_ca(spec: JoinSpec, out: Out) -> bytes:
    if spec.ca_pem is not None:
        out.step("🔐", "Trusting the CA from --ca-file")
        return spec.ca_pem
    out.step("🔐", f"Fetching the cluster CA from {spec.api_url} and checking it against {spec.ca_cert_hash}")
    try:
        return discovery.discover_ca(spec.api_url, spec.ca_cert_hash or "")
    except discovery.DiscoveryError as err:
        raise ClusterError("DISCOVERY", str(err), exit_code=65) from None


def fetch_cluster_config(spec: JoinSpec, ca_file: Path) -> ClusterConfig:
    """The layout `init` published, read with the token over TLS verified against the trusted CA."""
    api = Api(spec.api_url, ca_file, spec.token, timeout=10)
    try:
        cm = api.get(CLUSTER_CONFIGMAP_PATH)
    except ApiCallError as err:
        if err.status == 404:
            raise ClusterError("DISCOVERY", f"the cluster publishes no kube-system/{CLUSTER_CONFIGMAP}: run "
                               "`minikube-py token create --print-join-command` on the control plane") from None
        raise ClusterError("DISCOVERY", f"reading the cluster layout: {err}", exit_code=65) from None
    except OSError as err:
        raise ClusterError("DISCOVERY", f"cannot reach {spec.api_url}: {err}") from None
    return config_from_json((cm.get("data") or {})["cluster.json"])


def register_node(spec: JoinSpec, ca_file: Path) -> str:
    """Register Node *spec.node_name* (if it isn't yet) and return the pod CIDR the control plane gave it.

    The node agent completes the object (labels, addresses, conditions) when it starts; what the join needs
    first is the range, to build cni0 with. A Node that already exists (a rejoin, a `node start`) keeps
    its range; asking for another one is refused rather than silently ignored."""
    api = Api(spec.api_url, ca_file, spec.token, timeout=10)
    path = f"/api/v1/nodes/{spec.node_name}"
    try:
        current = api.get_or_none(path)
        if current is None:
            body: dict[str, Any] = {"apiVersion": "v1", "kind": "Node",
                                    "metadata": {"name": spec.node_name,
                                                 "labels": {"kubernetes.io/hostname": spec.node_name}},
                                    "spec": {}}
            if spec.pod_cidr:
                body["spec"] = {"podCIDR": spec.pod_cidr, "podCIDRs": [spec.pod_cidr]}
            try:
                current = api.request("POST", "/api/v1/nodes", body)
            except ApiCallError as err:
                if err.status != 409:
                    raise
                current = api.get(path)
    except ApiCallError as err:
        raise ClusterError("NODE_REGISTER", f"registering node {spec.node_name}: {err}") from None
    except OSError as err:
        raise ClusterError("NODE_REGISTER", f"cannot reach {spec.api_url}: {err}") from None
    cidr = ((current or {}).get("spec") or {}).get("podCIDR")
    if not cidr:
        raise ClusterError("NODE_REGISTER", f"node {spec.node_name} has no spec.podCIDR: the control plane did "
                           "not assign one (is it older than node IPAM?)")
    if spec.pod_cidr and cidr != spec.pod_cidr:
        raise ClusterError("JOIN_CONFLICT", f"node {spec.node_name} is registered with pod CIDR {cidr}, not "
                           f"--pod-cidr {spec.pod_cidr}: `kubectl delete node {spec.node_name}` first")
    return cidr


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(path.with_suffix(".tmp"), path)


def save_join_state(cfg: ClusterConfig, spec: JoinSpec, ca_pem: bytes) -> tuple[Path, Path]:
    """CA, token and layout under the profile's state dir; returns (token file, CA file).

    On the control-plane machine the state dir is the control plane's own: its CA must be the same one
    (else this machine belongs to another cluster: refuse) and its cluster.json is left alone."""
    state = profile_dir(cfg.profile)
    state.mkdir(parents=True, exist_ok=True)
    ca_file = state / "ca.crt"
    if ca_file.exists():
        if discovery.ca_cert_hash(ca_file.read_bytes()) != discovery.ca_cert_hash(ca_pem):
            raise ClusterError("JOIN_CONFLICT", f"{ca_file} holds another cluster's CA: run "
                               f"`minikube-py reset --node-name {spec.node_name} -p {cfg.profile}` first")
    else:
        ca_file.write_bytes(ca_pem)
    if not (state / "cluster.json").exists():
        cfg.save()
    token_file = state / JOIN_TOKEN_FILE
    _write_private(token_file, spec.token.encode() + b"\n")
    record = {"api_url": spec.api_url, "node_name": spec.node_name, "node_ip": spec.node_ip,
              "pod_cidr": spec.pod_cidr, "cluster_pod_cidr": cfg.pod_cidr, "service_cidr": cfg.service_cidr}
    (state / f"joined-{spec.node_name}.json").write_text(json.dumps(record, indent=2))
    return token_file, ca_file


def process_name(node_name: str) -> str:
    return f"node-{node_name}"


def wait_ready(spec: JoinSpec, ca_file: Path, alive: Callable[[], bool]) -> None:
    api = Api(spec.api_url, ca_file, spec.token, timeout=5)
    deadline = time.monotonic() + spec.wait_timeout
    while time.monotonic() < deadline:
        try:
            if node_ready(api.get_or_none(f"/api/v1/nodes/{spec.node_name}")):
                return
        except (ApiCallError, OSError):
            pass
        if not alive():
            raise ClusterError("NODE_PROCESS_DIED", f'the process of node "{spec.node_name}" exited')
        time.sleep(0.3)
    raise ClusterError("TIMEOUT", f"node {spec.node_name} was not Ready after {spec.wait_timeout:.0f}s")


def join(opts: JoinOptions, out: Out | None = None, profile: str | None = None) -> ClusterConfig:
    """The whole join (module docstring). With `foreground` it does not return: it execs the node process."""
    out = out or Out()
    spec = validate_join(opts)
    iface = preflight(spec)
    out.step("😄", f'Joining {spec.api_url} as node "{spec.node_name}" ({spec.node_ip} on {iface})')
    ca_pem = trusted_ca(spec, out)
    # From here on the CA is trusted: the token may travel, over verified TLS only.
    tmp_ca = home_dir() / f".join-ca-{os.getpid()}.crt"
    tmp_ca.parent.mkdir(parents=True, exist_ok=True)
    tmp_ca.write_bytes(ca_pem)
    try:
        cfg = fetch_cluster_config(spec, tmp_ca)
        if profile:
            cfg.profile = profile
        check_against_cluster(spec, cfg)
        spec = dataclasses.replace(spec, pod_cidr=register_node(spec, tmp_ca))
    finally:
        tmp_ca.unlink(missing_ok=True)
    out.step("📇", f'Node "{spec.node_name}" registered; the control plane gave it pods {spec.pod_cidr}')
    token_file, ca_file = save_join_state(cfg, spec, ca_pem)
    out.step("🔗", f"Preparing the node network here (cni0 {spec.pod_cidr}, routes, forwarding)")
    steps = nodeprep.node_local_steps(profile=cfg.profile, pod_cidr=spec.pod_cidr, cluster_pod_cidr=cfg.pod_cidr,
                                      service_cidr=cfg.service_cidr, facts=nodeprep.NamespaceFacts.probe())
    try:
        network.execute_plan(steps, progress=out.detail)
    except network.StepFailed as err:
        raise ClusterError("NODE_NETWORK", str(err)) from err
    argv = node_argv(cfg.profile, spec, token_file, ca_file)
    env = child_env(cfg)
    if spec.foreground:
        out.step("🚀", f'Running node "{spec.node_name}" in the foreground')
        os.chdir(PROJECT_ROOT)  # `python -m agent` finds our package first
        os.execve(sys.executable, argv, env)
    state = profile_dir(cfg.profile)
    name = process_name(spec.node_name)
    out.step("🚀", f'Starting node "{spec.node_name}" (log: {state / "logs" / (name + ".log")})')
    supervisor.start(state, name, argv, match=argv[1:], cwd=PROJECT_ROOT, env=env)
    try:
        wait_ready(spec, ca_file, lambda: supervisor.is_running(state, name))
    except ClusterError as err:
        raise ClusterError(err.reason, f"{err}\n--- {name}.log ---\n{supervisor.log_tail(state, name)}") from None
    out.step("🏄", f'Node "{spec.node_name}" joined the cluster and is Ready')
    return cfg


def reset(profile: str, node_name: str, out: Out | None = None) -> list[str]:
    """Undo `join` of *node_name* on this machine (kubeadm reset); returns errors (empty = clean)."""
    out = out or Out()
    state = profile_dir(profile)
    record_file = state / f"joined-{node_name}.json"
    if not record_file.is_file():
        raise ClusterError("NOT_JOINED", f'node "{node_name}" has not joined from here (no {record_file})',
                           exit_code=85)
    rec = json.loads(record_file.read_text())
    out.step("✋", f'Stopping node "{node_name}"')
    supervisor.stop(state, process_name(node_name))
    from minikube_py.cluster.lifecycle import remove_containers
    removed = remove_containers(profile, node_name)
    if removed:
        out.detail(f"removed {removed} container(s)")
    # Plan as if everything applied (both chains, br_netfilter): undo skips what is absent.
    steps = nodeprep.node_local_steps(profile=profile, pod_cidr=rec["pod_cidr"],
                                      cluster_pod_cidr=rec["cluster_pod_cidr"], service_cidr=rec["service_cidr"],
                                      facts=nodeprep.NamespaceFacts(False, True, True))
    steps += [nodeprep.IfaceAccept("DOCKER-USER", d, profile) for d in ("-i", "-o")]
    errors = network.undo_plan(steps, progress=out.detail)
    record_file.unlink(missing_ok=True)
    if not supervisor.is_running(state, CONTROLPLANE):  # a pure node: forget the cluster too
        for f in (JOIN_TOKEN_FILE, "ca.crt", "cluster.json"):
            (state / f).unlink(missing_ok=True)
    out.step("🧹", f'Node "{node_name}" reset')
    return errors


# --- init ------------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class InitOptions:
    advertise_address: str
    profile: str = C.DEFAULT_PROFILE
    pod_cidr: str = "10.244.0.0/16"
    service_cidr: str = "10.96.0.0/12"


def init_config(opts: InitOptions, prefixlen: int) -> ClusterConfig:
    """The profile's layout with the machine's own address as gateway (pure; validated)."""
    try:
        addr = ipaddress.IPv4Address(opts.advertise_address)
        pods = ipaddress.IPv4Network(opts.pod_cidr, strict=True)
        svcs = ipaddress.IPv4Network(opts.service_cidr, strict=True)
    except ValueError as err:
        raise ClusterError("BAD_FLAG", str(err), exit_code=64) from None
    node_net = ipaddress.IPv4Interface(f"{addr}/{prefixlen}").network
    for a, b in ((pods, svcs), (pods, node_net), (svcs, node_net)):
        if a.overlaps(b):
            raise ClusterError("BAD_FLAG", f"{a} overlaps {b}", exit_code=64)
    return ClusterConfig(profile=opts.profile, node_subnet=str(node_net), pod_cidr=str(pods),
                         service_cidr=str(svcs), advertise_address=str(addr), nodes=0)


def publish_cluster_config(cfg: ClusterConfig) -> None:
    """ConfigMap kube-system/minikube-py-cluster = cluster.json: what a joining node reads (with its token)."""
    from minikube_py.cluster.lifecycle import api_for
    cm = {"apiVersion": "v1", "kind": "ConfigMap",
          "metadata": {"name": CLUSTER_CONFIGMAP, "namespace": "kube-system",
                       "labels": {"app.kubernetes.io/managed-by": "minikube-py"}},
          "data": {"cluster.json": json.dumps(dataclasses.asdict(cfg), indent=2)}}
    try:
        api_for(cfg).ensure("/api/v1/namespaces/kube-system/configmaps", cm)
    except (ApiCallError, OSError) as err:
        raise ClusterError("SYSTEM_OBJECTS", f"publishing kube-system/{CLUSTER_CONFIGMAP}: {err}") from err


def start_dns(cfg: ClusterConfig, out: Out) -> None:
    """`start`'s DNS phase, but told the API URL explicitly (127.0.0.1:8443 may be another profile's)."""
    out.step("🌐", f"Starting cluster DNS on {cfg.gateway_ip}:53 (kube-dns {cfg.dns_service_ip})")
    argv = [sys.executable, "-m", "dns", "--profile", cfg.profile, "--api-server", cfg.api_url]
    supervisor.start(cfg.state_dir, DNS, argv, match=argv[1:], cwd=PROJECT_ROOT, env=child_env())
    deadline = time.monotonic() + 30
    while not dns_answers(cfg.gateway_ip):
        if not supervisor.is_running(cfg.state_dir, DNS) or time.monotonic() > deadline:
            raise ClusterError("DNS", f"cluster DNS did not answer\n--- {DNS}.log ---\n"
                               f"{supervisor.log_tail(cfg.state_dir, DNS)}")
        time.sleep(0.25)


def init(opts: InitOptions, out: Out | None = None) -> tuple[ClusterConfig, str]:
    """Make this machine the control plane (module docstring); returns the config and the join command."""
    out = out or Out()
    if opts.advertise_address not in local_addresses():
        raise ClusterError("PREFLIGHT", f"--advertise-address {opts.advertise_address} is not an address of this "
                           "machine")
    prefixlen = next((a["prefixlen"] for l in shell.ip_json(["-4", "addr", "show"]) for a in l.get("addr_info", [])
                      if a.get("local") == opts.advertise_address), 24)
    cfg = init_config(opts, prefixlen)
    if profile_exists(opts.profile):
        old = ClusterConfig.load(opts.profile)
        if (old.advertise_address, old.pod_cidr, old.service_cidr) != (cfg.advertise_address, cfg.pod_cidr,
                                                                       cfg.service_cidr):
            raise ClusterError("PROFILE_EXISTS", f'profile "{opts.profile}" exists with another layout: '
                               f"`minikube-py delete -p {opts.profile}` first")
        cfg = old
        out.step("👍", f'Using the existing profile "{cfg.profile}"')
    else:
        cfg.save()
        layout.save_nodes(cfg, [])  # nodes join; `stop` has no namespaces of this profile to remove
        out.step("✨", f"Control plane on {cfg.advertise_address}: pods {cfg.pod_cidr}, services {cfg.service_cidr}")
    pki_ = phase_pki(cfg, out)
    if discovery.ensure_ca_in_serving_chain(cfg.state_dir) and supervisor.is_running(cfg.state_dir, CONTROLPLANE):
        supervisor.stop(cfg.state_dir, CONTROLPLANE)  # restart it so that it presents the CA
    phase_control_plane(cfg, StartOptions(profile=cfg.profile), out)
    phase_kubeconfig(cfg, pki_, out)
    phase_system_objects(cfg, out)
    publish_cluster_config(cfg)
    start_dns(cfg, out)
    command = join_command(cfg.api_url, pki_.node_token, pki_.ca_data)
    out.step("🏄", "Your control plane is up. Join nodes (as root, on each machine) with:")
    out.detail(f"{command} --node-name NAME --node-ip IP")
    return cfg, command


def print_join_command(profile: str, out: Out | None = None) -> str:
    """`token create --print-join-command`: publish the layout of a running profile and return the command.

    Works for `start`ed profiles too, if their control plane presents the CA (restart it after the first
    call: the chain is added here)."""
    out = out or Out()
    from minikube_py import pki
    from minikube_py.cluster.lifecycle import load_config
    cfg = load_config(profile)
    if not supervisor.is_running(cfg.state_dir, CONTROLPLANE):
        raise ClusterError("GUEST_NOT_RUNNING", f'profile "{profile}" is not running', exit_code=80)
    if discovery.ensure_ca_in_serving_chain(cfg.state_dir):
        out.step("❗", "The API server will present its CA after a restart (`minikube-py stop` + `start`); "
                       "until then join with --ca-file")
    publish_cluster_config(cfg)
    tokens: dict[str, Any] = json.loads((cfg.state_dir / pki.TOKENS).read_text())
    return join_command(cfg.api_url, tokens["node"], (cfg.state_dir / pki.CA_CERT).read_bytes())


__all__ = ["JoinOptions", "JoinSpec", "InitOptions", "validate_join", "check_against_cluster", "join", "reset",
           "init", "init_config", "join_command", "print_join_command", "node_argv", "config_from_json"]
