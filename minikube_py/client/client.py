"""Async client for our Kubernetes-shaped API.

Why our own instead of the official client: every component (controllers, agent, proxy, DNS) is an
asyncio program and needs only a dozen verbs plus watch; the official client is synchronous and heavy to
import (~1 s), which matters for a process per node on a 2-core laptop. The official client and kubectl are
still what the tests use to prove compatibility.

Objects are plain dicts shaped like Kubernetes JSON. Errors are `ApiError` carrying the server's `Status`.
"""
from __future__ import annotations

import asyncio
import json
import ssl
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import yaml

from minikube_py.api.resources import RESOURCES, Resource


class ApiError(Exception):
    """A non-2xx answer. `status` is the HTTP code, `reason` the Status reason (`NotFound`, `Conflict`…)."""

    def __init__(self, status: int, body: dict | None, text: str = "") -> None:
        self.status = status
        self.body = body or {}
        self.reason = self.body.get("reason", "")
        self.message = self.body.get("message") or text or f"HTTP {status}"
        super().__init__(f"{status} {self.reason}: {self.message}")


class NotFound(ApiError):
    pass


class Conflict(ApiError):
    """409: stale resourceVersion (`reason=Conflict`) or `AlreadyExists`."""


class Gone(ApiError):
    """410: a watch asked for a resourceVersion older than the server keeps."""


def _error_for(status: int, body: dict | None, text: str) -> ApiError:
    cls = {404: NotFound, 409: Conflict, 410: Gone}.get(status, ApiError)
    return cls(status, body, text)


def _resource(plural: str | Resource) -> Resource:
    return plural if isinstance(plural, Resource) else RESOURCES[plural]


PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",
}


