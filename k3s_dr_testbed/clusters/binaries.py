"""The pinned cluster binaries and their cache, one entry per supported Kubernetes release.

One multi-call ``kube-control-plane`` (built from the Go module shipped beside this file,
``kube-control-plane/``: one ``main.go`` and a ``go.mod``/``go.sum`` per release, so a build works
from an installed wheel; see :mod:`.gomodule`) plus kine and kwok at pinned versions live in
``${K3S_DR_CACHE:-~/.cache/k3s-dr}/bin/<key>/``. The key names the versions and a hash of
the module's sources for that release, so each release has its own entry, changing a pin or
the module gives a new directory, and an old cache is never mistaken for the new one.
``stamp.json`` is written last: a directory without it is not a cache entry. Building lives in
:mod:`k3s_dr_testbed.clusters.build`; the releases in :mod:`.versions`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dr_lib import proc
from dr_lib.errors import EnvironmentProblem
from k3s_dr_testbed.clusters import versions
from k3s_dr_testbed.clusters.spec import ToolMissing

KINE_VERSION = "v0.17.5"
KWOK_VERSION = "v0.7.0"
KINE_MODULE = "github.com/k3s-io/kine"
KWOK_MODULE = "sigs.k8s.io/kwok"
KWOK_PACKAGE = "sigs.k8s.io/kwok/cmd/kwok"
# The Go module's path names its old home in the repository: it is part of the sources the cache
# key hashes, so renaming it would orphan every built cache (a cold build takes ~10 minutes).
CONTROL_PLANE_PACKAGE = "github.com/k3s-dr/k3s-dr/tools/control-plane"

MULTI_CALL = "kube-control-plane"
COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet")
REQUIRED = (MULTI_CALL, "kine", "kwok")
MAIN_GO = "main.go"
RELEASE_FILES = ("go.mod", "go.sum")  # in kube-control-plane/<Kubernetes tag>/
STAMP = "stamp.json"

CACHE_ENV = "K3S_DR_CACHE"
BIN_DIR_ENV = "K3S_DR_BIN_DIR"  # use these binaries as they are (no cache, no build)
SOURCE_ENV = "K3S_DR_CONTROL_PLANE_SRC"
SOURCE_DIR = Path(__file__).resolve().parent / "kube-control-plane"  # package data
DEFAULT_CACHE = "~/.cache/k3s-dr"


@dataclass(frozen=True)
class Versions:
    kubernetes: str
    kine: str = KINE_VERSION
    kwok: str = KWOK_VERSION

    def as_dict(self) -> dict[str, str]:
        return {"kubernetes": self.kubernetes, "kine": self.kine, "kwok": self.kwok}


def pinned(kubernetes_version: str | None = None) -> Versions:
    """What a build of the release ``kubernetes_version`` names (None: the newest) consists of."""
    return Versions(kubernetes=versions.resolve(kubernetes_version).kubernetes)


def cache_root(env: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if env is None else env
    return Path(environ.get(CACHE_ENV) or DEFAULT_CACHE).expanduser()


def source_dir(env: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if env is None else env
    override = environ.get(SOURCE_ENV)
    if override:
        return Path(override)
    return SOURCE_DIR


def source_files(src: Path, kubernetes: str) -> dict[str, Path]:
    """The module's files for one release, by the name each has in the build directory."""
    return {MAIN_GO: src / MAIN_GO, **{name: src / kubernetes / name for name in RELEASE_FILES}}


def source_hash(src: Path, kubernetes: str) -> str:
    """A hash of the Go module's files for ``kubernetes``: any edit to them means a different binary."""
    digest = hashlib.sha256()
    for name, path in sorted(source_files(src, kubernetes).items()):
        try:
            data = path.read_bytes()
        except OSError:
            raise EnvironmentProblem(
                f"control-plane source file {path} is missing",
                hint=f"reinstall k3s-dr[testbed], or set {SOURCE_ENV} to a directory holding {MAIN_GO} and "
                     f"{kubernetes}/{{{','.join(RELEASE_FILES)}}}") from None
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()[:16]


def cache_key(versions: Versions, src_hash: str) -> str:
    return f"k8s-{versions.kubernetes}_kine-{versions.kine}_kwok-{versions.kwok}_{src_hash}"


