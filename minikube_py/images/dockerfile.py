"""The base images a Dockerfile builds `FROM`, read without the engine.

Why: there is no registry here, and `docker build` with a `FROM` image the engine doesn't have makes the
daemon try to pull it (pull=False only skips *refreshing* images it has), which means a DNS lookup of
the registry through the host's resolver and a confusing `dial tcp: lookup registry-1.docker.io` error.
`image build` checks the bases first and names the missing one instead.

Pure: text in, names out. Handles `FROM [--platform=…] image [AS stage]`, later stages built `FROM` an
earlier stage (not an image), `scratch`, line continuations, comments, and `ARG`s declared before the
first `FROM` (with `--build-arg` overrides) in `$VAR` / `${VAR}` / `${VAR:-default}` form.
"""
from __future__ import annotations

import re
from typing import Mapping

_VAR = re.compile(r"\$(?:\{(\w+)(?::-([^}]*))?\}|(\w+))")


def _logical_lines(text: str) -> list[str]:
    lines, current = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    if current:
        lines.append(current)
    return lines


def base_images(text: str, build_args: Mapping[str, str] | None = None) -> list[str]:
    """The images (not stages, not `scratch`) the Dockerfile *text* starts its stages from, in order."""
    args: dict[str, str] = {}
    stages: set[str] = set()
    out: list[str] = []
    seen_from = False
    for line in _logical_lines(text):
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "ARG" and not seen_from:
            name, eq, default = rest.strip().partition("=")
            args[name.strip()] = (build_args or {}).get(name.strip(), default.strip().strip('"') if eq else "")
        elif word == "FROM":
            seen_from = True
            parts = [p for p in rest.split() if not p.startswith("--")]
            if not parts:
                continue
            image = _VAR.sub(lambda m: args.get(m.group(1) or m.group(3) or "", "") or (m.group(2) or ""),
                             parts[0])
            if len(parts) >= 3 and parts[1].upper() == "AS":
                stages.add(parts[2].lower())
            if image.lower() in stages or image == "scratch" or image in out:
                continue
            out.append(image)
    return out
