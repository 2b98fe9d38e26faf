"""The guide's LoadBalancer and Ingress chapters on a real cluster (metallb-like pool, nginx ingress)."""
from __future__ import annotations

import re
import subprocess
import threading
import time

import pytest

from tests.conftest import run_cli
from tests.e2e.helpers import curl, guide, jsonpath, rollout, wait_until

pytestmark = pytest.mark.e2e


def test_loadbalancer_pending_until_metallb_then_reachable(cluster):
    cluster.apply(guide("counter-redis-svc.yml"))
    cluster.apply(guide("counter-app.yml"))
    cluster.apply(guide("counter-lb.yml"))
    net = cluster.node_ip(0).rsplit(".", 1)[0]
    try:
        rollout(cluster, "redis")
        rollout(cluster, "counter")
        table = cluster.kubectl("get", "svc", "counter-lb", check=True).stdout
        assert re.search(r"counter-lb\s+LoadBalancer\s+\S+\s+<pending>\s+30000:3\d{4}/TCP", table), table

        run_cli("addons", "enable", "metallb", "-p", cluster.profile, check=True)
        # An address outside the node network is refused, and nothing is half-configured.
        bad = run_cli("addons", "configure", "metallb", "-p", cluster.profile,
                      "--start-ip", "10.0.0.1", "--end-ip", "10.0.0.5")
        assert bad.returncode != 0 and "outside the cluster's node network" in bad.stderr
        assert "<pending>" in cluster.kubectl("get", "svc", "counter-lb", check=True).stdout
        run_cli("addons", "configure", "metallb", "-p", cluster.profile,
                "--start-ip", f"{net}.100", "--end-ip", f"{net}.110", check=True)

        ip = wait_until(lambda: jsonpath(cluster, "svc", "counter-lb",
                                         "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}"),
                        what="an EXTERNAL-IP from the pool")
        assert ip.startswith(f"{net}.1")
        assert ip in cluster.kubectl("get", "svc", "counter-lb", check=True).stdout
        first = int(wait_until(lambda: curl(f"http://{ip}:30000/").strip(), what="the LB IP to answer"))
        assert int(curl(f"http://{ip}:30000/").strip()) == first + 1
    finally:
        for name in ("counter-lb.yml", "counter-app.yml", "counter-redis-svc.yml"):
            cluster.kubectl("delete", "-f", str(guide(name)), "--ignore-not-found", "--wait=false")
        run_cli("addons", "disable", "metallb", "-p", cluster.profile)


SLOW_AND_PATHS = """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: echo-limits
  annotations:
    nginx.ingress.kubernetes.io/proxy-read-timeout: "1"
    nginx.ingress.kubernetes.io/proxy-body-size: "1k"
spec:
  rules:
    - host: limits.example
      http:
        paths:
          - path: /
            pathType: Prefix
            backend: {service: {name: echo-v1, port: {number: 3000}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: echo-paths
spec:
  rules:
    - host: paths.example
      http:
        paths:
          - path: /v1
            pathType: Prefix
            backend: {service: {name: echo-v1, port: {number: 3000}}}
          - path: /v2
            pathType: Prefix
            backend: {service: {name: echo-v2, port: {number: 3000}}}
"""


@pytest.fixture
def ingress(cluster):
    run_cli("addons", "enable", "ingress", "-p", cluster.profile, check=True, timeout=300)
    node_ip = cluster.node_ip(0)
    for name in ("echo-v1.yml", "echo-v2.yml"):
        cluster.apply(guide(name).read_text().replace("NODEIP", node_ip))
    try:
        rollout(cluster, "echo-v1")
        rollout(cluster, "echo-v2")
        yield cluster
    finally:
        for name in ("echo-v1.yml", "echo-v2.yml"):
            cluster.kubectl("delete", "-f", "-", "--ignore-not-found", "--wait=false",
                            input=guide(name).read_text().replace("NODEIP", node_ip))
        run_cli("addons", "disable", "ingress", "-p", cluster.profile)


