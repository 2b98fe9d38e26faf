"""Join path without root: the CA pin (kubeadm's SPKI hash), flag validation, the node-local plan, and
refusal of a CA that doesn't match the pin before a byte of HTTP (let alone the token) is sent."""
from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
from pathlib import Path

import pytest

from minikube_py import pki
from minikube_py.cluster import discovery, nodeprep
from minikube_py.cluster import join as J
from minikube_py.cluster.lifecycle import ClusterError
from minikube_py.config import ClusterConfig


@pytest.fixture(scope="module")
def cluster_pki(tmp_path_factory) -> pki.Pki:
    return pki.ensure_pki(tmp_path_factory.mktemp("pki"), ["127.0.0.1"], [])


@pytest.fixture(scope="module")
def other_pki(tmp_path_factory) -> pki.Pki:
    return pki.ensure_pki(tmp_path_factory.mktemp("other"), ["127.0.0.1"], [])


# --- the pin ---------------------------------------------------------------------------------------------
@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")
def test_ca_cert_hash_is_kubeadms_spki_sha256(cluster_pki):
    """Same value as kubeadm's documented recipe: openssl x509 -pubkey | openssl pkey -pubin -outform der | sha256."""
    pub = subprocess.run(["openssl", "x509", "-pubkey", "-noout", "-in", str(cluster_pki.ca_cert)],
                         capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub, capture_output=True,
                         check=True).stdout
    import hashlib
    assert discovery.ca_cert_hash(cluster_pki.ca_data) == "sha256:" + hashlib.sha256(der).hexdigest()


def test_ca_cert_hash_same_from_pem_der_and_object(cluster_pki):
    cert = discovery.load_certificate(cluster_pki.ca_data)
    from cryptography.hazmat.primitives import serialization
    der = cert.public_bytes(serialization.Encoding.DER)
    assert discovery.ca_cert_hash(cert) == discovery.ca_cert_hash(der) == discovery.ca_cert_hash(cluster_pki.ca_data)


@pytest.mark.parametrize("value,ok", [
    ("sha256:" + "ab" * 32, True),
    ("SHA256:" + "AB" * 32, True),
    ("  sha256:" + "0" * 64 + "\n", True),
    ("ab" * 32, False),                       # no algorithm prefix
    ("sha1:" + "ab" * 20, False),
    ("sha256:" + "ab" * 31, False),           # too short
    ("sha256:" + "zz" * 32, False),           # not hex
], ids=["lower", "upper", "spaces", "no-prefix", "sha1", "short", "not-hex"])
def test_parse_ca_cert_hash(value, ok):
    if ok:
        assert discovery.parse_ca_cert_hash(value) == value.strip().lower()
    else:
        with pytest.raises(ValueError):
            discovery.parse_ca_cert_hash(value)


def _chain(p: pki.Pki) -> list:
    return [discovery.load_certificate(p.server_cert.read_bytes()), discovery.load_certificate(p.ca_data)]


def test_select_pinned_ca(cluster_pki, other_pki):
    pin = discovery.ca_cert_hash(cluster_pki.ca_data)
    assert discovery.ca_cert_hash(discovery.select_pinned_ca(_chain(cluster_pki), pin)) == pin
    with pytest.raises(discovery.DiscoveryError, match="does not match"):
        discovery.select_pinned_ca(_chain(other_pki), pin)
    # Only the serving certificate: cannot check, say so.
    with pytest.raises(discovery.DiscoveryError, match="only its serving certificate"):
        discovery.select_pinned_ca(_chain(cluster_pki)[:1], pin)
    # The right CA next to a serving certificate it did not sign.
    forged = [_chain(other_pki)[0], _chain(cluster_pki)[1]]
    with pytest.raises(discovery.DiscoveryError, match="not issued by the pinned CA"):
        discovery.select_pinned_ca(forged, pin)


def test_ensure_ca_in_serving_chain_once_and_kept_by_pki(tmp_path):
    p = pki.ensure_pki(tmp_path, ["127.0.0.1"], [])
    assert discovery.ensure_ca_in_serving_chain(tmp_path) is True
    assert discovery.ensure_ca_in_serving_chain(tmp_path) is False
    chained = p.server_cert.read_bytes()
    assert chained.count(b"BEGIN CERTIFICATE") == 2
    pki.ensure_pki(tmp_path, ["127.0.0.1"], [])  # reused, not re-issued
    assert p.server_cert.read_bytes() == chained


