"""`minikube-py image …`: bootstrap the offline images and manage images in the local Docker engine.

The commands mirror `minikube image` (build, load, ls, rm) with one addition, `bootstrap`, because this
project's machines reach no registry: every image the guide needs is built here from the Debian mirror.
The main CLI registers the `image` group; `python -m minikube_py.images.cli` runs it standalone.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from docker.errors import APIError, BuildError, DockerException, ImageNotFound
from rich.console import Console
from rich.table import Table

from .bootstrap import BootstrapError, BootstrapResult, bootstrap_images, is_ours
from .docker_client import docker_client
from .dockerfile import base_images


def _client():
    try:
        return docker_client()
    except DockerException as e:
        raise click.ClickException(f"cannot reach the Docker engine: {e}") from e


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _short_id(image_id: str) -> str:
    return image_id.split(":", 1)[-1][:12]


def print_bootstrap_result(console: Console, result: BootstrapResult) -> None:
    """The table of images, the stand-in aliases and the timing, minikube-style."""
    table = Table(title="minikube-py images (built offline)", title_justify="left")
    for col in ("image", "id", "size", "status", "time"):
        table.add_column(col, justify="right" if col in ("size", "time") else "left", no_wrap=True)
    for r in result.images:
        status = {"unchanged": "[dim]unchanged[/]", "built": "[green]built[/]",
                  "imported": "[green]imported[/]"}.get(r.action, r.action)
        table.add_row(r.ref, _short_id(r.id), _mb(r.size), status, f"{r.seconds:.1f}s")
    console.print(table)
    aliased = [(a, r.ref) for r in result.images for a in r.aliases]
    if aliased:
        console.print("[bold]Upstream names tagged as LOCAL STAND-INS[/] (built here from Debian "
                      "packages, not the upstream images):")
        for alias, ref in aliased:
            console.print(f"  {alias:34} -> {ref}", soft_wrap=True)
    for r in result.images:
        for alias in r.skipped_aliases:
            console.print(f"[yellow]kept {alias}: it is a real image not built by minikube-py[/]")
    kind = "cold (debootstrap)" if result.debootstrap_seconds is not None else (
        "rebuilt" if result.changed else "warm (nothing to do)")
    extra = f", debootstrap {result.debootstrap_seconds:.1f}s from {result.mirror}" \
        if result.debootstrap_seconds is not None else ""
    console.print(f"Done in {result.seconds:.1f}s: {kind}{extra}", soft_wrap=True)


@click.group("image")
def image() -> None:
    """Manage images in the local Docker engine (no registry needed)."""


@image.command("bootstrap")
@click.option("--alias-upstream", is_flag=True,
              help="Also tag the images with the upstream names the guide uses (redis, busybox, "
                   "ghcr.io/subicura/counter:latest, …) as local stand-ins.")
@click.option("--mirror", metavar="URL", default=None,
              help="Debian mirror for debootstrap (default: the one apt uses on this machine).")
@click.option("--rebuild", is_flag=True, help="Rebuild every image even if unchanged (reuses the rootfs cache).")
def bootstrap_cmd(alias_upstream: bool, mirror: str | None, rebuild: bool) -> None:
    """Build every image the examples and the cluster need, offline, from a debootstrap'ed Debian."""
    console = Console()
    try:
        result = bootstrap_images(alias_upstream=alias_upstream, mirror=mirror, rebuild=rebuild,
                                  client=_client(), console=console)
    except (BootstrapError, APIError, BuildError) as e:
        raise click.ClickException(str(e)) from e
    print_bootstrap_result(console, result)


