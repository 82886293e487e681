"""``k3s-dr drill``'s engine: set up what the provider needs, run the step tests with pytest and
the drill plugin, and read the outcome back from the evidence file the plugin wrote.

pytest runs in this process (``pytest.main``) on the step module shipped inside the package, so
an installed k3s-dr drills itself without a checkout. Its terminal output goes to stderr:
stdout is reserved for the one JSON object of ``--json``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dr_lib.cluster.provider import prepare_provider, real_node
from dr_lib.drill.run import DrillSettings
from dr_lib.drill.suite import test_steps
from dr_lib.drill.suite.plugin import EVIDENCE_NAME, DrillPlugin, report_paths
from dr_lib.errors import DRError, EnvironmentProblem

Progress = Callable[[str], None]


@dataclass(frozen=True)
class DrillOutcome:
    verdict: str
    failed_step: str | None
    reasons: tuple[str, ...]
    rto_seconds: float | None
    rpo_seconds: float | None
    objects: int
    drill_id: str
    report_dir: Path
    seconds: float
    pytest_exit_code: int
    evidence: dict[str, Any]

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    def to_json(self) -> dict[str, Any]:
        paths = report_paths(self.report_dir)
        backup = self.evidence.get("backup") or {}
        scope = self.evidence.get("scope") or {}
        return {
            "verdict": self.verdict, "failed_step": self.failed_step, "reasons": list(self.reasons),
            "rto_seconds": self.rto_seconds, "rpo_seconds": self.rpo_seconds,
            "rto_target_seconds": self.evidence.get("targets", {}).get("rto_seconds"),
            "rpo_target_seconds": self.evidence.get("targets", {}).get("rpo_seconds"),
            "objects": self.objects, "counts": self.evidence.get("counts"),
            "drill_id": self.drill_id, "report_dir": str(self.report_dir),
            "report_html": str(paths["report_html"]), "evidence_json": str(paths["evidence_json"]),
            "junit_xml": str(paths["junit_xml"]),
            "screenshot": str(paths["screenshot"]) if paths["screenshot"].is_file() else None,
            "manifest": str(self.report_dir / "SHA256SUMS"),
            "backup_archive": backup.get("archive"), "backup_sha256": backup.get("sha256"),
            "seconds": round(self.seconds, 3),
            "data_checks": self.evidence.get("data_checks") or [],
            "steps": {s["step"]: s["status"] for s in self.evidence.get("timeline", {}).get("steps", [])},
            **archive_fields(self.evidence),
            # `verdict` stays pass | fail (scripts compare it); the scope says what the pass is worth.
            "scope": "limited" if scope.get("limited") else "full",
            "scope_limits": [limit.get("id") for limit in scope.get("limits") or []],
            "verdict_summary": self.evidence.get("verdict_summary") or self.verdict,
        }


def archive_fields(evidence: dict[str, Any]) -> dict[str, Any]:
    """An archive drill's JSON names the archive it restored: its path (as given, or where the pull put
    it) and sha256 (of the plain archive)."""
    if evidence.get("kind") != "archive":
        return {}
    archive = evidence.get("archive") or {}
    return {"archive": archive.get("path"), "archive_sha256": archive.get("sha256")}


def verified_objects(evidence: dict[str, Any]) -> int:
    """``objects``: the archive's objects the drill proved back (equal and healthy) for an archive drill;
    the backed-up objects for a synthetic one (its backup step proved each seeded object is in it)."""
    if evidence.get("kind") == "archive":
        return int((evidence.get("counts") or {}).get("equal") or 0)
    return int((evidence.get("backup") or {}).get("objects") or 0)


def ensure_provider_ready(settings: DrillSettings, progress: Progress) -> None:
    """Whatever the provider needs first (the local one builds its binaries once on a fresh machine)."""
    prepare_provider(settings.provider, progress, settings.kubernetes_version)
    if settings.real_node:
        real_node()  # the test bed's: without it, stop here with the extra named rather than in a step


def pytest_args(suite: Path, *, terminal: bool = False) -> list[str]:
    """The step module alone, isolated from any project's pytest configuration in the cwd.

    pytest's own terminal output is off unless asked for (``K3S_DR_DEBUG``): the drill's
    progress lines say the same, and every failure's details are in the report.
    """
    args = [str(suite), "-c", os.devnull, "--rootdir", str(suite.parent), "--confcutdir", str(suite.parent),
            "-p", "no:cacheprovider",
            "-o", "initial_sort=testId", "-o", "junit_suite_name=k3s-dr-drill",
            "-W", "ignore::DeprecationWarning",
            "-W", "ignore::pytest.PytestAssertRewriteWarning"]
    args += ["-q", "--no-header", "-rN"] if terminal else ["-p", "no:terminal"]
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        args += ["-p", "pytest_metadata.plugin", "-p", "pytest_html.plugin"]
    return args


def _outcome(plugin: DrillPlugin, exit_code: int, started: float) -> DrillOutcome:
    run = plugin.run
    if run is None:
        raise EnvironmentProblem(f"the drill did not start (pytest exit code {exit_code})")
    evidence_path = run.report_dir / EVIDENCE_NAME
    try:
        evidence: dict[str, Any] = json.loads(evidence_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EnvironmentProblem(f"the drill wrote no readable evidence ({evidence_path}): {exc}") from None
    return DrillOutcome(
        verdict=str(evidence.get("verdict")), failed_step=evidence.get("failed_step"),
        reasons=tuple(evidence.get("reasons") or ()), rto_seconds=evidence.get("rto_seconds"),
        rpo_seconds=evidence.get("rpo_seconds"), objects=verified_objects(evidence),
        drill_id=run.drill_id, report_dir=run.report_dir, seconds=time.monotonic() - started,
        pytest_exit_code=exit_code, evidence=evidence,
    )


def run_drill(settings: DrillSettings, progress: Progress) -> DrillOutcome:
    started = time.monotonic()
    settings.check()
    ensure_provider_ready(settings, progress)
    plugin = DrillPlugin(settings)
    suite = Path(test_steps.__file__).resolve()
    with contextlib.redirect_stdout(sys.stderr):
        terminal = os.environ.get("K3S_DR_DEBUG", "") not in ("", "0")
        exit_code = int(pytest.main(pytest_args(suite, terminal=terminal), plugins=[plugin]))
    if plugin.run is None:
        raise DRError(f"the drill could not run: pytest exit code {exit_code}")
    return _outcome(plugin, exit_code, started)
