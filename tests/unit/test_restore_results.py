"""Pure parts around the applier: readiness rules, ledger outcome, dry-run dependencies, CLI parsing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from dr_lib.errors import UsageError
from dr_lib.jobs.restore_options import parse_mapping
from dr_lib.restore.ledger import CREATED, FAILED, SKIPPED, Entry, Ledger, detail_rows, summary_rows
from dr_lib.restore.plan import ObjectKey
from dr_lib.restore.plan.dependencies import unmet_dependency
from dr_lib.restore.wait import WaitContext, pending_reason, poll_until, wait_until_ready

# (case, resource, live object, context, None = ready, else fragment of what is pending)
READINESS: list[tuple[str, str, dict[str, Any], WaitContext, str | None]] = [
    ("deployment available", "deployments.apps",
     {"metadata": {"generation": 1}, "spec": {"replicas": 2},
      "status": {"observedGeneration": 1, "availableReplicas": 2, "updatedReplicas": 2}}, WaitContext(), None),
    ("deployment short", "deployments.apps",
     {"metadata": {"generation": 1}, "spec": {"replicas": 2},
      "status": {"observedGeneration": 1, "availableReplicas": 1, "updatedReplicas": 2}}, WaitContext(), "1/2"),
    ("deployment not observed", "deployments.apps",
     {"metadata": {"generation": 2}, "spec": {"replicas": 1}, "status": {"observedGeneration": 1}}, WaitContext(),
     "not yet observed"),
    ("deployment scaled to zero", "deployments.apps",
     {"metadata": {"generation": 1}, "spec": {"replicas": 0}, "status": {"observedGeneration": 1}}, WaitContext(),
     None),
    ("statefulset ready", "statefulsets.apps",
     {"metadata": {"generation": 1}, "spec": {"replicas": 1}, "status": {"observedGeneration": 1, "readyReplicas": 1}},
     WaitContext(), None),
    ("daemonset partly ready", "daemonsets.apps",
     {"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "desiredNumberScheduled": 3,
                                                "numberReady": 2}}, WaitContext(), "2/3"),
    ("pod ready", "pods", {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}},
     WaitContext(), None),
    ("pod pending", "pods", {"status": {"phase": "Pending"}}, WaitContext(), "Pending"),
    ("claim bound", "persistentvolumeclaims", {"status": {"phase": "Bound"}}, WaitContext(), None),
    ("claim pending", "persistentvolumeclaims", {"metadata": {"namespace": "a", "name": "c"},
                                                 "spec": {"storageClassName": "fast"}, "status": {"phase": "Pending"}},
     WaitContext({"fast": "Immediate"}), "Pending"),
    ("late-binding claim nobody mounts", "persistentvolumeclaims",
     {"metadata": {"namespace": "a", "name": "c"}, "spec": {"storageClassName": "local-path"},
      "status": {"phase": "Pending"}}, WaitContext({"local-path": "WaitForFirstConsumer"}), None),
    ("late-binding claim a pod mounts", "persistentvolumeclaims",
     {"metadata": {"namespace": "a", "name": "c"}, "spec": {"storageClassName": "local-path"},
      "status": {"phase": "Pending"}}, WaitContext({"local-path": "WaitForFirstConsumer"}, {("a", "c")}), "Pending"),
]


@pytest.mark.parametrize(("resource", "obj", "ctx", "pending"), [c[1:] for c in READINESS],
                         ids=[c[0] for c in READINESS])
def test_readiness(resource: str, obj: dict[str, Any], ctx: WaitContext, pending: str | None) -> None:
    reason = pending_reason(resource, obj, ctx)
    if pending is None:
        assert reason is None
    else:
        assert reason is not None and pending in reason


def _entry(result: str) -> Entry:
    return Entry("config-maps", "configmaps", "ConfigMap", "a", f"c-{result}", result, "why")


@pytest.mark.parametrize(("results", "wait", "outcome"), [
    ([CREATED, SKIPPED], None, "complete"),
    ([CREATED, FAILED], None, "partial"),
    ([FAILED, FAILED], None, "failed"),
    ([], None, "complete"),
    ([CREATED], {"ready": False}, "partial"),
    ([CREATED], {"ready": True}, "complete"),
])
def test_ledger_outcome(results: list[str], wait: dict[str, Any] | None, outcome: str) -> None:
    ledger = Ledger("a.tar.gz", False, "skip", "2026-11-28T10:00:00Z", [_entry(r) for r in results], wait=wait)
    assert ledger.outcome == outcome
    assert ledger.complete is (outcome == "complete")
    data = ledger.to_dict()
    assert set(data["counts"]) == {"created", "updated", "unchanged", "skipped", "failed"}
    assert sum(data["counts"].values()) == len(results)


def test_tables() -> None:
    ledger = Ledger("a", False, "skip", "t", [_entry(CREATED), _entry(FAILED)])
    assert summary_rows(ledger)[-1] == ("TOTAL", "1", "0", "0", "0", "1")
    assert [row[0] for row in detail_rows(ledger)] == ["RESULT", FAILED]
    assert len(detail_rows(ledger, include_created=True)) == 3


PLANNED = frozenset({ObjectKey("priorityclasses.scheduling.k8s.io", "", "high"),
                     ObjectKey("serviceaccounts", "shop", "builder")})


@pytest.mark.parametrize(("message", "namespace", "expected"), [
    ('pods "p" is forbidden: no PriorityClass with name high was found', "shop", "priorityclasses"),
    ('pods "p" is forbidden: no PriorityClass with name other was found', "shop", None),
    ('pods "p" is forbidden: error looking up service account default/builder: serviceaccount "builder" not found',
     "shop", "serviceaccounts builder"),
    ("something else entirely", "shop", None),
])
def test_dry_run_dependencies(message: str, namespace: str, expected: str | None) -> None:
    reason = unmet_dependency(message, namespace, PLANNED)
    if expected is None:
        assert reason is None
    else:
        assert reason is not None and expected in reason


@pytest.mark.parametrize(("values", "result"), [
    (("a:b",), (("a", "b"),)),
    (("a:b", "c:d"), (("a", "b"), ("c", "d"))),
])
def test_namespace_mapping_parse(values: tuple[str, ...], result: tuple[tuple[str, str], ...]) -> None:
    assert parse_mapping(values) == result


@pytest.mark.parametrize("values", [("ab",), ("a:B",), ("a:b", "a:c"), ("../x:y",)])
def test_namespace_mapping_refused(values: tuple[str, ...]) -> None:
    with pytest.raises(UsageError):
        parse_mapping(values)


def test_poll_until_gives_up_at_the_deadline() -> None:
    now = [0.0]
    calls = []

    def fetch() -> int:
        calls.append(now[0])
        return 0

    def sleep(seconds: float) -> None:
        now[0] += seconds

    assert poll_until(fetch, lambda v: v == 1, 3.0, clock=lambda: now[0], sleep=sleep) is None
    assert now[0] == pytest.approx(3.0) and len(calls) >= 2
    assert poll_until(lambda: 1, lambda v: v == 1, 0.0, clock=lambda: 10.0, sleep=sleep) == 1


@dataclass
class FakeResponse:
    body: dict[str, Any]
    ok: bool = True
    reason: str = ""


@dataclass
class FakeWriter:
    """A FAKE restore writer: answers LISTs of pods from a script, one answer per round."""

    rounds: list[list[dict[str, Any]]]
    server: str = "https://fake"
    asked: list[str] = field(default_factory=list)

    def get(self, path: str) -> FakeResponse:
        self.asked.append(path)
        items = self.rounds[0] if len(self.rounds) == 1 else self.rounds.pop(0)
        return FakeResponse({"items": items})


def _pod(name: str, ready: bool) -> dict[str, Any]:
    conditions = [{"type": "Ready", "status": "True"}] if ready else []
    return {"metadata": {"namespace": "a", "name": name}, "status": {"phase": "Running", "conditions": conditions}}


@pytest.mark.parametrize(("rounds", "ready", "pending", "slept"), [
    ([[_pod("p", False)], [_pod("p", False)], [_pod("p", True)]], True, {}, 2.0),
    ([[_pod("p", False)]], False, {"pods a/p": "pod Running, not Ready"}, 5.0),  # the deadline passes
    ([[]], False, {"pods a/p": "not found"}, 5.0),
])
def test_wait_until_ready_polls_each_round_until_ready_or_the_deadline(
        rounds: list[list[dict[str, Any]]], ready: bool, pending: dict[str, str], slept: float) -> None:
    now = [0.0]
    writer = FakeWriter(rounds)
    entries = [Entry("workloads", "pods", "Pod", "a", "p", CREATED),
               Entry("workloads", "pods", "Pod", "a", "x", FAILED)]
    result = wait_until_ready(writer, entries, 5.0, clock=lambda: now[0],  # type: ignore[arg-type]
                              sleep=lambda s: now.__setitem__(0, now[0] + s), interval=1.0)
    assert (result.ready, result.pending, result.watched) == (ready, pending, 1)  # the failed entry is not watched
    assert now[0] == pytest.approx(slept) and result.seconds == pytest.approx(slept)
    assert set(writer.asked) == {"/api/v1/pods"}


def test_a_long_wait_tells_what_it_waits_for_at_intervals_and_a_short_one_stays_quiet() -> None:
    now = [0.0]
    lines: list[str] = []
    pods = [_pod(f"p{i}", False) for i in range(5)]
    entries = [Entry("workloads", "pods", "Pod", "a", f"p{i}", CREATED) for i in range(5)]
    result = wait_until_ready(FakeWriter([pods]), entries, 60.0, clock=lambda: now[0],  # type: ignore[arg-type]
                              sleep=lambda s: now.__setitem__(0, now[0] + s), interval=1.0,
                              progress=lines.append, every=15.0)
    assert not result.ready
    assert len(lines) == 4, lines  # at 15, 30, 45 and 60 s of 60
    assert lines[0] == ("waiting: 5 of 5 workloads and claims not ready after 15 s of 60 s — pods a/p0: pod Running, "
                        "not Ready, pods a/p1: pod Running, not Ready, pods a/p2: pod Running, not Ready, and 2 more")
    now[0], quiet = 0.0, []
    ready_soon = FakeWriter([[_pod("p0", False)], [_pod("p0", True)]])
    wait_until_ready(ready_soon, entries[:1], 60.0, clock=lambda: now[0],  # type: ignore[arg-type]
                     sleep=lambda s: now.__setitem__(0, now[0] + s), interval=1.0, progress=quiet.append)
    assert quiet == []
