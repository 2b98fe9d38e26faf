"""Context hashing and the rebuild decision that make `image bootstrap` idempotent."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from minikube_py import config
from minikube_py.images import rootfs
from minikube_py.images.bootstrap import APPS, _split_ref, apps_dir, is_ours
from minikube_py.images.hashing import HASH_LABEL, context_hash, needs_build, recipe_hash


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    (tmp_path / "Dockerfile").write_text("FROM base\nCOPY app.py /app/app.py\n")
    (tmp_path / "app.py").write_text("print('hi')\n")
    return tmp_path


def test_same_content_same_hash_regardless_of_mtime(ctx: Path) -> None:
    first = context_hash(ctx, base_id="sha256:aaa")
    os.utime(ctx / "app.py", (0, 0))
    assert context_hash(ctx, base_id="sha256:aaa") == first


def test_hash_changes_with_content_exec_bit_args_and_base(ctx: Path) -> None:
    base = context_hash(ctx, base_id="sha256:aaa")
    assert context_hash(ctx, base_id="sha256:bbb") != base, "a new base must rebuild everything on it"
    assert context_hash(ctx, base_id="sha256:aaa", buildargs={"VERSION": "v2"}) != base
    assert context_hash(ctx, base_id="sha256:aaa", buildargs={"VERSION": "v1"}) != \
        context_hash(ctx, base_id="sha256:aaa", buildargs={"VERSION": "v2"})
    (ctx / "app.py").chmod(0o755)
    executable = context_hash(ctx, base_id="sha256:aaa")
    assert executable != base
    (ctx / "app.py").write_text("print('changed')\n")
    assert context_hash(ctx, base_id="sha256:aaa") not in (base, executable)


def test_renaming_a_file_changes_the_hash(ctx: Path) -> None:
    before = context_hash(ctx)
    (ctx / "app.py").rename(ctx / "main.py")
    assert context_hash(ctx) != before


def test_files_outside_the_offline_build_are_ignored(ctx: Path) -> None:
    before = context_hash(ctx)
    (ctx / "Dockerfile.upstream").write_text("FROM python:3.11-slim\n")
    (ctx / "__pycache__").mkdir()
    (ctx / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0")
    (ctx / "README.md").write_text("notes\n")
    assert context_hash(ctx) == before


def test_needs_build_decision() -> None:
    assert needs_build(None, "h1"), "missing tag -> build"
    assert needs_build({}, "h1"), "tag without our label (e.g. a real upstream image) -> build"
    assert needs_build({HASH_LABEL: "h0"}, "h1"), "stale hash -> build"
    assert not needs_build({HASH_LABEL: "h1"}, "h1"), "same hash -> skip"
    assert needs_build({HASH_LABEL: "h1"}, "h1", rebuild=True), "--rebuild forces"


def test_recipe_hash_is_order_insensitive_in_keys_but_not_values() -> None:
    assert recipe_hash({"a": 1, "b": [1, 2]}) == recipe_hash({"b": [1, 2], "a": 1})
    assert recipe_hash({"a": 1, "b": [1, 2]}) != recipe_hash({"a": 1, "b": [2, 1]})


def test_rootfs_cache_lives_under_home_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MINIKUBE_PY_HOME", str(tmp_path))
    assert rootfs.cache_dir() == tmp_path / "cache"
    assert rootfs.rootfs_tarball().parent == tmp_path / "cache"
    assert rootfs.rootfs_tarball().name.startswith("rootfs-bookworm-")


def test_mirror_does_not_change_the_rootfs_recipe() -> None:
    assert "mirror" not in rootfs.rootfs_recipe()


def test_every_configured_image_is_built_and_every_app_has_its_sources() -> None:
    keys = {a.key for a in APPS} | {"base"}
    assert keys == set(config.IMAGES)
    for app in APPS:
        d = apps_dir() / app.context
        assert (d / "Dockerfile").is_file(), d
        assert (d / "Dockerfile.upstream").is_file(), d
        text = (d / "Dockerfile").read_text()
        assert "apt-get" not in text and "# syntax=" not in text, "offline builds only"
        assert "FROM ${BASE}" in text


def test_split_ref() -> None:
    assert _split_ref("redis:latest") == ("redis", "latest")
    assert _split_ref("ghcr.io/subicura/echo:v1") == ("ghcr.io/subicura/echo", "v1")
    assert _split_ref("localhost:5000/app") == ("localhost:5000/app", "latest")
    assert _split_ref("busybox") == ("busybox", "latest")


def test_is_ours() -> None:
    assert is_ours({HASH_LABEL: "x"})
    assert not is_ours({"maintainer": "someone"})
    assert not is_ours(None)
