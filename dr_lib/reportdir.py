"""Report directories: a new one per run, files written atomically, a sha256 manifest last.

A directory is created with ``mkdir`` (never ``exist_ok``): a run can never overwrite an older
run's evidence. The manifest is ``SHA256SUMS`` in the format ``sha256sum -c`` reads, so an auditor
checks a report with a stock tool. Used by the drill (:mod:`dr_lib.drill.reportdir`) and the host
checks (:mod:`dr_lib.hostcheck`).
"""

from __future__ import annotations

import os
from pathlib import Path

from dr_lib.atomic import sha256_file, write_atomic
from dr_lib.errors import EnvironmentProblem

MANIFEST_NAME = "SHA256SUMS"
REPORT_FILE_MODE = 0o644


def new_report_dir(root: Path, name: str) -> Path:
    """``root/name``, new and empty; refuses to reuse an existing one."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        directory = root / name
        directory.mkdir(mode=0o755)
    except FileExistsError:
        raise EnvironmentProblem(f"report directory {str(root / name)!r} already exists; a report never "
                                 "overwrites an older one") from None
    except OSError as exc:
        raise EnvironmentProblem(f"cannot create the report directory under {str(root)!r}: {exc.strerror}",
                                 hint="pass --reports DIR with a writable directory") from None
    return directory


def write_file(path: Path, data: bytes | str) -> Path:
    """Write atomically: readers see the old file or the whole new one, never a part."""
    try:
        write_atomic(path, data, mode=REPORT_FILE_MODE, temp_name=f".{path.name}.{os.getpid()}.tmp")
    except OSError as exc:
        raise EnvironmentProblem(f"cannot write {str(path)!r}: {exc.strerror}") from None
    return path


def report_files(directory: Path) -> list[Path]:
    """Every regular file of the report, manifest and temporaries excluded, in a stable order."""
    return sorted(p for p in directory.rglob("*")
                  if p.is_file() and not p.is_symlink() and p.name != MANIFEST_NAME and not p.name.startswith("."))


def write_manifest(directory: Path) -> Path:
    lines = [f"{sha256_file(p)}  {p.relative_to(directory).as_posix()}\n" for p in report_files(directory)]
    return write_file(directory / MANIFEST_NAME, "".join(lines))


def check_manifest(directory: Path) -> list[str]:
    """Problems with the manifest (empty: every file listed and intact, nothing unlisted)."""
    manifest = directory / MANIFEST_NAME
    if not manifest.is_file():
        return [f"{MANIFEST_NAME} is missing"]
    listed: dict[str, str] = {}
    for line in manifest.read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        listed[name] = digest
    problems = [f"{name}: sha256 mismatch" for name, digest in listed.items()
                if not (directory / name).is_file() or sha256_file(directory / name) != digest]
    present = {p.relative_to(directory).as_posix() for p in report_files(directory)}
    problems += [f"{name}: not in {MANIFEST_NAME}" for name in sorted(present - set(listed))]
    return problems
