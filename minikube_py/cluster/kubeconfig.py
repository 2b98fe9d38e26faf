"""Merging a profile's context into the user's kubeconfig, and taking it out again.

Like minikube: the file is `$KUBECONFIG` (its first entry when it is a list) or `~/.kube/config`; the
profile's cluster, user and context are all named after the profile; other entries are never changed;
`current-context` is set on `start` and cleared on `delete` only if it pointed at the profile.
"""
from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import yaml


def kubeconfig_path() -> Path:
    env = os.environ.get("KUBECONFIG", "")
    first = next((p for p in env.split(os.pathsep) if p), "")
    return Path(first) if first else Path.home() / ".kube" / "config"


def _load(path: Path) -> dict[str, Any]:
    if path.is_file():
        data = yaml.safe_load(path.read_text()) or {}
    else:
        data = {}
    data.setdefault("apiVersion", "v1")
    data.setdefault("kind", "Config")
    data.setdefault("preferences", {})
    for key in ("clusters", "users", "contexts"):
        data[key] = data.get(key) or []
    data.setdefault("current-context", "")
    return data


def _save(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(data, sort_keys=False))
    os.chmod(tmp, 0o600)  # it holds a bearer token
    os.replace(tmp, path)


def _upsert(entries: list[dict[str, Any]], name: str, key: str, value: dict[str, Any]) -> None:
    for e in entries:
        if e.get("name") == name:
            e[key] = value
            return
    entries.append({"name": name, key: value})


def render_entries(profile: str, server: str, ca_pem: bytes, token: str) -> dict[str, dict[str, Any]]:
    """The cluster/user/context bodies for *profile* (pure, for tests)."""
    return {
        "cluster": {"certificate-authority-data": base64.b64encode(ca_pem).decode(), "server": server,
                    "extensions": [{"name": "cluster_info", "extension": {"provider": "minikube-py"}}]},
        "user": {"token": token},
        "context": {"cluster": profile, "user": profile, "namespace": "default"},
    }


def merge_context(profile: str, server: str, ca_pem: bytes, token: str, path: Path | None = None,
                  set_current: bool = True) -> Path:
    """Add or update *profile*'s cluster, user and context; keep everything else. Returns the file."""
    path = path or kubeconfig_path()
    data = _load(path)
    entries = render_entries(profile, server, ca_pem, token)
    _upsert(data["clusters"], profile, "cluster", entries["cluster"])
    _upsert(data["users"], profile, "user", entries["user"])
    _upsert(data["contexts"], profile, "context", entries["context"])
    if set_current:
        data["current-context"] = profile
    _save(path, data)
    return path


def remove_context(profile: str, path: Path | None = None) -> bool:
    """Remove *profile*'s entries; True when something was removed."""
    path = path or kubeconfig_path()
    if not path.is_file():
        return False
    data = _load(path)
    before = sum(len(data[k]) for k in ("clusters", "users", "contexts"))
    for key in ("clusters", "users", "contexts"):
        data[key] = [e for e in data[key] if e.get("name") != profile]
    changed = before != sum(len(data[k]) for k in ("clusters", "users", "contexts"))
    if data.get("current-context") == profile:
        data["current-context"] = ""
        changed = True
    if changed:
        _save(path, data)
    return changed


def context_configured(profile: str, server: str, path: Path | None = None) -> bool:
    """True when the file has *profile*'s context pointing at *server* (for `status`)."""
    data = _load(path or kubeconfig_path())
    ctx = next((c for c in data["contexts"] if c.get("name") == profile), None)
    cl = next((c for c in data["clusters"] if c.get("name") == profile), None)
    return bool(ctx and cl and cl.get("cluster", {}).get("server") == server)


def current_context(path: Path | None = None) -> str:
    """The kubeconfig's `current-context` ("" when unset): `profile list`'s Active Kubecontext column."""
    return _load(path or kubeconfig_path()).get("current-context") or ""
