"""Hooks cannot hold the cluster's backup hostage: annotation defaults, the namespace allow-list,
the timeout ceiling and the dump cap (pure logic; the runner's cap with a fake exec)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dr_lib.config import load_config, parse_size
from dr_lib.errors import ConfigError, HookSpecError
from dr_lib.hooks import runner
from dr_lib.hooks.policy import Defaults, declares_hooks, human_bytes, ignored_annotations
from dr_lib.hooks.settings import HookSettings
from dr_lib.hooks.spec import declaration_on_error, plan_for_pod
from dr_lib.kube.exec import ExecResult

DEFAULTS = Defaults(timeout=600.0, on_error="fail")
DUMP = {"dump.hook.backup.k3s-dr.io/command": "pg_dumpall"}
RULE = {"namespace": "shop", "selector": "app=db", "dump": "pg_dumpall"}


def pod(annotations: dict[str, str] | None = None, namespace: str = "shop") -> dict[str, Any]:
    return {"metadata": {"namespace": namespace, "name": "db-0", "annotations": annotations or {},
                         "labels": {"app": "db"}}, "spec": {"containers": [{"name": "db"}]}}


def on_error(annotations: dict[str, str], rules: tuple[dict[str, Any], ...] = (),
             defaults: Defaults = DEFAULTS) -> str:
    plan = plan_for_pod(pod(annotations), rules, defaults)
    assert plan is not None
    return plan.hooks["dump"].on_error


@pytest.mark.parametrize(("annotations", "rules", "defaults", "expected", "why"), [
    (DUMP, (), DEFAULTS, "continue", "annotations default to continue, whatever the rules' default"),
    ({**DUMP, "hook.k3s-dr.io/on-error": "fail"}, (), DEFAULTS, "fail", "an annotation may ask for fail"),
    ({**DUMP, "dump.hook.backup.k3s-dr.io/on-error": "fail"}, (), DEFAULTS, "fail", "per hook too"),
    (DUMP, (), Defaults(annotation_on_error="fail"), "fail", "hooks.annotation_on_error: fail"),
    ({}, (RULE,), DEFAULTS, "fail", "config rules keep hooks.on_error"),
    ({}, ({**RULE, "on_error": "continue"},), DEFAULTS, "continue", "and their own on_error"),
])
def test_on_error_defaults_by_where_a_hook_is_declared(annotations: dict[str, str], rules: tuple[dict[str, Any], ...],
                                                       defaults: Defaults, expected: str, why: str) -> None:
    assert on_error(annotations, rules, defaults) == expected, why


def test_annotations_outside_the_allow_list_are_ignored_and_said_so() -> None:
    allowed = Defaults(annotation_namespaces=frozenset({"shop", "billing"}))
    assert plan_for_pod(pod(DUMP, "tenant"), (), allowed) is None
    assert ignored_annotations(pod(DUMP, "tenant"), allowed) == (
        "pod tenant/db-0: hook annotations ignored: namespace 'tenant' is not in hooks.annotation_namespaces "
        "(billing, shop)")
    assert plan_for_pod(pod(DUMP, "shop"), (), allowed) is not None
    assert ignored_annotations(pod(DUMP, "shop"), allowed) is None
    assert ignored_annotations(pod({"app.kubernetes.io/name": "x"}, "tenant"), allowed) is None  # nothing to ignore
    assert ignored_annotations(pod(DUMP, "tenant"), DEFAULTS) is None  # no list: every namespace counts


def test_an_operators_rule_still_applies_where_annotations_are_ignored() -> None:
    allowed = Defaults(annotation_namespaces=frozenset({"billing"}))
    plan = plan_for_pod(pod({**DUMP, "hook.k3s-dr.io/on-error": "fail"}), (RULE,), allowed)
    assert plan is not None and plan.source == "config rule 0"


@pytest.mark.parametrize("key", ["pre.hook.backup.k3s-dr.io/command", "post.hook.restore.k3s-dr.io/command",
                                 "hook.k3s-dr.io/preset", "backup.k3s-dr.io/volumes"])
def test_every_hook_key_counts_as_a_declaration(key: str) -> None:
    assert declares_hooks({key: "x"})
    assert not declares_hooks({"hook.k3s-dr.io.evil/x": "y", "prehook.backup.k3s-dr.io/command": "z"})


@pytest.mark.parametrize(("annotations", "rules", "expected"), [
    ({"hook.k3s-dr.io/preset": "oracle"}, (), "continue"),
    ({"hook.k3s-dr.io/preset": "oracle", "hook.k3s-dr.io/on-error": "fail"}, (), "fail"),
    ({"hook.k3s-dr.io/preset": "oracle", "hook.k3s-dr.io/on-error": "maybe"}, (), "continue"),
    ({}, (RULE,), "fail"),
    ({}, ({**RULE, "on_error": "continue"},), "continue"),
])
def test_a_wrong_declaration_is_judged_by_the_policy_of_where_it_was_made(
        annotations: dict[str, str], rules: tuple[dict[str, Any], ...], expected: str) -> None:
    assert declaration_on_error(pod(annotations), rules, DEFAULTS) == expected


def test_a_timeout_above_the_ceiling_is_refused_naming_it() -> None:
    capped = Defaults(max_timeout=3600.0)
    with pytest.raises(HookSpecError) as caught:
        plan_for_pod(pod({**DUMP, "dump.hook.backup.k3s-dr.io/timeout": "2h"}), (), capped)
    assert str(caught.value) == ("pod shop/db-0: annotation dump.hook.backup.k3s-dr.io/timeout is '2h', longer than "
                                 "the ceiling hooks.max_timeout (3600 s): accepted is a duration up to that")
    plan = plan_for_pod(pod({**DUMP, "dump.hook.backup.k3s-dr.io/timeout": "1h"}), (), capped)
    assert plan is not None and plan.hooks["dump"].timeout == 3600.0


def test_config_limits_are_checked_when_the_configuration_is_loaded(tmp_path: Path) -> None:
    def settings(text: str) -> HookSettings:
        path = tmp_path / "config.yaml"
        path.write_text(text)
        return HookSettings.from_config(load_config(path, env={}).hooks)

    loaded = settings("hooks:\n  max_timeout: 30m\n  timeout: 5m\n  max_dump_size: 500Mi\n"
                      "  annotation_namespaces: [shop]\n  annotation_on_error: fail\n")
    assert loaded.defaults == Defaults(300.0, "fail", "fail", 1800.0, 500 << 20, frozenset({"shop"}))
    with pytest.raises(ConfigError, match=r"'hooks.timeout' has value '2h': accepted is a duration up to "
                                          r"hooks.max_timeout \(1h\)"):
        settings("hooks:\n  timeout: 2h\n")
    with pytest.raises(ConfigError, match=r"hooks.rules\[0\].*longer than the ceiling hooks.max_timeout"):
        settings("hooks:\n  rules:\n    - {namespace: shop, dump: x, timeout: 3h}\n")
    for bad in ("max_dump_size: 16GB", "max_dump_size: 0", "annotation_namespaces: [Shop]",
                "annotation_on_error: ignore", "max_timeout: forever"):
        with pytest.raises(ConfigError):
            settings(f"hooks:\n  {bad}\n")


@pytest.mark.parametrize(("text", "count"), [("123", 123), ("500Mi", 500 << 20), ("16Gi", 16 << 30), ("1Ti", 1 << 40)])
def test_sizes(text: str, count: int) -> None:
    assert parse_size(text) == count


def test_only_dump_hooks_carry_the_cap() -> None:
    plan = plan_for_pod(pod({"hook.k3s-dr.io/preset": "postgresql"}), (), Defaults(max_dump_bytes=1 << 20))
    assert plan is not None
    assert {phase: hook.max_output for phase, hook in plan.hooks.items()} == {
        "dump": 1 << 20, "restore": None, "verify": None}
    assert human_bytes(1 << 20) == "1 MiB" and human_bytes(1000) == "1000 bytes"


class FakeExec:
    """A fake of the exec API for the runner's own bounds: it 'prints' ``chunks`` to the sink, or raises what
    the sink raised, exactly as exec_in_pod does; calls are recorded."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.commands: list[list[str]] = []

    def __call__(self, _kube: Any, _ns: str, _pod: str, _container: str | None, command: list[str], *,
                 timeout: float, stdin: Any = None, stdout_sink: Any = None) -> ExecResult:
        self.commands.append(command)
        if "k3s-dr-kill" in command:
            return ExecResult(0, b"", b"", 0, 0.1)
        for chunk in self.chunks:
            stdout_sink(chunk)
        return ExecResult(0, b"", b"", sum(map(len, self.chunks)), 0.1)


