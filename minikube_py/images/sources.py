"""Find the Debian mirror this machine's apt already uses.

Why: machines here reach no container registry, but they do reach the Debian mirror apt is configured
with (it is the package registry, allowed traffic). `debootstrap` must use *that* mirror, not a
hard-coded `deb.debian.org`, or it breaks on machines behind a local mirror or a snapshot proxy.

Two formats exist side by side on Debian 12:

* deb822 stanzas in `/etc/apt/sources.list.d/*.sources` (the default since bookworm)::

      Types: deb
      URIs: http://deb.debian.org/debian
      Suites: bookworm bookworm-updates
      Components: main

* one-line entries in `/etc/apt/sources.list` and `/etc/apt/sources.list.d/*.list`::

      deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] http://deb.debian.org/debian bookworm main

Files with other endings (`*.list.disabled`, `*.save`) are ignored, as apt ignores them. The parsers are
pure functions over text so they are unit-tested without touching `/etc`.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Iterable

DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_SUITE = "bookworm"


@dataclasses.dataclass(frozen=True)
class AptSource:
    """One (type, URI, suite) triple; a deb822 stanza with several URIs/suites yields several."""

    type: str  # "deb" or "deb-src"
    uri: str
    suite: str
    components: tuple[str, ...] = ()


def parse_one_line(text: str) -> list[AptSource]:
    """Parse the classic `sources.list` format: `deb [options] uri suite [component...]`."""
    out: list[AptSource] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        # Options in brackets may contain spaces (`[ arch=amd64 ]`): drop the whole bracket group.
        if "[" in line and "]" in line:
            start, end = line.index("["), line.index("]")
            line = (line[:start] + " " + line[end + 1 :]).strip()
        parts = line.split()
        if len(parts) < 3 or parts[0] not in ("deb", "deb-src"):
            continue
        out.append(AptSource(parts[0], parts[1], parts[2], tuple(parts[3:])))
    return out


def parse_deb822(text: str) -> list[AptSource]:
    """Parse deb822 `.sources` stanzas (blank-line separated `Key: value` fields, `#` comments)."""
    out: list[AptSource] = []
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last_key: str | None = None
    for raw in text.splitlines() + [""]:
        if raw.startswith("#"):
            continue
        if not raw.strip():
            if current:
                stanzas.append(current)
            current, last_key = {}, None
            continue
        if raw[0] in " \t" and last_key:  # continuation line (multi-line field such as Signed-By)
            current[last_key] += " " + raw.strip()
            continue
        if ":" in raw:
            key, value = raw.split(":", 1)
            last_key = key.strip().lower()
            current[last_key] = value.strip()
    for st in stanzas:
        if st.get("enabled", "yes").lower() == "no":
            continue
        components = tuple(st.get("components", "").split())
        for typ in st.get("types", "").split():
            for uri in st.get("uris", "").split():
                for suite in st.get("suites", "").split():
                    out.append(AptSource(typ, uri, suite, components))
    return out


def choose_mirror(sources: Iterable[AptSource], suite: str = DEFAULT_SUITE) -> str | None:
    """Pick the mirror that serves *suite* itself (not `-security`/`-updates`), binary, over http(s).

    Falls back to a mirror that serves `<suite>-updates` (same archive, other suite) before giving up.
    """
    candidates = [s for s in sources if s.type == "deb" and s.uri.startswith(("http://", "https://"))]
    for s in candidates:
        if s.suite == suite:
            return s.uri.rstrip("/")
    for s in candidates:
        if s.suite == f"{suite}-updates":
            return s.uri.rstrip("/")
    return None


def read_system_sources(etc_apt: Path = Path("/etc/apt")) -> list[AptSource]:
    """All sources apt would read, in apt's order: `sources.list`, then `sources.list.d/` sorted."""
    out: list[AptSource] = []
    main = etc_apt / "sources.list"
    if main.is_file():
        out += parse_one_line(main.read_text(errors="replace"))
    d = etc_apt / "sources.list.d"
    if d.is_dir():
        for f in sorted(d.iterdir()):
            if not f.is_file():
                continue
            if f.name.endswith(".list"):
                out += parse_one_line(f.read_text(errors="replace"))
            elif f.name.endswith(".sources"):
                out += parse_deb822(f.read_text(errors="replace"))
    return out


def system_mirror(etc_apt: Path = Path("/etc/apt"), suite: str = DEFAULT_SUITE) -> str:
    """The mirror to debootstrap *suite* from; `DEFAULT_MIRROR` when apt has none configured."""
    return choose_mirror(read_system_sources(etc_apt), suite) or DEFAULT_MIRROR
