"""The evidence's scope facts (kwok nodes say so plainly) and an archive drill's JSON fields."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dr_lib.archive import verify_archive
from dr_lib.clock import utc_now
from dr_lib.cluster.provider import LOADED, ImageLoad, ImageSet
from dr_lib.drill.archive_input import ArchiveInput
from dr_lib.drill.evidence import build_evidence
from dr_lib.drill.facts import ARCHIVE_DEFINITIONS, drill_facts
from dr_lib.drill.pods import PodFact
from dr_lib.drill.run import DrillRun, DrillSettings
from dr_lib.drill.runner import archive_fields, verified_objects
from dr_lib.drill.timeline import Timeline
from dr_lib.drill.verdict import Targets, judge
from tests.unit._archive_factory import CONFIGMAPS, IDENTITY, good_archive


def _run(tmp_path: Path, **settings: Any) -> DrillRun:
    return DrillRun(DrillSettings(**settings), "abc123", tmp_path / "report", tmp_path / "work", Timeline(utc_now()),
                    env={})


def _pod(name: str, simulated: bool, ready: bool = True) -> PodFact:
    return PodFact("insightlearn", name, "kwok-0" if simulated else "localhost", simulated,
                   "Running" if ready else "Pending", ready, ({"name": "web", "image": "img", "ready": ready,
                                                              "state": "running"},))


def test_pods_on_kwok_nodes_are_recorded_as_simulated(tmp_path: Path) -> None:
    run = _run(tmp_path)
    run.images = ImageSet({"app": "docker.io/local/debian:bookworm"}, LOADED, "built here")
    run.image_loads = [ImageLoad("drill-abc123-src", "none: every node is simulated (kwok), no container runs",
                                 ("docker.io/local/debian:bookworm",), 0.0)]
    run.pods = {"source": [_pod("web-1", True), _pod("db-0", False)], "target": [_pod("web-2", True)]}
    facts = drill_facts(run)
    scope = facts["coverage"]
    assert facts["archive"] is None and "definitions" not in facts
    assert build_evidence(run, judge(run.timeline, None, Targets(900, 3600)), utc_now())["kind"] == "synthetic"
    assert scope["simulated_nodes"] is True and scope["real_nodes"] is True
    assert scope["pod_counts"] == {"source": {"pods": 2, "real": 1, "simulated": 1, "running_and_ready": 2},
                                   "target": {"pods": 1, "real": 0, "simulated": 1, "running_and_ready": 1}}
    assert scope["pods"]["target"][0]["node"] == "kwok-0"
    assert scope["images"]["pull_policy"] == "Never" and scope["images"]["loads"][0]["how"].startswith("none:")
    assert scope["source_cluster_touched"] is True
    assert scope["application_data"]["checked"] is False and "no real node" in scope["application_data"]["reason"]


def test_real_pods_only_is_no_simulation(tmp_path: Path) -> None:
    run = _run(tmp_path)
    run.pods = {"target": [_pod("web-1", False), _pod("web-2", False, ready=False)]}
    scope = drill_facts(run)["coverage"]
    assert scope["simulated_nodes"] is False and scope["real_nodes"] is True
    assert scope["pod_counts"]["target"]["running_and_ready"] == 1


def test_an_archive_drill_names_its_archive_and_says_what_did_not_apply(tmp_path: Path) -> None:
    archive = good_archive(tmp_path, {CONFIGMAPS: [CONFIGMAPS.obj("a")]})
    run = _run(tmp_path, archive=archive)
    run.archive = ArchiveInput(str(archive), archive, archive, verify_archive(archive), "the file given (--archive)")
    run.identity.update(kubernetes_version_source="v1.34.2", kubernetes_version_target="v1.35.4")
    run.inapplicable.append(("destroy", "losing the source cluster", "a drill never touches it"))
    run.inapplicable.append(("verify", "application data checks", "the archive holds no application data"))
    facts = drill_facts(run)
    assert facts["definitions"] == ARCHIVE_DEFINITIONS
    assert facts["kubernetes_versions"] == {"source": "v1.34.2", "target": "v1.35.4"}
    assert facts["archive"]["source_cluster"] == IDENTITY.to_dict() and facts["archive"]["name"] == archive.name
    scope = facts["coverage"]
    assert scope["source_cluster_touched"] is False and scope["application"] == f"the archive {archive.name}"
    assert {"step": "destroy", "what": "losing the source cluster", "reason": "a drill never touches it"} in \
        scope["not_applicable"]
    assert scope["application_data"] == {"checked": False, "reason": "the archive holds no application data"}
    evidence = build_evidence(run, judge(run.timeline, None, Targets(900, 3600)), utc_now())
    assert evidence["kind"] == "archive"
    assert evidence["definitions"]["rto"].startswith("seconds from the start of the restore")
    limits = {limit["id"]: limit["what"] for limit in evidence["scope"]["limits"]}
    assert "synthetic-application" not in limits and "not-production" not in limits  # the team's own archive
    assert "no-datastore" in limits and "the archive holds no k3s datastore" in limits["no-datastore"]
    assert "the archive holds no application data" in limits["no-volume-data"]
    assert evidence["coverage"] == scope and evidence["archive"]["sha256"] == run.archive.sha256


@pytest.mark.parametrize(("evidence", "fields", "objects"), [
    ({"kind": "synthetic", "backup": {"objects": 186}, "counts": {"equal": 34}}, {}, 186),
    ({"kind": "archive", "archive": {"path": "/b/k3s-dr-x.tar.gz", "sha256": "ab"}, "backup": {"objects": 168},
      "counts": {"equal": 28}}, {"archive": "/b/k3s-dr-x.tar.gz", "archive_sha256": "ab"}, 28),
    ({"kind": "archive", "archive": None, "counts": None}, {"archive": None, "archive_sha256": None}, 0),
])
def test_json_fields_of_each_kind(evidence: dict[str, Any], fields: dict[str, Any], objects: int) -> None:
    assert archive_fields(evidence) == fields
    assert verified_objects(evidence) == objects
