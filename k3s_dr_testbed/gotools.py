"""Go programs the tests need, built once with ``go install`` from the Go module proxy.

Each lands in ``${K3S_DR_CACHE:-~/.cache/k3s-dr}/bin/<name>-<version>/<name>``; the module's
checksum is verified against the checksum database by ``go install`` itself, so the pinned version
is the one everybody gets. One build at a time per tool (a lock in the cache); an interrupted build
leaves only a temporary directory. By hand: ``python -m k3s_dr_testbed.gotools actionlint``.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dr_lib.errors import DeadlineExceeded, EnvironmentProblem, ToolMissing

CACHE_ENV = "K3S_DR_CACHE"
BUILD_SECONDS = 20 * 60.0


@dataclass(frozen=True)
class GoTool:
    name: str
    package: str  # what `go install` builds
    version: str
    why: str


# Every Go tool the tests build, with why (versitygw: the S3 server of the offsite tests).
TOOLS: dict[str, GoTool] = {t.name: t for t in (
    GoTool("versitygw", "github.com/versity/versitygw/cmd/versitygw", "v1.8.0", "the S3 server of the offsite tests"),
    GoTool("actionlint", "github.com/rhysd/actionlint/cmd/actionlint", "v1.7.12",
           "checks the GitHub workflows (tests/unit/test_workflow_lint.py)"),
)}


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or "~/.cache/k3s-dr").expanduser()


def tool_path(tool: GoTool) -> Path:
    return cache_root() / "bin" / f"{tool.name}-{tool.version}" / tool.name


def ensure_tool(tool: GoTool, progress: Callable[[str], None] = lambda _line: None) -> Path:
    """The cached binary of ``tool``, built with ``go install`` when missing."""
    final = tool_path(tool)
    if final.is_file() and os.access(final, os.X_OK):
        return final
    go = shutil.which("go")
    if go is None:
        raise ToolMissing(f"the Go toolchain ('go') is not on PATH: it builds {tool.name}, {tool.why}",
                          hint=f"install Go, or put a {tool.name} {tool.version} binary at {final}")
    locks = cache_root() / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    with (locks / f"{tool.name}.lock").open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        if final.is_file():
            return final
        final.parent.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{tool.name}-{tool.version}-", dir=final.parent.parent))
        try:
            progress(f"building {tool.name} {tool.version} (go install)")
            _go_install(go, f"{tool.package}@{tool.version}", tmp)
            tmp.chmod(0o755)
            shutil.rmtree(final.parent, ignore_errors=True)  # an incomplete entry of an interrupted copy
            tmp.rename(final.parent)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _go_install(go: str, module: str, bin_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("GOFLAGS", "GOBIN")} | {"GOBIN": str(bin_dir)}
    log = bin_dir / "build.log"
    with log.open("wb") as out:
        try:
            result = subprocess.run([go, "install", module], env=env, cwd=bin_dir, stdout=out,
                                    stderr=subprocess.STDOUT, timeout=BUILD_SECONDS, check=False)
        except subprocess.TimeoutExpired:
            raise DeadlineExceeded(f"go install {module} took more than {BUILD_SECONDS:.0f} s") from None
    if result.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:]
        raise EnvironmentProblem(f"go install {module} failed (exit {result.returncode}):\n{tail}")
    log.unlink()


def main(argv: list[str] | None = None) -> int:
    names = sys.argv[1:] if argv is None else argv
    unknown = [n for n in names if n not in TOOLS]
    if unknown or not names:
        print(f"usage: python -m k3s_dr_testbed.gotools NAME...; accepted names: {', '.join(TOOLS)}", file=sys.stderr)
        return 2
    for name in names:
        print(ensure_tool(TOOLS[name], lambda line: print(line, file=sys.stderr)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
