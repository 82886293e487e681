"""Pure parts of k3s_dr_testbed.docker: the apt mirror used for debootstrap, recipe hashes, engine errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from dr_lib.errors import EnvironmentProblem
from k3s_dr_testbed.docker import engine
from k3s_dr_testbed.docker.images import FALLBACK_MIRROR, debian_mirror, recipe_hash

DEB822 = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
"""


def test_mirror_from_deb822_skips_security_archive() -> None:
    text = DEB822.replace("deb.debian.org/debian\n", "m.example/d\n")
    sources = {Path("/etc/apt/sources.list.d/debian.sources"): text}
    assert debian_mirror(sources) == "http://m.example/d"


def test_mirror_when_security_stanza_comes_first() -> None:
    first, second = DEB822.split("\n\n")
    sources = {Path("/etc/apt/sources.list.d/debian.sources"): second + "\n\n" + first}
    assert debian_mirror(sources) == "http://deb.debian.org/debian"


def test_mirror_from_one_line_sources_with_options() -> None:
    text = "# comment\ndeb [arch=amd64] http://ftp.example.org/debian bookworm main\n"
    assert debian_mirror({Path("/etc/apt/sources.list"): text}) == "http://ftp.example.org/debian"


def test_mirror_falls_back_to_debian_when_nothing_matches() -> None:
    assert debian_mirror({Path("/etc/apt/sources.list"): "deb http://x/ubuntu jammy main\n"}) == FALLBACK_MIRROR
    assert debian_mirror({}) == FALLBACK_MIRROR


def test_recipe_hash_changes_with_any_part() -> None:
    base = recipe_hash("debootstrap", "python3")
    assert base == recipe_hash("debootstrap", "python3")
    assert base != recipe_hash("debootstrap", "python3", "curl")
    assert base != recipe_hash("debootstrap" "python3")  # parts are separated, not concatenated


def test_no_engine_and_no_dockerd_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    # Fake machine: `docker info` answers nothing and dockerd is nowhere.
    monkeypatch.setattr(engine, "_server_version", lambda _cli: None)
    monkeypatch.setattr(engine.shutil, "which", lambda name, **_kw: "/usr/bin/docker" if name == "docker" else None)
    monkeypatch.setattr(engine, "DOCKERD_CANDIDATES", ())
    with pytest.raises(EnvironmentProblem) as caught:
        engine.ensure_engine(deadline=0.0)
    assert "dockerd is not installed" in str(caught.value)
    assert "docker.io" in str(caught.value)
