"""The monthly restore-drill workflow cannot run here: its command lines are checked instead.

Its k3d commands must be exactly what the k3d provider runs (so the warm-up pulls what the drill
will use), k3s-dr is installed with the test bed (the k3d provider is there), its drill command
must parse with the real CLI, and it must keep the report.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from dr_lib.cli.main import cli, load_command
from k3s_dr_testbed.clusters import k3d
from k3s_dr_testbed.clusters.versions import supported as supported_releases

WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "restore-drill.yml"


def _workflow() -> dict[Any, Any]:
    data = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(data, dict)
    return data


def _job() -> dict[str, Any]:
    job: dict[str, Any] = _workflow()["jobs"]["drill"]
    return job


def _versions() -> list[str]:
    return list(_job()["strategy"]["matrix"]["k3s"])


def _run_lines(version: str) -> list[str]:
    lines = []
    for step in _job()["steps"]:
        for line in str(step.get("run", "")).splitlines():
            lines.append(line.strip().replace("${{ matrix.k3s }}", version))
    return [line for line in lines if line]


def _drill_args() -> list[str]:
    line = next(line for line in _run_lines("v0") if line.startswith("k3s-dr drill"))
    words = shlex.split(line)
    return words[1:words.index("|")] if "|" in words else words[1:]


def _option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def test_runs_monthly_and_on_demand() -> None:
    triggers = _workflow().get("on", _workflow().get(True))  # YAML 1.1 reads a bare `on` as true
    assert "workflow_dispatch" in triggers
    minute, hour, day, month, weekday = triggers["schedule"][0]["cron"].split()
    assert day.isdigit() and month == "*" and weekday == "*", "once a month"
    assert minute.isdigit() and hour.isdigit()


def test_the_k3s_matrix_is_the_supported_versions_table() -> None:
    """One place for the versions (k3s_dr_testbed/clusters/kubernetes-versions.json): the matrix follows it."""
    assert _versions() == [release.k3s_tag for release in supported_releases()]
    assert k3d.K3S_IMAGE in {f"rancher/k3s:{v}" for v in _versions()}


def test_warm_up_runs_exactly_the_providers_k3d_commands() -> None:
    nodes = int(_option(_drill_args(), "--nodes"))
    for version in _versions():
        lines = _run_lines(version)
        create = shlex.join(k3d.create_argv("drill-warmup", image=f"rancher/k3s:{version}", nodes=nodes))
        assert create in lines, f"{version}: expected `{create}` in the workflow"
        assert shlex.join(k3d.delete_argv("drill-warmup")) in lines


def test_k3s_dr_is_installed_with_the_testbed_extra_the_k3d_provider_lives_in() -> None:
    lines = [line for line in _run_lines("v0") if line.startswith("python -m pip install")]
    installs = [shlex.split(line, comments=True) for line in lines]
    assert installs, "the workflow installs k3s-dr"
    assert all(".[testbed]" in words for words in installs), installs


def test_the_drill_uses_the_matrix_image_through_the_providers_variable() -> None:
    assert _job()["env"][k3d.K3S_IMAGE_ENV] == "rancher/k3s:${{ matrix.k3s }}"


def test_drill_command_parses_with_the_real_cli_and_uses_k3d() -> None:
    args = _drill_args()
    assert args[0] == "drill" and _option(args, "--cluster") == "k3d" and "--json" in args
    command = load_command("drill")
    context = command.make_context("drill", args[1:], resilient_parsing=True)
    assert context.params["provider"] == "k3d"
    assert CliRunner().invoke(cli, [*args, "--help"]).exit_code == 0


def test_the_report_directory_is_uploaded_even_when_the_drill_fails() -> None:
    reports = _option(_drill_args(), "--reports")
    upload = next(step for step in _job()["steps"] if str(step.get("uses", "")).startswith("actions/upload-artifact"))
    assert upload["if"] == "always()"
    assert upload["with"]["path"].rstrip("/") == reports.rstrip("/")
    assert upload["with"]["if-no-files-found"] == "error"


def test_pipefail_so_a_failed_drill_fails_the_job() -> None:
    assert _workflow()["defaults"]["run"]["shell"] == "bash"
