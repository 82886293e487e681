"""Which restore hook a dump gets, and how a drill's data check judges what came back (pure logic)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dr_lib.archive.dataentry import HOOK_DUMP, DataEntry
from dr_lib.errors import HookSpecError
from dr_lib.hooks.datacheck import DataCheck, DataTarget
from dr_lib.hooks.restoredata import DataRestorer
from dr_lib.hooks.settings import HookSettings

ENTRY = DataEntry("data/hooks/shop/pg-0/postgresql.dump", HOOK_DUMP, 10, "a" * 64,
                  {"namespace": "shop", "pod": "pg-0", "container": "pg", "hook": "postgresql",
                   "preset": "postgresql", "params": {"database": "shop"}})


def live_pod(annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"namespace": "shop", "name": "pg-0", "annotations": annotations or {}}}


def restorer() -> DataRestorer:
    return DataRestorer(Path("/nonexistent/kubeconfig"), HookSettings())


def test_the_live_pods_annotations_decide_first() -> None:
    plan = restorer()._plan(live_pod({"post.hook.restore.k3s-dr.io/command": '["my-restore"]'}), ENTRY)
    assert plan.hooks["restore"].command == ("my-restore",)
    assert plan.source == "annotations"


def test_else_the_preset_recorded_with_the_dump_and_its_parameters() -> None:
    plan = restorer()._plan(live_pod(), ENTRY)
    assert plan.preset == "postgresql" and set(plan.hooks) == {"restore", "verify"}
    assert plan.hooks["restore"].container == "pg"
    assert plan.hooks["restore"].command[2].startswith("PGDATABASE=shop; export PGDATABASE; ")
    assert "pg_restore" in plan.hooks["restore"].command[2]


def test_no_restore_hook_anywhere_is_said_plainly() -> None:
    bare = DataEntry(ENTRY.path, HOOK_DUMP, 10, "a" * 64, {"namespace": "shop", "pod": "pg-0"})
    with pytest.raises(HookSpecError) as caught:
        restorer()._plan(live_pod(), bare)
    assert "no restore hook for pod shop/pg-0" in str(caught.value)


TARGET = DataTarget("data", "db-0", "db", "/var/lib/app.db", "StatefulSet data/db")


@pytest.mark.parametrize(("written", "read", "ok"), [
    ({"rows": 100, "sha256": "x"}, {"rows": 100, "sha256": "x"}, True),
    ({"rows": 100, "sha256": "x"}, {"rows": 100, "sha256": "y"}, False),
    ({"rows": 100, "sha256": "x"}, {"rows": 0, "sha256": "e"}, False),
    ({"rows": 0, "sha256": "e"}, {"rows": 0, "sha256": "e"}, False),  # nothing written proves nothing
    ({"rows": 100, "sha256": "x"}, None, False),
])
def test_a_data_check_is_ok_only_when_every_written_row_came_back(written: dict[str, Any],
                                                                   read: dict[str, Any] | None, ok: bool) -> None:
    check = DataCheck(TARGET, written, read)
    assert check.ok is ok
    assert check.to_json()["ok"] is ok and check.to_json()["workload"] == "StatefulSet data/db"