@image.command("build")
@click.option("-t", "--tag", "tag", required=True, help="Name of the image, e.g. minikube-py/app:1.")
@click.option("-f", "--file", "dockerfile", default=None, help="Dockerfile, relative to DIR.")
@click.option("--build-arg", "build_args", multiple=True, metavar="KEY=VALUE", help="Build argument.")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
def build_cmd(tag: str, dockerfile: str | None, build_args: tuple[str, ...], directory: Path) -> None:
    """Build an image from DIRECTORY in the local engine (offline: nothing is pulled)."""
    args = {}
    for item in build_args:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--build-arg")
        args[key] = value
    from minikube_py.cli.output import fail

    path = directory / (dockerfile or "Dockerfile")
    if not path.is_file():
        fail("GUEST_IMAGE_BUILD", f"Failed to build image: Cannot locate specified Dockerfile: {path}", 80)
    client = _client()
    # No registry: a base the engine lacks would make the daemon try to pull it. Name it instead.
    for base in base_images(path.read_text(errors="replace"), args):
        try:
            client.images.get(base)
        except ImageNotFound:
            fail("GUEST_IMAGE_BUILD", f"Failed to build image: base image {base!r} is not in the local engine and "
                 "no registry is used here (`minikube-py image bootstrap` builds ours; `minikube-py image ls`)", 80)
        except APIError as e:
            fail("GUEST_IMAGE_BUILD", f"Failed to build image: base image {base!r}: {e.explanation or e}", 80)
    try:
        for chunk in client.api.build(path=str(directory), tag=tag, dockerfile=dockerfile, buildargs=args,
                                      rm=True, forcerm=True, pull=False, decode=True):
            if "error" in chunk:
                fail("GUEST_IMAGE_BUILD", f"Failed to build image: {chunk['error'].strip()}", 80)
            if "stream" in chunk:
                click.echo(chunk["stream"], nl=False)
    except APIError as e:
        # minikube's words and exit code (80, a guest error); the engine's own reason, not docker-py's URL.
        fail("GUEST_IMAGE_BUILD", f"Failed to build image: {e.explanation or e}", 80)


@image.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def load_cmd(file: Path) -> None:
    """Load an image archive (`docker save` output) into the local engine."""
    client = _client()
    try:
        with open(file, "rb") as f:
            images = client.images.load(f)
    except APIError as e:
        raise click.ClickException(str(e)) from e
    for img in images:
        for tag in img.tags or [img.id]:
            click.echo(f"Loaded image: {tag}")


@image.command("ls")
@click.option("--format", "fmt", type=click.Choice(["short", "table", "json"]), default="short",
              show_default=True)
def ls_cmd(fmt: str) -> None:
    """List images in the local engine."""
    client = _client()
    rows = []
    for img in client.images.list():
        for tag in img.tags:
            repo, _, t = tag.rpartition(":")
            rows.append({"image": repo, "tag": t, "id": _short_id(img.id), "size": img.attrs["Size"],
                         "ours": is_ours(img.labels)})
    rows.sort(key=lambda r: (r["image"], r["tag"]))
    if fmt == "short":
        for r in rows:
            click.echo(f"{r['image']}:{r['tag']}")
    elif fmt == "json":
        click.echo(json.dumps(rows, indent=2))
    else:
        table = Table()
        for col in ("Image", "Tag", "Image ID", "Size"):
            table.add_column(col, justify="right" if col == "Size" else "left")
        for r in rows:
            table.add_row(r["image"], r["tag"], r["id"], _mb(r["size"]))
        Console().print(table)


@image.command("rm")
@click.option("--force", is_flag=True, help="Remove even if a stopped container uses it.")
@click.argument("names", nargs=-1, required=True)
def rm_cmd(names: tuple[str, ...], force: bool) -> None:
    """Remove one or more images from the local engine."""
    client = _client()
    failed = False
    for name in names:
        try:
            for item in client.api.remove_image(name, force=force) or []:
                for key, value in item.items():
                    click.echo(f"{key}: {value}")
        except ImageNotFound:
            click.echo(f"Error: no such image: {name}", err=True)
            failed = True
        except APIError as e:
            click.echo(f"Error: {e.explanation or e}", err=True)
            failed = True
    if failed:
        sys.exit(1)


__all__ = ["image", "print_bootstrap_result"]

if __name__ == "__main__":
    image()
