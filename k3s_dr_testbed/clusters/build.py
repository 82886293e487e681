"""``k3s-dr cluster build [--kubernetes-version V]``: fill the binaries cache entry of one
supported release, or do nothing when it is current. Entries of other releases (and of
releases no longer supported, which running clusters may still use) are never touched.

A build happens in a temporary directory next to the cache entry and is renamed into place
in one step, so an interrupted build never leaves a half-filled entry. Binaries already
built elsewhere (``<cache>/build/``, where the project's bootstrap build writes) are adopted
when their Go build info shows the pinned versions; a build still running there is waited
for rather than duplicated. One build at a time (a lock in the cache directory).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from dr_lib.atomic import sha256_file
from dr_lib.errors import DeadlineExceeded, EnvironmentProblem
from k3s_dr_testbed.clusters import binaries as b
from k3s_dr_testbed.clusters.files import locked, write_atomic
from k3s_dr_testbed.clusters.goinfo import GoBuildInfo, go_binary, read_build_info
from k3s_dr_testbed.clusters.processes import log_tail

Progress = Callable[[str], None]
BUILD_SECONDS = 45 * 60.0
WAIT_FOR_OTHER_BUILD = 30 * 60.0


@dataclass(frozen=True)
class BuildResult:
    bin_dir: Path
    key: str
    action: str  # "current" | "built" (some binaries may have been adopted: see ``adopted``)
    seconds: float
    built: tuple[str, ...] = ()
    adopted: tuple[str, ...] = ()
    versions: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {"bin_dir": str(self.bin_dir), "key": self.key, "action": self.action, "seconds": self.seconds,
                "built": list(self.built), "adopted": list(self.adopted), "versions": self.versions}


def matches_pin(name: str, info: GoBuildInfo, versions: b.Versions) -> bool:
    """Whether an existing binary's build info shows what we would build. Pure."""
    if name == b.MULTI_CALL:
        return (info.path == b.CONTROL_PLANE_PACKAGE and info.deps.get("k8s.io/kubernetes") == versions.kubernetes
                and info.settings.get("-trimpath") == "true")
    if name == "kine":
        return (info.main_module == b.KINE_MODULE and info.main_version == versions.kine
                and info.settings.get("CGO_ENABLED") == "1")
    if name == "kwok":
        return info.path == b.KWOK_PACKAGE and info.main_version == versions.kwok
    return False


def _bootstrap_dir(cache: Path) -> Path:
    return cache / "build"


def _build_running_in(directory: Path) -> bool:
    """Some process names ``directory`` in its command line (a build writing there)."""
    needle = str(directory).encode()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if needle in (proc / "cmdline").read_bytes():
                    return True
            except OSError:
                continue
    return False


def _wait_for_bootstrap(directory: Path, progress: Progress) -> None:
    if not directory.is_dir() or (directory / "done").exists() or not _build_running_in(directory):
        return
    progress(f"a build is running in {directory}: waiting for it (it writes {directory / 'done'} when finished)")
    deadline = time.monotonic() + WAIT_FOR_OTHER_BUILD
    last_note = time.monotonic()
    while not (directory / "done").exists() and _build_running_in(directory):
        if time.monotonic() > deadline:
            raise DeadlineExceeded(f"the build in {directory} did not finish within {WAIT_FOR_OTHER_BUILD:.0f} s")
        if time.monotonic() - last_note > 30:
            progress(f"still waiting for the build in {directory}")
            last_note = time.monotonic()
        time.sleep(2)


def _adoptable(directory: Path, name: str, versions: b.Versions, src: Path) -> Path | None:
    candidate = directory / name
    if not candidate.is_file() or not os.access(candidate, os.X_OK):
        return None
    if name == b.MULTI_CALL:
        # Build info cannot show our module's sources: accept only a binary newer than all of them.
        newest_source = max(path.stat().st_mtime for path in b.source_files(src, versions.kubernetes).values())
        if candidate.stat().st_mtime < newest_source:
            return None
    info = read_build_info(candidate)
    return candidate if info is not None and matches_pin(name, info, versions) else None


def _run_go(argv: list[str], *, cwd: Path, env: dict[str, str], log: Path, what: str) -> None:
    with log.open("ab") as out:
        try:
            result = subprocess.run(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    timeout=BUILD_SECONDS, check=False)
        except subprocess.TimeoutExpired:
            raise DeadlineExceeded(f"{what} did not finish within {BUILD_SECONDS:.0f} s; log: {log}") from None
    if result.returncode != 0:
        raise EnvironmentProblem(f"{what} failed (exit {result.returncode}); last lines of {log}: {log_tail(log)}")


