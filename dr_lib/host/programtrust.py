"""The program the units run as root must be root's alone: refuse one that anyone else could change.

The backup and auto-restore units run ``k3s-dr`` as root at every boot and every hour. Whoever can
write that program, its interpreter, its virtual environment's ``site-packages`` or any directory
above them (rename one and put another in its place) runs code as root: an editable checkout owned
by a developer, a venv under ``/home``, a ``chmod -R g+w``. So ``install`` (and ``fix``, which
re-renders the units) checks, before writing a unit: every path component from ``/`` to the program
and to its interpreter — symbolic links followed, each link's own directory checked too — and every
file and directory in the venv's ``site-packages`` (with the directories its ``.pth`` files add to
``sys.path``), each owned by root and writable by neither group nor others. Like the lock's checks
(:mod:`dr_lib.archive.lock`), a sticky world-writable directory (``/tmp``) is refused as well: other
users may create names in it, and ``/tmp`` is emptied by its own rules.

Pure at its core: :func:`judge` takes a reader of path facts, so tests feed it a fake file system;
:class:`DiskFacts` is the real one.
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from dr_lib.errors import UsageError

MAX_LINKS = 40  # as the kernel: more links in one path is a loop
MAX_ENTRIES = 200_000  # a site-packages larger than this is not a k3s-dr venv: refuse rather than walk on
OTHERS_WRITE = 0o022
HINT = ("install k3s-dr into a root-owned virtual environment that only root can write (README: 'Install on a "
        "k3s server'), or fix the owner and mode of the path named (chown root; chmod go-w)")


@dataclass(frozen=True)
class Facts:
    """What the check needs of one path, not following a final link."""

    uid: int
    mode: int
    link: str | None = None  # the target when the path is a symbolic link


class Reader(Protocol):
    def facts(self, path: str) -> Facts | None: ...  # None: it does not exist
    def children(self, directory: str) -> list[str]: ...
    def head(self, path: str) -> list[str]: ...  # its first lines (a script's #!, a .pth file's entries)


class DiskFacts:
    """The real file system."""

    def facts(self, path: str) -> Facts | None:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return None
        link = str(Path(path).readlink()) if stat.S_ISLNK(st.st_mode) else None
        return Facts(st.st_uid, st.st_mode, link)

    def children(self, directory: str) -> list[str]:
        return sorted(p.name for p in Path(directory).iterdir())

    def head(self, path: str) -> list[str]:
        try:
            with Path(path).open("rb") as handle:
                text = handle.read(64 * 1024).decode("utf-8", "replace")
        except OSError:
            return []
        return [line.strip() for line in text.splitlines()[:100]]


@dataclass(frozen=True)
class Problem:
    path: str
    why: str

    def __str__(self) -> str:
        return f"{self.path} {self.why}"


def _judge_one(path: str, facts: Facts) -> Problem | None:
    if facts.link is not None:
        return None  # a link's own mode means nothing; its directory and its target are judged
    if facts.uid != 0:
        return Problem(path, f"is owned by uid {facts.uid}, not root")
    if facts.mode & OTHERS_WRITE:
        who = "group and others" if facts.mode & 0o022 == 0o022 else "group" if facts.mode & 0o020 else "others"
        return Problem(path, f"is writable by {who} (mode {stat.S_IMODE(facts.mode):04o})")
    return None


def resolve(path: str, reader: Reader) -> tuple[list[str], str]:
    """Every path the kernel looks at to reach ``path`` (each component, each link and what it names), and
    where it ends. Raises UsageError for a missing path or a link loop."""
    seen: list[str] = []
    todo = [part for part in path.split("/") if part and part != "."]
    current, links = "/", 0
    seen.append("/")
    while todo:
        part = todo.pop(0)
        if part == "..":
            current = posixpath.dirname(current) or "/"
            continue
        candidate = posixpath.join(current, part)
        facts = reader.facts(candidate)
        if facts is None:
            raise UsageError(f"the program the units would run cannot be checked: {candidate} does not exist",
                             hint="pass --exec with the absolute path of an installed k3s-dr")
        seen.append(candidate)
        if facts.link is None:
            current = candidate
            continue
        links += 1
        if links > MAX_LINKS:
            raise UsageError(f"the program the units would run cannot be checked: too many links at {candidate}")
        target = facts.link
        if target.startswith("/"):
            current = "/"
        todo = [p for p in target.split("/") if p and p != "."] + todo
    return seen, current


def interpreter(program: str, reader: Reader) -> str | None:
    """The interpreter a script names in its ``#!`` line (a console script's venv Python)."""
    lines = reader.head(program)
    line = lines[0] if lines else ""
    if not line.startswith("#!"):
        return None
    words = line[2:].split()
    return words[0] if words and words[0].startswith("/") else None


