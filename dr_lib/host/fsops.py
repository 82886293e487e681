"""File changes on the host, each atomic, all under one root (``/`` for real, a temp dir in tests)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dr_lib.archive.fsutil import os_problem, replace_symlink, temp_path
from dr_lib.atomic import fsync_dir, write_atomic
from dr_lib.signing.keys import generate_keypair


@dataclass(frozen=True)
class Root:
    """Maps the host's absolute paths under ``base``; ``Root(Path('/'))`` is the real host."""

    base: Path = Path("/")

    def __call__(self, path: str) -> Path:
        return self.base / path.lstrip("/")

    def read_text(self, path: str) -> str | None:
        try:
            return self(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise os_problem(exc, "read", path) from None
        except UnicodeDecodeError:
            return ""

    def write_text(self, path: str, content: str, mode: int) -> None:
        """Temp file beside it, fsync, rename over, fsync the directory: old or new, never half."""
        final = self(path)
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            write_atomic(final, content, mode=mode, temp_name=temp_path(final).name)  # mode exact, umask or not
        except OSError as exc:
            raise os_problem(exc, "write", path) from None

    def move_aside(self, path: str, suffix: str) -> str:
        """Rename a file we must replace but did not write, keeping it beside (never lost)."""
        source = self(path)
        kept = f"{path}{suffix}"
        target = self(kept)
        counter = 1
        while target.exists() or target.is_symlink():
            kept = f"{path}{suffix}.{counter}"
            target = self(kept)
            counter += 1
        try:
            source.rename(target)
            fsync_dir(source.parent)
        except OSError as exc:
            raise os_problem(exc, "move aside", path) from None
        return kept

    def remove(self, path: str) -> None:
        """Delete a file k3s-dr wrote and no longer wants (callers check it carries the managed marker)."""
        target = self(path)
        try:
            target.unlink(missing_ok=True)
            fsync_dir(target.parent)
        except OSError as exc:
            raise os_problem(exc, "remove", path) from None

    def chmod(self, path: str, mode: int) -> None:
        try:
            self(path).chmod(mode)
        except OSError as exc:
            raise os_problem(exc, "change the mode of", path) from None

    def make_dir(self, path: str, mode: int) -> None:
        try:
            self(path).mkdir(mode=mode, parents=True, exist_ok=True)
            self(path).chmod(mode)
        except OSError as exc:
            raise os_problem(exc, "create the directory", path) from None

    def keygen(self, directory: str) -> None:
        """A new signing key pair in ``directory`` (0700); an existing key is never replaced."""
        generate_keypair(self(directory))

    def relink(self, link: str, target_name: str) -> None:
        """Point ``link`` at ``target_name`` (relative, in the same directory) in one rename."""
        replace_symlink(self(link), target_name)
