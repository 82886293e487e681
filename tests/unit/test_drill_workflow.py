"""The GitHub workflows cannot run here: their command lines are checked instead.

Every k3d command in them must be exactly what the k3d provider runs (so the warm-up pulls what the
drill will use), every k3s-dr command must parse with the real CLI (options included), the config
overrides they export must be ones the config loader knows, the images must be built by the test
bed's own build, reports must be kept, and the actions must be pinned with least permissions.
actionlint and zizmor run in tests/unit/test_workflow_lint.py.
"""

from __future__ import annotations

import configparser
import re
import shlex
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from dr_lib.cli.main import cli, load_command
from dr_lib.config import CONFIG_ENV, ENV_PREFIX, load_config
from dr_lib.drill.images import ROLES
from k3s_dr_testbed import provider as testbed_provider
from k3s_dr_testbed.clusters import k3d
from k3s_dr_testbed.clusters.versions import supported as supported_releases
from k3s_dr_testbed.realnode import images as testbed_images

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
DRILL = WORKFLOWS / "restore-drill.yml"
CI = WORKFLOWS / "ci.yml"
DRILL_JOBS = ("synthetic", "your-backups")
_ENV_REF = re.compile(r"\$\{?([A-Z0-9_]+)\}?")
# Placeholders for what only exists on a runner, so the command lines can be parsed here.
RUNNER_VALUES = {"REMOTE": "office", "GITHUB_RUN_ID": "123", "GITHUB_STEP_SUMMARY": "/dev/null"}


