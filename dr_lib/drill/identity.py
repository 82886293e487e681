"""The run's identity for the report: which tool, which code, where.

An auditor must be able to say exactly what ran: the tool version, the git commit it was built
from (``+dirty`` when the tree had changes; from ``$GITHUB_SHA`` in CI checkouts without git),
the cluster provider, the Kubernetes versions, the host.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping
from pathlib import Path

from dr_lib import __version__, proc
from dr_lib.errors import DRError

GIT_SECONDS = 10.0


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        done = proc.run(["git", *args], timeout=GIT_SECONDS, cwd=cwd, check=False)
    except DRError:  # no git, or it hung: the commit is then unknown, never a failed drill
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_commit(source: Path | None = None, env: Mapping[str, str] | None = None) -> str:
    """The commit of the code that runs, or ``unknown`` (an installed package outside a checkout)."""
    environ = os.environ if env is None else env
    where = source or Path(__file__).resolve().parent
    commit = _git(["rev-parse", "HEAD"], where)
    if commit:
        dirty = _git(["status", "--porcelain", "--untracked-files=no"], where)
        return f"{commit}+dirty" if dirty else commit
    return environ.get("GITHUB_SHA") or "unknown"


def run_identity(provider: str, destroy: str, real_node: bool) -> dict[str, str]:
    return {
        "tool": "k3s-dr",
        "tool_version": __version__,
        "git_commit": git_commit(),
        "provider": provider,
        "destroy_mode": destroy,
        "real_node": "yes" if real_node else "no",
        "host": platform.node(),
        "python": platform.python_version(),
    }
