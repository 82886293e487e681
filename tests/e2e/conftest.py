"""The drill's pytest entry: `pytest tests/e2e --run-e2e [--cluster=local|k3d|kubeconfig]`.

The drill's step tests are collected from the package (``dr_lib/drill/suite/test_steps.py``, see
``tests/conftest.py``) whenever tests/e2e is. When they are selected, the same plugin
`k3s-dr drill` uses is registered: the session becomes one drill with its report directory
under --drill-reports (default ./reports), HTML, JUnit XML, evidence and SHA256SUMS, exactly as
the CLI writes them.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from dr_lib.config import duration_seconds, load_config
from dr_lib.drill.run import DrillSettings
from dr_lib.drill.suite.plugin import PLUGIN_NAME, DrillPlugin
from dr_lib.drill.verdict import Targets

HERE = Path(__file__).resolve().parent


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("k3s-dr drill", "restore drill (tests/e2e)")
    group.addoption("--drill-reports", default="reports", help="where the drill's report directory is created")
    group.addoption("--drill-destroy", choices=("fresh", "wipe"), default=None,
                    help="fresh target cluster (default) or wipe the namespaces in place")
    group.addoption("--drill-real-node", action="store_true", default=False, help="run the database on a real node")
    group.addoption("--drill-wait-timeout", default="5m", help="deadline of k3s-dr restore --wait")


def _drill_only(config: pytest.Config) -> bool:
    """Only tests/e2e is selected, and nobody asked for their own HTML or JUnit report."""
    paths = [Path(arg.split("::", 1)[0]).resolve() for arg in config.args]
    inside = all(path == HERE or HERE in path.parents for path in paths)
    return inside and not getattr(config.option, "htmlpath", None) and not getattr(config.option, "xmlpath", None)


def _will_run_steps(config: pytest.Config) -> bool:
    """The step tests are selected and will really run: not a collect-only pass, and e2e is on
    (--run-e2e, or tests/e2e named explicitly; otherwise the top-level conftest skips them)."""
    if config.option.collectonly or not _selects_step_tests(config):
        return False
    named = [Path(arg.split("::", 1)[0]).resolve() for arg in config.args]
    explicit = any(path == HERE or HERE in path.parents for path in named)
    return bool(config.getoption("--run-e2e")) or explicit


def _selects_step_tests(config: pytest.Config) -> bool:
    """tests/e2e (or a directory above it) is collected: the step module comes with it."""
    for arg in config.args:
        target = Path(arg.split("::", 1)[0]).resolve()
        if target == HERE or target in HERE.parents:
            return True
    return False


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if not _will_run_steps(config) or config.pluginmanager.has_plugin(PLUGIN_NAME):
        return
    provider = config.getoption("--cluster", default="local")
    kubeconfig = config.getoption("--kubeconfig-path", default=None) or os.environ.get("KUBECONFIG")
    app_config = load_config()
    settings = DrillSettings(
        provider=provider, real_node=config.getoption("--drill-real-node"),
        destroy=config.getoption("--drill-destroy") or ("wipe" if provider == "kubeconfig" else "fresh"),
        reports_root=Path(config.getoption("--drill-reports")),
        kubeconfig=Path(kubeconfig) if provider == "kubeconfig" and kubeconfig else None,
        targets=Targets(duration_seconds(app_config.targets.rto), duration_seconds(app_config.targets.rpo)),
        restore_wait_timeout=config.getoption("--drill-wait-timeout"),
        images=dataclasses.asdict(app_config.drill.images),
        kubernetes_version=None if provider == "kubeconfig" else config.getoption("--kubernetes-version"),
        backup_interval_seconds=duration_seconds(app_config.backup.interval),
    )
    config.pluginmanager.register(DrillPlugin(settings, own_report=_drill_only(config)), PLUGIN_NAME)
