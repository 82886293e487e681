"""Push metrics: per configured target, from the last push and the last successful push (pure), and
their place in the metrics state file (old state files without pushes still load)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from prometheus_client.parser import text_string_to_metric_families

from dr_lib.errors import EnvironmentProblem
from dr_lib.metrics.collect import render
from dr_lib.metrics.records import PushRecord, State
from dr_lib.metrics.statefile import read_state
from tests.unit._metrics_inputs import CREATED, NOW, full_inputs, full_state


def samples(text: str) -> dict[tuple[str, str], float]:
    return {(s.name, s.labels.get("target", "")): s.value
            for family in text_string_to_metric_families(text) for s in family.samples
            if s.name.startswith("k3s_dr_offsite_")}


def test_each_configured_target_has_its_last_push_and_last_success() -> None:
    got = samples(render("k3s_dr_", full_inputs()))
    assert got == {
        # lab: pushed fine after the backup
        ("k3s_dr_offsite_push_last_timestamp_seconds", "lab"): CREATED + 60,
        ("k3s_dr_offsite_push_last_status", "lab"): 1.0,
        ("k3s_dr_offsite_push_duration_seconds", "lab"): 2.5,
        ("k3s_dr_offsite_push_last_success_timestamp_seconds", "lab"): CREATED + 60,
        ("k3s_dr_offsite_push_bytes", "lab"): 111_800.0,
        ("k3s_dr_offsite_remote_copies", "lab"): 5.0,
        # home: the last push failed a minute ago; what is offsite is still the earlier success
        ("k3s_dr_offsite_push_last_timestamp_seconds", "home"): NOW - 60,
        ("k3s_dr_offsite_push_last_status", "home"): 0.0,
        ("k3s_dr_offsite_push_duration_seconds", "home"): 0.4,
        ("k3s_dr_offsite_push_last_success_timestamp_seconds", "home"): CREATED + 60,
        ("k3s_dr_offsite_push_bytes", "home"): 2048.0,
        ("k3s_dr_offsite_remote_copies", "home"): 5.0,
    }


def test_a_target_never_pushed_has_zero_times_and_nothing_invented() -> None:
    got = samples(render("k3s_dr_", full_inputs(offsite_targets=("lab", "new"))))
    assert got[("k3s_dr_offsite_push_last_timestamp_seconds", "new")] == 0.0  # "older than" alerts fire
    assert got[("k3s_dr_offsite_push_last_success_timestamp_seconds", "new")] == 0.0
    assert not {name for name, target in got if target == "new"} - {
        "k3s_dr_offsite_push_last_timestamp_seconds", "k3s_dr_offsite_push_last_success_timestamp_seconds"}
    assert "home" not in {target for _, target in got}  # no longer configured: not exported


def test_without_offsite_targets_no_offsite_metric_is_emitted() -> None:
    assert samples(render("k3s_dr_", full_inputs(offsite_targets=()))) == {}


def test_a_failure_keeps_the_last_success() -> None:
    ok = PushRecord(at=100.0, ok=True, seconds=1.0, bytes_sent=10, remote_copies=3)
    state = State().with_push("lab", ok).with_push("lab", PushRecord(at=200.0, ok=False, error="unreachable"))
    assert state.pushes["lab"].ok is False and state.last_push_success["lab"] == ok
    assert state.with_push("lab", replace(ok, at=300.0)).last_push_success["lab"].at == 300.0


def test_the_state_round_trips_with_pushes_and_older_states_still_load(tmp_path) -> None:
    state = full_state()
    assert State.from_dict(json.loads(json.dumps(state.to_dict()))) == state
    older = state.to_dict()
    del older["pushes"], older["last_push_success"]  # written before offsite pushes were recorded
    path = tmp_path / "metrics-state.json"
    path.write_text(json.dumps(older))
    loaded = read_state(path)
    assert loaded.pushes == {} and loaded.drill == state.drill


def test_a_damaged_push_record_is_a_clear_problem(tmp_path) -> None:
    data = full_state().to_dict()
    data["pushes"]["lab"]["bytes_sent"] = "lots"
    path = tmp_path / "metrics-state.json"
    path.write_text(json.dumps(data))
    with pytest.raises(EnvironmentProblem, match=r"PushRecord\.bytes_sent"):
        read_state(path)