def test_a_dump_past_its_cap_is_stopped_and_the_hook_killed(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeExec([b"x" * 600, b"y" * 600])
    monkeypatch.setattr(runner, "exec_in_pod", fake)
    plan = plan_for_pod(pod(DUMP), (), Defaults(max_dump_bytes=1000))
    assert plan is not None
    written: list[bytes] = []
    result, _stopped = runner.run_in_pod(None, plan, plan.hooks["dump"], stdout_sink=written.append)  # type: ignore[arg-type]
    assert written == [b"x" * 600], "the chunk that passes the cap is never written"
    assert result.exit_code is None and result.stdout_bytes == 600
    assert result.failure == ("its dump passed the cap of 1000 bytes (hooks.max_dump_size) and was stopped; "
                              "the hook's processes were killed")
    assert any("k3s-dr-kill" in command for command in fake.commands)


def test_a_dump_within_its_cap_and_other_hooks_stdout_tail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "exec_in_pod", FakeExec([b"a" * 1000]))
    plan = plan_for_pod(pod({**DUMP, "verify.hook.restore.k3s-dr.io/command": "count"}), (),
                        Defaults(max_dump_bytes=1000))
    assert plan is not None
    written: list[bytes] = []
    result, _ = runner.run_in_pod(None, plan, plan.hooks["dump"], stdout_sink=written.append)  # type: ignore[arg-type]
    assert result.failure is None and b"".join(written) == b"a" * 1000
    monkeypatch.setattr(runner, "exec_in_pod", FakeExec([b"b" * runner.KEPT_STDOUT] * 5 + [b"end"]))
    verify, _ = runner.run_in_pod(None, plan, plan.hooks["verify"])  # type: ignore[arg-type]
    assert len(verify.stdout) == runner.KEPT_STDOUT and verify.stdout.endswith(b"end")
    assert verify.stdout_bytes == 5 * runner.KEPT_STDOUT + 3