def _load(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def _triggers(path: Path) -> dict[str, Any]:
    workflow = _load(path)
    found: dict[str, Any] = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    return found


def _job(name: str, path: Path = DRILL) -> dict[str, Any]:
    job: dict[str, Any] = _load(path)["jobs"][name]
    return job


def _matrix_versions() -> list[str]:
    return list(_job("synthetic")["strategy"]["matrix"]["k3s"])


def _job_env(name: str, matrix_value: str) -> dict[str, str]:
    env = {**_load(DRILL).get("env", {}), **_job(name).get("env", {})}
    return {k: str(v).replace("${{ matrix.k3s }}", matrix_value) for k, v in env.items()} | RUNNER_VALUES


def _commands(name: str, matrix_value: str = "v0", path: Path = DRILL) -> list[list[str]]:
    """Each command line of the job's run steps as words, $VARIABLES expanded from the workflow's env."""
    env = _job_env(name, matrix_value) if path == DRILL else RUNNER_VALUES
    found = []
    for step in _job(name, path)["steps"]:
        for line in str(step.get("run", "")).splitlines():
            words = shlex.split(line, comments=True)
            expanded = [_ENV_REF.sub(lambda m: env.get(m.group(1), m.group(0)), word) for word in words]
            if expanded:
                found.append(expanded)
    return found


def _up_to_pipe(words: list[str]) -> list[str]:
    for stop in ("|", ">", ">>"):
        if stop in words:
            words = words[:words.index(stop)]
    return words


def _k3s_dr(name: str, subcommand: str, path: Path = DRILL) -> list[list[str]]:
    return [_up_to_pipe(w)[1:] for w in _commands(name, path=path) if w[:2] == ["k3s-dr", subcommand]]


def _drill_args(name: str) -> list[str]:
    [args] = [a for a in _k3s_dr(name, "drill")]
    return args


def _option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def _step(name: str, uses: str) -> dict[str, Any]:
    step: dict[str, Any] = next(s for s in _job(name)["steps"] if str(s.get("uses", "")).startswith(uses))
    return step


def test_runs_monthly_and_on_demand() -> None:
    triggers = _triggers(DRILL)
    assert "workflow_dispatch" in triggers
    minute, hour, day, month, weekday = triggers["schedule"][0]["cron"].split()
    assert day.isdigit() and month == "*" and weekday == "*", "once a month"
    assert minute.isdigit() and hour.isdigit()


def test_the_k3s_matrix_is_the_supported_versions_table() -> None:
    """One place for the versions (k3s_dr_testbed/clusters/kubernetes-versions.json): the matrix follows it."""
    assert _matrix_versions() == [release.k3s_tag for release in supported_releases()]
    assert k3d.K3S_IMAGE in {f"rancher/k3s:{v}" for v in _matrix_versions()}


def test_your_backups_runs_the_providers_default_k3s() -> None:
    assert _job("your-backups")["env"][k3d.K3S_IMAGE_ENV] == k3d.K3S_IMAGE


@pytest.mark.parametrize("job", DRILL_JOBS)
def test_every_k3d_command_is_one_the_provider_runs(job: str) -> None:
    nodes = int(_option(_drill_args(job), "--nodes"))
    versions = _matrix_versions() if job == "synthetic" else ["v0"]
    for version in versions:
        image = _job_env(job, version)[k3d.K3S_IMAGE_ENV]
        provider = [k3d.create_argv("drill-warmup", image=image, nodes=nodes), k3d.delete_argv("drill-warmup")]
        lines = [w for w in _commands(job, version) if w[0] == "k3d"]
        assert lines == provider, f"{job} {version}: expected exactly the provider's {provider}"


@pytest.mark.parametrize("job", DRILL_JOBS)
def test_the_drill_images_come_from_the_test_beds_own_build(job: str) -> None:
    builds = [w for w in _commands(job) if "k3s_dr_testbed.realnode.images" in w]
    assert builds == [["sudo", "$(command -v python)", "-m", "k3s_dr_testbed.realnode.images"]]
    assert callable(testbed_images.main), "the module the workflow runs builds the images"


def test_the_k3d_drill_loads_only_the_image_that_build_makes_without_a_helper_image() -> None:
    """The images k3d imports are the test bed's own (built by the step above), streamed straight into
    the nodes (no k3d-tools image to pull): the image-loading path itself runs for real in
    tests/e2e/test_drill_real_node_images.py."""
    loaded = testbed_provider.drill_images("k3d", tuple(ROLES))
    assert set(loaded.refs.values()) == set(testbed_provider.LOCAL_IMAGES) == {testbed_images.APP_REF}
    argv = k3d.image_import_argv("drill", [testbed_images.APP_TAG])
    assert argv[:3] == ["k3d", "image", "import"] and argv[-2:] == ["--mode", "direct"]


@pytest.mark.parametrize("job", DRILL_JOBS)
def test_k3s_dr_is_installed_with_the_testbed_extra_the_k3d_provider_lives_in(job: str) -> None:
    installs = [w for w in _commands(job) if w[:4] == ["python", "-m", "pip", "install"]]
    assert installs and all(".[testbed]" in words for words in installs), installs


@pytest.mark.parametrize("job", DRILL_JOBS)
def test_k3d_is_pinned_by_version_and_sha256(job: str) -> None:
    env = _job_env(job, "v0")
    assert re.fullmatch(r"v\d+\.\d+\.\d+", env["K3D_VERSION"])
    assert re.fullmatch(r"[0-9a-f]{64}", env["K3D_SHA256"])
    commands = _commands(job)
    download = next(w for w in commands if w[0] == "curl")
    assert f"https://github.com/k3d-io/k3d/releases/download/{env['K3D_VERSION']}/k3d-linux-amd64" in download
    checked = next(i for i, w in enumerate(commands) if w[-3:] == ["|", "sha256sum", "-c"])
    assert commands[checked][:2] == ["echo", f"{env['K3D_SHA256']}  {download[3]}"], "the sum of the file downloaded"
    installed = next(i for i, w in enumerate(commands) if w[:2] == ["sudo", "install"])
    assert 0 < checked < installed, "the checksum is checked before k3d is installed"


@pytest.mark.parametrize("job", DRILL_JOBS)
def test_drill_command_parses_with_the_real_cli_and_uses_k3d(job: str) -> None:
    args = _drill_args(job)
    assert args[0] == "drill" and _option(args, "--cluster") == "k3d" and "--json" in args
    context = load_command("drill").make_context("drill", args[1:])
    assert context.params["provider"] == "k3d"
    assert CliRunner().invoke(cli, [*args, "--help"]).exit_code == 0


def test_your_backups_drills_the_remote_the_repository_names() -> None:
    args = _drill_args("your-backups")
    assert _option(args, "--from") == RUNNER_VALUES["REMOTE"]
    step = next(s for s in _job("your-backups")["steps"] if "k3s-dr drill" in str(s.get("run", "")))
    assert step["env"]["REMOTE"] == "${{ vars.K3S_DR_DRILL_REMOTE }}"
    assert _job("your-backups")["if"] == "vars.K3S_DR_DRILL_REMOTE != ''"


def test_your_backups_overrides_are_config_keys_the_loader_takes(tmp_path: Path) -> None:
    """Each K3S_DR_* the step exports changes the config k3s-dr loads: none is a silent no-op."""
    exported = {word.split("=", 1)[0]: word.split("=", 1)[1] for words in _commands("your-backups")
                if words[0] == "export" for word in words[1:]}
    assert CONFIG_ENV in exported and "K3S_DR_OFFSITE_IDENTITY_FILE" in exported
    (tmp_path / "config.yaml").write_text("{}\n")
    overrides = {name: f"/runner/private/{name.lower()}" for name in exported if name != CONFIG_ENV}
    loaded = asdict(load_config(env={CONFIG_ENV: str(tmp_path / "config.yaml"), **overrides}))
    for name, value in overrides.items():
        section, _, key = name.removeprefix(ENV_PREFIX).lower().partition("_")
        assert loaded[section][key] == value, f"{name} is not the config key {section}.{key}"


def test_secrets_are_written_private_and_never_echoed() -> None:
    step = next(s for s in _job("your-backups")["steps"] if "k3s-dr drill" in str(s.get("run", "")))
    script = str(step["run"])
    assert script.splitlines()[0] == "umask 077", "files written after this are the runner user's only"
    assert "set -x" not in script and "echo \"$AGE_IDENTITY" not in script
    assert all(str(v).startswith(("${{ secrets.", "${{ vars.")) for v in step["env"].values())


@pytest.mark.parametrize("job", DRILL_JOBS)
def test_the_report_directory_is_summarized_and_uploaded_even_when_the_drill_fails(job: str) -> None:
    reports = _option(_drill_args(job), "--reports")
    summaries = _k3s_dr(job, "report")
    assert summaries == [["report", "summary", reports, "--markdown"]]
    load_command("report").make_context("report", summaries[0][1:])
    summary = next(s for s in _job(job)["steps"] if "report summary" in str(s.get("run", "")))
    assert summary["if"] == "always()" and '>> "$GITHUB_STEP_SUMMARY"' in summary["run"]
    upload = _step(job, "actions/upload-artifact")
    assert upload["if"] == "always()"
    assert upload["with"]["path"].rstrip("/") == reports.rstrip("/")
    assert upload["with"]["if-no-files-found"] == "error"
    assert str(upload["with"]["name"]).startswith("restore-drill-")


def test_the_evidence_job_keeps_every_report_across_runs() -> None:
    job = _job("evidence")
    assert job["if"] == "always()" and set(job["needs"]) == set(DRILL_JOBS)
    previous = next(s for s in job["steps"] if "gh run download" in str(s.get("run", "")))
    assert "--name evidence-index --dir evidence" in previous["run"]
    download = next(s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/download-artifact"))
    assert download["with"]["pattern"] == "restore-drill-*"
    assert download["with"]["path"] == "evidence/${{ github.run_id }}"
    reports = _k3s_dr("evidence", "report")
    assert ["report", "index", "evidence", "--json"] in reports
    assert ["report", "summary", "evidence/123", "--markdown"] in reports
    for args in reports:
        load_command("report").make_context("report", args[1:])
    upload = next(s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact"))
    assert upload["with"]["name"] == "evidence-index" and upload["with"]["path"] == "evidence/"


def test_object_lock_copy_is_optional_and_locks_every_object() -> None:
    step = next(s for s in _job("evidence")["steps"] if "s3api put-object" in str(s.get("run", "")))
    assert step["if"] == "vars.K3S_DR_EVIDENCE_BUCKET != ''"
    put = next(w for w in _commands("evidence") if w[:3] == ["aws", "s3api", "put-object"])
    assert {"--object-lock-mode", "--object-lock-retain-until-date", "--checksum-algorithm"} <= set(put)


def _uses(path: Path) -> list[str]:
    return re.findall(r"^\s*(?:-\s*)?uses:\s*(.+)$", path.read_text(), re.MULTILINE)


@pytest.mark.parametrize("path", [DRILL, CI], ids=lambda p: p.name)
def test_actions_are_pinned_by_commit_with_the_version_beside(path: Path) -> None:
    uses = _uses(path)
    assert uses
    for use in uses:
        assert re.fullmatch(r"actions/[a-z-]+@[0-9a-f]{40}\s+#\s+v\d+\.\d+\.\d+", use.strip()), use


@pytest.mark.parametrize("path", [DRILL, CI], ids=lambda p: p.name)
def test_checkout_never_keeps_the_token(path: Path) -> None:
    for job in _load(path)["jobs"].values():
        for step in job["steps"]:
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False


def test_least_permissions() -> None:
    assert _load(DRILL)["permissions"] == {}
    jobs = _load(DRILL)["jobs"]
    assert jobs["synthetic"]["permissions"] == jobs["your-backups"]["permissions"] == {"contents": "read"}
    assert jobs["evidence"]["permissions"] == {"actions": "read", "contents": "read"}
    assert _load(CI)["permissions"] == {"contents": "read"}
    assert all("permissions" not in job for job in _load(CI)["jobs"].values())


def test_pipefail_so_a_failed_drill_fails_the_job() -> None:
    assert _load(DRILL)["defaults"]["run"]["shell"] == "bash"
    assert _load(CI)["defaults"]["run"]["shell"] == "bash"


def _tox_envs() -> list[str]:
    tox = configparser.ConfigParser()
    tox.read(ROOT / "tox.ini")
    return [e.strip() for e in tox["tox"]["env_list"].split(",")]


def test_ci_runs_on_every_push_and_pull_request_on_each_supported_python() -> None:
    assert set(_triggers(CI)) == {"push", "pull_request"}
    matrix = _job("unit", CI)["strategy"]["matrix"]["include"]
    assert [m["python"] for m in matrix] == ["3.11", "3.12", "3.13"]
    assert [m["tox"] for m in matrix] == [e for e in _tox_envs() if e.startswith("py3")], "tox.ini's environments"
    assert all(m["tox"] == "py" + m["python"].replace(".", "") for m in matrix)
    requires = re.search(r'requires-python = ">=(\d+\.\d+)"', (ROOT / "pyproject.toml").read_text())
    assert requires and requires.group(1) == "3.11"


def test_ci_runs_the_stages_scripts_test_and_tox_define() -> None:
    """scripts/test is the one place the commands are written: CI names its stages, nothing else."""
    assert _commands("lint", path=CI)[-1] == ["scripts/test", "lint"]
    assert "lint" in _tox_envs()
    install = [w for w in _commands("lint", path=CI) if "install" in w]
    assert install == [[".venv/bin/pip", "install", "-c", "constraints.txt", "-e",
                        ".[test,bench,monitoring,testbed,checks]"]], "the locked versions, as scripts/setup"
    assert _commands("unit", path=CI)[-1] == ["sudo", "env", "PATH=$PATH", "CI=true", "tox", "-e", "$TOX_ENV"]
    assert any("prometheus" in w and "shellcheck" in w for w in _commands("unit", path=CI))
