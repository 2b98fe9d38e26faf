"""Pod volumes on the node: per-pod directories bind-mounted into the containers that list them.

Layout (like the kubelet's `/var/lib/kubelet/pods/<uid>/volumes/...`):

    <state dir>/pods/<uid>/volumes/<name>/            emptyDir: a plain directory (shared by bind mounts)
    <state dir>/pods/<uid>/volumes/<name>/..data  ->  ..2024_01_01_10_00_00.123   configMap / secret
    <state dir>/pods/<uid>/volumes/<name>/<key>   ->  ..data/<key>

Why the `..data` symlink: a ConfigMap update must appear to the container all at once (nginx reloading
half a new config is worse than an old one). The new content is written into a fresh timestamped
directory, then `..data` is replaced with one `rename(2)` of a new symlink; the per-key links always point
through `..data`, so readers see either the old or the new set, never a mix. Containers mount the volume
directory, so the swap is visible inside them within the agent's reaction time to the watch event.
"""
from __future__ import annotations

import base64
import datetime as dt
import logging
import os
import shutil
from pathlib import Path
from typing import Callable, NamedTuple

log = logging.getLogger(__name__)

Lookup = Callable[[str, str], "dict | None"]  # (namespace, name) -> object or None


class MountError(Exception):
    """A volume can't be set up yet (e.g. its ConfigMap doesn't exist); reported as FailedMount."""


class Volume(NamedTuple):
    host_path: str
    read_only: bool  # forced read-only (configMap, secret)


def pod_dir(state_dir: Path, uid: str) -> Path:
    return state_dir / "pods" / uid


def _key_to_path_files(data: dict[str, bytes], items: list[dict] | None, default_mode: int) -> dict[str, tuple[bytes, int]]:
    if not items:
        return {k: (v, default_mode) for k, v in data.items()}
    out = {}
    for item in items:
        key = item.get("key")
        if key in data:
            out[item.get("path") or key] = (data[key], int(item.get("mode", default_mode)))
    return out


def _source_data(kind: str, obj: dict) -> dict[str, bytes]:
    if kind == "configMap":
        data = {k: v.encode() for k, v in (obj.get("data") or {}).items()}
        data.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
        return data
    data = {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
    data.update({k: v.encode() for k, v in (obj.get("stringData") or {}).items()})
    return data


def write_atomic_dir(target: Path, files: dict[str, tuple[bytes, int]]) -> bool:
    """Make *target* hold exactly *files* via the `..data` swap; returns True when content changed."""
    target.mkdir(parents=True, exist_ok=True)
    current = target / "..data"
    if current.is_symlink():
        old_dir = target / os.readlink(current)
        if _dir_matches(old_dir, files):
            return False
    else:
        old_dir = None
    stamp = dt.datetime.now(dt.timezone.utc).strftime("..%Y_%m_%d_%H_%M_%S.%f")
    new_dir = target / stamp
    new_dir.mkdir()
    for rel, (content, mode) in files.items():
        p = new_dir / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content)
        os.chmod(p, mode)
    tmp_link = target / "..data_tmp"
    if tmp_link.is_symlink() or tmp_link.exists():
        tmp_link.unlink()
    os.symlink(stamp, tmp_link)
    os.replace(tmp_link, current)
    # Top-level names point through ..data; links for keys that vanished are removed.
    tops = {rel.split("/", 1)[0] for rel in files}
    for top in tops:
        link = target / top
        if not link.is_symlink():
            if link.exists():
                shutil.rmtree(link) if link.is_dir() else link.unlink()
            os.symlink(f"..data/{top}", link)
    for entry in target.iterdir():
        if entry.name.startswith(".."):
            continue
        if entry.name not in tops and entry.is_symlink():
            entry.unlink()
    if old_dir is not None and old_dir.exists() and old_dir != new_dir:
        shutil.rmtree(old_dir, ignore_errors=True)
    return True


