"""Content hashes that make `image bootstrap` idempotent.

Every image we build carries the label `io.minikube-py.content-hash`: a sha256 over everything that
determines its content (the build context's files, the build args, the Dockerfile name and the *id* of
the base image it is built FROM). A second `bootstrap` recomputes the hash and skips an image whose tag
already carries it, so a warm run does no Docker build at all and finishes in seconds.

Why hash the base image's id and not its tag: `docker import` gives a new id every time, so when the
base is rebuilt every image FROM it is rebuilt too, and never silently left on an old base.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterable, Mapping

HASH_LABEL = "io.minikube-py.content-hash"
IMAGE_LABEL = "io.minikube-py.image"  # the config.IMAGES key, e.g. "echo-v1"
BUILT_BY_LABEL = "io.minikube-py.built-by"
BUILT_BY = "image-bootstrap"

# Files in an app directory that do not go into the offline build and must not force a rebuild.
IGNORED_NAMES = frozenset({"Dockerfile.upstream", "__pycache__", ".pytest_cache", "README.md"})


def context_files(context: Path, ignored: Iterable[str] = IGNORED_NAMES) -> list[Path]:
    """The files of a build context, sorted, skipping `ignored` names at any depth."""
    ignored = set(ignored)
    out: list[Path] = []
    for root, dirs, files in os.walk(context):
        dirs[:] = sorted(d for d in dirs if d not in ignored)
        for name in sorted(files):
            if name in ignored or name.endswith(".pyc"):
                continue
            out.append(Path(root) / name)
    return sorted(out, key=lambda p: p.relative_to(context).as_posix())


def context_hash(
    context: Path,
    *,
    dockerfile: str = "Dockerfile",
    buildargs: Mapping[str, str] | None = None,
    base_id: str = "",
) -> str:
    """sha256 over the context's files (relative path, executable bit, bytes), build args and base id.

    The executable bit is included because `COPY` preserves it and a script that lost it breaks the image;
    mtimes are not, so a fresh checkout hashes the same as an old one.
    """
    h = hashlib.sha256()
    h.update(b"minikube-py image context v1\0")
    h.update(f"dockerfile={dockerfile}\0base={base_id}\0".encode())
    for key in sorted(buildargs or {}):
        h.update(f"arg {key}={(buildargs or {})[key]}\0".encode())
    for path in context_files(context):
        rel = path.relative_to(context).as_posix()
        executable = os.access(path, os.X_OK)
        h.update(f"file {rel} x={int(executable)}\0".encode())
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def recipe_hash(parts: Mapping[str, object]) -> str:
    """sha256 of a small recipe (suite, variant, package list, trim rules) for the base rootfs."""
    h = hashlib.sha256(b"minikube-py rootfs v1\0")
    for key in sorted(parts):
        h.update(f"{key}={parts[key]!r}\0".encode())
    return h.hexdigest()


def needs_build(existing_labels: Mapping[str, str] | None, want_hash: str, *, rebuild: bool = False) -> bool:
    """Decide whether to (re)build: the tag is missing, carries another hash, or a rebuild was asked for."""
    if rebuild or existing_labels is None:
        return True
    return existing_labels.get(HASH_LABEL) != want_hash