def http(url: str, host: str | None = None, data: bytes | None = None, timeout: float = 10) -> tuple[int, str]:
    args = ["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "-m", str(timeout), url]
    if host:
        args += ["-H", f"Host: {host}"]
    if data is not None:
        args += ["--data-binary", "@-", "-H", "Content-Type: application/octet-stream"]
    proc = subprocess.run(args, input=data, capture_output=True, timeout=timeout + 5)
    body, _, code = proc.stdout.decode(errors="replace").rpartition("\n")
    return int(code or 0), body


def test_ingress_routes_by_host_and_path_with_limits(ingress):
    cluster = ingress
    node_ip = cluster.node_ip(0)
    pods = cluster.kubectl("-n", "ingress-nginx", "get", "pod", check=True).stdout
    assert re.search(r"ingress-nginx-controller-\S+\s+1/1\s+Running", pods), pods
    assert http(f"http://{node_ip}/healthz")[0] == 200

    v1, v2 = f"v1.echo.{node_ip}.sslip.io", f"v2.echo.{node_ip}.sslip.io"
    wait_until(lambda: "echo v1" in http(f"http://{node_ip}/", v1)[1], what="v1 routed by host")
    wait_until(lambda: "echo v2" in http(f"http://{node_ip}/", v2)[1], what="v2 routed by host")
    # ingress-nginx's default backend: nginx's stock 404 page (no version: server-tokens is off).
    code, body = http(f"http://{node_ip}/", "unknown.example")
    assert code == 404 and "<center><h1>404 Not Found</h1></center>" in body and "<center>nginx</center>" in body
    # ingress-nginx records `Normal Sync "Scheduled for sync"` for each add/change of an Ingress it serves.
    wait_until(lambda: re.search(r"Normal\s+Sync\s+.*nginx-ingress-controller\s+Scheduled for sync",
                                 cluster.kubectl("describe", "ing", "echo-v1", check=True).stdout),
               what="Sync event in describe ing")
    ing = cluster.kubectl("get", "ing", "echo-v1", check=True).stdout
    assert re.search(rf"echo-v1\s+nginx\s+{re.escape(v1)}\s+{re.escape(node_ip)}\s+80", ing) or \
        wait_until(lambda: node_ip in cluster.kubectl("get", "ing", "echo-v1", check=True).stdout,
                   what="ADDRESS column")

    cluster.apply(SLOW_AND_PATHS)
    try:
        wait_until(lambda: "echo v2" in http(f"http://{node_ip}/v2/x", "paths.example")[1], what="prefix /v2")
        assert "echo v1" in http(f"http://{node_ip}/v1", "paths.example")[1]
        assert http(f"http://{node_ip}/v10", "paths.example")[0] == 404  # Prefix matches path elements

        wait_until(lambda: http(f"http://{node_ip}/", "limits.example")[0] == 200, what="limits ingress")
        assert http(f"http://{node_ip}/", "limits.example", data=b"x" * 512)[0] == 200
        assert http(f"http://{node_ip}/", "limits.example", data=b"x" * 4096)[0] == 413
        assert http(f"http://{node_ip}/?sleep=3", "limits.example")[0] == 504
    finally:
        cluster.kubectl("delete", "-f", "-", "--ignore-not-found", input=SLOW_AND_PATHS)


def nginx_conf(cluster) -> str:
    return jsonpath(cluster, "-n", "ingress-nginx", "configmap", "nginx-conf", "-o", "jsonpath={.data.nginx\\.conf}")


@pytest.mark.parametrize("patch", [
    '{"metadata":{"annotations":{"nginx.ingress.kubernetes.io/proxy-read-timeout":"1s; load_module /tmp/x.so"}}}',
    '[{"op":"replace","path":"/spec/rules/0/http/paths/0/path","value":"/a{b"}]',
], ids=["annotation-injection", "path-with-brace"])
def test_injection_is_rejected_and_running_config_unchanged(ingress, patch):
    cluster = ingress
    wait_until(lambda: "v1.echo." in nginx_conf(cluster), what="rendered config")
    before = nginx_conf(cluster)
    kind = "json" if patch.startswith("[") else "merge"
    proc = cluster.kubectl("patch", "ingress", "echo-v1", "--type", kind, "-p", patch)
    assert proc.returncode != 0
    assert "is invalid" in proc.stderr
    time.sleep(2)
    assert nginx_conf(cluster) == before


def test_reload_under_load_drops_no_request(ingress):
    cluster = ingress
    node_ip = cluster.node_ip(0)
    host = f"v1.echo.{node_ip}.sslip.io"
    wait_until(lambda: "echo v1" in http(f"http://{node_ip}/", host)[1], what="v1 routed")
    failures: list[str] = []
    done = threading.Event()
    count = [0]

    def load() -> None:
        # keep-alive connections: curl reuses one connection for all URLs of one invocation
        while not done.is_set():
            urls = [a for i in range(20) for a in ("-o", "/dev/null", f"http://{node_ip}/?n={i}")]
            proc = subprocess.run(["curl", "-s", "-w", "%{http_code}\n", "-m", "5",
                                   "-H", f"Host: {host}", *urls], capture_output=True, text=True, timeout=30)
            codes = proc.stdout.split()
            count[0] += len(codes)
            failures.extend(c for c in codes if c != "200")
            if proc.returncode != 0:
                failures.append(f"curl exit {proc.returncode}")

    worker = threading.Thread(target=load)
    worker.start()
    try:
        for i in range(20):
            cluster.kubectl("annotate", "--overwrite", "ingress", "echo-v1",
                            f"nginx.ingress.kubernetes.io/proxy-send-timeout={30 + i}", check=True)
            time.sleep(0.5)
        wait_until(lambda: "proxy_send_timeout 49s" in nginx_conf(cluster), what="last update rendered")
        time.sleep(3)  # let nginx pick it up
    finally:
        done.set()
        worker.join()
    assert count[0] > 100
    assert failures == []


def _self_signed(host: str, tmp_path) -> tuple[str, str]:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .sign(key, hashes.SHA256()))
    crt, pem = tmp_path / "tls.crt", tmp_path / "tls.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    return str(crt), str(pem)


