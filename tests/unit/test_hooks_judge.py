"""Judging a hook's end (exit code, timeout, garbage) and masking secrets: pure logic on values."""

from __future__ import annotations

import base64
import json

from dr_lib.hooks.redact import MASK, Redactor, secret_refs, tail_text
from dr_lib.hooks.runner import judge
from dr_lib.hooks.spec import Hook, PodPlan
from dr_lib.kube.exec import ExecResult, parse_status

PLAN = PodPlan("shop", "db-0", "annotations", "postgresql", "postgresql")
DUMP = Hook("dump", ("/bin/sh", "-c", "pg_dump"), "db", 30.0, "fail", magic=(b"PGDMP",))
SECRET = "hunter2-very-secret"
REDACT = Redactor().with_values([SECRET])


def result(code: int | None, stderr: bytes = b"", size: int = 0, **kw: object) -> ExecResult:
    return ExecResult(code, b"", stderr, size, 1.5, **kw)  # type: ignore[arg-type]


def test_a_good_dump() -> None:
    outcome = judge(PLAN, DUMP, result(0, size=1000), False, REDACT, first_bytes=b"PGDMP\x01")
    assert outcome.ok and outcome.reason == "" and outcome.output_bytes == 1000


def test_exit_code_with_redacted_stderr_names_hook_pod_and_container() -> None:
    outcome = judge(PLAN, DUMP, result(1, f"pg_dump: password {SECRET} rejected\n".encode()), False, REDACT)
    assert not outcome.ok
    assert outcome.message() == (f"dump hook (preset postgresql) of pod shop/db-0 container 'db' failed: exit code 1; "
                                 f"stderr: pg_dump: password {MASK} rejected")
    assert SECRET not in json.dumps(outcome.to_dict())


def test_timeout_says_so_and_whether_the_processes_were_stopped() -> None:
    hung = result(None, timed_out=True, failure="no exit within 30 s")
    assert "timed out after 30 s (timeout); the hook's processes were killed" in judge(
        PLAN, DUMP, hung, True, REDACT).reason
    assert "it may still run in the container" in judge(PLAN, DUMP, hung, False, REDACT).reason


def test_garbage_and_empty_output_are_failures_even_with_exit_zero() -> None:
    garbage = judge(PLAN, DUMP, result(0, size=12), False, REDACT, first_bytes=SECRET.encode()[:12])
    assert not garbage.ok
    assert "12 bytes that are not a dump of this kind (garbage): a good one starts with 'PGDMP'" in garbage.reason
    assert SECRET[:12] not in garbage.reason  # the content itself is never shown
    empty = judge(PLAN, DUMP, result(0, size=0), False, REDACT)
    assert "wrote nothing to stdout" in empty.reason


def test_a_command_that_never_ran() -> None:
    outcome = judge(PLAN, DUMP, result(None, failure='exec: "pg_dump": executable file not found'), False, REDACT)
    assert outcome.reason == 'exec: "pg_dump": executable file not found'


def test_redactor_masks_values_base64_and_lines() -> None:
    value = "line-one-secret\nline-two-secret"
    redact = Redactor().with_values([value, "abc"])
    encoded = base64.b64encode(value.encode()).decode()
    masked = redact(f"x line-two-secret y {encoded} abc")
    assert "line-two-secret" not in masked and encoded not in masked
    assert masked.endswith(" abc")  # too short to mask safely
    assert tail_text(b"a\n\n" + b"b" * 2000, Redactor(), 50).startswith("…")


def test_secret_refs_finds_every_way_a_container_reads_a_secret() -> None:
    pod = {"spec": {"containers": [{"env": [
        {"name": "PGPASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
        {"name": "DB_PASSWORD", "value": "literal-pw"},
        {"name": "LOG_LEVEL", "value": "debug"},
    ], "envFrom": [{"secretRef": {"name": "all-of-it"}}, {"configMapRef": {"name": "cm"}}]}],
        "initContainers": [{"env": [{"name": "T", "valueFrom": {"secretKeyRef": {"name": "init"}}}]}]}}
    refs, literals = secret_refs(pod)
    assert refs == {("db", "password"), ("all-of-it", None), ("init", None)}
    assert literals == {"literal-pw"}


def test_exec_status_channel() -> None:
    assert parse_status(b'{"metadata":{},"status":"Success"}') == (0, None)
    failure = {"status": "Failure", "reason": "NonZeroExitCode",
               "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}, "message": "command terminated"}
    assert parse_status(json.dumps(failure).encode()) == (3, None)
    assert parse_status(b'{"status":"Failure","message":"exec failed: no such file"}') == (
        None, "exec failed: no such file")
    assert parse_status(b"")[0] is None
