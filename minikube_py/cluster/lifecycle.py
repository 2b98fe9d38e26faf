"""`start`, `stop`, `delete`, `status` and the `node` verbs, as straight lines of named phases.

`start` (k3s-style, one phase after another, each idempotent so `start` on a running profile only
ensures): config → images → pki (the API server presents its CA, for join's pin) → host network (bridge,
each node's namespace + veth) → control plane (wait /readyz) → kubeconfig → system objects (kube-dns
Service + Endpoints, the layout ConfigMap joiners read) → DNS → nodes → wait Ready.

Nodes join the way a VM does (join.py): `minikube-py join` runs inside each node namespace with the API
URL, the node token and the CA pin; it registers the Node, gets the pod CIDR the control plane assigns,
builds cni0 and starts the agent. The host's routes to the pod CIDRs then follow the Node objects
(`sync_host_routes`).

`stop` ends the node processes first (so no agent restarts anything), removes the profile's containers,
ends DNS and the control plane, then undoes the network. Pod containers are removed, not kept: their
network lives in the node namespaces that `stop` deletes, so a kept container would be unreachable; the
pods stay in the API and the agents recreate them on the next `start`. `delete` also drops the state dir
and the kubeconfig context.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import minikube_py
from minikube_py import config as C
from minikube_py.config import ClusterConfig, home_dir, profile_dir
from minikube_py.cluster import kubeconfig, layout, network, supervisor
from minikube_py.cluster.apicalls import Api, ApiCallError
from minikube_py.cluster.layout import NodeSpec

VERSION = "0.1.0"
PROJECT_ROOT = Path(minikube_py.__file__).resolve().parent.parent
CONTROLPLANE = "controlplane"
DNS = "dns"


class ClusterError(RuntimeError):
    """A failure the CLI reports as `❌  Exiting due to <reason>: <message>` with an exit code."""

    def __init__(self, reason: str, message: str, exit_code: int = 1) -> None:
        self.reason = reason
        self.exit_code = exit_code
        super().__init__(message)


class Out:
    """Where progress goes. The CLI passes a rich console; tests and library callers may pass nothing."""

    def __init__(self, emit: Callable[[str], None] | None = None) -> None:
        self._emit = emit or (lambda line: None)

    def step(self, emoji: str, text: str) -> None:
        self._emit(f"{emoji}  {text}")

    def detail(self, text: str) -> None:
        self._emit(f"    ▪ {text}")


# --- small helpers --------------------------------------------------------------------------------------
def profile_exists(profile: str) -> bool:
    return (profile_dir(profile) / "cluster.json").is_file()


def load_config(profile: str) -> ClusterConfig:
    if not profile_exists(profile):
        raise ClusterError("PROFILE_NOT_FOUND",
                           f'Profile "{profile}" not found. Run "minikube-py profile list" to view all profiles.',
                           exit_code=85)
    return ClusterConfig.load(profile)


def child_env(cfg: ClusterConfig | None = None) -> dict[str, str]:
    """The environment of every process we start: ours, plus the state root made explicit, and for a
    node of an `--offline` profile the agent's switch that forbids image pulls."""
    env = dict(os.environ)
    env["MINIKUBE_PY_HOME"] = str(home_dir())
    env["PYTHONUNBUFFERED"] = "1"
    if cfg is not None and cfg.offline:
        env["MINIKUBE_PY_OFFLINE"] = "1"
    return env


def api_for(cfg: ClusterConfig, timeout: float = 5.0) -> Api:
    from minikube_py import pki
    token = json.loads((cfg.state_dir / pki.TOKENS).read_text())["admin"]
    return Api(cfg.api_url, cfg.state_dir / pki.CA_CERT, token, timeout=timeout)


def _loopback_port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def listen_addresses(cfg: ClusterConfig) -> list[str]:
    """The gateway first (the kubeconfig's server, always this profile's own), plus loopback when
    127.0.0.1:8443 is free.

    Two running profiles cannot both own 127.0.0.1:8443, so the second one listens on its gateway only.
    Components that dial the control plane should use the first listen address (or `cfg.api_url`), never
    a hard-coded 127.0.0.1, or they reach another profile's API server."""
    return [cfg.gateway_ip] + (["127.0.0.1"] if _loopback_port_free(C.API_PORT) else [])


