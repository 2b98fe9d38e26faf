"""Render Ingresses into one nginx.conf (a pure function), and the allowlist every user string passes first.

Why pure: the whole configuration is a function of (Ingresses, ready endpoints of their Services, TLS
secrets present). Rendering it from scratch each time, like kube-proxy's rules, means there is no drift to
repair, and golden tests pin down exactly what nginx sees.

Why an allowlist: Ingress hosts, paths and `nginx.ingress.kubernetes.io/*` annotation values end up inside
nginx.conf. A value like `1s; load_module /x.so` or a path with `{` would inject directives (the class of
bug behind CVE-2021-25742 / CVE-2025-1974 in ingress-nginx). So every value is matched against a strict
pattern *before* rendering; an Ingress that fails is left out of the config (and reported), never escaped.

Layout of the result:
- one `upstream` per (namespace, service, port) with the ready endpoint addresses (none → a `server
  127.0.0.1:1 down`-style placeholder is not allowed in nginx, so such a backend answers 503 itself);
- one `server` per host (plus the default server answering 404 for unknown hosts and `/healthz` 200);
  404 and 503 are nginx's stock pages (`server_tokens off`: "<center>nginx</center>"), which is what
  ingress-nginx's default backend and its no-endpoints backend send;
- `location`s per path: Exact → `location = /p`, Prefix → `location /p/` + `location = /p` (Kubernetes
  Prefix matches by path *element*, so `/foo` matches `/foo` and `/foo/bar` but not `/foobar`),
  ImplementationSpecific → plain prefix `location /p`; nginx itself picks the longest prefix match,
  which is the Ingress spec's precedence rule, and we sort for stable output.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Iterable

ANNOTATION_PREFIX = "nginx.ingress.kubernetes.io/"

# Allowlists. Anything outside these is rejected, never escaped.
_HOST_RE = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_PATH_RE = re.compile(r"^/[A-Za-z0-9._~!&'()*+,=:@%/-]*$")
_DURATION_RE = re.compile(r"^[0-9]{1,6}(ms|s|m|h)?$")
_SIZE_RE = re.compile(r"^[0-9]{1,9}[kKmMgG]?$")
_BOOL_RE = re.compile(r"^(true|false)$")
_REWRITE_RE = re.compile(r"^/[A-Za-z0-9._~!&'()*+,=:@%/$-]*$")
_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")

# Supported annotations: name -> (pattern, nginx directive or None when handled specially).
ANNOTATIONS: dict[str, tuple[re.Pattern, str | None]] = {
    "proxy-read-timeout": (_DURATION_RE, "proxy_read_timeout"),
    "proxy-send-timeout": (_DURATION_RE, "proxy_send_timeout"),
    "proxy-connect-timeout": (_DURATION_RE, "proxy_connect_timeout"),
    "proxy-body-size": (_SIZE_RE, "client_max_body_size"),
    "rewrite-target": (_REWRITE_RE, None),
    "ssl-redirect": (_BOOL_RE, None),
}

CERT_DIR = "/etc/nginx/ingress-certs"


@dataclasses.dataclass(frozen=True)
class Cause:
    field: str
    value: str
    detail: str

    @property
    def message(self) -> str:
        return f'Invalid value: "{self.value}": {self.detail}'


def _seconds(value: str) -> str:
    """ingress-nginx takes bare numbers as seconds; nginx wants a unit or seconds too: keep as given."""
    return value if value[-1].isalpha() else f"{value}s"


def validate_ingress(ing: dict) -> list[Cause]:
    """Every string that would reach nginx.conf, checked against the allowlist."""
    causes: list[Cause] = []
    annotations = ing.get("metadata", {}).get("annotations") or {}
    for key, value in annotations.items():
        if not key.startswith(ANNOTATION_PREFIX):
            continue
        short = key[len(ANNOTATION_PREFIX):]
        field = f"metadata.annotations[{key}]"
        if short not in ANNOTATIONS:
            continue  # unknown nginx annotations are ignored (never rendered), like an unsupported feature
        pattern, _ = ANNOTATIONS[short]
        if not isinstance(value, str) or not pattern.match(value):
            causes.append(Cause(field, str(value), f"not a valid value for {short} (must match {pattern.pattern})"))
    spec = ing.get("spec") or {}
    for i, rule in enumerate(spec.get("rules") or []):
        host = rule.get("host")
        if host is not None and not _HOST_RE.match(host):
            causes.append(Cause(f"spec.rules[{i}].host", host, "not an allowed host name"))
        for j, p in enumerate(((rule.get("http") or {}).get("paths")) or []):
            path = p.get("path", "/")
            if not _PATH_RE.match(path):
                causes.append(Cause(f"spec.rules[{i}].http.paths[{j}].path", path,
                                    "path may only contain letters, digits and /._~!&'()*+,=:@%-"))
            svc = ((p.get("backend") or {}).get("service") or {})
            if svc and not _NAME_RE.match(svc.get("name", "")):
                causes.append(Cause(f"spec.rules[{i}].http.paths[{j}].backend.service.name",
                                    str(svc.get("name")), "not a service name"))
    for i, tls in enumerate(spec.get("tls") or []):
        for j, host in enumerate(tls.get("hosts") or []):
            if not _HOST_RE.match(host):
                causes.append(Cause(f"spec.tls[{i}].hosts[{j}]", host, "not an allowed host name"))
        secret = tls.get("secretName")
        if secret is not None and not _NAME_RE.match(secret):
            causes.append(Cause(f"spec.tls[{i}].secretName", secret, "not a secret name"))
    return causes


@dataclasses.dataclass(frozen=True)
class Backend:
    namespace: str
    service: str
    port: str  # number or port name as written in the Ingress

    @property
    def upstream(self) -> str:
        return f"upstream_{self.namespace}_{self.service}_{self.port}".replace("-", "_").replace(".", "_")


@dataclasses.dataclass
class Location:
    path: str
    path_type: str
    backend: Backend
    ingress: str  # ns/name, for the comment
    annotations: dict[str, str]


@dataclasses.dataclass
class Server:
    host: str
    locations: list[Location] = dataclasses.field(default_factory=list)
    tls_secret: str | None = None  # "ns/name" when the host has a certificate


@dataclasses.dataclass
class IngressConfig:
    servers: list[Server]
    upstreams: dict[str, list[str]]  # upstream name -> ["ip:port", …] ready endpoints
    rejected: dict[str, list[Cause]]  # ingress ns/name -> why it was left out


def build_config(ingresses: Iterable[dict], endpoints_of: "EndpointLookup",
                 tls_secrets: set[str] | None = None) -> IngressConfig:
    """Turn Ingress objects into servers/locations/upstreams; invalid ones are set aside with causes.

    `endpoints_of(namespace, service, port) -> list["ip:port"]` resolves a backend to ready endpoints.
    `tls_secrets` holds "ns/name" of TLS secrets that exist (a missing secret means plain HTTP only).
    """
    servers: dict[str, Server] = {}
    upstreams: dict[str, list[str]] = {}
    rejected: dict[str, list[Cause]] = {}
    for ing in sorted(ingresses, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"])):
        ns = ing["metadata"].get("namespace", "default")
        key = f"{ns}/{ing['metadata']['name']}"
        causes = validate_ingress(ing)
        if causes:
            rejected[key] = causes
            continue
        annotations = {k[len(ANNOTATION_PREFIX):]: v
                       for k, v in (ing["metadata"].get("annotations") or {}).items()
                       if k.startswith(ANNOTATION_PREFIX) and k[len(ANNOTATION_PREFIX):] in ANNOTATIONS}
        spec = ing.get("spec") or {}
        tls_hosts: dict[str, str] = {}
        for tls in spec.get("tls") or []:
            secret = f"{ns}/{tls.get('secretName')}"
            if tls_secrets is not None and secret in tls_secrets:
                for h in tls.get("hosts") or []:
                    tls_hosts[h] = secret
        default_backend = ((spec.get("defaultBackend") or {}).get("service"))
        rules = spec.get("rules") or []
        if default_backend and not rules:
            rules = [{"http": {"paths": [{"path": "/", "pathType": "Prefix",
                                          "backend": {"service": default_backend}}]}}]
        for rule in rules:
            host = rule.get("host") or "_"
            server = servers.setdefault(host, Server(host))
            if host in tls_hosts:
                server.tls_secret = tls_hosts[host]
            for p in (rule.get("http") or {}).get("paths") or []:
                svc = (p.get("backend") or {}).get("service")
                if not svc:
                    continue
                port = svc.get("port") or {}
                backend = Backend(ns, svc["name"], str(port.get("number") or port.get("name") or "80"))
                upstreams.setdefault(backend.upstream, endpoints_of(ns, backend.service, backend.port))
                server.locations.append(Location(p.get("path") or "/", p.get("pathType", "Prefix"), backend,
                                                 key, annotations))
    ordered = sorted(servers.values(), key=lambda s: (s.host == "_", s.host))
    return IngressConfig(ordered, upstreams, rejected)


class EndpointLookup:  # pragma: no cover - typing helper
    def __call__(self, namespace: str, service: str, port: str) -> list[str]: ...


def _location_blocks(loc: Location) -> list[tuple[str, str]]:
    """(nginx location matcher, the path prefix that rewrite-target strips) for one Ingress path."""
    path = loc.path
    if loc.path_type == "Exact":
        return [(f"= {path}", path)]
    if loc.path_type == "Prefix" and path != "/":
        trimmed = path.rstrip("/")
        return [(f"= {trimmed}", trimmed), (f"{trimmed}/", trimmed)]
    return [(path, path)]


def _render_location(matcher: str, strip: str, loc: Location, tls: bool) -> list[str]:
    a = loc.annotations
    lines = [f"        location {matcher} {{", f"            # {loc.ingress} -> {loc.backend.service}:{loc.backend.port}"]
    if tls and a.get("ssl-redirect", "true") == "true":
        lines.append("            if ($scheme = http) { return 308 https://$host$request_uri; }")
    for short, directive in (("proxy-read-timeout", "proxy_read_timeout"),
                             ("proxy-send-timeout", "proxy_send_timeout"),
                             ("proxy-connect-timeout", "proxy_connect_timeout")):
        if short in a:
            lines.append(f"            {directive} {_seconds(a[short])};")
    if "proxy-body-size" in a:
        lines.append(f"            client_max_body_size {a['proxy-body-size']};")
    if "rewrite-target" in a:
        target = a["rewrite-target"]
        lines.append(f"            rewrite ^{re.escape(strip) if strip != '/' else ''}(/.*)?$ {target} break;")
    lines.append(f"            proxy_pass http://{loc.backend.upstream};")
    lines.append("        }")
    return lines


def _render_locations(locations: list[Location], *, tls: bool, reserved: set[str]) -> list[str]:
    """Longest path first; a matcher two Ingresses both claim goes to the first (oldest by name order),
    since nginx refuses duplicate locations and one bad Ingress must not take the others down."""
    out: list[str] = []
    seen = set(reserved)
    for loc in sorted(locations, key=lambda l: (-len(l.path), l.path, l.path_type)):
        for matcher, strip in _location_blocks(loc):
            if matcher in seen:
                continue
            seen.add(matcher)
            out += _render_location(matcher, strip, loc, tls=tls)
    if "/" not in seen:
        # ingress-nginx's default backend is nginx's own `return 404;`: its stock page, as curl shows it.
        out.append('        location / { return 404; }')
    return out


def render_nginx_conf(config: IngressConfig, *, listen_http: int = 80, listen_https: int = 443) -> str:
    """The complete nginx.conf text for `config`."""
    out: list[str] = [
        "# Generated by the minikube-py ingress controller. Do not edit: it is rewritten on every change.",
        "worker_processes 1;",
        "pid /run/nginx.pid;",
        "error_log /dev/stderr notice;",
        "events { worker_connections 1024; }",
        "http {",
        "    access_log /dev/stdout;",
        "    server_tokens off;",
        "    keepalive_timeout 75s;",
        "    client_max_body_size 1m;",
        "    proxy_http_version 1.1;",
        '    proxy_set_header Connection "";',
        "    proxy_set_header Host $host;",
        "    proxy_set_header X-Real-IP $remote_addr;",
        "    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "    proxy_set_header X-Forwarded-Proto $scheme;",
        "    proxy_set_header X-Forwarded-Host $host;",
        "    proxy_connect_timeout 5s;",
        "    proxy_read_timeout 60s;",
        "    proxy_send_timeout 60s;",
        "    proxy_next_upstream error timeout;",
        "",
    ]
    for name in sorted(config.upstreams):
        addrs = config.upstreams[name]
        out.append(f"    upstream {name} {{")
        if addrs:
            out.extend(f"        server {addr} max_fails=0;" for addr in sorted(addrs))
            out.append("        keepalive 16;")
        else:
            # No ready endpoint: a local listener that answers 503, so nginx still loads.
            out.append("        server 127.0.0.1:8181;")
        out.append("    }")
    out += [
        "",
        "    server {",
        "        listen 127.0.0.1:8181;",
        "        return 503;",  # nginx's stock 503 page, as ingress-nginx answers for a backend with no endpoints
        "    }",
        "",
        "    server {",
        f"        listen {listen_http} default_server;",
        "        server_name _;",
        '        location = /healthz { access_log off; return 200 "ok\\n"; }',
    ]
    default = next((s for s in config.servers if s.host == "_"), None)
    out += _render_locations(default.locations if default else [], tls=False, reserved={"= /healthz"})
    out.append("    }")
    for server in config.servers:
        if server.host == "_":
            continue
        out += ["", "    server {", f"        listen {listen_http};"]
        if server.tls_secret:
            cert = server.tls_secret.replace("/", "_")
            out += [f"        listen {listen_https} ssl;",
                    f"        ssl_certificate {CERT_DIR}/{cert}.crt;",
                    f"        ssl_certificate_key {CERT_DIR}/{cert}.key;"]
        out.append(f"        server_name {server.host};")
        out += _render_locations(server.locations, tls=bool(server.tls_secret), reserved=set())
        out.append("    }")
    out.append("}")
    return "\n".join(out) + "\n"