# --- discovery against a live TLS server on loopback --------------------------------------------------------
class RecordingTlsServer:
    """Presents *p*'s chain on 127.0.0.1 and records every byte a client sends after the handshake."""

    def __init__(self, p: pki.Pki) -> None:
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(str(p.server_cert), str(p.server_key))
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received = b""
        self.handshakes = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(10)
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            try:
                with self.ctx.wrap_socket(conn, server_side=True) as tls:
                    self.handshakes += 1
                    tls.settimeout(2)
                    while chunk := tls.recv(4096):
                        self.received += chunk
            except (OSError, ssl.SSLError):
                pass

    def close(self) -> None:
        self.sock.close()
        self._thread.join(5)


def test_discovery_refuses_a_wrong_ca_before_sending_anything(tmp_path, cluster_pki, other_pki):
    """An impostor presenting another CA: join stops at discovery; not one byte of HTTP reached it."""
    impostor = pki.ensure_pki(tmp_path, ["127.0.0.1"], [])
    discovery.ensure_ca_in_serving_chain(tmp_path)
    server = RecordingTlsServer(impostor)
    try:
        opts = J.JoinOptions(api_url=f"https://127.0.0.1:{server.port}", token="secret-node-token",
                             ca_cert_hash=discovery.ca_cert_hash(cluster_pki.ca_data), node_name="n1",
                             node_ip="127.0.0.1", pod_cidr="10.244.1.0/24")
        spec = J.validate_join(opts)
        with pytest.raises(ClusterError) as exc:
            J.trusted_ca(spec, J.Out())
        assert exc.value.reason == "DISCOVERY" and "does not match" in str(exc.value)
    finally:
        server.close()
    assert server.handshakes == 1
    assert server.received == b""


def test_discovery_returns_the_pinned_ca(tmp_path):
    p = pki.ensure_pki(tmp_path, ["127.0.0.1"], [])
    discovery.ensure_ca_in_serving_chain(tmp_path)
    server = RecordingTlsServer(p)
    try:
        pem = discovery.discover_ca(f"https://127.0.0.1:{server.port}", discovery.ca_cert_hash(p.ca_data))
    finally:
        server.close()
    assert discovery.ca_cert_hash(pem) == discovery.ca_cert_hash(p.ca_data)
    assert server.received == b""


# --- flags ---------------------------------------------------------------------------------------------
def _opts(**kw) -> J.JoinOptions:
    base = dict(api_url="https://192.168.56.10:8443", token="abc123", ca_cert_hash="sha256:" + "a" * 64,
                node_name="worker1", node_ip="192.168.56.11", pod_cidr="10.244.1.0/24")
    base.update(kw)
    return J.JoinOptions(**base)


def test_validate_join_normalises():
    spec = J.validate_join(_opts(api_url="https://192.168.56.10:8443/", ca_cert_hash="SHA256:" + "A" * 64))
    assert spec.api_url == "https://192.168.56.10:8443"
    assert spec.ca_cert_hash == "sha256:" + "a" * 64
    assert spec.token == "abc123" and spec.ca_pem is None


@pytest.mark.parametrize("kw,message", [
    (dict(api_url="http://192.168.56.10:8443"), "https"),
    (dict(api_url="https://192.168.56.10:8443/api"), "path"),
    (dict(token=None), "exactly one of --token"),
    (dict(token_file=Path("/nonexistent")), "exactly one of --token"),
    (dict(ca_cert_hash=None), "exactly one of --ca-cert-hash"),
    (dict(ca_file=Path("/nonexistent")), "exactly one of --ca-cert-hash"),
    (dict(ca_cert_hash="md5:abc"), "sha256"),
    (dict(token="has space"), "token"),
    (dict(node_name="Worker_1"), "RFC 1123"),
    (dict(node_ip="192.168.56"), "IPv4"),
    (dict(pod_cidr="10.244.1.5/24"), "host bits"),
    (dict(pod_cidr="10.244.1.0/30"), "too small"),
    (dict(node_ip="10.244.1.7"), "inside --pod-cidr"),
    (dict(interface="a" * 16), "interface"),
], ids=["http", "path", "no-token", "two-tokens", "no-ca", "two-cas", "bad-hash", "bad-token", "bad-name",
        "bad-ip", "cidr-host-bits", "cidr-small", "ip-in-pods", "long-iface"])
def test_validate_join_rejects(kw, message):
    with pytest.raises(ClusterError) as exc:
        J.validate_join(_opts(**kw))
    assert exc.value.reason == "BAD_FLAG" and exc.value.exit_code == 64
    assert message in str(exc.value)