def test_ingress_tls_from_a_secret_and_ssl_redirect(ingress, tmp_path):
    cluster = ingress
    node_ip = cluster.node_ip(0)
    host = "secure.example"
    crt, key = _self_signed(host, tmp_path)
    cluster.kubectl("create", "secret", "tls", "secure-tls", f"--cert={crt}", f"--key={key}", check=True)
    tls_ingress = f"""
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: secure}}
spec:
  tls: [{{hosts: [{host}], secretName: secure-tls}}]
  rules:
    - host: {host}
      http:
        paths:
          - {{path: /, pathType: Prefix, backend: {{service: {{name: echo-v1, port: {{number: 3000}}}}}}}}
"""
    cluster.apply(tls_ingress)
    try:
        def https_answer() -> str:
            proc = subprocess.run(["curl", "-sS", "-m", "5", "--cacert", crt, "--resolve", f"{host}:443:{node_ip}",
                                   f"https://{host}/"], capture_output=True, text=True, timeout=15)
            return proc.stdout if proc.returncode == 0 else ""

        assert "echo v1" in wait_until(https_answer, timeout=60, what="HTTPS with the Secret's certificate")
        code, _ = http(f"http://{node_ip}/", host)
        assert code == 308  # ssl-redirect defaults to true for TLS hosts, as in ingress-nginx
    finally:
        cluster.kubectl("delete", "-f", "-", "--ignore-not-found", input=tls_ingress)
        cluster.kubectl("delete", "secret", "secure-tls", "--ignore-not-found")
