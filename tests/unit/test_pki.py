"""PKI: made once, reused on restart, secrets 0600, SANs cover what the API is reached by."""
from __future__ import annotations

import ipaddress
import json
import stat

from cryptography import x509

from minikube_py.api.auth import TokenAuthenticator, anonymous_allowed
from minikube_py.pki import ensure_pki


def _sans(path):
    san = x509.load_pem_x509_certificate(path.read_bytes()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    return {str(i) for i in san.get_values_for_type(x509.IPAddress)}, set(san.get_values_for_type(x509.DNSName))


def test_generated_once_and_reused(tmp_path):
    a = ensure_pki(tmp_path, ["192.168.49.1", "10.96.0.1"], [])
    ips, dns = _sans(a.server_cert)
    assert {"127.0.0.1", "192.168.49.1", "10.96.0.1"} <= ips
    assert {"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local"} <= dns
    for secret in (a.ca_key, a.server_key, tmp_path / "tokens.json"):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    tokens = json.loads((tmp_path / "tokens.json").read_text())
    assert tokens == {"admin": a.admin_token, "node": a.node_token} and len(a.admin_token) == 64
    ca, cert = a.ca_cert.read_bytes(), a.server_cert.read_bytes()
    b = ensure_pki(tmp_path, ["192.168.49.1", "10.96.0.1"], [])
    assert (b.ca_cert.read_bytes(), b.server_cert.read_bytes(), b.admin_token) == (ca, cert, a.admin_token)
    # A new address: same CA and tokens, a new serving certificate that names it.
    c = ensure_pki(tmp_path, ["192.168.58.1"], [])
    assert c.ca_cert.read_bytes() == ca and c.admin_token == a.admin_token
    assert "192.168.58.1" in _sans(c.server_cert)[0]
    ipaddress.ip_address("192.168.58.1")


def test_token_authenticator():
    auth = TokenAuthenticator({"admin": "a" * 64, "node": "b" * 64})
    assert auth.user_for("Bearer " + "a" * 64) == "admin"
    assert auth.user_for("bearer " + "b" * 64) == "node"
    assert auth.user_for("Bearer " + "c" * 64) is None
    assert auth.user_for(None) is None and auth.user_for("Basic xyz") is None and auth.user_for("Bearer ") is None
    assert anonymous_allowed("GET", "/healthz") and anonymous_allowed("GET", "/version")
    assert not anonymous_allowed("GET", "/api") and not anonymous_allowed("POST", "/healthz")