def _dir_matches(d: Path, files: dict[str, tuple[bytes, int]]) -> bool:
    if not d.is_dir():
        return False
    present = {str(p.relative_to(d)) for p in d.rglob("*") if p.is_file()}
    if present != set(files):
        return False
    return all((d / rel).read_bytes() == content for rel, (content, _) in files.items())


def setup_volumes(pod: dict, state_dir: Path, get_configmap: Lookup, get_secret: Lookup) -> dict[str, Volume]:
    """Create or refresh every volume of *pod* on disk; returns name → Volume. Raises MountError.

    Idempotent: called on every sync, so ConfigMap and Secret changes reach running pods.
    """
    meta = pod["metadata"]
    ns = meta.get("namespace") or "default"
    base = pod_dir(state_dir, meta["uid"]) / "volumes"
    out: dict[str, Volume] = {}
    for vol in (pod.get("spec") or {}).get("volumes") or []:
        name = vol["name"]
        path = base / name
        if "hostPath" in vol:
            hp = vol["hostPath"]
            kind = hp.get("type") or ""
            p = Path(hp["path"])
            if kind == "DirectoryOrCreate":
                p.mkdir(parents=True, exist_ok=True)
            elif kind == "FileOrCreate" and not p.exists():
                p.parent.mkdir(parents=True, exist_ok=True)
                p.touch()
            elif kind in ("Directory", "File", "Socket") and not p.exists():
                raise MountError(f'hostPath type check failed: {p} is not a {kind.lower()}')
            out[name] = Volume(str(p), False)
        elif "configMap" in vol or "secret" in vol:
            kind = "configMap" if "configMap" in vol else "secret"
            src = vol[kind]
            obj_name = src.get("name") if kind == "configMap" else src.get("secretName")
            obj = (get_configmap if kind == "configMap" else get_secret)(ns, obj_name)
            if obj is None:
                if src.get("optional"):
                    write_atomic_dir(path, {})
                    out[name] = Volume(str(path), True)
                    continue
                what = "configmap" if kind == "configMap" else "secret"
                raise MountError(f'MountVolume.SetUp failed for volume "{name}" : {what} "{obj_name}" not found')
            files = _key_to_path_files(_source_data(kind, obj), src.get("items"), int(src.get("defaultMode", 0o644)))
            if write_atomic_dir(path, files):
                log.info("volume %s of %s/%s updated from %s %s", name, ns, meta["name"], kind, obj_name)
            out[name] = Volume(str(path), True)
        else:
            # emptyDir, and (as an empty directory) the kinds we don't implement, so pods still start.
            if "emptyDir" not in vol:
                log.warning("volume %s of %s/%s: unsupported type, using an empty directory", name, ns,
                            meta["name"])
            path.mkdir(parents=True, exist_ok=True)
            os.chmod(path, 0o777)
            out[name] = Volume(str(path), False)
    return out


def binds_for(container: dict, volumes: dict[str, Volume]) -> list[str]:
    """Docker bind specs (`src:dst:ro|rw`) for the container's volumeMounts (subPath, readOnly)."""
    binds = []
    for m in container.get("volumeMounts") or []:
        vol = volumes.get(m.get("name"))
        if vol is None:
            raise MountError(f'volume "{m.get("name")}" not found in the pod spec')
        src = vol.host_path
        sub = m.get("subPath")
        if sub:
            if ".." in Path(sub).parts or sub.startswith("/"):
                raise MountError(f"subPath {sub!r} must be a relative path without '..'")
            p = Path(src) / sub
            if not p.exists() and not p.is_symlink():
                p.mkdir(parents=True, exist_ok=True)
            src = os.path.realpath(p)  # a configMap key: resolve its link (no live updates, like k8s)
        ro = vol.read_only or bool(m.get("readOnly"))
        binds.append(f"{src}:{m['mountPath']}:{'ro' if ro else 'rw'}")
    return binds


def remove_pod_dir(state_dir: Path, uid: str) -> None:
    shutil.rmtree(pod_dir(state_dir, uid), ignore_errors=True)