def _venv_root(python: str, reader: Reader) -> str | None:
    root = posixpath.dirname(posixpath.dirname(python))
    return root if reader.facts(posixpath.join(root, "pyvenv.cfg")) is not None else None


def site_packages(venv: str, reader: Reader) -> list[str]:
    lib = posixpath.join(venv, "lib")
    if reader.facts(lib) is None:
        return []
    return [posixpath.join(lib, name, "site-packages") for name in reader.children(lib)
            if name.startswith("python") and reader.facts(posixpath.join(lib, name, "site-packages")) is not None]


def _walk(top: str, reader: Reader) -> Iterator[tuple[str, Facts]]:
    """Every entry under ``top`` (links not followed), bounded."""
    todo, count = [top], 0
    while todo:
        directory = todo.pop()
        for name in reader.children(directory):
            path = posixpath.join(directory, name)
            facts = reader.facts(path)
            count += 1
            if count > MAX_ENTRIES:
                raise UsageError(f"{top} holds more than {MAX_ENTRIES} entries: not checked, not trusted")
            if facts is None:
                continue
            yield path, facts
            if facts.link is None and stat.S_ISDIR(facts.mode):
                todo.append(path)


def _pth_directories(packages: str, reader: Reader) -> list[str]:
    """Directories ``.pth`` files add to ``sys.path`` (an editable install names its checkout)."""
    found = []
    for name in reader.children(packages):
        if not name.endswith(".pth"):
            continue
        for line in reader.head(posixpath.join(packages, name)):
            if line.startswith("/") and reader.facts(line) is not None:
                found.append(line)
    return found


def judge(program: str, reader: Reader) -> tuple[str, list[Problem]]:
    """The program with every link resolved, and every problem found on the way to it and in its venv."""
    if not program.startswith("/"):
        raise UsageError(f"the program the units run must be an absolute path, not {program!r}")
    seen, real = resolve(program, reader)
    python = interpreter(real, reader)
    if python is not None:
        seen += resolve(python, reader)[0]
        venv = _venv_root(python, reader)
        seen += [posixpath.join(venv, "pyvenv.cfg")] if venv else []  # it could switch on other site-packages
        for packages in site_packages(venv, reader) if venv else []:
            seen += resolve(packages, reader)[0]
            seen += [path for path, _facts in _walk(packages, reader)]
            for extra in _pth_directories(packages, reader):
                seen += resolve(extra, reader)[0]
    problems: list[Problem] = []
    for path in dict.fromkeys(seen):
        facts = reader.facts(path)
        problem = None if facts is None else _judge_one(path, facts)
        if problem is not None:
            problems.append(problem)
    return real, problems


def trusted_program(program: str, reader: Reader | None = None) -> str:
    """``program`` with its links resolved, when root alone can change it and what it runs; else UsageError."""
    real, problems = judge(program, reader or DiskFacts())
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise UsageError(f"refusing to install units that run {program} as root: {problems[0]}{more}; whoever can "
                         "write it can run code as root", hint=HINT)
    return real
