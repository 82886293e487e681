"""install refuses a program (or venv) that anyone but root could change: the check, against a *fake* file
system (a table of paths; the real one is exercised on the reference host, test_install_readme_reference_host)."""

from __future__ import annotations

import stat
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dr_lib.errors import ExitCode, UsageError
from dr_lib.host.programtrust import Facts, judge, trusted_program

DIR = stat.S_IFDIR | 0o755
FILE = stat.S_IFREG | 0o644
EXE = stat.S_IFREG | 0o755
LINK = stat.S_IFLNK | 0o777
SCRIPT = "#!/opt/k3s-dr/bin/python3\n# -*- coding: utf-8 -*-"


@dataclass
class FakeFs:
    """A fake file system: path → (Facts, first lines)."""

    entries: dict[str, tuple[Facts, list[str]]] = field(default_factory=dict)

    def add(self, path: str, mode: int, *, uid: int = 0, link: str | None = None, lines: str = "") -> FakeFs:
        self.entries[path] = (Facts(uid, mode, link), lines.splitlines())
        return self

    def facts(self, path: str) -> Facts | None:
        entry = self.entries.get(path)
        return None if entry is None else entry[0]

    def children(self, directory: str) -> list[str]:
        prefix = directory.rstrip("/") + "/"
        return sorted({p[len(prefix):].split("/")[0] for p in self.entries if p.startswith(prefix)})

    def head(self, path: str) -> list[str]:
        entry = self.entries.get(path)
        return [] if entry is None else entry[1]


def venv() -> FakeFs:
    """/opt/k3s-dr as `python3 -m venv` + pip leave it, all root's; /usr/local/bin/k3s-dr links to its program."""
    fs = FakeFs()
    for directory in ("/", "/opt", "/opt/k3s-dr", "/opt/k3s-dr/bin", "/opt/k3s-dr/lib", "/opt/k3s-dr/lib/python3.11",
                      "/opt/k3s-dr/lib/python3.11/site-packages", "/opt/k3s-dr/lib/python3.11/site-packages/dr_lib",
                      "/usr", "/usr/bin", "/usr/local", "/usr/local/bin"):
        fs.add(directory, DIR)
    fs.add("/opt/k3s-dr/pyvenv.cfg", FILE, lines="home = /usr/bin")
    fs.add("/opt/k3s-dr/bin/k3s-dr", EXE, lines=SCRIPT)
    fs.add("/opt/k3s-dr/bin/python3", LINK, link="python")
    fs.add("/opt/k3s-dr/bin/python", LINK, link="/usr/bin/python3.11")
    fs.add("/usr/bin/python3.11", EXE)
    fs.add("/opt/k3s-dr/lib/python3.11/site-packages/dr_lib/__init__.py", FILE)
    fs.add("/usr/local/bin/k3s-dr", LINK, link="/opt/k3s-dr/bin/k3s-dr")
    return fs


def test_a_root_owned_venv_is_trusted_and_links_are_resolved() -> None:
    assert trusted_program("/usr/local/bin/k3s-dr", venv()) == "/opt/k3s-dr/bin/k3s-dr"
    real, problems = judge("/opt/k3s-dr/bin/k3s-dr", venv())
    assert (real, problems) == ("/opt/k3s-dr/bin/k3s-dr", [])


@pytest.mark.parametrize(("path", "mode", "uid", "why"), [
    ("/opt/k3s-dr/bin/k3s-dr", EXE | 0o002, 0, "is writable by others (mode 0757)"),
    ("/opt/k3s-dr/bin", DIR | 0o020, 0, "is writable by group (mode 0775)"),
    ("/opt", DIR | 0o022, 0, "is writable by group and others (mode 0777)"),
    ("/", DIR | 0o1777, 0, "is writable by group and others (mode 1777)"),  # sticky is no excuse
    ("/opt/k3s-dr", DIR, 1000, "is owned by uid 1000, not root"),
    ("/usr/bin/python3.11", EXE | 0o002, 0, "is writable by others"),  # the interpreter, behind two links
    ("/opt/k3s-dr/lib/python3.11/site-packages", DIR | 0o002, 0, "is writable by others"),
    ("/opt/k3s-dr/lib/python3.11/site-packages/dr_lib/__init__.py", FILE | 0o022, 0, "is writable by group and others"),
    ("/opt/k3s-dr/lib/python3.11/site-packages/dr_lib", DIR, 1000, "is owned by uid 1000"),
    ("/opt/k3s-dr/pyvenv.cfg", FILE, 1000, "is owned by uid 1000"),
    ("/usr/local/bin", DIR | 0o002, 0, "is writable by others"),  # the link's own directory: it can be repointed
])
def test_anything_another_user_could_change_is_refused_with_its_path(path: str, mode: int, uid: int, why: str) -> None:
    fs = venv()
    lines = fs.entries[path][1]
    fs.add(path, mode, uid=uid, lines="\n".join(lines))
    with pytest.raises(UsageError) as caught:
        trusted_program("/usr/local/bin/k3s-dr", fs)
    assert caught.value.exit_code == ExitCode.USAGE == 2
    assert f"{path} {why}" in caught.value.message
    assert "refusing to install units that run /usr/local/bin/k3s-dr as root" in caught.value.message


def test_an_editable_install_names_its_checkout_through_a_pth_file() -> None:
    fs = venv()
    fs.add("/opt/k3s-dr/lib/python3.11/site-packages/__editable__.k3s_dr-0.1.0.pth", FILE, lines="/home/dev/k3s-dr")
    fs.add("/home", DIR).add("/home/dev", DIR, uid=1000).add("/home/dev/k3s-dr", DIR, uid=1000)
    _real, problems = judge("/opt/k3s-dr/bin/k3s-dr", fs)
    assert [str(p) for p in problems] == ["/home/dev is owned by uid 1000, not root",
                                          "/home/dev/k3s-dr is owned by uid 1000, not root"]


def test_a_link_loop_and_a_missing_program_are_usage_errors() -> None:
    fs = venv()
    fs.add("/usr/local/bin/a", LINK, link="b").add("/usr/local/bin/b", LINK, link="a")
    with pytest.raises(UsageError, match="too many links"):
        trusted_program("/usr/local/bin/a", fs)
    with pytest.raises(UsageError, match="/usr/local/bin/nothing does not exist"):
        trusted_program("/usr/local/bin/nothing", fs)
    with pytest.raises(UsageError, match="absolute path"):
        trusted_program("bin/k3s-dr", fs)


def test_a_relative_link_with_dot_dot_is_followed_from_its_own_directory() -> None:
    fs = venv()
    fs.add("/usr/local/bin/k3s-dr", LINK, link="../../../opt/k3s-dr/bin/k3s-dr")
    assert trusted_program("/usr/local/bin/k3s-dr", fs) == "/opt/k3s-dr/bin/k3s-dr"


def test_on_the_real_disk_a_program_under_tmp_is_refused_for_tmp(tmp_path: Path) -> None:
    program = tmp_path / "k3s-dr"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    with pytest.raises(UsageError) as caught:
        trusted_program(str(program))
    assert "/tmp is writable by group and others (mode 1777)" in caught.value.message