def _go_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GOFLAGS", "GOBIN", "CGO_ENABLED")}
    env.update(extra)
    return env


def _source_copy(src: Path, kubernetes: str, work: Path) -> Path:
    """Exactly the files the cache key hashes, as one module in a directory of our own: the installed
    package may be read-only, and ``go build -mod=mod`` may write to its module's go.sum."""
    work.mkdir()
    for name, path in b.source_files(src, kubernetes).items():
        shutil.copy2(path, work / name)
    return work


def _build_one(name: str, tmp: Path, versions: b.Versions, go: str, src: Path) -> None:
    log = tmp / "build.log"
    if name == b.MULTI_CALL:
        work = _source_copy(src, versions.kubernetes, tmp / "src")
        argv = [go, "build", "-trimpath", "-ldflags", b.ldflags(versions.kubernetes), "-o", str(tmp / name), "."]
        _run_go(argv, cwd=work, env=_go_env(GOFLAGS="-mod=mod"), log=log, what="go build (kube-control-plane)")
        shutil.rmtree(work)
        return
    module = f"github.com/k3s-io/kine@{versions.kine}" if name == "kine" else f"{b.KWOK_PACKAGE}@{versions.kwok}"
    extra = {"GOBIN": str(tmp)} | ({"CGO_ENABLED": "1"} if name == "kine" else {})
    _run_go([go, "install", module], cwd=tmp, env=_go_env(**extra), log=log, what=f"go install {module}")


def _finish(tmp: Path, final: Path, key: str, versions: b.Versions, how: dict[str, str]) -> None:
    for component in b.COMPONENTS:
        (tmp / component).symlink_to(b.MULTI_CALL)
    files = {n: {"bytes": (tmp / n).stat().st_size, "sha256": sha256_file(tmp / n), "how": how[n]}
             for n in b.REQUIRED}
    stamp = {"key": key, "versions": versions.as_dict(), "files": files,
             "built_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    write_atomic(tmp / b.STAMP, json.dumps(stamp, indent=2, sort_keys=True) + "\n", mode=0o644)
    (tmp / "build.log").unlink(missing_ok=True)
    if final.exists():  # an incomplete or stale entry under the same key
        shutil.rmtree(final)
    tmp.rename(final)


def build_binaries(progress: Progress = lambda _line: None, kubernetes_version: str | None = None) -> BuildResult:
    """Build the release ``kubernetes_version`` names (None: the newest); an unsupported one is refused."""
    started = time.monotonic()
    versions = b.pinned(kubernetes_version)
    cache = b.cache_root()
    src = b.source_dir()
    key = b.cache_key(versions, b.source_hash(src, versions.kubernetes))
    final = cache / "bin" / key
    if b.is_current(final, key):
        return BuildResult(final, key, "current", round(time.monotonic() - started, 2), versions=versions.as_dict())
    go = go_binary()
    with locked(cache / ".build.lock"):
        if b.is_current(final, key):  # another build finished while we waited for the lock
            return BuildResult(final, key, "current", round(time.monotonic() - started, 2),
                               versions=versions.as_dict())
        _wait_for_bootstrap(_bootstrap_dir(cache), progress)
        (cache / "bin").mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=cache / "bin"))
        tmp.chmod(0o755)
        how: dict[str, str] = {}
        try:
            for name in b.REQUIRED:
                found = _adoptable(_bootstrap_dir(cache), name, versions, src)
                if found is not None:
                    progress(f"adopting {found} (build info matches the pinned versions)")
                    shutil.copy2(found, tmp / name)
                    how[name] = "adopted"
                    continue
                progress(f"building {name} ({'cold builds take minutes' if name == b.MULTI_CALL else 'go install'})")
                mark = time.monotonic()
                _build_one(name, tmp, versions, go, src)
                progress(f"built {name} in {time.monotonic() - mark:.0f} s")
                how[name] = "built"
            _finish(tmp, final, key, versions, how)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    built = tuple(n for n, h in how.items() if h == "built")
    adopted = tuple(n for n, h in how.items() if h == "adopted")
    return BuildResult(final, key, "built", round(time.monotonic() - started, 2), built, adopted, versions.as_dict())
