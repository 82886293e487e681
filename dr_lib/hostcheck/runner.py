"""``k3s-dr check``'s engine: the suite module shipped in this package, run by pytest in this
process (``pytest.main``, as the drill runs its steps), isolated from any pytest configuration in
the current directory; the outcome read back from the plugin's session.

pytest's terminal output (the control table, each failure's problem and fix) goes to stderr:
stdout is reserved for the command's own line or its one JSON object.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest

from dr_lib.checks.report import ControlResult, summary_counts
from dr_lib.errors import EnvironmentProblem, ExtraMissing
from dr_lib.hostcheck import test_controls
from dr_lib.hostcheck.hosts import is_local
from dr_lib.hostcheck.reports import HTML_NAME, JSON_NAME, JUNIT_NAME
from dr_lib.hostcheck.session import SESSION_KEY, CheckSession
from dr_lib.reportdir import MANIFEST_NAME

Progress = Callable[[str], None]
XDIST_EXTRA = "checks"
_RAN = (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)


@dataclass(frozen=True)
class CheckOptions:
    hosts: tuple[str, ...]  # testinfra host specs, validated (hosts.parse_hosts); empty: this machine
    reports_root: Path
    config_path: str  # k3s-dr's config file on the hosts under test
    sudo: bool = False
    workers: int | None = None  # hosts judged in parallel (pytest-xdist)
    signing_key: Path | None = None  # signs the report's SHA256SUMS (this machine's trust.signing_key)


@dataclass(frozen=True)
class CheckOutcome:
    hosts: tuple[str, ...]
    results: tuple[ControlResult, ...]
    report_dir: Path | None
    seconds: float
    pytest_exit_code: int

    @property
    def counts(self) -> dict[str, int]:
        return summary_counts(self.results)

    @property
    def passed(self) -> int:
        return self.counts.get("pass", 0)

    @property
    def failed(self) -> int:
        """Failed controls, and controls that could not be judged (the host could not be read)."""
        return self.counts.get("fail", 0) + self.counts.get("error", 0)

    @property
    def skipped(self) -> int:
        """Not applicable on the host, or failed but waived (JUnit counts both as skipped)."""
        return self.counts.get("n/a", 0) + self.counts.get("waived", 0)

    def path(self, name: str) -> str | None:
        return str(self.report_dir / name) if self.report_dir is not None else None

    @property
    def report_html(self) -> str | None:
        return self.path(HTML_NAME)

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed, "failed": self.failed, "skipped": self.skipped, "counts": self.counts,
            "hosts": sorted({r.host for r in self.results}) or list(self.hosts),
            "report_dir": self.path(""), "report_html": self.report_html, "junit_xml": self.path(JUNIT_NAME),
            "json": self.path(JSON_NAME), "manifest": self.path(MANIFEST_NAME),
            "seconds": round(self.seconds, 3), "pytest_exit_code": self.pytest_exit_code,
            "results": [asdict(r) for r in self.results],
        }

    def summary(self) -> str:
        verdict = "PASS" if self.failed == 0 else "FAIL"
        return (f"{verdict}: {self.passed} passed, {self.failed} failed, {self.skipped} skipped (n/a or waived) "
                f"on {', '.join(sorted({r.host for r in self.results}))}; report {self.report_html}")


class SessionObserver:
    """Keeps the plugin's session of this run, to read the outcome after pytest returns."""

    def __init__(self) -> None:
        self.session: CheckSession | None = None

    @pytest.hookimpl(trylast=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        self.session = config.stash.get(SESSION_KEY, None)


def pytest_args(options: CheckOptions) -> list[str]:
    suite = Path(test_controls.__file__).resolve()
    args = [str(suite), "-c", os.devnull, "--rootdir", str(suite.parent), "--confcutdir", str(suite.parent),
            "-p", "no:cacheprovider", "-q", "--no-header", "-rN", "--tb=no",
            "-W", "ignore::pytest.PytestAssertRewriteWarning",
            f"--dr-config={options.config_path}", f"--dr-reports={options.reports_root}"]
    if options.hosts:
        args.append(f"--hosts={','.join(options.hosts)}")
    if options.sudo:
        args.append("--sudo")
    if options.signing_key is not None:
        args.append(f"--dr-signing-key={options.signing_key}")
    if options.workers is not None:
        args += ["-n", str(options.workers), "--dist", "loadgroup"]
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        plugins = ["testinfra.plugin", "pytest_metadata.plugin", "pytest_html.plugin", "dr_lib.hostcheck.plugin"]
        plugins += ["xdist.plugin"] if options.workers is not None else []
        for name in plugins:
            args += ["-p", name]
    return args


def _check_environment(options: CheckOptions, progress: Progress) -> None:
    if options.workers is not None:
        try:
            import xdist  # type: ignore[import-untyped]  # noqa: F401, PLC0415 - optional: only -n needs it
        except ImportError:
            raise ExtraMissing(f"--workers {options.workers} judges hosts in parallel with pytest-xdist, which is "
                               "not installed (leave out --workers, or install it)", extra=XDIST_EXTRA) from None
    try:
        options.reports_root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot create the reports directory {str(options.reports_root)!r}: "
                                 f"{exc.strerror}", hint="pass --reports DIR with a writable directory") from None
    local = not options.hosts or any(is_local(h) for h in options.hosts)
    if local and not options.sudo and os.geteuid() != 0:
        progress("k3s-dr check: not root: controls that read root-only files (archives, token, units) fail "
                 "on this machine; run it as root, or with --sudo")


def run_checks(options: CheckOptions, progress: Progress) -> CheckOutcome:
    _check_environment(options, progress)
    started = time.monotonic()
    observer = SessionObserver()
    with contextlib.redirect_stdout(sys.stderr):
        exit_code = int(pytest.main(pytest_args(options), plugins=[observer]))
    session = observer.session
    if session is None or exit_code not in _RAN or not session.results:
        raise EnvironmentProblem(f"the host checks did not run (pytest exit code {exit_code}): pytest's own "
                                 "message is on the lines above")
    return CheckOutcome(hosts=options.hosts, results=tuple(session.results.values()),
                        report_dir=session.report_dir, seconds=time.monotonic() - started,
                        pytest_exit_code=exit_code)
