"""Who or what ran a drill, and why: initiator, trigger (a CI run, a schedule, a person), and the
optional ticket and reviewer the operator names. Pure: the environment is passed in.

The CI run's address is built from GitHub's own variables, each checked against what GitHub
sets (an http(s) server, owner/name, a number): a malformed value leaves the address out
rather than putting an attacker's link into an auditor's report.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

MANUAL = "manual"
CI = "ci"
SCHEDULE = "schedule"
SYSTEMD = "systemd unit"
_SERVER = re.compile(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?")
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")
_RUN_ID = re.compile(r"\d{1,20}")
_ACTOR = re.compile(r"[A-Za-z0-9_.\[\]-]{1,100}")
MAX_FIELD = 200


def ci_run_url(env: Mapping[str, str]) -> str:
    """``GITHUB_SERVER_URL/GITHUB_REPOSITORY/actions/runs/GITHUB_RUN_ID``, or "" when any part is
    missing or not what GitHub sets."""
    server, repository, run_id = (env.get(k, "") for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    if not (_SERVER.fullmatch(server) and _REPOSITORY.fullmatch(repository) and _RUN_ID.fullmatch(run_id)):
        return ""
    return f"{server}/{repository}/actions/runs/{run_id}"


def field_problem(name: str, value: str | None) -> str | None:
    """Why a ticket or reviewer value is not accepted (None: it is): one line of printable text."""
    if value is None:
        return None
    if not value.strip() or len(value) > MAX_FIELD or not value.isprintable():
        return (f"{name} {value[:60]!r} is not accepted: accepted is one line of printable text, "
                f"1 to {MAX_FIELD} characters")
    return None


def run_context(env: Mapping[str, str], *, user: str, host: str, ticket: str | None = None,
                reviewer: str | None = None) -> dict[str, str]:
    """The identity fields that say who ran the drill and why (all strings, for the report tables)."""
    in_ci = env.get("GITHUB_ACTIONS") == "true" or bool(env.get("GITHUB_RUN_ID"))
    url = ci_run_url(env) if in_ci else ""
    if in_ci:
        actor = env.get("GITHUB_ACTOR", "")
        who = f"{actor if _ACTOR.fullmatch(actor) else 'unknown actor'} (GitHub Actions, runner {host})"
        trigger = SCHEDULE if env.get("GITHUB_EVENT_NAME") == "schedule" else CI
    elif env.get("INVOCATION_ID"):
        who, trigger = f"{user}@{host}", SYSTEMD
    else:
        who, trigger = f"{user}@{host}", MANUAL
    context = {"initiator": who, "trigger": trigger}
    if in_ci:
        context["ci_run_url"] = url or "not recorded: the CI variables were missing or malformed"
        event = env.get("GITHUB_EVENT_NAME", "")
        context["ci_event"] = event if re.fullmatch(r"[a-z_]{1,40}", event) else "unknown"
    if ticket:
        context["ticket"] = ticket
    if reviewer:
        context["reviewer"] = reviewer
    return context
