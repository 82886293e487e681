"""What a drill did not cover: the scope limits as a table of cases, and the verdict they give."""

from __future__ import annotations

import pytest

from dr_lib.drill.scope import ScopeFacts, limits, scope_json, verdict_text

KWOK = ScopeFacts("synthetic", nodes_observed=True, simulated_nodes=("kwok-0", "kwok-1"), real_nodes=(),
                  simulated_workloads=("Deployment insightlearn/web",), volume_data_checked=False,
                  datastore_backed_up=False, production_source=False)
ALL_REAL = ScopeFacts("archive", nodes_observed=True, simulated_nodes=(), real_nodes=("node-a",),
                      simulated_workloads=(), volume_data_checked=True, datastore_backed_up=True,
                      production_source=True)


def _with(base: ScopeFacts, **changes: object) -> ScopeFacts:
    return ScopeFacts(**{**base.__dict__, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(("facts", "expected"), [
    (KWOK, ["synthetic-application", "simulated-nodes", "no-volume-data", "no-datastore", "not-production"]),
    (ALL_REAL, []),
    (_with(ALL_REAL, kind="synthetic"), ["synthetic-application"]),
    (_with(ALL_REAL, simulated_nodes=("kwok-0",)), ["simulated-nodes"]),
    (_with(ALL_REAL, volume_data_checked=False), ["no-volume-data"]),
    (_with(ALL_REAL, datastore_backed_up=False), ["no-datastore"]),
    (_with(ALL_REAL, production_source=False), ["not-production"]),
    # --real-node on the local provider: the database runs for real, the other pods still on kwok
    (_with(KWOK, real_nodes=("localhost",), volume_data_checked=True),
     ["synthetic-application", "simulated-nodes", "no-datastore", "not-production"]),
], ids=["kwok drill", "everything real", "synthetic", "one kwok node", "no data", "no datastore", "staging source",
        "real node"])
def test_limits(facts: ScopeFacts, expected: list[str]) -> None:
    assert [limit.id for limit in limits(facts)] == expected


def test_simulated_nodes_are_named_with_what_ran_on_them() -> None:
    (simulated,) = [limit for limit in limits(KWOK) if limit.id == "simulated-nodes"]
    assert simulated.what == ("simulated nodes (kwok): kwok-0, kwok-1; pods of Deployment insightlearn/web ran "
                              "there; no real node")
    assert "no image was pulled" in simulated.why and "--real-node" in simulated.cover
    unseen = next(x for x in limits(_with(KWOK, nodes_observed=False)) if x.id == "simulated-nodes")
    assert "ended before it could list them" in unseen.what


@pytest.mark.parametrize(("verdict", "facts", "text"), [
    ("pass", KWOK, "pass (limited scope)"), ("pass", ALL_REAL, "pass"),
    ("fail", KWOK, "fail"), ("fail", ALL_REAL, "fail"),
])
def test_verdict_text(verdict: str, facts: ScopeFacts, text: str) -> None:
    assert verdict_text(verdict, limits(facts)) == text


def test_scope_json() -> None:
    assert scope_json(limits(ALL_REAL)) == {"limited": False, "limits": []}
    data = scope_json(limits(KWOK))
    assert data["limited"] is True and set(data["limits"][0]) == {"id", "what", "why", "covered_by"}


def test_an_archive_drill_says_why_its_data_and_datastore_were_not_covered() -> None:
    facts = _with(ALL_REAL, volume_data_checked=False, datastore_backed_up=False,
                  data_not_checked=("1 volume copies: no node of the target has this machine's disk",))
    found = {limit.id: limit for limit in limits(facts)}
    assert list(found) == ["no-volume-data", "no-datastore"]  # neither synthetic nor "not production"
    assert found["no-volume-data"].what.endswith("— 1 volume copies: no node of the target has this machine's disk")
    assert found["no-datastore"].what.startswith("no datastore: the archive holds no k3s datastore snapshot")
    synthetic = {limit.id: limit for limit in limits(KWOK)}
    assert "--archive PATH|latest" in synthetic["synthetic-application"].cover
    assert "when available" not in synthetic["synthetic-application"].cover
