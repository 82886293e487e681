"""Report directories: a new one per run, files written atomically, a sha256 manifest last.

A directory is created with ``mkdir`` (never ``exist_ok``): a run can never overwrite an older
run's evidence. The manifest is ``SHA256SUMS`` in the format ``sha256sum -c`` reads, so an auditor
checks a report with a stock tool; with a signing key it is signed (``SHA256SUMS.sig``, an Ed25519
signature document: :mod:`dr_lib.signing`), so that regenerating the checksums after an edit no
longer passes ``k3s-dr report verify``. Used by the drill (:mod:`dr_lib.drill.reportdir`), the host
checks, and the evidence index (:mod:`dr_lib.evidence`), which reads reports back later.

Read back, a report is untrusted: someone else may have had their hands on it. Every read here
refuses links, non-regular files (a FIFO would block), anything outside the report directory and
files over a size limit; manifest lines must be ``<sha256>  <name>`` with a name inside the report.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path, PurePosixPath

from dr_lib.atomic import sha256_file, write_atomic
from dr_lib.errors import EnvironmentProblem, UnreadableEvidence
from dr_lib.signing.keys import SigningKey
from dr_lib.signing.verify import sign

MANIFEST_NAME = "SHA256SUMS"
SIGNATURE_NAME = "SHA256SUMS.sig"  # a signature over the manifest (dr_lib.evidence.manifest checks it)
REPORT_FILE_MODE = 0o644
MAX_MANIFEST_BYTES = 1 << 20
_LINE = re.compile(r"(?P<digest>[0-9a-f]{64}) [ *](?P<name>.+)")


Unreadable = UnreadableEvidence  # the name this module's readers have always raised


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


def inside(root: Path, path: Path) -> bool:
    """``path`` names something inside ``root`` once every link is resolved."""
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a link loop
        return False


def regular_file(root: Path, path: Path) -> str | None:
    """Why ``path`` is not a plain file inside ``root`` (None: it is one)."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if stat.S_ISLNK(info.st_mode):
        return "is a symbolic link"
    if not stat.S_ISREG(info.st_mode):
        return "is not a regular file"
    if not inside(root, path):
        return "is outside its report directory"
    return None


def read_bounded(root: Path, path: Path, limit: int) -> bytes:
    """The bytes of a plain file inside ``root`` of at most ``limit`` bytes, or :class:`Unreadable`."""
    problem = regular_file(root, path)
    if problem is not None:
        raise Unreadable(f"{path.name} {problem}")
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise Unreadable(f"{path.name} cannot be read ({exc.strerror})") from None
    if len(data) > limit:
        raise Unreadable(f"{path.name} is larger than {limit} bytes")
    return data


def report_files(directory: Path) -> list[Path]:
    """Every regular file of the report, seal and temporaries excluded, in a stable order."""
    return sorted(p for p in directory.rglob("*")
                  if p.is_file() and not p.is_symlink() and p.name not in (MANIFEST_NAME, SIGNATURE_NAME)
                  and not p.name.startswith("."))


def write_manifest(directory: Path) -> Path:
    lines = [f"{sha256_file(p)}  {p.relative_to(directory).as_posix()}\n" for p in report_files(directory)]
    return write_file(directory / MANIFEST_NAME, "".join(lines))


def seal_report(directory: Path, key: SigningKey | None) -> Path:
    """``SHA256SUMS`` over every file (written last), and its signature when a key is given."""
    manifest = write_manifest(directory)
    if key is not None:
        write_file(directory / SIGNATURE_NAME, sign(manifest.read_bytes(), key, MANIFEST_NAME))
    return manifest


def _listed(manifest: bytes) -> tuple[dict[str, str], list[str]]:
    listed: dict[str, str] = {}
    problems: list[str] = []
    for number, line in enumerate(manifest.decode("utf-8", errors="replace").splitlines(), start=1):
        match = _LINE.fullmatch(line)
        if match is None:
            problems.append(f"{MANIFEST_NAME} line {number} is not '<sha256>  <file>'")
            continue
        name = match["name"]
        parts = PurePosixPath(name).parts
        if name.startswith("/") or ".." in parts or not parts:
            problems.append(f"{MANIFEST_NAME} line {number} names a path outside the report: {name[:100]!r}")
        elif name in listed:
            problems.append(f"{name}: listed twice in {MANIFEST_NAME}")
        else:
            listed[name] = match["digest"]
    return listed, problems


def check_manifest(directory: Path) -> list[str]:
    """Problems with the manifest (empty: every file listed and intact, nothing unlisted)."""
    if regular_file(directory, directory / MANIFEST_NAME) == "missing":
        return [f"{MANIFEST_NAME} is missing"]
    try:
        manifest = read_bounded(directory, directory / MANIFEST_NAME, MAX_MANIFEST_BYTES)
    except Unreadable as exc:
        return [str(exc)]
    listed, problems = _listed(manifest)
    for name, digest in listed.items():
        problem = regular_file(directory, directory / name)
        if problem is not None:
            problems.append(f"{name}: {problem}")
        elif sha256_file(directory / name) != digest:
            problems.append(f"{name}: sha256 mismatch")
    present = {p.relative_to(directory).as_posix() for p in report_files(directory)}
    problems += [f"{name}: not in {MANIFEST_NAME}" for name in sorted(present - set(listed))]
    return problems
