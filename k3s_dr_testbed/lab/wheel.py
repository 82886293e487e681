"""k3s-dr as an operator installs it: the wheel ``python -m build`` makes, and a wheelhouse of its core
dependencies, so a host with no network can ``pip install --no-index --find-links`` it.

The wheel is built from a copy of this checkout's sources (``build/`` there may hold files of
modules that have moved since) and cached by the sources' hash. The wheelhouse holds what
``pip wheel`` resolves from the *built wheel's own metadata* (never a copy of the dependency
list), pinned to the versions of this environment so the host runs what the tests ran; it is
cached by those requirements and pins, and fetched from the package index only when they change.
"""

from __future__ import annotations

import email.parser
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

from dr_lib.errors import DeadlineExceeded, EnvironmentProblem
from k3s_dr_testbed.docker.filelock import held

DIST_NAME = "k3s-dr"
WHEEL_ENV = "K3S_DR_LAB_WHEEL"  # a wheel to use instead of building one (a test bed installed without sources)
# docs/runbook.md: the wheel ships it as a data file (pyproject's data-files), the build fails without it
SOURCES = ("pyproject.toml", "README.md", "docs/runbook.md", "dr_lib", "k3s_dr_testbed")
CACHE_DIR = Path(os.environ.get("K3S_DR_CACHE") or Path.home() / ".cache" / "k3s-dr")
_WHEELS = CACHE_DIR / "lab-wheel"
_HOUSES = CACHE_DIR / "wheelhouse"
_LOCK = CACHE_DIR / "locks" / "lab-wheel.lock"


def source_tree() -> Path:
    """The checkout this test bed runs from (an editable install): where pyproject.toml sits beside dr_lib."""
    import dr_lib  # noqa: PLC0415 - only to find the checkout

    root = Path(dr_lib.__file__).resolve().parents[1]
    if not (root / "pyproject.toml").is_file():
        raise EnvironmentProblem(f"no k3s-dr sources beside {root}: the reference host is built from a wheel of them",
                                 hint=f"run from a checkout (pip install -e .) or set {WHEEL_ENV} to a built wheel")
    return root


def _source_files(root: Path) -> Iterator[Path]:
    for name in SOURCES:
        path = root / name
        if path.is_file():
            yield path
        else:
            yield from sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                              and p.suffix != ".pyc")


def sources_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in _source_files(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _run(argv: list[str], what: str, deadline: float, cwd: Path | None = None) -> None:
    left = deadline - time.monotonic()
    if left <= 0:
        raise DeadlineExceeded(f"no time left to {what}")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=left, cwd=cwd, env=env, check=False)
    except subprocess.TimeoutExpired:
        raise DeadlineExceeded(f"{what} did not finish before the deadline") from None
    if done.returncode != 0:
        raise EnvironmentProblem(f"{what} failed (exit {done.returncode}): {(done.stderr or done.stdout)[-800:]}")


def build_wheel(deadline: float) -> Path:
    """The k3s-dr wheel of these sources (``python -m build --wheel``), cached by their hash."""
    given = os.environ.get(WHEEL_ENV)
    if given:
        return Path(given)
    root = source_tree()
    out = _WHEELS / sources_hash(root)
    with held(_LOCK, deadline, "build the wheel and wheelhouse"):  # one build at a time on this machine
        found = sorted(out.glob("k3s_dr-*.whl"))
        if found:
            return found[0]
        _WHEELS.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="build-", dir=_WHEELS))
        try:
            copy = work / "src"
            copy.mkdir()
            for name in SOURCES:
                source = root / name
                if source.is_dir():
                    shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
                elif source.is_file():
                    (copy / name).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(source, copy / name)
            _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(work / "dist"), str(copy)],
                 "python -m build (the k3s-dr wheel)", deadline, cwd=work)
            (wheel,) = sorted((work / "dist").glob("k3s_dr-*.whl"))
            out.mkdir(parents=True, exist_ok=True)
            shutil.move(str(wheel), out / wheel.name)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        for old in _WHEELS.iterdir():  # one wheel per source state: older ones only take space
            if old != out and not old.name.startswith("build-"):
                shutil.rmtree(old, ignore_errors=True)
        return out / wheel.name


def core_requirements(wheel: Path) -> list[str]:
    """The wheel's Requires-Dist without the extras: what ``pip install k3s-dr`` brings."""
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        text = archive.read(name).decode("utf-8")
    requires = email.parser.Parser().parsestr(text).get_all("Requires-Dist") or []
    return sorted(r for r in requires if ";" not in r or "extra" not in r.split(";", 1)[1])


def pins() -> list[str]:
    """``name==version`` of this environment's distributions (k3s-dr itself aside)."""
    found = {d.metadata["Name"].lower(): d.version for d in metadata.distributions() if d.metadata["Name"]}
    found.pop(DIST_NAME, None)
    return sorted(f"{name}=={version}" for name, version in found.items())


def dependency_wheels(wheel: Path, deadline: float) -> Path:
    """A directory of every wheel the core dependencies of ``wheel`` need (``pip wheel``), shared and cached."""
    requirements = core_requirements(wheel)
    constraints = pins()
    key = hashlib.sha256("\n".join([sys.version, *requirements, "--", *constraints]).encode()).hexdigest()[:16]
    house = _HOUSES / key
    with held(_LOCK, deadline, "build the wheel and wheelhouse"):  # one build at a time on this machine
        if not (house / "complete").is_file():
            shutil.rmtree(house, ignore_errors=True)
            house.mkdir(parents=True)
            pinned = house / "constraints.txt"
            pinned.write_text("\n".join(constraints) + "\n")
            _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--wheel-dir",
                  str(house), "--constraint", str(pinned), str(wheel)], "pip wheel (the core dependencies)", deadline)
            pinned.unlink()
            for ours in house.glob("k3s_dr-*.whl"):
                ours.unlink()  # pip copies the wheel in; the house is for its dependencies, shared across builds
            (house / "complete").write_text("\n".join(requirements) + "\n")
    return house


def copy_wheelhouse(wheel: Path, dependencies: Path, target: Path) -> Path:
    """``target`` filled with the k3s-dr wheel and its dependencies' wheels: what ``--find-links`` needs."""
    target.mkdir(parents=True, exist_ok=True)
    for path in dependencies.glob("*.whl"):
        shutil.copy2(path, target / path.name)
    shutil.copy2(wheel, target / wheel.name)
    return target / wheel.name


def wheelhouse(target: Path, deadline: float) -> Path:
    """The wheel of these sources and its dependencies in ``target``; returns the wheel there."""
    wheel = build_wheel(deadline)
    return copy_wheelhouse(wheel, dependency_wheels(wheel, deadline), target)
