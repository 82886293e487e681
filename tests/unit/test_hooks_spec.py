"""Hook declarations: annotations and config rules → plans, and the exact reason a declaration is wrong."""

from __future__ import annotations

from typing import Any

import pytest

from dr_lib.config import load_config
from dr_lib.errors import ConfigError, HookSpecError
from dr_lib.hooks.settings import HookSettings
from dr_lib.hooks.spec import Defaults, plan_for_pod, selector_matches

DEFAULTS = Defaults(timeout=600.0, on_error="fail")


def pod(annotations: dict[str, str] | None = None, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"namespace": "shop", "name": "db-0", "annotations": annotations or {},
                         "labels": labels or {}}, "spec": {"containers": [{"name": "db"}]}}


def test_a_pod_without_declarations_has_no_plan() -> None:
    assert plan_for_pod(pod(), (), DEFAULTS) is None


def test_annotations_in_the_velero_style() -> None:
    plan = plan_for_pod(pod({
        "pre.hook.backup.k3s-dr.io/command": '["/bin/sync"]',
        "pre.hook.backup.k3s-dr.io/container": "db",
        "pre.hook.backup.k3s-dr.io/timeout": "30s",
        "pre.hook.backup.k3s-dr.io/on-error": "Continue",
        "dump.hook.backup.k3s-dr.io/command": "pg_dumpall",
        "post.hook.restore.k3s-dr.io/command": '["psql"]',
    }), (), DEFAULTS)
    assert plan is not None
    pre = plan.hooks["pre"]
    assert (pre.command, pre.container, pre.timeout, pre.on_error) == (("/bin/sync",), "db", 30.0, "continue")
    dump = plan.hooks["dump"]
    assert dump.command == ("/bin/sh", "-c", "pg_dumpall")  # text runs through the shell
    # annotation hooks default to continue (hooks.annotation_on_error), whatever the rules' default
    assert (dump.timeout, dump.on_error, dump.magic) == (600.0, "continue", ())
    assert plan.hooks["restore"].command == ("psql",)
    assert plan.volume_mode == "quiesced"  # a pre hook quiesces
    assert plan.source == "annotations"
    assert plan.name == "dump"


def test_a_preset_fills_every_phase_and_its_signature() -> None:
    plan = plan_for_pod(pod({"hook.k3s-dr.io/preset": "postgres", "hook.k3s-dr.io/preset-params": "database=app",
                             "hook.k3s-dr.io/container": "db"}), (), DEFAULTS)
    assert plan is not None
    assert plan.preset == "postgresql" and plan.name == "postgresql"
    assert set(plan.hooks) == {"dump", "restore", "verify"}
    assert plan.hooks["dump"].magic == (b"PGDMP",)
    assert plan.hooks["dump"].container == "db"
    assert plan.hooks["dump"].command[2].startswith("PGDATABASE=app; export PGDATABASE; ")
    assert dict(plan.params) == {"database": "app"}


def test_an_explicit_command_beats_the_preset_and_drops_its_signature() -> None:
    plan = plan_for_pod(pod({"hook.k3s-dr.io/preset": "sqlite", "hook.k3s-dr.io/preset-params": "database=/x",
                             "dump.hook.backup.k3s-dr.io/command": "cat /x"}), (), DEFAULTS)
    assert plan is not None
    assert plan.hooks["dump"].command == ("/bin/sh", "-c", "cat /x")
    assert plan.hooks["dump"].magic == ()


