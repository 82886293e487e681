"""Who or what ran a drill: initiator and trigger from the environment, ticket and reviewer checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from dr_lib.cli.main import main
from dr_lib.drill.run import DrillSettings
from dr_lib.drill.trigger import ci_run_url, field_problem, run_context
from dr_lib.errors import ExitCode, UsageError

GITHUB = {"GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/k3s-dr",
          "GITHUB_RUN_ID": "123456789", "GITHUB_ACTOR": "octo-cat", "GITHUB_EVENT_NAME": "workflow_dispatch"}


@pytest.mark.parametrize(("env", "expected"), [
    ({}, {"initiator": "ops@host1", "trigger": "manual"}),
    ({"INVOCATION_ID": "abc"}, {"initiator": "ops@host1", "trigger": "systemd unit"}),
    (GITHUB, {"initiator": "octo-cat (GitHub Actions, runner host1)", "trigger": "ci",
              "ci_run_url": "https://github.com/acme/k3s-dr/actions/runs/123456789", "ci_event": "workflow_dispatch"}),
    ({**GITHUB, "GITHUB_EVENT_NAME": "schedule"},
     {"initiator": "octo-cat (GitHub Actions, runner host1)", "trigger": "schedule",
      "ci_run_url": "https://github.com/acme/k3s-dr/actions/runs/123456789", "ci_event": "schedule"}),
], ids=["manual", "systemd", "ci", "scheduled ci"])
def test_initiator_and_trigger(env: dict[str, str], expected: dict[str, str]) -> None:
    assert run_context(env, user="ops", host="host1") == expected


@pytest.mark.parametrize("change", [
    {"GITHUB_SERVER_URL": "javascript:alert(1)//"}, {"GITHUB_REPOSITORY": "acme/k3s-dr/../../evil"},
    {"GITHUB_RUN_ID": "12; rm -rf /"}, {"GITHUB_RUN_ID": ""},
    {"GITHUB_SERVER_URL": "https://github.com\"><script>"},
])
def test_a_malformed_ci_variable_leaves_the_link_out(change: dict[str, str]) -> None:
    env = {**GITHUB, **change}
    assert ci_run_url(env) == ""
    assert run_context(env, user="u", host="h")["ci_run_url"].startswith("not recorded")


def test_a_hostile_actor_or_event_is_not_repeated() -> None:
    context = run_context({**GITHUB, "GITHUB_ACTOR": "<b>x</b>", "GITHUB_EVENT_NAME": "Push!"}, user="u", host="h")
    assert context["initiator"].startswith("unknown actor") and context["ci_event"] == "unknown"


def test_ticket_and_reviewer() -> None:
    context = run_context({}, user="u", host="h", ticket="CHG-42", reviewer="Alice Auditor")
    assert context["ticket"] == "CHG-42" and context["reviewer"] == "Alice Auditor"
    assert field_problem("--ticket", "CHG-42") is None and field_problem("--ticket", None) is None


@pytest.mark.parametrize("value", ["", "   ", "a\nb", "x" * 201, "bell\x07"])
def test_a_bad_ticket_is_a_usage_error_naming_it(value: str) -> None:
    with pytest.raises(UsageError, match=r"--ticket .* is not accepted: accepted is one line of printable text"):
        DrillSettings(ticket=value).check()


def test_drill_cli_refuses_a_bad_reviewer_before_starting(capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("K3S_DR_CONFIG", "/dev/null")
    assert main(["drill", "--reports", str(tmp_path), "--reviewer", "a\nb"]) == ExitCode.USAGE
    assert "--reviewer 'a\\nb' is not accepted" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