def _wait(what: str, check: Callable[[], bool], timeout: float, alive: Callable[[], bool] | None = None,
          interval: float = 0.25) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if alive is not None and not alive():
            raise ClusterError("PROCESS_DIED", f"{what}: the process exited")
        if time.monotonic() > deadline:
            raise ClusterError("TIMEOUT", f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def _docker():
    import docker
    return docker.from_env(timeout=60)


def remove_containers(profile: str, node: str | None = None) -> int:
    """Force-remove the profile's containers (of one node when *node* is given); returns how many."""
    labels = [f"{C.LABEL_PROFILE}={profile}"] + ([f"{C.LABEL_NODE}={node}"] if node else [])
    try:
        client = _docker()
        found = client.containers.list(all=True, filters={"label": labels})
    except Exception:  # noqa: BLE001 — no Docker: nothing of ours can exist there
        return 0
    # App containers before their pause containers (they share its network namespace).
    found.sort(key=lambda c: c.labels.get(C.LABEL_SANDBOX) == "true")
    for c in found:
        try:
            c.remove(force=True)
        except Exception:  # noqa: BLE001 — already gone
            pass
    return len(found)


# --- start ----------------------------------------------------------------------------------------------
@dataclasses.dataclass
class StartOptions:
    profile: str = C.DEFAULT_PROFILE
    nodes: int | None = None
    proxy_mode: str | None = None
    node_grace: float | None = None
    pod_eviction_timeout: float | None = None
    keep_on_failure: bool = False
    wait_timeout: float = 180.0
    bootstrap_images: bool = True
    offline: bool | None = None


def start(opts: StartOptions, out: Out | None = None) -> ClusterConfig:
    out = out or Out()
    t0 = time.monotonic()
    out.step("😄", f"[{opts.profile}] minikube-py v{VERSION}")
    cfg = phase_config(opts, out)
    was_running = supervisor.is_running(cfg.state_dir, CONTROLPLANE)
    try:
        phase_images(cfg, opts, out)
        pki_ = phase_pki(cfg, out)
        from minikube_py.cluster import discovery
        if discovery.ensure_ca_in_serving_chain(cfg.state_dir) and supervisor.is_running(cfg.state_dir, CONTROLPLANE):
            supervisor.stop(cfg.state_dir, CONTROLPLANE)  # restarted below, presenting the CA (join pins it)
        nodes = layout.load_nodes(cfg)
        phase_host_network(cfg, nodes, opts, out)
        phase_control_plane(cfg, opts, out)
        phase_kubeconfig(cfg, pki_, out)
        phase_system_objects(cfg, out)
        phase_dns(cfg, out)
        nodes = phase_nodes(cfg, nodes, out, opts.wait_timeout)
        phase_wait_nodes_ready(cfg, nodes, opts.wait_timeout, out)
    except (ClusterError, KeyboardInterrupt):
        # kind's rule: a failed bring-up removes what it made unless asked to keep it. A profile that was
        # running before this `start` is left alone (the failure may be one node; `status` tells).
        if not opts.keep_on_failure and not was_running:
            out.step("🧹", "Start failed: stopping what was started (keep it with --keep-on-failure)")
            try:
                stop(cfg.profile, Out())
            except ClusterError as err:
                out.detail(f"cleanup incomplete: {err}")
        raise
    took = time.monotonic() - t0
    out.step("🏄", f'Done! kubectl is now configured to use "{cfg.profile}" cluster and "default" namespace '
                   f"by default (took {took:.1f}s)")
    return cfg


def phase_config(opts: StartOptions, out: Out) -> ClusterConfig:
    """Load the profile, or choose its network slot and save a new one."""
    if opts.proxy_mode == "ipvs":
        # Fail before anything is made: every node's proxy would otherwise start without rules.
        from proxy.ipvs import IpvsUnavailable, require_ipvs
        try:
            require_ipvs()
        except IpvsUnavailable as err:
            raise ClusterError("PROVIDER_IPVS_UNAVAILABLE", str(err), exit_code=14) from None
    if profile_exists(opts.profile):
        cfg = ClusterConfig.load(opts.profile)
        offline_changed = opts.offline is not None and opts.offline != cfg.offline
        changed = False
        for attr, value in (("proxy_mode", opts.proxy_mode), ("node_grace_seconds", opts.node_grace),
                            ("pod_eviction_seconds", opts.pod_eviction_timeout), ("offline", opts.offline)):
            if value is not None and getattr(cfg, attr) != value:
                setattr(cfg, attr, value)
                changed = True
        if opts.nodes is not None and opts.nodes != len(layout.load_nodes(cfg)):
            out.step("❗", f"--nodes is ignored for an existing profile: use `minikube-py node add|delete`")
        if changed:
            cfg.save()
            if offline_changed:
                _restart_running_nodes(cfg, out)
        out.step("👍", f'Using the existing profile "{cfg.profile}" ({cfg.node_subnet} on {cfg.bridge})')
        return cfg
    if opts.proxy_mode not in (None, "iptables", "ipvs"):
        raise ClusterError("BAD_FLAG", f"--proxy-mode must be iptables or ipvs, not {opts.proxy_mode}")
    slot = layout.choose_slot(opts.profile)
    cfg = ClusterConfig(profile=opts.profile, **slot, nodes=opts.nodes or 1)
    if opts.proxy_mode:
        cfg.proxy_mode = opts.proxy_mode
    if opts.node_grace is not None:
        cfg.node_grace_seconds = opts.node_grace
    if opts.pod_eviction_timeout is not None:
        cfg.pod_eviction_seconds = opts.pod_eviction_timeout
    if opts.offline is not None:
        cfg.offline = opts.offline
    _check_netns_names(cfg)
    cfg.save()
    layout.save_nodes(cfg, [layout.node_spec(cfg, i) for i in range(cfg.nodes)])
    out.step("✨", f"Using the namespace driver: node network {cfg.node_subnet} on bridge {cfg.bridge}, "
                   f"pods {cfg.pod_cidr}, services {cfg.service_cidr}")
    return cfg


def _restart_running_nodes(cfg: ClusterConfig, out: Out) -> None:
    """Stop the running node processes of a profile whose node settings changed, so that the join below
    starts them with the new ones. Their pods keep running: an agent adopts its containers on start."""
    for node in layout.load_nodes(cfg):
        if supervisor.is_running(cfg.state_dir, node.process_name):
            out.step("🔄", f'Restarting node "{node.name}" for the new settings (its pods keep running)')
            supervisor.stop(cfg.state_dir, node.process_name)


def _check_netns_names(cfg: ClusterConfig) -> None:
    """Namespace names are cut from the profile name: refuse a profile that would share them."""
    mine = cfg.netns_name(0)
    for other in layout.other_profiles_configs(cfg.profile):
        if other.netns_name(0) == mine:
            raise ClusterError("PROFILE_NAME_CLASH", f'profile "{cfg.profile}" would share network namespace '
                               f'names ({mine}) with profile "{other.profile}": choose another name')


def images_present(names: list[str]) -> bool:
    try:
        client = _docker()
        for n in names:
            client.images.get(n)
        return True
    except Exception:  # noqa: BLE001 — ImageNotFound or no Docker
        return False


def phase_images(cfg: ClusterConfig, opts: StartOptions, out: Out) -> None:
    if images_present([C.IMAGES["pause"]]):
        out.step("💿", "Images present (minikube-py image ls)")
        return
    import importlib.util
    has_bootstrap = importlib.util.find_spec("minikube_py.images.cli") is not None
    if not (opts.bootstrap_images and has_bootstrap):
        out.step("❗", f"Image {C.IMAGES['pause']} is missing: pods cannot start until you run "
                       "`minikube-py image bootstrap`")
        return
    out.step("💾", "Building the images (minikube-py image bootstrap; the first time takes a few minutes)")
    proc = subprocess.run([sys.executable, "-m", "minikube_py.cli", "image", "bootstrap"], cwd=PROJECT_ROOT,
                          env=child_env())
    if proc.returncode != 0:
        raise ClusterError("IMAGES", "`minikube-py image bootstrap` failed; see its output above")


def phase_pki(cfg: ClusterConfig, out: Out):
    from minikube_py import pki
    out.step("🔑", "Generating certificates and tokens")
    return pki.ensure_pki(cfg.state_dir, [cfg.gateway_ip, cfg.kubernetes_service_ip],
                          [f"control-plane.{cfg.profile}.minikube-py.internal"])


def phase_host_network(cfg: ClusterConfig, nodes: list[NodeSpec], opts: StartOptions, out: Out) -> None:
    out.step("🔗", f"Configuring the host network ({cfg.bridge}, {len(nodes)} node namespace(s))")
    try:
        network.bring_up(cfg, nodes, opts.keep_on_failure, progress=out.detail, inside=False)
    except network.StepFailed as err:
        raise ClusterError("HOST_NETWORK", str(err)) from err
    except RuntimeError as err:
        raise ClusterError("HOST_NETWORK", str(err)) from err


def phase_control_plane(cfg: ClusterConfig, opts: StartOptions, out: Out) -> None:
    out.step("🚜", f"Starting the control plane (API server on {cfg.api_url})")
    argv = [sys.executable, "-m", "minikube_py.controlplane", "--profile", cfg.profile]
    for addr in listen_addresses(cfg):
        argv += ["--listen", addr]
    argv += ["--port", str(C.API_PORT)]
    supervisor.start(cfg.state_dir, CONTROLPLANE, argv, match=argv[1:], cwd=PROJECT_ROOT, env=child_env())
    api = api_for(cfg, timeout=2.0)
    try:
        _wait("the API server /readyz", api.ready, timeout=60,
              alive=lambda: supervisor.is_running(cfg.state_dir, CONTROLPLANE))
    except ClusterError as err:
        raise ClusterError("CONTROL_PLANE", f"{err}\n--- {CONTROLPLANE}.log ---\n"
                           f"{supervisor.log_tail(cfg.state_dir, CONTROLPLANE)}") from err


def phase_kubeconfig(cfg: ClusterConfig, pki_, out: Out) -> None:
    path = kubeconfig.merge_context(cfg.profile, cfg.api_url, pki_.ca_data, pki_.admin_token)
    out.step("📝", f'Context "{cfg.profile}" written to {path}')


def kube_dns_objects(cfg: ClusterConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    """The `kube-dns` Service (no selector: the DNS server is not a pod) and its Endpoints (the gateway)."""
    labels = {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS", "kubernetes.io/cluster-service": "true"}
    ports = [{"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]
    svc = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": labels},
           "spec": {"type": "ClusterIP", "clusterIP": cfg.dns_service_ip,
                    "ports": [dict(p, targetPort=53) for p in ports]}}
    eps = {"apiVersion": "v1", "kind": "Endpoints",
           "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": labels},
           "subsets": [{"addresses": [{"ip": cfg.gateway_ip}], "ports": ports}]}
    return svc, eps


def phase_system_objects(cfg: ClusterConfig, out: Out) -> None:
    out.step("📦", "Creating system objects (kube-system/kube-dns)")
    api = api_for(cfg)
    try:
        if api.get_or_none("/api/v1/namespaces/kube-system") is None:
            api.request("POST", "/api/v1/namespaces",
                        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}})
        svc, eps = kube_dns_objects(cfg)
        api.ensure("/api/v1/namespaces/kube-system/services", svc)
        api.ensure("/api/v1/namespaces/kube-system/endpoints", eps)
    except (ApiCallError, OSError) as err:
        raise ClusterError("SYSTEM_OBJECTS", f"creating kube-system/kube-dns: {err}") from err
    from minikube_py.cluster.join import publish_cluster_config
    publish_cluster_config(cfg)  # what `join` reads, here as on a VM control plane


def dns_answers(ip: str, timeout: float = 0.5) -> bool:
    """One UDP query for `kubernetes.default.svc.cluster.local` to our own DNS server: any answer counts."""
    query = (b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
             + b"".join(bytes([len(p)]) + p.encode() for p in "kubernetes.default.svc.cluster.local".split("."))
             + b"\x00\x00\x01\x00\x01")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(query, (ip, 53))
            return s.recv(512)[:2] == b"\x12\x34"
        except OSError:
            return False


def phase_dns(cfg: ClusterConfig, out: Out) -> None:
    out.step("🌐", f"Starting cluster DNS on {cfg.gateway_ip}:53 (kube-dns {cfg.dns_service_ip})")
    argv = [sys.executable, "-m", "dns", "--profile", cfg.profile]
    # cwd = the project root: `python -m dns` must find our `dns` package before dnspython's.
    supervisor.start(cfg.state_dir, DNS, argv, match=argv[1:], cwd=PROJECT_ROOT, env=child_env())
    try:
        _wait("cluster DNS to answer", lambda: dns_answers(cfg.gateway_ip), timeout=30,
              alive=lambda: supervisor.is_running(cfg.state_dir, DNS))
    except ClusterError as err:
        raise ClusterError("DNS", f"{err}\n--- {DNS}.log ---\n{supervisor.log_tail(cfg.state_dir, DNS)}") from err


def join_argv(cfg: ClusterConfig, node: NodeSpec, wait_timeout: float) -> list[str]:
    """`minikube-py join` inside the node's namespace: API URL, node token (a file), CA pin, name, IP —
    what a VM gets, nothing local-only (no --pod-cidr: the control plane assigns it)."""
    from minikube_py import pki
    from minikube_py.cluster import discovery, join
    token_file = cfg.state_dir / join.JOIN_TOKEN_FILE
    token = json.loads((cfg.state_dir / pki.TOKENS).read_text())["node"]
    join._write_private(token_file, token.encode() + b"\n")
    pin = discovery.ca_cert_hash((cfg.state_dir / pki.CA_CERT).read_bytes())
    return ["ip", "netns", "exec", node.netns, sys.executable, "-m", "minikube_py.cli", "join", "-p", cfg.profile,
            "--api-url", cfg.api_url, "--token-file", str(token_file), "--ca-cert-hash", pin,
            "--node-name", node.name, "--node-ip", node.ip, "--wait-timeout", str(wait_timeout)]


def join_node(cfg: ClusterConfig, node: NodeSpec, wait_timeout: float = 120.0) -> None:
    """Join local node *node* (its namespace and veth exist) and wait until it is Ready."""
    proc = subprocess.run(join_argv(cfg, node, wait_timeout), cwd=PROJECT_ROOT, env=child_env(cfg),
                          capture_output=True, text=True, timeout=wait_timeout + 60)
    if proc.returncode != 0:
        raise ClusterError("NODE_JOIN", f'node "{node.name}" could not join:\n{proc.stdout[-4000:]}'
                           f"{proc.stderr[-4000:]}\n--- {node.process_name}.log ---\n"
                           f"{supervisor.log_tail(cfg.state_dir, node.process_name)}")


def sync_host_routes(cfg: ClusterConfig) -> None:
    """The host's `<podCIDR> via <node IP>` routes, from the Node objects (host-gw, as each agent does)."""
    try:
        nodes = api_for(cfg).get("/api/v1/nodes").get("items") or []
    except (ApiCallError, OSError) as err:
        raise ClusterError("HOST_ROUTES", f"listing nodes for the host routes: {err}") from err
    network.sync_host_pod_routes(cfg, network.host_pod_routes(cfg, nodes))


def node_argv(cfg: ClusterConfig, node: NodeSpec, pod_cidr: str | None = None) -> tuple[list[str], list[str]]:
    """The node process `join` runs for a local node (inside its namespace), and the part of it that
    identifies it. The pod CIDR is the one the control plane gave (join's record) unless given."""
    from minikube_py import pki
    from minikube_py.cluster import join
    record = cfg.state_dir / f"joined-{node.name}.json"
    if pod_cidr is None:
        pod_cidr = json.loads(record.read_text())["pod_cidr"] if record.is_file() else node.pod_cidr
    spec = join.JoinSpec(api_url=cfg.api_url, node_name=node.name, node_ip=node.ip, pod_cidr=pod_cidr, token="",
                         ca_cert_hash=None, ca_pem=None, interface=None, foreground=False, wait_timeout=0)
    full = join.node_argv(cfg.profile, spec, cfg.state_dir / join.JOIN_TOKEN_FILE, cfg.state_dir / pki.CA_CERT)
    return ["ip", "netns", "exec", node.netns] + full, full[1:]


def start_node_process(cfg: ClusterConfig, node: NodeSpec) -> int:
    """Start a joined local node's agent again (as `join` started it), e.g. after it was killed."""
    argv, match = node_argv(cfg, node)
    return supervisor.start(cfg.state_dir, node.process_name, argv, match=match, cwd=PROJECT_ROOT,
                            env=child_env(cfg))


def phase_nodes(cfg: ClusterConfig, nodes: list[NodeSpec], out: Out, wait_timeout: float = 120.0) -> list[NodeSpec]:
    """Join every node (a stopped node is started again: `start` ensures the whole cluster), one after the
    other so that a fresh cluster's ranges follow the node order."""
    started = []
    for node in nodes:
        out.step("🚀", f'Starting node "{node.name}" ({node.ip}, netns {node.netns}): minikube-py join')
        network.set_node_link(node, up=True)
        join_node(cfg, node, wait_timeout)
        started.append(dataclasses.replace(node, stopped=False))
    layout.save_nodes(cfg, started)
    sync_host_routes(cfg)
    return started


def node_ready(node_obj: dict[str, Any] | None) -> bool:
    for cond in ((node_obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False


def wait_nodes_ready(cfg: ClusterConfig, nodes: list[NodeSpec], timeout: float) -> None:
    api = api_for(cfg)
    pending = {n.name for n in nodes}

    def check() -> bool:
        for name in list(pending):
            try:
                if node_ready(api.get_or_none(f"/api/v1/nodes/{name}")):
                    pending.discard(name)
            except (ApiCallError, OSError):
                return False
        return not pending

    def alive() -> bool:
        dead = [n for n in nodes if n.name in pending and not supervisor.is_running(cfg.state_dir, n.process_name)]
        if dead:
            raise ClusterError("NODE_PROCESS_DIED", f'the process of node "{dead[0].name}" exited\n'
                               f"--- {dead[0].process_name}.log ---\n"
                               f"{supervisor.log_tail(cfg.state_dir, dead[0].process_name)}")
        return True

    _wait(f"node(s) {', '.join(sorted(pending))} to be Ready", check, timeout, alive=alive, interval=0.3)


def phase_wait_nodes_ready(cfg: ClusterConfig, nodes: list[NodeSpec], timeout: float, out: Out) -> None:
    out.step("⌛", f"Waiting for {len(nodes)} node(s) to be Ready")
    wait_nodes_ready(cfg, nodes, timeout)


# --- stop / delete --------------------------------------------------------------------------------------
def stop(profile: str, out: Out | None = None) -> None:
    out = out or Out()
    cfg = load_config(profile)
    nodes = layout.load_nodes(cfg)
    for node in nodes:
        out.step("✋", f'Stopping node "{node.name}" ...')
        supervisor.stop(cfg.state_dir, node.process_name)
    removed = remove_containers(profile)
    if removed:
        out.detail(f"removed {removed} container(s)")
    for name in (DNS, CONTROLPLANE):
        supervisor.stop(cfg.state_dir, name)
    for name in supervisor.names(cfg.state_dir):  # anything else we started (addons, old node names)
        supervisor.stop(cfg.state_dir, name)
    # A node process killed hard may leave children in its namespace, which would keep the namespace (and
    # its veth) alive after `ip netns del`: end those that carry this profile on their command line.
    from minikube_py.cluster.leftovers import kill_netns_processes
    for node in nodes:
        if network.netns_exists(node.netns):
            kill_netns_processes(node.netns, cfg.profile, exact=True)
    # The unreachable routes stay: the kubeconfig still names the API address, and nothing aimed at a
    # stopped cluster may leave by the default route. `delete` removes them.
    errors = network.tear_down(cfg, nodes, progress=out.detail, keep_guards=True)
    if errors:
        raise ClusterError("STOP", "some host network state could not be removed:\n  " + "\n  ".join(errors))
    out.step("🛑", f"{len(nodes)} node(s) stopped.")


def delete(profile: str, out: Out | None = None) -> None:
    out = out or Out()
    if profile_exists(profile):
        out.step("🔥", f'Deleting "{profile}" ...')
        stop(profile, Out())
        errors = network.undo_plan(network.guard_routes(load_config(profile)))
        if errors:
            raise ClusterError("DELETE", "some host routes could not be removed:\n  " + "\n  ".join(errors))
    else:
        out.step("🤷", f'"{profile}" profile does not exist, trying anyways.')  # minikube's words
        remove_containers(profile)
    if kubeconfig.remove_context(profile):
        out.detail(f"removed context {profile} from {kubeconfig.kubeconfig_path()}")
    shutil.rmtree(profile_dir(profile), ignore_errors=True)
    out.step("💀", f'Removed all traces of the "{profile}" cluster.')


def list_profiles() -> list[str]:
    root = home_dir()
    return sorted(d.name for d in root.iterdir() if (d / "cluster.json").is_file()) if root.is_dir() else []


# --- status ---------------------------------------------------------------------------------------------
def node_status(cfg: ClusterConfig, node: NodeSpec) -> dict[str, str]:
    """A node's host (its namespace, and not stopped by `node stop`) and kubelet (its agent process).

    A host that is not running makes every other field say the same, as minikube's `nodeStatus` does
    ("rather than delivering conflicting messages")."""
    host = "Running" if network.netns_exists(node.netns) and not node.stopped else "Stopped"
    kubelet = "Running" if supervisor.is_running(cfg.state_dir, node.process_name) else "Stopped"
    return {"host": host, "kubelet": kubelet if host == "Running" else host}


def status(profile: str) -> tuple[list[dict[str, str]], int]:
    """One block per node like `minikube status`; the control-plane node adds apiserver, dns, kubeconfig.

    Returns the blocks and minikube's exit code for them (`status_exit_code`)."""
    cfg = load_config(profile)
    blocks = []
    for node in layout.load_nodes(cfg):
        block = {"name": node.name, "type": "Control Plane" if node.index == 0 else "Worker"}
        block.update(node_status(cfg, node))
        if node.index == 0:
            if block["host"] != "Running":
                block.update(apiserver=block["host"], dns=block["host"], kubeconfig=block["host"])
            else:
                cp = supervisor.is_running(cfg.state_dir, CONTROLPLANE)
                ready = cp and api_for(cfg, timeout=2.0).ready()
                block["apiserver"] = "Running" if ready else "Stopped"
                block["dns"] = "Running" if supervisor.is_running(cfg.state_dir, DNS) else "Stopped"
                block["kubeconfig"] = ("Configured" if kubeconfig.context_configured(profile, cfg.api_url)
                                       else "Misconfigured" if cp else "Stopped")
        blocks.append(block)
    return blocks, status_exit_code(blocks)


def status_exit_code(blocks: list[dict[str, str]]) -> int:
    """minikube's `status` exit code, a bit mask over all nodes (pure): 1 = a host is not running,
    2 = a kubelet or the API server (or, ours, the cluster DNS) is not running, 4 = the kubeconfig is
    not configured. So a stopped cluster exits 7 and a cluster with one stopped worker exits 3."""
    code = 0
    for block in blocks:
        if block.get("host") != "Running":
            code |= 1
        if any(block.get(k, "Running") != "Running" for k in ("kubelet", "apiserver", "dns")):
            code |= 2
        if block.get("kubeconfig", "Configured") != "Configured":
            code |= 4
    return code


def status_json(blocks: list[dict[str, str]]) -> list[dict]:
    """minikube's `status -o json` objects (its `Status` struct): Name, Host, Kubelet, APIServer,
    Kubeconfig, Worker; a worker's APIServer and Kubeconfig are "Irrelevant". Pure."""
    out = []
    for block in blocks:
        worker = block.get("type") == "Worker"
        out.append({"Name": block["name"], "Host": block["host"], "Kubelet": block["kubelet"],
                    "APIServer": "Irrelevant" if worker else block["apiserver"],
                    "Kubeconfig": "Irrelevant" if worker else block["kubeconfig"], "Worker": worker})
    return out


# --- nodes ----------------------------------------------------------------------------------------------
def require_running(cfg: ClusterConfig) -> None:
    """minikube's mustload check (exit 83). Commands that talk to the API call it first: a stopped cluster's
    API address has no bridge any more, so connecting would send packets out by the default route."""
    if not supervisor.is_running(cfg.state_dir, CONTROLPLANE):
        raise ClusterError("GUEST_NOT_RUNNING", f"The control-plane node {cfg.profile} host is not running: "
                           f'state=Stopped. To start a cluster, run: "minikube-py start -p {cfg.profile}"',
                           exit_code=83)


def _node(cfg: ClusterConfig, name: str) -> NodeSpec:
    try:
        return layout.find_node(cfg, name)
    except KeyError:
        raise ClusterError("GUEST_NODE_RETRIEVE", f"retrieving node: Could not find node {name}",
                           exit_code=85) from None


def node_add(profile: str, wait_timeout: float = 180.0, out: Out | None = None) -> NodeSpec:
    out = out or Out()
    cfg = load_config(profile)
    require_running(cfg)
    nodes = layout.load_nodes(cfg)
    node = layout.node_spec(cfg, layout.next_node_index(nodes))
    out.step("😄", f'Adding node "{node.name}" to cluster "{profile}" ({node.ip})')
    try:
        network.execute_plan(network.node_steps(cfg, node, nodes + [node], inside=False), progress=out.detail)
    except network.StepFailed as err:
        raise ClusterError("NODE_ADD", str(err)) from err
    layout.save_nodes(cfg, nodes + [node])
    join_node(cfg, node, wait_timeout)
    sync_host_routes(cfg)
    out.step("🏄", f'Successfully added "{node.name}" to "{profile}"!')
    return node


def node_delete(profile: str, name: str, out: Out | None = None) -> None:
    out = out or Out()
    cfg = load_config(profile)
    node = _node(cfg, name)
    name = node.name  # `m02` names the same node as `<profile>-m02`
    if node.index == 0:
        raise ClusterError("NODE_DELETE", "the control-plane node cannot be deleted: delete the profile instead")
    nodes = layout.load_nodes(cfg)
    others = [n for n in nodes if n.index != node.index]
    out.step("🔥", f'Deleting node "{name}" from cluster "{profile}"')
    supervisor.stop(cfg.state_dir, node.process_name)
    remove_containers(profile, node.name)
    # Plan with this node last, so its plan includes the routes to it in every other node's namespace.
    errors = network.undo_plan(network.node_steps(cfg, node, others + [node], inside=False))
    layout.save_nodes(cfg, others)
    (cfg.state_dir / f"joined-{name}.json").unlink(missing_ok=True)
    if supervisor.is_running(cfg.state_dir, CONTROLPLANE):
        try:
            api_for(cfg).delete(f"/api/v1/nodes/{name}")
            sync_host_routes(cfg)  # drops the host's route to its pod range
        except (ApiCallError, OSError, ClusterError) as err:
            errors.append(f"deleting Node {name}: {err}")
    if errors:
        raise ClusterError("NODE_DELETE", "\n".join(errors))
    out.step("💀", f'Node "{name}" was successfully deleted.')


def node_stop(profile: str, name: str, out: Out | None = None) -> None:
    """A node failure on a laptop: its process ends and its link goes down; its containers keep running."""
    out = out or Out()
    cfg = load_config(profile)
    node = _node(cfg, name)
    name = node.name  # `m02` names the same node as `<profile>-m02`
    out.step("✋", f'Stopping node "{name}" ...')
    supervisor.stop(cfg.state_dir, node.process_name)
    network.set_node_link(node, up=False)
    layout.save_nodes(cfg, [dataclasses.replace(n, stopped=True) if n.index == node.index else n
                            for n in layout.load_nodes(cfg)])
    out.step("🛑", f'Successfully stopped node "{name}"')


def node_start(profile: str, name: str, wait_timeout: float = 180.0, out: Out | None = None) -> None:
    out = out or Out()
    cfg = load_config(profile)
    require_running(cfg)
    node = _node(cfg, name)
    name = node.name  # `m02` names the same node as `<profile>-m02`
    nodes = layout.load_nodes(cfg)
    out.step("👍", f'Starting node "{name}" ...')
    others_first = [n for n in nodes if n.index != node.index] + [node]
    try:
        network.execute_plan(network.node_steps(cfg, node, others_first, inside=False), progress=out.detail)
    except network.StepFailed as err:
        raise ClusterError("NODE_START", str(err)) from err
    network.set_node_link(node, up=True)
    join_node(cfg, node, wait_timeout)  # the Node exists: it keeps its pod range
    layout.save_nodes(cfg, [dataclasses.replace(n, stopped=False) if n.index == node.index else n for n in nodes])
    sync_host_routes(cfg)
    out.step("😄", f'Successfully started node "{name}"!')
