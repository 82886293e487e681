"""The cluster door (dr_lib.cluster.provider): the only way from dr_lib to the test bed, and one
line naming the `testbed` extra when the test bed cannot be loaded."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import dr_lib
from dr_lib.cli.main import main
from dr_lib.cluster import provider
from dr_lib.errors import EnvironmentProblem, ExitCode, UsageError

EXTRA_ERROR = ("needs the test bed (the 'testbed' extra; not installed here: testcontainers): "
               "pip install 'k3s-dr[testbed]'")


@pytest.mark.parametrize(("lines", "extra", "expected"), [
    (['testcontainers>=4; extra == "testbed"'], "testbed", ["testcontainers"]),
    (["kubernetes<37,>=36", "pyyaml>=6"], "testbed", []),  # core requirements: no marker
    (['pytest-xdist>=3; extra == "test"'], "testbed", []),  # another extra
    (['docker>=7 ; python_version >= "3.11" and extra == \'testbed\''], "testbed", ["docker"]),  # either quote
    (['evil; extra == "testbed-x"'], "testbed", []),  # a prefix is not the extra
    (['build>=1; extra == "test"', 'psutil; extra == "bench"'], "bench", ["psutil"]),
    (["; extra == 'testbed'"], "testbed", []),  # no name: nothing to look for
])
def test_extra_requirements_reads_the_markers(lines: list[str], extra: str, expected: list[str]) -> None:
    assert provider.extra_requirements(lines, extra) == expected


def test_missing_extra_asks_for_each_requirement_of_the_installed_metadata() -> None:
    asked: list[str] = []

    def fake_installed(name: str) -> bool:
        asked.append(name)
        return False

    assert provider.missing_extra(fake_installed) == ["testcontainers"]
    assert asked == ["testcontainers"]
    assert provider.missing_extra() == []  # this environment has the extra


def _without_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(provider, "_installed", lambda name: name != "testcontainers")


def test_loading_without_the_extra_is_one_line_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    _without_extra(monkeypatch)
    with pytest.raises(EnvironmentProblem) as failure:
        provider.start_cluster("local", provider.ClusterSpec("x"))
    assert str(failure.value) == f"the local cluster provider {EXTRA_ERROR}"
    assert failure.value.exit_code == ExitCode.ENVIRONMENT


def test_a_missing_testbed_module_names_the_extra() -> None:
    with pytest.raises(EnvironmentProblem) as failure:
        provider.load_testbed("no_such_module", "`k3s-dr nothing`")
    assert "not installed here: k3s_dr_testbed): pip install 'k3s-dr[testbed]'" in str(failure.value)


def test_a_module_missing_inside_the_testbed_is_not_blamed_on_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_import(name: str) -> None:
        raise ModuleNotFoundError("No module named 'yaml'", name="yaml")

    monkeypatch.setattr(provider.importlib, "import_module", fake_import)
    with pytest.raises(ModuleNotFoundError):
        provider.load_testbed("provider", "x")


def test_the_existing_cluster_provider_needs_no_testbed(monkeypatch: pytest.MonkeyPatch) -> None:
    _without_extra(monkeypatch)
    with pytest.raises(UsageError, match="needs a kubeconfig path"):
        provider.start_cluster("kubeconfig", provider.ClusterSpec("x"))
    provider.prepare_provider("kubeconfig", lambda line: None)  # nothing to prepare, nothing loaded


def test_an_unknown_provider_is_a_usage_error_before_anything_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    _without_extra(monkeypatch)
    with pytest.raises(UsageError, match="'nope' is unknown: accepted is local, k3d, kubeconfig"):
        provider.start_cluster("nope", provider.ClusterSpec("x"))


def test_the_testbed_side_answers_for_its_providers() -> None:
    facts = provider.real_node()
    assert facts == provider.RealNodeFacts(node_name="localhost")


@pytest.mark.parametrize("argv", [["cluster", "up", "--name", "x"], ["cluster", "--help"], ["lab", "host", "up"],
                                  ["cluster"]])
def test_testbed_commands_without_the_extra_fail_with_one_line(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    _without_extra(monkeypatch)
    assert main(argv) == ExitCode.ENVIRONMENT
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"k3s-dr: error: `k3s-dr {argv[0]}` {EXTRA_ERROR}\n"


def test_help_still_lists_the_testbed_commands_without_the_extra(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _without_extra(monkeypatch)
    assert main(["--help"]) == ExitCode.OK
    out = capsys.readouterr().out
    for name in ("cluster", "lab"):
        assert re.search(rf"^  {name} +\(needs the test bed: pip install 'k3s-dr\[testbed\]'\)", out, re.M), out
    assert re.search(r"^  backup +Back up", out, re.M)


_MODULE_NAME = re.compile(r"^k3s_dr_testbed(\.\w+)*$")


def test_only_the_door_names_the_testbed() -> None:
    """No dr_lib module imports the test bed or names one of its modules, except the door."""
    package = Path(dr_lib.__file__).parent
    door = Path(provider.__file__)
    offenders = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and path != door:
                names = [node.value]
            offenders += [f"{path.relative_to(package)}: {n}" for n in names if _MODULE_NAME.match(n)]
    assert offenders == []