class ApiClient:
    """One HTTPS session to the API server, authenticated with a bearer token."""

    def __init__(self, server: str, token: str | None = None, ca_file: str | Path | None = None,
                 ca_data: str | None = None, insecure: bool = False, user_agent: str = "minikube-py") -> None:
        self.server = server.rstrip("/")
        self.token = token
        self.user_agent = user_agent
        if self.server.startswith("https"):
            if insecure:
                self._ssl: ssl.SSLContext | bool = False
            else:
                ctx = ssl.create_default_context(cafile=str(ca_file) if ca_file else None,
                                                 cadata=ca_data)
                self._ssl = ctx
        else:
            self._ssl = False
        self._session: aiohttp.ClientSession | None = None

    # --- construction ------------------------------------------------------------------------------
    @classmethod
    def from_kubeconfig(cls, path: str | Path, context: str | None = None, **kw: Any) -> "ApiClient":
        """Build from a kubeconfig file (the one `start` writes; token auth, CA data or file)."""
        import base64

        cfg = yaml.safe_load(Path(path).read_text())
        ctx_name = context or cfg.get("current-context")
        ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == ctx_name)
        cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
        user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])
        ca_data = None
        if "certificate-authority-data" in cluster:
            ca_data = base64.b64decode(cluster["certificate-authority-data"]).decode()
        return cls(cluster["server"], token=user.get("token"), ca_file=cluster.get("certificate-authority"),
                   ca_data=ca_data, insecure=bool(cluster.get("insecure-skip-tls-verify")), **kw)

    @classmethod
    def for_profile(cls, profile: str, role: str = "admin", server: str | None = None) -> "ApiClient":
        """Client for a profile's control plane from its state dir (`ca.crt`, `tokens.json`).

        The default server is the profile's own gateway address, never 127.0.0.1:8443, which may belong
        to another profile's control plane when several run at once.
        """
        from minikube_py.config import ClusterConfig

        cfg = ClusterConfig.load(profile)
        tokens = json.loads((cfg.state_dir / "tokens.json").read_text())
        return cls(server or cfg.api_url, token=tokens[role],
                   ca_file=cfg.state_dir / "ca.crt")

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            headers = {"User-Agent": self.user_agent, "Accept": "application/json"}
            if self.token:
                headers["Authorization"] = f"Bearer {self.token}"
            self._session = aiohttp.ClientSession(
                headers=headers, connector=aiohttp.TCPConnector(ssl=self._ssl, limit=0),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> "ApiClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- raw ---------------------------------------------------------------------------------------
    async def request(self, method: str, path: str, *, params: dict | None = None, body: Any = None,
                      content_type: str = "application/json", timeout: float | None = 30) -> dict:
        """One request; returns the decoded JSON body or raises ApiError."""
        data = None
        headers = {}
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            headers["Content-Type"] = content_type
        clean = {k: str(v).lower() if isinstance(v, bool) else str(v)
                 for k, v in (params or {}).items() if v is not None}
        async with self.session.request(method, self.server + path, params=clean, data=data, headers=headers,
                                        timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            text = await resp.text()
            try:
                decoded = json.loads(text) if text else {}
            except ValueError:
                decoded = None
            if resp.status >= 400:
                raise _error_for(resp.status, decoded if isinstance(decoded, dict) else None, text)
            return decoded if isinstance(decoded, dict) else {"raw": text}

    # --- verbs -------------------------------------------------------------------------------------
    async def get(self, plural: str, name: str, namespace: str | None = None, *,
                  subresource: str | None = None) -> dict:
        r = _resource(plural)
        return await self.request("GET", r.path(namespace or "default", name, subresource))

    async def list(self, plural: str, namespace: str | None = None, *, label_selector: str | None = None,
                   field_selector: str | None = None) -> dict:
        """The list object: `items` and `metadata.resourceVersion` (to start a watch from)."""
        r = _resource(plural)
        params = {"labelSelector": label_selector, "fieldSelector": field_selector}
        return await self.request("GET", r.path(namespace), params=params)

    async def create(self, plural: str, obj: dict, namespace: str | None = None, *,
                     subresource_of: str | None = None) -> dict:
        r = _resource(plural)
        ns = namespace or obj.get("metadata", {}).get("namespace") or "default"
        return await self.request("POST", r.path(ns), body=obj)

    async def update(self, plural: str, obj: dict, *, subresource: str | None = None) -> dict:
        """PUT; the server answers 409 Conflict when `metadata.resourceVersion` is stale."""
        r = _resource(plural)
        meta = obj["metadata"]
        return await self.request("PUT", r.path(meta.get("namespace") or "default", meta["name"], subresource),
                                  body=obj)

    async def update_status(self, plural: str, obj: dict) -> dict:
        return await self.update(plural, obj, subresource="status")

    async def patch(self, plural: str, name: str, patch: Any, namespace: str | None = None, *,
                    patch_type: str = "merge", subresource: str | None = None,
                    field_manager: str | None = None) -> dict:
        r = _resource(plural)
        return await self.request("PATCH", r.path(namespace or "default", name, subresource), body=patch,
                                  content_type=PATCH_TYPES[patch_type],
                                  params={"fieldManager": field_manager})

    async def delete(self, plural: str, name: str, namespace: str | None = None, *,
                     propagation_policy: str | None = None, grace_period_seconds: int | None = None,
                     preconditions: dict | None = None) -> dict:
        r = _resource(plural)
        opts: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation_policy:
            opts["propagationPolicy"] = propagation_policy
        if grace_period_seconds is not None:
            opts["gracePeriodSeconds"] = grace_period_seconds
        if preconditions:
            opts["preconditions"] = preconditions
        return await self.request("DELETE", r.path(namespace or "default", name), body=opts)

    async def bind(self, pod_name: str, namespace: str, node_name: str) -> dict:
        """POST a Binding: the scheduler's one write (sets `spec.nodeName`; 409 if already bound)."""
        binding = {"apiVersion": "v1", "kind": "Binding",
                   "metadata": {"name": pod_name, "namespace": namespace},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": node_name}}
        return await self.request("POST", RESOURCES["pods"].path(namespace, pod_name, "binding"), body=binding)

    async def watch(self, plural: str, namespace: str | None = None, *, resource_version: str | None = None,
                    label_selector: str | None = None, field_selector: str | None = None,
                    timeout_seconds: int | None = None,
                    allow_bookmarks: bool = True) -> AsyncIterator[tuple[str, dict]]:
        """Yield `(type, object)` from a watch stream until the server closes it.

        Raises Gone when the resourceVersion is too old (the caller relists), ApiError otherwise.
        A 410 may also arrive in-stream as an ERROR event carrying a Status: same treatment.
        """
        r = _resource(plural)
        params = {"watch": "true", "resourceVersion": resource_version, "labelSelector": label_selector,
                  "fieldSelector": field_selector, "timeoutSeconds": timeout_seconds,
                  "allowWatchBookmarks": "true" if allow_bookmarks else None}
        clean = {k: str(v) for k, v in params.items() if v is not None}
        async with self.session.get(self.server + r.path(namespace), params=clean,
                                    timeout=aiohttp.ClientTimeout(total=None, sock_read=None)) as resp:
            if resp.status >= 400:
                text = await resp.text()
                try:
                    body = json.loads(text)
                except ValueError:
                    body = None
                raise _error_for(resp.status, body, text)
            buf = b""
            async for chunk in resp.content.iter_any():
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    if event.get("type") == "ERROR":
                        status = event.get("object", {})
                        raise _error_for(int(status.get("code", 500)), status, "")
                    yield event["type"], event["object"]


async def wait_for(predicate: Any, timeout: float, interval: float = 0.2) -> Any:
    """Await `predicate()` (sync or async) until truthy; for tests and CLI waits, never for controllers."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise TimeoutError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)
