"""k3s-dr as installed inside the reference host: its package and its runtime dependencies,
copied from this Python environment (the host has no network; Debian bookworm's python3 is
3.11, like ours, so the same files, compiled extensions included, work there).

Every declared runtime requirement goes in, pytest included: parts of the CLI import it (the
drill runs as pytest), and an operator may run the conformance suite on the host itself.
"""

from __future__ import annotations

import ast
import hashlib
import re
import shutil
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

import dr_lib

LIB_DIR = "/opt/k3s-dr/lib"
LAUNCHER = "/usr/local/bin/k3s-dr"
DIST_NAME = "k3s-dr"

LAUNCHER_SCRIPT = f"""\
#!/usr/bin/python3
# k3s-dr on the reference host: its package and dependencies live in {LIB_DIR}.
import sys
sys.path.insert(0, "{LIB_DIR}")
from dr_lib.cli.main import run
run()
"""


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(text: str) -> str | None:
    """The distribution a requirement names, or None when it is only for an extra."""
    if ";" in text and "extra" in text.split(";", 1)[1]:
        return None
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", text)
    return match.group(1) if match else None


def _imported_distributions() -> list[str]:
    """Distributions whose modules dr_lib imports, declared or not yet (a new feature's library)."""
    provided = metadata.packages_distributions()
    names: set[str] = set()
    for path in _package_files():
        if path.suffix != ".py":
            continue
        for node in ast.walk(ast.parse(path.read_bytes())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return sorted({dist for name in names for dist in provided.get(name, [])})


def runtime_distributions() -> list[metadata.Distribution]:
    """k3s-dr's runtime requirements and theirs, as installed here (missing optional ones skipped)."""
    declared = [n for n in (_requirement_name(r) for r in metadata.requires(DIST_NAME) or []) if n]
    roots = [*declared, *_imported_distributions()]
    seen: dict[str, metadata.Distribution] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if _key(name) in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # a platform-specific requirement this environment does not have
        seen[_key(name)] = dist
        todo += [n for n in (_requirement_name(r) for r in dist.requires or []) if n]
    return sorted(seen.values(), key=lambda d: _key(d.metadata["Name"]))


def _package_files() -> list[Path]:
    package = Path(dr_lib.__file__).parent
    return sorted(p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def _dist_files(dist: metadata.Distribution) -> Iterable[tuple[Path, str]]:
    for relative in dist.files or []:
        text = str(relative)
        if text.startswith("..") or "__pycache__" in text or text.endswith(".pyc"):
            continue  # console scripts outside site-packages; caches are rebuilt there
        source = Path(str(dist.locate_file(relative)))
        if source.is_file():
            yield source, text


def payload_hash() -> str:
    """Changes whenever the copied package or any dependency version changes."""
    digest = hashlib.sha256()
    package = Path(dr_lib.__file__).parent
    for path in _package_files():
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    for dist in runtime_distributions():
        digest.update(f"{dist.metadata['Name']}=={dist.version}\n".encode())
    digest.update(LAUNCHER_SCRIPT.encode())
    return digest.hexdigest()[:16]


def write_payload(root: Path) -> None:
    """The package, its dependencies and the launcher under ``root`` (the image's ``/``)."""
    lib = root / LIB_DIR.lstrip("/")
    package = Path(dr_lib.__file__).parent
    for path in _package_files():
        target = lib / "dr_lib" / path.relative_to(package)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    for dist in runtime_distributions():
        if _key(dist.metadata["Name"]) == DIST_NAME:
            continue
        for source, relative in _dist_files(dist):
            target = lib / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    launcher = root / LAUNCHER.lstrip("/")
    launcher.parent.mkdir(parents=True, exist_ok=True)
    launcher.write_text(LAUNCHER_SCRIPT)
    launcher.chmod(0o755)
