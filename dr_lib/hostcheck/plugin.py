"""The k3s-dr host conformance suite as a pytest plugin (``pytest11`` entry point, named like this
module so ``-p dr_lib.hostcheck.plugin`` and the entry point are one plugin).

    k3s-dr check --hosts docker://h1,ssh://node2 -n 2          # the command wraps all of this
    pytest --pyargs dr_lib.hostcheck [--hosts=…] [--dr-config=PATH]
    pytest tests/checks [--hosts=…]                            # in the repository

Tests come only from the suite module :mod:`dr_lib.hostcheck.test_controls`: this plugin
parametrizes its ``dr_control`` with every row of the control table (the ID as test id) and
gathers ``dr_facts`` once per host (:func:`dr_lib.checks.gather.gather`, through testinfra's
``host.run``). In any other pytest run (the project's own tests, the drill's in-process pytest)
it adds its ``--dr-*`` options and nothing else. A *check run* (the command line names the
suite, by ``--pyargs dr_lib.hostcheck``, a path inside this package, or an ini file with
``dr_checks = true`` like ``tests/checks/pytest.ini``) also gets the report columns and, unless
``--dr-no-reports``, its reports under ``--dr-reports`` (:mod:`dr_lib.hostcheck.session`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dr_lib.checks.controls import CONTROLS, control
from dr_lib.checks.evaluate import Judgement
from dr_lib.checks.gather import gather
from dr_lib.checks.hostfacts import HostFacts
from dr_lib.checks.report import control_properties, finding_properties
from dr_lib.clock import utc_now
from dr_lib.config import DEFAULT_CONFIG_PATH
from dr_lib.hostcheck.session import SESSION_KEY, WAIVED, CheckSession, host_id

SUITE_DIR = Path(__file__).resolve().parent
PACKAGE = __name__.rpartition(".")[0]
CONTROL_FIXTURE = "dr_control"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("k3s-dr checks", "k3s-dr host conformance (dr_lib.hostcheck)")
    group.addoption("--dr-config", default=str(DEFAULT_CONFIG_PATH),
                    help="k3s-dr config file on the host(s) under test [default: %(default)s]")
    group.addoption("--dr-reports", default="reports", metavar="DIR",
                    help="a check run writes checks-<UTC time>/ here: HTML, JUnit XML, JSON, SHA256SUMS "
                         "[default: %(default)s]")
    group.addoption("--dr-no-reports", action="store_true", default=False,
                    help="write no report directory (explicit --html, --junitxml and --dr-json still apply)")
    group.addoption("--dr-json", default=None, metavar="PATH", help="also write every control's result as JSON")
    group.addoption("--dr-signing-key", default=None, metavar="FILE",
                    help="sign the report's SHA256SUMS with this Ed25519 key (k3s-dr keygen; `k3s-dr check` passes "
                         "trust.signing_key): `k3s-dr report verify DIR --verify-key` then proves who sealed it")
    parser.addini("dr_checks", type="bool", default=False,
                  help="this directory's pytest runs are k3s-dr check runs (reports by default)")


def is_check_run(config: pytest.Config) -> bool:
    """Whether the command line asks for the suite (decided before collection: reports need it)."""
    if config.getini("dr_checks"):
        return True
    for arg in config.args:
        target = arg.split("::", 1)[0]
        if config.option.pyargs and (target == PACKAGE or target.startswith(f"{PACKAGE}.")):
            return True
        path = (config.invocation_params.dir / target).resolve()
        if path == SUITE_DIR or SUITE_DIR in path.parents:
            return True
    return False


@pytest.hookimpl(tryfirst=True)  # before pytest-html and JUnit read the report paths
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "control(id): the k3s-dr control (dr_lib.checks.controls) a test judges")
    config.addinivalue_line("markers", "xdist_group(name): tests of one host, for --dist loadgroup")
    session = CheckSession(config, active=is_check_run(config), started=utc_now())
    config.stash[SESSION_KEY] = session
    config.pluginmanager.register(session, "k3s-dr-checks-session")
    session.open_reports()


@pytest.hookimpl(tryfirst=True)  # the control first in the test id: test_control[DR-LINK-002-docker://h1]
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if CONTROL_FIXTURE in metafunc.fixturenames:
        metafunc.parametrize(CONTROL_FIXTURE, [pytest.param(c, id=c.id, marks=pytest.mark.control(c.id))
                                               for c in CONTROLS])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker("control")
        if marker is None:
            continue
        item_control = control(marker.args[0])  # an unknown ID fails the collection loudly
        host = host_id(item)
        item.user_properties.extend(control_properties(item_control, host))
        # With `--dist loadgroup`, one worker takes all of a host's controls: its facts are read once.
        item.add_marker(pytest.mark.xdist_group(host))


@pytest.fixture(scope="module")
def dr_facts(host: Any, request: pytest.FixtureRequest) -> HostFacts:
    """Everything the controls judge about this host, gathered once per host and process."""
    cache = request.config.stash[SESSION_KEY].facts
    name = host.backend.get_pytest_id()
    if name not in cache:

        def run(command: str) -> tuple[int, str, str]:
            result = host.run(command)
            return result.rc, result.stdout, result.stderr

        try:
            cache[name] = gather(run, name, request.config.getoption("--dr-config"))
        except Exception as exc:  # noqa: BLE001 - every control of this host shows why it was not judged
            cache[name] = exc
    found = cache[name]
    if isinstance(found, BaseException):
        pytest.fail(f"cannot read {name}: {found}", pytrace=False)
    return found


def _message(judged: Judgement, host: str) -> str:
    item, finding = judged.control, judged.finding
    return (f"{item.id} [{item.severity}] {item.title} — FAILED on {host}\n"
            f"  problem:  {finding.problem}\n  evidence: {finding.evidence}\n"
            f"  why:      {item.why}\n  fix:      {judged.remediation}")


def conclude(node: pytest.Item, judged: Judgement) -> None:
    """End a control's test as its judgement says: pass, fail, skip (n/a) or xfail (waived); the
    verdict, evidence and remediation go to its properties (JUnit, HTML, JSON)."""
    node.user_properties.extend(finding_properties(judged.finding, judged.verdict, judged.remediation,
                                                   judged.waiver))
    finding = judged.finding
    if judged.verdict == "n/a":
        pytest.skip(f"n/a: {finding.evidence}")
    if judged.verdict == "waived":
        pytest.xfail(f"{WAIVED} {judged.control.id} {judged.waiver} | {finding.problem}")
    if judged.verdict == "fail":
        pytest.fail(_message(judged, host_id(node)), pytrace=False)