@pytest.mark.parametrize(("annotations", "message"), [
    ({"hook.k3s-dr.io/preset": "oracle"}, "hook.k3s-dr.io/preset is 'oracle': accepted is one of postgresql"),
    ({"dump.hook.backup.k3s-dr.io/command": "[\"pg_dump\", "}, "is not a JSON array"),
    ({"dump.hook.backup.k3s-dr.io/command": "[]"}, "non-empty list of strings"),
    ({"dump.hook.backup.k3s-dr.io/command": "x", "dump.hook.backup.k3s-dr.io/timeout": "soon"},
     "dump.hook.backup.k3s-dr.io/timeout is 'soon': accepted is a duration"),
    ({"dump.hook.backup.k3s-dr.io/command": "x", "dump.hook.backup.k3s-dr.io/on-error": "ignore"},
     "accepted is fail or continue"),
    ({"hook.k3s-dr.io/preset": "postgresql", "hook.k3s-dr.io/preset-params": "dbname=x"},
     "names 'dbname': accepted is database, host, user"),
    ({"backup.k3s-dr.io/volumes": "data", "backup.k3s-dr.io/volume-mode": "quiesced"},
     "no pre hook is declared to quiesce"),
    ({"backup.k3s-dr.io/volumes": "Data_1"}, "names 'Data_1'"),
])
def test_bad_annotations_name_the_pod_key_value_and_what_is_accepted(annotations: dict[str, str],
                                                                      message: str) -> None:
    with pytest.raises(HookSpecError) as caught:
        plan_for_pod(pod(annotations), (), DEFAULTS)
    assert "pod shop/db-0" in str(caught.value)
    assert message in str(caught.value)


def test_volumes_alone_are_copied_consistent_enough() -> None:
    plan = plan_for_pod(pod({"backup.k3s-dr.io/volumes": "data, logs"}), (), DEFAULTS)
    assert plan is not None
    assert plan.volumes == ("data", "logs") and not plan.hooks
    assert plan.volume_mode == "consistent-enough"


RULE = {"namespace": "shop", "selector": "app=db", "preset": "postgresql", "container": "db",
        "params": {"database": "app"}, "timeout": "2m", "on_error": "continue", "volumes": ["data"]}


def test_a_config_rule_declares_hooks_for_a_pod_nobody_can_annotate() -> None:
    plan = plan_for_pod(pod(labels={"app": "db"}), (RULE,), DEFAULTS)
    assert plan is not None
    assert plan.source == "config rule 0"
    assert plan.hooks["dump"].timeout == 120.0 and plan.hooks["dump"].on_error == "continue"
    assert plan.hooks["dump"].container == "db"
    assert plan.volumes == ("data",)
    assert plan_for_pod(pod(labels={"app": "web"}), (RULE,), DEFAULTS) is None


def test_annotations_win_over_a_matching_rule() -> None:
    plan = plan_for_pod(pod({"dump.hook.backup.k3s-dr.io/command": "x"}, {"app": "db"}), (RULE,), DEFAULTS)
    assert plan is not None and plan.source == "annotations"


def test_label_selectors() -> None:
    labels = {"app": "db", "tier": "data"}
    assert selector_matches("app=db,tier==data", labels)
    assert selector_matches("app, !missing, tier!=web", labels)
    assert not selector_matches("app=web", labels)
    assert not selector_matches("missing", labels)
    assert not selector_matches("!app", labels)


def test_config_section_and_a_bad_rule_is_refused_before_any_backup(tmp_path: Any) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("hooks:\n  timeout: 5m\n  on_error: continue\n  rules:\n"
                    "    - {namespace: shop, selector: app=db, preset: postgresql}\n")
    config = load_config(good, env={})
    settings = HookSettings.from_config(config.hooks)
    assert settings.defaults == Defaults(300.0, "continue", "continue", 3600.0, 16 << 30, frozenset())
    assert settings.rules[0]["preset"] == "postgresql"
    assert "localhost" in settings.local_nodes
    bad = tmp_path / "bad.yaml"
    bad.write_text("hooks:\n  rules:\n    - {namespace: shop, preset: oracle}\n")
    with pytest.raises(ConfigError) as caught:
        HookSettings.from_config(load_config(bad, env={}).hooks)
    assert "hooks.rules[0]" in str(caught.value) and "oracle" in str(caught.value)
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("hooks:\n  rules:\n    - {namespace: shop, command: x}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(unknown, env={})
    assert "hooks.rules" in str(caught.value)