def ldflags(k8s_version: str) -> str:
    """Version stamping; without it the server reports v0.0.0-master+$Format:%H$ and clients fail."""
    major, minor = k8s_version.lstrip("v").split(".")[:2]
    return " ".join([
        "-s", "-w",
        f"-X k8s.io/component-base/version.gitVersion={k8s_version}",
        f"-X k8s.io/component-base/version.gitMajor={major}",
        f"-X k8s.io/component-base/version.gitMinor={minor}",
        "-X k8s.io/component-base/version.gitTreeState=clean",
        f"-X k8s.io/client-go/pkg/version.gitVersion={k8s_version}",
    ])


def read_stamp(bin_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((bin_dir / STAMP).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_current(bin_dir: Path, key: str) -> bool:
    """The stamp names ``key`` and every binary is there with its recorded size (no hashing: seconds)."""
    stamp = read_stamp(bin_dir)
    if stamp is None or stamp.get("key") != key:
        return False
    files = stamp.get("files") or {}
    for name in REQUIRED:
        path = bin_dir / name
        recorded = files.get(name) or {}
        if not path.is_file() or not os.access(path, os.X_OK) or path.stat().st_size != recorded.get("bytes"):
            return False
    return True


def expected_bin_dir(env: Mapping[str, str] | None, pins: Versions) -> tuple[Path, str]:
    key = cache_key(pins, source_hash(source_dir(env), pins.kubernetes))
    return cache_root(env) / "bin" / key, key


def build_command(kubernetes: str) -> str:
    newest = versions.newest().kubernetes == kubernetes
    return "k3s-dr cluster build" + ("" if newest else f" --kubernetes-version {kubernetes.removeprefix('v')}")


def locate_binaries(env: Mapping[str, str] | None = None, kubernetes_version: str | None = None) -> Path:
    """The directory holding current binaries of that release (None: the newest), or a clear
    error saying how to get them. ``$K3S_DR_BIN_DIR`` wins: binaries used as they are."""
    environ = os.environ if env is None else env
    override = environ.get(BIN_DIR_ENV)
    if override:
        bin_dir = Path(override)
        missing = [name for name in REQUIRED if not (bin_dir / name).is_file()]
        if missing:
            raise ToolMissing(f"{BIN_DIR_ENV}={override} lacks {', '.join(missing)}",
                                     hint="point it at a directory with kube-control-plane, kine and kwok")
        return bin_dir
    pins = pinned(kubernetes_version)
    bin_dir, key = expected_bin_dir(environ, pins)
    if not is_current(bin_dir, key):
        missing = [name for name in REQUIRED if not (bin_dir / name).is_file()] or list(REQUIRED)
        raise ToolMissing(
            f"cluster binaries for Kubernetes {pins.kubernetes} ({', '.join(missing)}) are not built in {bin_dir}",
            hint=f"run `{build_command(pins.kubernetes)}`; a cold build takes ~10 min")
    return bin_dir


_SERVER_VERSION = re.compile(r"^Kubernetes (v1\.\d+\.\d+)$")


def parse_version_output(text: str) -> str | None:
    """``kube-apiserver --version`` prints ``Kubernetes v1.37.2``: the tag, or None. Pure."""
    match = _SERVER_VERSION.match(text.strip())
    return match.group(1) if match else None


def binary_versions(bin_dir: Path) -> Versions:
    """What the binaries in ``bin_dir`` are: their stamp says, or (``$K3S_DR_BIN_DIR`` without one) the
    API server is asked. Component flags follow the binary's release, not the one asked for."""
    stamp = read_stamp(bin_dir) or {}
    recorded = stamp.get("versions")
    if isinstance(recorded, dict) and isinstance(recorded.get("kubernetes"), str):
        return Versions(recorded["kubernetes"], str(recorded.get("kine", KINE_VERSION)),
                        str(recorded.get("kwok", KWOK_VERSION)))
    done = proc.run([*component_argv(bin_dir, "kube-apiserver"), "--version"], timeout=60, check=False)
    tag = parse_version_output(done.stdout)
    if tag is None:
        raise EnvironmentProblem(f"cannot tell the Kubernetes release of {bin_dir}: `kube-apiserver --version` "
                                 f"printed {done.stdout[:80]!r} (exit {done.returncode})")
    return Versions(tag, "unknown", "unknown")


def component_argv(bin_dir: Path, component: str) -> list[str]:
    """How to invoke one control-plane component: its symlink, or the multi-call binary + name."""
    link = bin_dir / component
    if link.exists():
        return [str(link)]
    return [str(bin_dir / MULTI_CALL), component]
