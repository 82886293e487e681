"""The runbook the alerts link to when no team URL is configured: docs/runbook.md as the wheel ships it
(``share/doc/k3s-dr/runbook.md`` under the installation's data directory), written by ``k3s-dr install``
to the FHS documentation directory, which is what ``metrics.runbook_url`` names by default."""

from __future__ import annotations

import sysconfig
from pathlib import Path

from dr_lib.config import MetricsConfig
from dr_lib.errors import EnvironmentProblem

INSTALLED_RUNBOOK = MetricsConfig.runbook_url.removeprefix("file://")
_SHIPPED = Path("share", "doc", "k3s-dr", "runbook.md")


def shipped_runbook(data_dir: Path | None = None, source_tree: Path | None = None) -> str:
    """The runbook's text: the wheel's copy, else the checkout's (an editable install has no data files)."""
    candidates = (Path(data_dir or sysconfig.get_path("data")) / _SHIPPED,
                  Path(source_tree or Path(__file__).resolve().parents[3]) / "docs" / "runbook.md")
    for candidate in candidates:
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
    raise EnvironmentProblem(f"runbook: not found at {candidates[0]} nor {candidates[1]}: "
                             "reinstall k3s-dr from its wheel, or set metrics.runbook_url to your copy")
