"""The Debian bookworm root filesystem every offline image is built FROM.

Why one shared rootfs with everything in it: `docker build` here has no network, so nothing can be
`apt-get install`ed inside a Dockerfile. Either every image gets its own rootfs, or one base carries all
the packages the images need and each image is a thin layer FROM it. One base is simpler and smaller on
disk: Docker stores the ~190 MB base layer once and the seven images add kilobytes each.

The rootfs is made with `debootstrap --variant=minbase` from the mirror apt already uses, trimmed (docs,
man pages, locales, apt lists, the downloaded .debs) and kept as a tarball under
`<home>/cache/` named by a hash of its recipe, so a rebuild re-imports it without downloading anything.
The .debs themselves are kept in `<home>/cache/debs/` (debootstrap `--cache-dir`), so even a changed
package list only downloads what is new.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Callable

from minikube_py import config

from .hashing import recipe_hash

SUITE = "bookworm"
VARIANT = "minbase"

# What the images need, installed once into the base (dependencies are resolved by debootstrap):
#   tini            PID 1 of every image: reaps zombies, forwards SIGTERM (prompt pod deletion)
#   busybox         the busybox image's extra applets (wget, nc, ...)
#   curl, ca-certificates   `curl` inside pods (the guide's `kubectl exec ... curl localhost:3000`)
#   python3         the counter and echo apps (standard library only)
#   redis-server    the redis image (Debian's 7.0); brings redis-cli
#   nginx           the nginx image and the ingress controller's nginx
#   netbase         /etc/services and /etc/protocols, which minbase lacks and Python's socket module reads
PACKAGES: tuple[str, ...] = (
    "tini",
    "busybox",
    "ca-certificates",
    "curl",
    "netbase",
    "python3",
    "redis-server",
    "nginx",
)

# Removed from the rootfs before it is tarred (paths relative to the rootfs). Copyright files stay.
TRIM_GLOBS: tuple[str, ...] = (
    "usr/share/man/*",
    "usr/share/info/*",
    "usr/share/lintian/*",
    "usr/share/linda/*",
    "var/cache/apt/archives/*.deb",
    "var/cache/apt/*.bin",
    "var/lib/apt/lists/*",
    "var/cache/debconf/*-old",
    "var/lib/dpkg/*-old",
    "var/log/*.log",
    "var/log/apt/*",
    "tmp/*",
)

# Keeps later `apt-get install`s in derived images (on machines with a mirror) as slim as the base.
DPKG_NODOC = """\
# Written by minikube-py image bootstrap: no docs, man pages or translations in container images.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
"""


def cache_dir() -> Path:
    """`<home>/cache`: survives `delete` of any profile; shared by all profiles."""
    return config.home_dir() / "cache"


def rootfs_recipe() -> dict[str, object]:
    """Everything that changes the rootfs' content. The mirror is left out on purpose: the same suite
    from another mirror is the same Debian, and `--mirror` must not force a 40 s re-download."""
    return {
        "suite": SUITE,
        "variant": VARIANT,
        "packages": sorted(PACKAGES),
        "trim": list(TRIM_GLOBS),
        "nodoc": DPKG_NODOC,
    }


def rootfs_hash() -> str:
    return recipe_hash(rootfs_recipe())


def rootfs_tarball() -> Path:
    return cache_dir() / f"rootfs-{SUITE}-{rootfs_hash()[:16]}.tar"


def _mounts_under(path: Path) -> list[str]:
    """Mount points below *path* (a debootstrap killed mid-way can leave /proc mounted in its target)."""
    prefix = str(path.resolve()).rstrip("/") + "/"
    out = []
    with open("/proc/self/mounts") as f:
        for line in f:
            mnt = line.split()[1].replace("\\040", " ")
            if mnt.startswith(prefix):
                out.append(mnt)
    return sorted(out, key=len, reverse=True)


def remove_tree(path: Path) -> None:
    """Remove a half-made rootfs safely: unmount anything inside it first, never follow into mounts."""
    if not path.exists():
        return
    for mnt in _mounts_under(path):
        subprocess.run(["umount", "-l", mnt], check=False)
    if _mounts_under(path):
        raise RuntimeError(f"refusing to delete {path}: it still has mounts inside")
    shutil.rmtree(path)


def trim(root: Path) -> None:
    """Delete docs, man pages, locales, apt lists and the .debs from a finished rootfs."""
    for pattern in TRIM_GLOBS:
        for p in root.glob(pattern):
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
    doc = root / "usr/share/doc"
    if doc.is_dir():
        for pkg in doc.iterdir():
            if pkg.is_dir() and not pkg.is_symlink():
                for f in pkg.iterdir():
                    if f.name != "copyright":
                        shutil.rmtree(f) if f.is_dir() and not f.is_symlink() else f.unlink()
            elif pkg.name != "copyright":
                pkg.unlink()
    locale = root / "usr/share/locale"
    if locale.is_dir():
        for p in locale.iterdir():
            if p.name != "locale.alias":
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
    nodoc = root / "etc/dpkg/dpkg.cfg.d/01-minikube-py-nodoc"
    nodoc.parent.mkdir(parents=True, exist_ok=True)
    nodoc.write_text(DPKG_NODOC)
    # Docker provides these per container; values from the build host must not leak into images.
    for name in ("etc/hostname", "etc/resolv.conf", "etc/machine-id"):
        p = root / name
        if p.exists() or p.is_symlink():
            p.unlink()
        p.write_text("")


def make_rootfs_tarball(mirror: str, on_line: Callable[[str], None] = lambda line: None) -> Path:
    """Return the cached rootfs tarball, running debootstrap (and trim, tar) only when it is missing.

    Atomic: debootstrap runs into `<name>.tmp/`, the tarball is written as `<name>.tar.tmp` and renamed,
    so an interrupted run leaves no half tarball that a later run would trust.
    """
    target = rootfs_tarball()
    if target.is_file():
        return target
    if shutil.which("debootstrap") is None:
        raise RuntimeError("debootstrap is not installed: run scripts/setup.sh (apt-get install debootstrap)")
    cache = cache_dir()
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    work = target.with_suffix(".tmp")
    remove_tree(work)
    cmd = [
        "debootstrap",
        f"--variant={VARIANT}",
        f"--include={','.join(PACKAGES)}",
        f"--cache-dir={debs.resolve()}",
        SUITE,
        str(work),
        mirror,
    ]
    on_line("$ " + " ".join(cmd))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive", LC_ALL="C")
    tail: list[str] = []
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip()
        tail = (tail + [line])[-20:]
        on_line(line)
    if proc.wait() != 0:
        remove_tree(work)
        raise RuntimeError("debootstrap failed:\n" + "\n".join(tail))
    on_line("trimming docs, man pages, locales, apt lists")
    trim(work)
    on_line(f"writing {target.name}")
    partial = target.with_suffix(".tar.tmp")
    # GNU tar: fast, keeps hard links, symlinks and numeric owners. /dev, /proc and /sys stay empty
    # (Docker provides them in every container).
    subprocess.run(
        ["tar", "--numeric-owner", "-C", str(work), "-cf", str(partial),
         "--exclude=./dev/*", "--exclude=./proc/*", "--exclude=./sys/*", "."],
        check=True,
    )
    partial.rename(target)
    remove_tree(work)
    return target
