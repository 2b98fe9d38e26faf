"""The cluster's CA, the API server's serving certificate and the bearer tokens.

Why HTTPS at all on a laptop: kubectl refuses to send a bearer token over plain HTTP (KUBECTL.md). So
`start` (or the control plane itself, whichever comes first) makes a CA and a serving certificate once and
reuses them afterwards; the kubeconfig carries the CA and the admin token. Keys and tokens are written with
mode 0600. ECDSA P-256 keys: fast to generate, accepted by Go (kubectl) and Python's ssl.
"""
from __future__ import annotations

import datetime
import ipaddress
import json
import os
import secrets
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT = "ca.crt"
CA_KEY = "ca.key"
SERVER_CERT = "apiserver.crt"
SERVER_KEY = "apiserver.key"
TOKENS = "tokens.json"

DEFAULT_DNS_NAMES = ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                     "kubernetes.default.svc.cluster.local"]


@dataclass(frozen=True)
class Pki:
    dir: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    admin_token: str
    node_token: str

    @property
    def ca_data(self) -> bytes:
        """PEM of the CA, for `certificate-authority-data` in a kubeconfig (base64 it there)."""
        return self.ca_cert.read_bytes()

    def server_ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(self.server_cert), str(self.server_key))
        return ctx

    def client_ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_cert))


def _write_private(path: Path, data: bytes) -> None:
    """Write a secret so that it is never readable by others, not even for a moment."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _make_ca(dir: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "minikube-pyCA")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_now() - datetime.timedelta(hours=1))
            .not_valid_after(_now() + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    _write_private(dir / CA_KEY, _key_pem(key))
    (dir / CA_CERT).write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _make_server_cert(dir: Path, ips: list[str], dns_names: list[str]) -> None:
    ca_key = serialization.load_pem_private_key((dir / CA_KEY).read_bytes(), None)
    ca_cert = x509.load_pem_x509_certificate((dir / CA_CERT).read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "minikube-py-apiserver")]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_now() - datetime.timedelta(hours=1))
            .not_valid_after(_now() + datetime.timedelta(days=3650))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    _write_private(dir / SERVER_KEY, _key_pem(key))
    (dir / SERVER_CERT).write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _cert_covers(path: Path, ips: list[str], dns_names: list[str]) -> bool:
    """Does the existing serving certificate name every address we are asked for?"""
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    have_ips = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    have_dns = set(san.get_values_for_type(x509.DNSName))
    return {str(ipaddress.ip_address(i)) for i in ips} <= have_ips and set(dns_names) <= have_dns


def ensure_pki(state_dir: Path, ips: list[str], dns_names: list[str]) -> Pki:
    """Make (once) or reuse the CA, the serving certificate and the tokens under `state_dir`.

    The serving certificate always names 127.0.0.1 and the DEFAULT_DNS_NAMES besides `ips`/`dns_names`
    (pass the gateway IP and the kubernetes Service IP). If an existing certificate lacks a requested name
    (a profile whose addresses changed), a new one is issued from the same CA, so kubeconfigs stay valid.
    """
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    all_ips = list(dict.fromkeys(["127.0.0.1", *ips]))
    all_dns = list(dict.fromkeys([*DEFAULT_DNS_NAMES, *dns_names]))
    if not (state_dir / CA_CERT).exists() or not (state_dir / CA_KEY).exists():
        _make_ca(state_dir)
        (state_dir / SERVER_CERT).unlink(missing_ok=True)
    if not (state_dir / SERVER_KEY).exists() or not _cert_covers(state_dir / SERVER_CERT, all_ips, all_dns):
        _make_server_cert(state_dir, all_ips, all_dns)
    tokens_path = state_dir / TOKENS
    tokens: dict[str, str] = {}
    if tokens_path.exists():
        tokens = json.loads(tokens_path.read_text())
    if not tokens.get("admin") or not tokens.get("node"):
        tokens = {"admin": tokens.get("admin") or secrets.token_hex(32),
                  "node": tokens.get("node") or secrets.token_hex(32)}
        _write_private(tokens_path, json.dumps(tokens, indent=2).encode())
    return Pki(state_dir, state_dir / CA_CERT, state_dir / CA_KEY, state_dir / SERVER_CERT,
               state_dir / SERVER_KEY, tokens["admin"], tokens["node"])
