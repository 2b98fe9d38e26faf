"""Mirror discovery from apt's configuration, both formats (debootstrap must use apt's own mirror)."""
from __future__ import annotations

from pathlib import Path

from minikube_py.images.sources import (
    DEFAULT_MIRROR,
    AptSource,
    choose_mirror,
    parse_deb822,
    parse_one_line,
    read_system_sources,
    system_mirror,
)

DEB822_BOOKWORM = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
# http://snapshot.debian.org/archive/debian-security/20250520T000000Z
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""


def test_deb822_expands_each_suite_and_skips_comments() -> None:
    got = parse_deb822(DEB822_BOOKWORM)
    assert got == [
        AptSource("deb", "http://deb.debian.org/debian", "bookworm", ("main",)),
        AptSource("deb", "http://deb.debian.org/debian", "bookworm-updates", ("main",)),
        AptSource("deb", "http://deb.debian.org/debian-security", "bookworm-security", ("main",)),
    ]
    # The snapshot URL in a comment is not a source.
    assert all("snapshot" not in s.uri for s in got)


def test_deb822_disabled_stanza_multiline_field_and_several_types() -> None:
    text = """\
Types: deb deb-src
URIs: http://mirror.example/debian/
Suites: bookworm
Components: main contrib
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 abc
 -----END PGP PUBLIC KEY BLOCK-----

Enabled: no
Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
Components: main
"""
    got = parse_deb822(text)
    assert [(s.type, s.uri) for s in got] == [
        ("deb", "http://mirror.example/debian/"),
        ("deb-src", "http://mirror.example/debian/"),
    ]
    assert got[0].components == ("main", "contrib")
    assert choose_mirror(got) == "http://mirror.example/debian"


def test_one_line_with_options_comments_and_deb_src() -> None:
    text = """\
# deb http://commented.example/debian bookworm main
deb-src http://src.example/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://ftp.de.debian.org/debian bookworm main # trailing
deb [ arch=amd64 ] http://security.debian.org/debian-security bookworm-security main
garbage line
"""
    got = parse_one_line(text)
    assert got == [
        AptSource("deb-src", "http://src.example/debian", "bookworm", ("main",)),
        AptSource("deb", "http://ftp.de.debian.org/debian", "bookworm", ("main",)),
        AptSource("deb", "http://security.debian.org/debian-security", "bookworm-security", ("main",)),
    ]
    assert choose_mirror(got) == "http://ftp.de.debian.org/debian"


def test_choose_mirror_prefers_the_suite_itself_then_updates_then_nothing() -> None:
    security = AptSource("deb", "http://sec.example/debian-security", "bookworm-security")
    updates = AptSource("deb", "http://upd.example/debian", "bookworm-updates")
    main = AptSource("deb", "http://main.example/debian", "bookworm")
    assert choose_mirror([security, updates, main]) == "http://main.example/debian"
    assert choose_mirror([security, updates]) == "http://upd.example/debian"
    assert choose_mirror([security]) is None
    # Only http(s) mirrors are usable by debootstrap; cdrom/file entries are ignored.
    assert choose_mirror([AptSource("deb", "cdrom:[Debian]/", "bookworm")]) is None
    assert choose_mirror([AptSource("deb", "file:/srv/mirror", "bookworm")]) is None


def test_read_system_sources_follows_apt_file_rules(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(DEB822_BOOKWORM)
    # apt ignores files with other endings: a disabled list must not win.
    (tmp_path / "sources.list.d" / "aaa.list.disabled-by-farm").write_text(
        "deb http://disabled.example/debian bookworm main\n")
    (tmp_path / "sources.list.d" / "extra.list").write_text("deb https://extra.example/apt stable main\n")
    got = read_system_sources(tmp_path)
    assert "http://disabled.example/debian" not in {s.uri for s in got}
    assert "https://extra.example/apt" in {s.uri for s in got}
    assert system_mirror(tmp_path) == "http://deb.debian.org/debian"


def test_sources_list_comes_first(tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text("deb http://first.example/debian bookworm main\n")
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(DEB822_BOOKWORM)
    assert system_mirror(tmp_path) == "http://first.example/debian"


def test_no_configuration_falls_back_to_default(tmp_path: Path) -> None:
    assert system_mirror(tmp_path) == DEFAULT_MIRROR