def test_validate_join_token_file_and_ca_file(tmp_path, cluster_pki):
    tok = tmp_path / "tok"
    tok.write_text("  tok-from-file\n")
    spec = J.validate_join(_opts(token=None, token_file=tok, ca_cert_hash=None, ca_file=cluster_pki.ca_cert))
    assert spec.token == "tok-from-file" and spec.ca_pem == cluster_pki.ca_data
    with pytest.raises(ClusterError, match="not a CA"):
        J.validate_join(_opts(ca_cert_hash=None, ca_file=cluster_pki.server_cert))


def test_check_against_cluster():
    cfg = ClusterConfig(profile="x", pod_cidr="10.244.0.0/16", service_cidr="10.96.0.0/12")
    J.check_against_cluster(J.validate_join(_opts()), cfg)
    with pytest.raises(ClusterError, match="not inside the cluster's pod CIDR"):
        J.check_against_cluster(J.validate_join(_opts(pod_cidr="10.250.1.0/24")), cfg)
    with pytest.raises(ClusterError, match="inside the cluster's"):
        J.check_against_cluster(J.validate_join(_opts(node_ip="10.96.3.4")), cfg)


def test_init_config_uses_the_advertise_address_as_gateway():
    cfg = J.init_config(J.InitOptions(advertise_address="192.168.56.10", profile="vm"), 24)
    assert cfg.node_subnet == "192.168.56.0/24"
    assert cfg.gateway_ip == "192.168.56.10"
    assert cfg.api_url == "https://192.168.56.10:8443"
    assert cfg.dns_service_ip == "10.96.0.10"
    with pytest.raises(ClusterError, match="overlaps"):
        J.init_config(J.InitOptions(advertise_address="10.244.0.5", profile="vm"), 24)


def test_config_round_trips_through_the_configmap_json():
    import dataclasses
    import json
    cfg = J.init_config(J.InitOptions(advertise_address="192.168.56.10", profile="vm"), 24)
    back = J.config_from_json(json.dumps(dataclasses.asdict(cfg)))
    assert back == cfg


def test_join_command_and_node_argv(cluster_pki):
    cmd = J.join_command("https://192.168.56.10:8443", "tok", cluster_pki.ca_data)
    assert cmd == ("minikube-py join --api-url https://192.168.56.10:8443 --token tok "
                   f"--ca-cert-hash {discovery.ca_cert_hash(cluster_pki.ca_data)}")
    argv = J.node_argv("vm", J.validate_join(_opts()), Path("/s/join.token"), Path("/s/ca.crt"))
    assert argv[1:] == ["-m", "agent", "--profile", "vm", "--node-name", "worker1", "--node-ip", "192.168.56.11",
                        "--pod-cidr", "10.244.1.0/24", "--api-url", "https://192.168.56.10:8443",
                        "--token-file", "/s/join.token", "--ca-file", "/s/ca.crt"]


# --- the node-local plan -------------------------------------------------------------------------------
def test_node_local_plan_on_a_docker_vm():
    steps = nodeprep.node_local_steps(profile="vm", pod_cidr="10.244.2.0/24", cluster_pod_cidr="10.244.0.0/16",
                                      service_cidr="10.96.0.0/12",
                                      facts=nodeprep.NamespaceFacts(docker_user_chain=True, forward_policy_drop=True,
                                                                    br_netfilter=True))
    assert [s.description for s in steps] == [
        "route 10.244.0.0/16 unreachable on the host",
        "route 10.96.0.0/12 unreachable on the host",
        "pod bridge cni0 10.244.2.1/24",
        "sysctl net.ipv4.ip_forward=1",
        "sysctl net.bridge.bridge-nf-call-iptables=1",
        "route 10.96.0.0/12 dev cni0 on the host",
        "iptables DOCKER-USER: accept -i cni0",
        "iptables DOCKER-USER: accept -o cni0",
    ]


@pytest.mark.parametrize("facts,chain", [
    (nodeprep.NamespaceFacts(False, True, False), "FORWARD"),
    (nodeprep.NamespaceFacts(False, False, False), None),
], ids=["no-docker-drop", "fresh-namespace"])
def test_node_local_plan_without_docker(facts, chain):
    steps = nodeprep.node_local_steps(profile="vm", pod_cidr="10.244.2.0/24", cluster_pod_cidr="10.244.0.0/16",
                                      service_cidr="10.96.0.0/12", facts=facts)
    accepts = [s for s in steps if isinstance(s, nodeprep.IfaceAccept)]
    assert [s.chain for s in accepts] == ([chain, chain] if chain else [])
    assert not any("bridge-nf-call" in s.description for s in steps)
