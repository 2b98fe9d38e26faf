"""`image bootstrap`: build every image in `config.IMAGES` offline, idempotently.

The pipeline (DESIGN.md "Images without a registry"):

1. base (`config.IMAGES["base"]`): a debootstrap'ed, trimmed Debian bookworm rootfs (see rootfs.py),
   `docker import`ed. Labelled with the hash of its recipe; skipped when the tag already carries it.
2. apps: `docker build` of each `manifests/apps/<dir>/Dockerfile` FROM the base (`--build-arg BASE`),
   no network needed (no `apt-get` in those Dockerfiles, no `# syntax=` lines, `pull=False`). Labelled with
   a hash of the build context + build args + the base image's id; skipped when unchanged.
3. with `alias_upstream`: extra tags with the upstream names the guide's YAML uses
   (`config.UPSTREAM_ALIASES`), so `image: redis` runs our local stand-in. A tag that already points to an
   image we did not build (a real upstream pull) is left alone.

Runs are serialised with a file lock in the cache directory, because several test sessions and a user's
shell may bootstrap at the same time on one engine. A warm run builds nothing and takes seconds.
"""
from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterator

import docker
from docker.errors import APIError, ImageNotFound
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from minikube_py import config

from . import rootfs
from .docker_client import docker_client
from .hashing import BUILT_BY, BUILT_BY_LABEL, HASH_LABEL, IMAGE_LABEL, context_hash, needs_build
from .sources import system_mirror


class BootstrapError(RuntimeError):
    """A step of the bootstrap failed; the message carries the tail of the tool's output."""


@dataclasses.dataclass(frozen=True)
class AppSpec:
    """One image built FROM the base: its `config.IMAGES` key, app directory and build args."""

    key: str
    context: str
    buildargs: tuple[tuple[str, str], ...] = ()


BUILD_WORKERS = 4

# Order: pause first (every pod needs it), then what the guide's chapters use.
APPS: tuple[AppSpec, ...] = (
    AppSpec("pause", "pause"),
    AppSpec("redis", "redis"),
    AppSpec("busybox", "busybox"),
    AppSpec("nginx", "nginx"),
    AppSpec("counter", "counter"),
    AppSpec("echo-v1", "echo", (("VERSION", "v1"),)),
    AppSpec("echo-v2", "echo", (("VERSION", "v2"),)),
)


@dataclasses.dataclass
class ImageResult:
    key: str
    ref: str
    id: str
    size: int
    action: str  # "built", "imported", "unchanged"
    seconds: float
    aliases: list[str] = dataclasses.field(default_factory=list)
    skipped_aliases: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class BootstrapResult:
    images: list[ImageResult]
    seconds: float
    mirror: str | None  # None when the rootfs came from the cache (no mirror needed)
    debootstrap_seconds: float | None = None

    @property
    def changed(self) -> bool:
        return any(i.action != "unchanged" for i in self.images)


