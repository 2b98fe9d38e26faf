"""`minikube-py`: the top-level click group.

Like minikube, the profile comes from `-p/--profile` (before or after the verb), else the environment
variable `MINIKUBE_PY_PROFILE` (minikube's `MINIKUBE_PROFILE`), else `minikube-py`.

Other areas contribute their own click groups from their own `cli.py`; they are registered *lazily* in
`LAZY_COMMANDS` ("name": "module:attribute"), imported only when used, and hidden while the module
doesn't exist yet, so this CLI never breaks because a colleague's module is missing or slow to import.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from typing import Any

import click

from minikube_py.cli.output import console, err_console, fail
from minikube_py.config import DEFAULT_PROFILE

# Verb → "module:attribute" of a click command/group owned by another area.
LAZY_COMMANDS: dict[str, str] = {
    "image": "minikube_py.images.cli:image",
    "addons": "minikube_py.addons.cli:addons",
    "init": "minikube_py.cli.join:init_cmd", "join": "minikube_py.cli.join:join_cmd",
    "reset": "minikube_py.cli.join:reset_cmd", "token": "minikube_py.cli.join:token_group",
}


class LazyGroup(click.Group):
    """A click group whose extra verbs are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        lazy = [n for n, target in LAZY_COMMANDS.items() if _module_exists(target.split(":")[0])]
        return sorted(set(super().list_commands(ctx)) | set(lazy))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None or cmd_name not in LAZY_COMMANDS:
            return cmd
        module_name, attr = LAZY_COMMANDS[cmd_name].split(":")
        if not _module_exists(module_name):
            return None
        return getattr(importlib.import_module(module_name), attr)


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def resolve_profile(ctx: click.Context, value: str | None) -> str:
    """The command's `-p`, else the group's `-p`, else `$MINIKUBE_PY_PROFILE`, else the default."""
    if value:
        return value
    root = ctx.find_root()
    if root.obj and root.obj.get("profile"):
        return root.obj["profile"]
    return os.environ.get("MINIKUBE_PY_PROFILE") or DEFAULT_PROFILE


def profile_option(f: Any) -> Any:
    return click.option("-p", "--profile", "profile", default=None, metavar="PROFILE",
                        help="The profile (cluster) to act on [env: MINIKUBE_PY_PROFILE].")(f)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@profile_option
@click.pass_context
def main(ctx: click.Context, profile: str | None) -> None:
    """minikube-py: a real Kubernetes in miniature, on one laptop."""
    ctx.ensure_object(dict)
    ctx.obj["profile"] = profile


# Commands live in small modules by topic; importing them registers them on `main`.
from minikube_py.cli import cluster as _cluster  # noqa: E402,F401
from minikube_py.cli import nodes as _nodes  # noqa: E402,F401
from minikube_py.cli import misc as _misc  # noqa: E402,F401

__all__ = ["main", "resolve_profile", "profile_option", "console", "err_console", "fail"]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
