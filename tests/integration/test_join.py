"""The join path a Vagrant VM takes, exercised by a local network namespace.

A test bridge (the "VM network") with the control plane made by `minikube-py init --advertise-address
<bridge gateway>`; a namespace linked to it (the "worker VM") runs `minikube-py join` under
`ip netns exec`, with its own MINIKUBE_PY_HOME (another machine's disk). Asserts: a wrong
`--ca-cert-hash` is refused before the token is used (no Node, no saved token, exit 65); the right one
registers the Node and it becomes Ready in the API; `reset` removes the node network again.

Everything is named for profile `mkt-join` (bridge alias, namespace `mkpy-mkt-join-1`, iptables comments,
container labels), claimed for this process, and removed in the fixture's `finally`.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from minikube_py import pki
from minikube_py.client import ApiClient
from minikube_py.cluster import discovery, kubeconfig, layout, leftovers, network, supervisor
from minikube_py.cluster.lifecycle import CONTROLPLANE, DNS, remove_containers
from minikube_py.config import ClusterConfig, profile_dir

pytestmark = pytest.mark.integration

PROFILE = "mkt-join"
NODE = "mkt-join-w1"
ROOT = Path(__file__).resolve().parents[2]


def _needs_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces, bridges, iptables)")


def _cli(*args: str, netns: str | None = None, env: dict[str, str] | None = None,
         timeout: float = 180) -> subprocess.CompletedProcess[str]:
    argv = (["ip", "netns", "exec", netns] if netns else []) + [sys.executable, "-m", "minikube_py.cli", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def join_lab(tmp_path):
    """Bridge + control plane (`init`) + an empty namespace linked to the bridge. Yields a dict."""
    _needs_root()
    state = profile_dir(PROFILE)
    if state.exists() and not leftovers._owned(state, 0):
        leftovers.clean_profile(PROFILE)
    leftovers.claim(PROFILE)
    slot = layout.choose_slot(PROFILE)
    lab_cfg = ClusterConfig(profile=PROFILE, **slot)
    gateway = lab_cfg.gateway_ip
    node_ip, pod_cidr, netns = lab_cfg.node_ip(1), lab_cfg.node_pod_cidr(1), lab_cfg.netns_name(1)
    host_plan = network.host_steps(lab_cfg) + [
        network.Netns(netns),
        network.NodeLink(f"{lab_cfg.bridge}-n1", lab_cfg.bridge, netns, f"{node_ip}/{lab_cfg.node_prefixlen}"),
    ]
    node_home = tmp_path / "worker-home"
    env_cp = {"MINIKUBE_PY_DNS_UPSTREAMS": "none"}
    try:
        network.execute_plan(host_plan)
        proc = _cli("init", "-p", PROFILE, "--advertise-address", gateway, "--pod-cidr", lab_cfg.pod_cidr,
                    "--service-cidr", lab_cfg.service_cidr, "--print-join-command-only", env=env_cp)
        assert proc.returncode == 0, f"init failed\n{proc.stdout}\n{proc.stderr}\n" + \
            supervisor.log_tail(state, CONTROLPLANE)
        command = proc.stdout.strip().splitlines()[-1].split()
        assert command[:2] == ["minikube-py", "join"], proc.stdout
        yield {"cfg": ClusterConfig.load(PROFILE), "gateway": gateway, "node_ip": node_ip, "pod_cidr": pod_cidr,
               "netns": netns, "node_home": node_home, "join_args": command[2:], "state": state}
    finally:
        node_state = node_home / PROFILE
        supervisor.stop(node_state, f"node-{NODE}", timeout=5)
        if network.netns_exists(netns):
            leftovers.kill_netns_processes(netns, PROFILE, exact=True)
        remove_containers(PROFILE)
        for name in (DNS, CONTROLPLANE):
            supervisor.stop(state, name, timeout=5)
        network.undo_plan(host_plan)
        kubeconfig.remove_context(PROFILE)
        shutil.rmtree(state, ignore_errors=True)


def _flag(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


async def _node(cfg: ClusterConfig, state: Path, name: str) -> dict | None:
    token = json.loads((state / pki.TOKENS).read_text())["admin"]
    client = ApiClient(cfg.api_url, token=token, ca_file=state / pki.CA_CERT)
    try:
        from minikube_py.client import NotFound
        try:
            return await client.get("nodes", name)
        except NotFound:
            return None
    finally:
        await client.close()


def _ready(node: dict | None) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in ((node or {}).get("status") or {}).get("conditions") or [])


async def test_join_from_a_namespace_registers_a_ready_node(join_lab):
    lab = join_lab
    args = lab["join_args"]
    api_url, token, pin = _flag(args, "--api-url"), _flag(args, "--token"), _flag(args, "--ca-cert-hash")
    assert api_url == f"https://{lab['gateway']}:8443"
    assert pin == discovery.ca_cert_hash((lab["state"] / pki.CA_CERT).read_bytes())
    node_flags = ["--node-name", NODE, "--node-ip", lab["node_ip"], "--pod-cidr", lab["pod_cidr"],
                  "--interface", "eth0", "--wait-timeout", "90"]
    env = {"MINIKUBE_PY_HOME": str(lab["node_home"])}

    # A pin of some other CA: refused at discovery, before the token is used anywhere.
    other = pki.ensure_pki(lab["node_home"].parent / "other-ca", ["127.0.0.1"], [])
    wrong = _cli("join", "--api-url", api_url, "--token", token, "--ca-cert-hash",
                 discovery.ca_cert_hash(other.ca_data), *node_flags, netns=lab["netns"], env=env)
    assert wrong.returncode == 65, wrong.stdout + wrong.stderr
    assert "does not match --ca-cert-hash" in wrong.stderr
    assert not (lab["node_home"] / PROFILE / "join.token").exists()
    assert await _node(lab["cfg"], lab["state"], NODE) is None
    assert not network.link_exists("cni0", lab["netns"])  # nothing prepared either

    # The printed command, run inside the namespace: joins and waits until Ready.
    proc = _cli("join", *args, *node_flags, netns=lab["netns"], env=env)
    node_state = lab["node_home"] / PROFILE
    assert proc.returncode == 0, (proc.stdout + proc.stderr + "\n--- node log ---\n"
                                  + supervisor.log_tail(node_state, f"node-{NODE}", 40))
    node = await _node(lab["cfg"], lab["state"], NODE)
    assert _ready(node), node
    assert {"type": "InternalIP", "address": lab["node_ip"]} in node["status"]["addresses"]
    assert node["spec"]["podCIDR"] == lab["pod_cidr"]
    # The node kept what the cluster published, not a default layout.
    saved = json.loads((node_state / "cluster.json").read_text())
    assert saved["service_cidr"] == lab["cfg"].service_cidr and saved["advertise_address"] == lab["gateway"]
    assert oct((node_state / "join.token").stat().st_mode & 0o777) == "0o600"
    # The node-local network exists inside the namespace.
    pod_gw = lab["pod_cidr"].rsplit(".", 1)[0] + ".1"
    addrs = subprocess.run(["ip", "-n", lab["netns"], "-j", "addr", "show", "dev", "cni0"], capture_output=True,
                           text=True, check=True).stdout
    assert pod_gw in addrs
    assert network.Route(lab["cfg"].service_cidr, dev="cni0", netns=lab["netns"]).present()

    # Joining again is idempotent (same CA, same network), and reset undoes it.
    again = _cli("join", *args, *node_flags, netns=lab["netns"], env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    reset = _cli("reset", "-p", PROFILE, "--node-name", NODE, netns=lab["netns"], env=env)
    assert reset.returncode == 0, reset.stdout + reset.stderr
    assert not supervisor.is_running(node_state, f"node-{NODE}")
    assert not network.link_exists("cni0", lab["netns"])
    assert not network.Route(lab["cfg"].service_cidr, dev="cni0", netns=lab["netns"]).present()
    assert not (node_state / "join.token").exists()


async def test_join_foreground_execs_the_node_process(join_lab):
    """What the Vagrant systemd unit runs: `join --foreground` becomes the agent (same pid) and stays up."""
    import asyncio
    import signal
    lab = join_lab
    env = {**os.environ, "MINIKUBE_PY_HOME": str(lab["node_home"])}
    argv = ["ip", "netns", "exec", lab["netns"], sys.executable, "-m", "minikube_py.cli", "join", *lab["join_args"],
            "--node-name", NODE, "--node-ip", lab["node_ip"], "--pod-cidr", lab["pod_cidr"], "--foreground"]
    log = lab["node_home"].parent / "foreground.log"
    lab["node_home"].mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
    try:
        node = None
        for _ in range(300):
            node = await _node(lab["cfg"], lab["state"], NODE)
            if _ready(node) or proc.poll() is not None:
                break
            await asyncio.sleep(0.3)
        assert _ready(node), log.read_text()
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
        assert b"agent" in cmdline and b"--api-url" in cmdline, cmdline  # exec'd: the join pid is the agent
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
