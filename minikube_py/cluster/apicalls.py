"""A few blocking API calls for the CLI (`start`'s waits and system objects, `service`, `node delete`).

Why not `minikube_py.client.ApiClient`: that client is async and built for long-running informers; the
CLI makes a handful of one-shot requests and then exits, so plain `urllib` over HTTPS with the profile's
CA and admin token keeps it a straight line. Nothing here loops against the API except the explicit
`start` waits (a CLI wait, not a controller).
"""
from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


class ApiCallError(RuntimeError):
    def __init__(self, status: int, body: str) -> None:
        self.status = status
        try:
            self.message = json.loads(body).get("message", body)
        except ValueError:
            self.message = body
        super().__init__(f"{status}: {self.message}")


class Api:
    def __init__(self, server: str, ca_file: Path, token: str | None = None, timeout: float = 5.0) -> None:
        self.server = server.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.ctx = ssl.create_default_context(cafile=str(ca_file))

    def request(self, method: str, path: str, body: Any = None, auth: bool = True) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if auth and self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=self.timeout) as resp:
                raw = resp.read().decode()
        except urllib.error.HTTPError as err:
            raise ApiCallError(err.code, err.read().decode(errors="replace")) from None
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw

    def ready(self) -> bool:
        """`/readyz` answers 200 (anonymous)."""
        try:
            self.request("GET", "/readyz", auth=False)
            return True
        except (ApiCallError, OSError, ssl.SSLError):
            return False

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def get_or_none(self, path: str) -> Any:
        try:
            return self.get(path)
        except ApiCallError as err:
            if err.status == 404:
                return None
            raise

    def ensure(self, collection: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Create *obj* in *collection*, or replace its spec-ish fields when it exists (idempotent)."""
        name = obj["metadata"]["name"]
        current = self.get_or_none(f"{collection}/{name}")
        if current is None:
            return self.request("POST", collection, obj)
        merged = dict(current)
        for key, value in obj.items():
            if key == "metadata":
                meta = dict(current.get("metadata", {}))
                meta["labels"] = {**meta.get("labels", {}), **value.get("labels", {})}
                merged["metadata"] = meta
            elif key == "spec":
                merged["spec"] = {**current.get("spec", {}), **value}
            else:
                merged[key] = value
        return self.request("PUT", f"{collection}/{name}", merged)

    def delete(self, path: str) -> None:
        try:
            self.request("DELETE", path)
        except ApiCallError as err:
            if err.status != 404:
                raise