def apps_dir() -> Path:
    """`manifests/apps` of this checkout (`$MINIKUBE_PY_APPS_DIR` overrides, for installed copies)."""
    env = os.environ.get("MINIKUBE_PY_APPS_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "manifests" / "apps"


@contextlib.contextmanager
def bootstrap_lock(console: Console | None = None) -> Iterator[None]:
    """Exclusive lock so concurrent bootstraps don't debootstrap twice or race on tags."""
    path = rootfs.cache_dir() / "bootstrap.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if console:
                console.print("[yellow]waiting for another image bootstrap to finish…[/]")
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _labels_of(client: docker.DockerClient, ref: str) -> tuple[dict[str, str] | None, str | None]:
    """(labels, id) of the image tagged *ref*, or (None, None) when the tag doesn't exist."""
    try:
        img = client.images.get(ref)
    except ImageNotFound:
        return None, None
    return dict(img.labels or {}), img.id


def _drop_if_untagged(client: docker.DockerClient, image_id: str | None, new_id: str) -> None:
    """After a rebuild, remove the previous image if nothing tags it any more (keeps disk bounded).
    An image still used by a container stays; that's fine."""
    if not image_id or image_id == new_id:
        return
    try:
        old = client.images.get(image_id)
        if not old.tags:
            client.images.remove(image_id, noprune=False)
    except (ImageNotFound, APIError):
        pass


def _move_aliases(client: docker.DockerClient, key: str, old_id: str | None, new_id: str) -> None:
    """Upstream aliases that pointed at the image we just replaced follow it to the new one, so a
    rebuild without `--alias-upstream` never leaves `redis:latest` on a stale stand-in."""
    if not old_id or old_id == new_id:
        return
    for alias in config.UPSTREAM_ALIASES.get(key, []):
        _, current = _labels_of(client, alias)
        if current == old_id:
            repo, tag = _split_ref(alias)
            client.api.tag(new_id, repo, tag)


def _split_ref(ref: str) -> tuple[str, str]:
    """`ghcr.io/x/y:v1` -> (`ghcr.io/x/y`, `v1`); a port in the registry host is not a tag."""
    repo, _, tag = ref.rpartition(":")
    if not repo or "/" in tag:
        return ref, "latest"
    return repo, tag


def import_base(
    client: docker.DockerClient, tarball: Path, content_hash: str
) -> str:
    """`docker import` the rootfs as `config.IMAGES["base"]`, labelled; returns the image id."""
    repo, tag = _split_ref(config.IMAGES["base"])
    changes = [
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "ENV LANG=C.UTF-8",
        'CMD ["bash"]',
        f"LABEL {HASH_LABEL}={content_hash} {IMAGE_LABEL}=base {BUILT_BY_LABEL}={BUILT_BY}",
    ]
    client.api.import_image_from_file(str(tarball), repository=repo, tag=tag, changes=changes)
    return client.images.get(config.IMAGES["base"]).id


def build_app(
    client: docker.DockerClient,
    spec: AppSpec,
    context: Path,
    content_hash: str,
    on_line: Callable[[str], None] = lambda line: None,
) -> str:
    """`docker build` one app FROM the base, offline; returns the image id.

    Only the content-hash label is added through the API: the classic builder commits one layer per
    label (about 1.5 s each on fuse-overlayfs), and "ours" is recognisable by that one label anyway.
    """
    ref = config.IMAGES[spec.key]
    buildargs = {"BASE": config.IMAGES["base"], **dict(spec.buildargs)}
    tail: list[str] = []
    image_id: str | None = None
    for chunk in client.api.build(
        path=str(context), tag=ref, buildargs=buildargs, labels={HASH_LABEL: content_hash},
        rm=True, forcerm=True, pull=False, decode=True,
    ):
        if "error" in chunk:
            raise BootstrapError(f"docker build {ref} failed: {chunk['error']}\n" + "\n".join(tail))
        if "stream" in chunk:
            for line in chunk["stream"].splitlines():
                if line.strip():
                    tail = (tail + [line])[-20:]
                    on_line(line)
        if "aux" in chunk and "ID" in chunk["aux"]:
            image_id = chunk["aux"]["ID"]
    return image_id or client.images.get(ref).id


def is_ours(labels: dict[str, str] | None) -> bool:
    """An image made by `image bootstrap` (base or app) carries the content-hash label."""
    return bool(labels and HASH_LABEL in labels)


def _alias(client: docker.DockerClient, result: ImageResult) -> None:
    """Tag *result* with its upstream names, never over an image we did not build."""
    for alias in config.UPSTREAM_ALIASES.get(result.key, []):
        labels, _ = _labels_of(client, alias)
        if labels is not None and not is_ours(labels):
            result.skipped_aliases.append(alias)
            continue
        repo, tag = _split_ref(alias)
        client.api.tag(result.id, repo, tag)
        result.aliases.append(alias)


def bootstrap_images(
    *,
    alias_upstream: bool = False,
    mirror: str | None = None,
    rebuild: bool = False,
    client: docker.DockerClient | None = None,
    console: Console | None = None,
    only: list[str] | None = None,
) -> BootstrapResult:
    """Build (or confirm) every image of `config.IMAGES` offline; safe and fast to call repeatedly.

    `mirror`: Debian mirror for debootstrap (default: the one apt uses); only consulted when the cached
    rootfs tarball is missing. `rebuild`: re-import the base and rebuild every app even when their hashes
    match (the rootfs tarball is still reused). `only`: restrict to these `config.IMAGES` keys (the base
    is always ensured). `console`: where progress goes (default: a quiet console, for library callers).
    """
    console = console or Console(quiet=True)
    client = client or docker_client()
    started = time.monotonic()
    results: list[ImageResult] = []
    used_mirror: str | None = None
    debootstrap_seconds: float | None = None
    wanted = [a for a in APPS if only is None or a.key in only]
    root = apps_dir()

    with bootstrap_lock(console), Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
        console=console, transient=False,
    ) as progress:
        # 1. base
        t0 = time.monotonic()
        base_ref = config.IMAGES["base"]
        base_hash = rootfs.rootfs_hash()
        labels, old_base_id = _labels_of(client, base_ref)
        task = progress.add_task(f"base {base_ref}", total=1)
        if needs_build(labels, base_hash, rebuild=rebuild):
            tarball = rootfs.rootfs_tarball()
            if not tarball.is_file():
                used_mirror = mirror or system_mirror()
                progress.update(task, description=f"base {base_ref}: debootstrap from {used_mirror}")
                td = time.monotonic()

                def show(line: str) -> None:
                    progress.update(task, description=f"base {base_ref}: [dim]{line[:90]}[/]")

                try:
                    rootfs.make_rootfs_tarball(used_mirror, show)
                except RuntimeError as e:
                    raise BootstrapError(str(e)) from e
                debootstrap_seconds = time.monotonic() - td
            progress.update(task, description=f"base {base_ref}: docker import")
            base_id = import_base(client, tarball, base_hash)
            _drop_if_untagged(client, old_base_id, base_id)
            base_action = "imported"
        else:
            base_id = old_base_id or ""
            base_action = "unchanged"
        progress.update(task, completed=1, description=f"base {base_ref}: {base_action}")
        base_img = client.images.get(base_ref)
        results.append(ImageResult("base", base_ref, base_img.id, base_img.attrs["Size"], base_action,
                                   time.monotonic() - t0))

        # 2. apps, built in parallel: each classic-builder step costs ~1.5 s of container create/commit
        # on this engine's storage driver, mostly waiting, so a few builds at once cut the cold run.
        def one(spec: AppSpec, task: int) -> ImageResult:
            # The client is shared between threads: its urllib3 pool gives each concurrent request its
            # own connection.
            t0 = time.monotonic()
            ref = config.IMAGES[spec.key]
            context = root / spec.context
            want = context_hash(context, buildargs=dict(spec.buildargs), base_id=base_id)
            labels, old_id = _labels_of(client, ref)
            if needs_build(labels, want, rebuild=rebuild):
                def show(line: str) -> None:
                    progress.update(task, description=f"{ref}: [dim]{line.strip()[:90]}[/]")

                image_id = build_app(client, spec, context, want, show)
                _move_aliases(client, spec.key, old_id, image_id)
                _drop_if_untagged(client, old_id, image_id)
                action = "built"
            else:
                action = "unchanged"
            progress.update(task, completed=1, description=f"{ref}: {action}")
            img = client.images.get(ref)
            return ImageResult(spec.key, ref, img.id, img.attrs["Size"], action, time.monotonic() - t0)

        tasks = [(spec, progress.add_task(config.IMAGES[spec.key], total=1)) for spec in wanted]
        with ThreadPoolExecutor(max_workers=BUILD_WORKERS) as pool:
            futures = [pool.submit(one, spec, task) for spec, task in tasks]
            results += [f.result() for f in futures]

        # The old base could not go while old app images still used it; now they are gone too.
        if base_action == "imported":
            _drop_if_untagged(client, old_base_id, base_id)

        # 3. upstream aliases
        if alias_upstream:
            for r in results:
                _alias(client, r)

    return BootstrapResult(results, time.monotonic() - started, used_mirror, debootstrap_seconds)
