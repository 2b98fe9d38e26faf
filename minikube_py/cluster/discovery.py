"""Finding and trusting the cluster's CA before a joining node sends its token (kubeadm's discovery).

A machine that joins knows the API URL, a node token and a *pin*: `--ca-cert-hash sha256:<hex>`, the
SHA-256 of the CA certificate's **SubjectPublicKeyInfo** (DER), exactly what kubeadm pins (so
`openssl x509 -pubkey -noout -in ca.crt | openssl pkey -pubin -outform der | sha256sum` computes it too).
It does not know the CA yet, so it cannot verify TLS. The order is what makes this safe:

1. open a TLS connection *without* verification and read the certificate chain the server presents
   (the API server presents `[serving cert, CA]`: see `ensure_ca_in_serving_chain`), then close it
   without sending a single byte of HTTP — the token never travels on an unverified connection;
2. pick the chain certificate whose SPKI hash equals the pin; none → refuse (`DiscoveryError`);
3. check that it is a CA and that it really signed the serving certificate;
4. from then on every request (with the token) uses normal verified TLS against that CA.

Why the hash of the public key and not of the whole certificate: the CA can be re-issued (new validity
dates) with the same key without invalidating printed join commands — kubeadm's reasoning.
"""
from __future__ import annotations

import hashlib
import re
import socket
import ssl
import urllib.parse
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

HASH_PREFIX = "sha256:"
_HASH_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


class DiscoveryError(RuntimeError):
    """The CA could not be found or does not match the pin: nothing was sent with the token."""


# --- pure helpers ------------------------------------------------------------------------------------
def ca_cert_hash(cert: x509.Certificate | bytes) -> str:
    """`sha256:<hex>` of the certificate's DER SubjectPublicKeyInfo (kubeadm's `--discovery-token-ca-cert-hash`).

    Accepts a certificate object, PEM or DER bytes."""
    if isinstance(cert, bytes):
        cert = load_certificate(cert)
    spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    return HASH_PREFIX + hashlib.sha256(spki).hexdigest()


def parse_ca_cert_hash(value: str) -> str:
    """Normalise a pin (`sha256:` + 64 hex digits, any case) or raise ValueError saying what is wrong."""
    v = value.strip().lower()
    if not v.startswith(HASH_PREFIX):
        raise ValueError(f"--ca-cert-hash must start with {HASH_PREFIX!r} (got {value!r})")
    if not _HASH_RE.match(v):
        raise ValueError(f"--ca-cert-hash must be sha256: followed by 64 hex digits (got {value!r})")
    return v


def load_certificate(data: bytes) -> x509.Certificate:
    """The first certificate of PEM or DER *data*."""
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


def split_url(api_url: str) -> tuple[str, int]:
    """(host, port) of an `https://host[:port]` URL; ValueError for anything else."""
    u = urllib.parse.urlsplit(api_url)
    if u.scheme != "https" or not u.hostname:
        raise ValueError(f"--api-url must be https://HOST[:PORT] (got {api_url!r})")
    if u.path not in ("", "/") or u.query or u.fragment:
        raise ValueError(f"--api-url must not carry a path or query (got {api_url!r})")
    return u.hostname, u.port or 443


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def select_pinned_ca(chain: list[x509.Certificate], pin: str) -> x509.Certificate:
    """The certificate of *chain* (as presented: serving cert first) that matches *pin*, after checking
    that it is a CA and that it signed the serving certificate. Raises DiscoveryError otherwise."""
    if not chain:
        raise DiscoveryError("the API server presented no certificate")
    leaf = chain[0]
    candidates = chain[1:] or ([leaf] if is_ca(leaf) else [])
    if not candidates:
        raise DiscoveryError("the API server presented only its serving certificate, not the CA that signed it, "
                             "so --ca-cert-hash cannot be checked: copy the cluster's ca.crt and pass --ca-file "
                             "(or restart a control plane made before `minikube-py init`/`token create`)")
    seen = [ca_cert_hash(c) for c in candidates]
    match = next((c for c, h in zip(candidates, seen) if h == pin), None)
    if match is None:
        raise DiscoveryError(f"the API server's CA does not match --ca-cert-hash {pin} (it presented "
                             f"{', '.join(seen)}); refusing to send the token")
    if not is_ca(match):
        raise DiscoveryError(f"the certificate matching {pin} is not a CA certificate")
    if match is not leaf:
        try:
            leaf.verify_directly_issued_by(match)
        except (ValueError, TypeError, Exception) as err:  # InvalidSignature has no common base
            raise DiscoveryError(f"the API server's certificate was not issued by the pinned CA: {err}") from err
    return match


# --- the network part ------------------------------------------------------------------------------------
def fetch_presented_chain(host: str, port: int, timeout: float = 10.0) -> list[x509.Certificate]:
    """The certificates the server presents in its TLS handshake, unverified. No application data is sent.

    Python 3.13 has `SSLSocket.get_unverified_chain()`; 3.10–3.12 have the same method on the private
    `_sslobj`. Without either we get only the serving certificate (and `select_pinned_ca` says so)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=timeout) as raw:
        with ctx.wrap_socket(raw, server_hostname=None) as tls:
            getter = getattr(tls, "get_unverified_chain", None) or getattr(tls._sslobj, "get_unverified_chain", None)
            ders: list[bytes]
            if getter is not None:
                ders = [c if isinstance(c, bytes) else c.public_bytes(ssl._ssl.ENCODING_DER)  # type: ignore[attr-defined]
                        for c in getter() or []]
            else:  # pragma: no cover — older Pythons
                leaf = tls.getpeercert(binary_form=True)
                ders = [leaf] if leaf else []
    return [x509.load_der_x509_certificate(d) for d in ders]


def discover_ca(api_url: str, pin: str, timeout: float = 10.0) -> bytes:
    """PEM of the cluster CA at *api_url* that matches *pin* (see the module docstring), or DiscoveryError."""
    host, port = split_url(api_url)
    try:
        chain = fetch_presented_chain(host, port, timeout)
    except (OSError, ssl.SSLError) as err:
        raise DiscoveryError(f"cannot reach the API server at {api_url}: {err}") from err
    return select_pinned_ca(chain, pin).public_bytes(serialization.Encoding.PEM)


# --- the server side ---------------------------------------------------------------------------------------
def ensure_ca_in_serving_chain(state_dir: Path, cert_name: str = "apiserver.crt", ca_name: str = "ca.crt") -> bool:
    """Make the API server present its CA: append `ca.crt` to the serving certificate file once.

    `ssl.SSLContext.load_cert_chain` sends every certificate in that file, and `pki.ensure_pki` reads only
    the first one, so it keeps reusing the file. Returns True when the file changed (a running control
    plane must be restarted to present the new chain)."""
    cert_path, ca_path = Path(state_dir) / cert_name, Path(state_dir) / ca_name
    pem = cert_path.read_bytes()
    ca_pem = ca_path.read_bytes().strip() + b"\n"
    if ca_pem.strip() in pem:
        return False
    tmp = cert_path.with_suffix(cert_path.suffix + ".tmp")
    tmp.write_bytes(pem.rstrip() + b"\n" + ca_pem)
    tmp.replace(cert_path)
    return True
