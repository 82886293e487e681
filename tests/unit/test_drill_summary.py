"""The auditor's summary of a drill, from a drill run recorded by hand (FAKE values, no cluster):
evidence.json's new fields and the static HTML built from them."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from dr_lib.drill.commands import CommandRun
from dr_lib.drill.evidence import build_evidence
from dr_lib.drill.live import NodeInfo
from dr_lib.drill.report import junit_in_utc, place_summary
from dr_lib.drill.run import BackupRecord, DrillRun, DrillSettings
from dr_lib.drill.steps import current_verdict
from dr_lib.drill.summary import summary_block
from dr_lib.drill.timeline import PASSED, STEP_NAMES, Phase, StepOutcome, Timeline
from dr_lib.drill.verify import ObjectResult, Verification

T0 = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
EVIL = "<script>alert(1)</script>"


def _run(tmp_path: Path, *, nodes: list[NodeInfo], datastore: bool = False, interval: int | None = 3600,
         identity: dict[str, str] | None = None, evil: bool = False) -> DrillRun:
    timeline = Timeline(T0)
    for i, name in enumerate(STEP_NAMES):
        timeline.add_step(StepOutcome(name, PASSED, T0 + timedelta(seconds=10 * i), 9.0))
    timeline.add_phase(Phase("restore", "restore-and-wait", T0 + timedelta(seconds=31), 6.0, "k3s-dr restore …"))
    timeline.mark_disaster(T0 + timedelta(seconds=25), 25.0)
    timeline.mark_recovered(T0 + timedelta(seconds=49), 49.0)
    run = DrillRun(DrillSettings(backup_interval_seconds=interval), "ab12cd", tmp_path, tmp_path, timeline, {},
                   identity={"provider": "local", "kubernetes_version_source": "v1.34.2", **(identity or {})})
    result = {"datastore": "sqlite" if datastore else None}
    run.backup = BackupRecord(Path("k3s-dr-20261128T120020Z.tar.gz"), "f" * 64, 1000, T0 + timedelta(seconds=20), 5,
                              4, CommandRun(("backup",), 0, {}, "", 1.0), result)
    web = "web" if not evil else EVIL
    run.verification = Verification([
        ObjectResult("Deployment", "deployments.apps", "insightlearn", web, "equal", health="2/2 replicas Ready",
                     nodes=("kwok-0", "kwok-1")),
        ObjectResult("PersistentVolumeClaim", "persistentvolumeclaims", "insightlearn-data", "db-data", "equal",
                     health="Bound"),
        ObjectResult("Service", "services", "insightlearn", "web", "equal", health="2 ready endpoints"),
        ObjectResult("ConfigMap", "configmaps", "insightlearn", "settings", "equal"),
        ObjectResult("ConfigMap", "configmaps", "insightlearn", "kube-root-ca.crt", "left-out",
                     ("published by the kube-controller-manager in every namespace" if not evil else EVIL,)),
    ], 1.0, nodes)
    return run


KWOK_NODES = [NodeInfo("kwok-0", True, True, "fake"), NodeInfo("kwok-1", True, True, "fake")]


def _evidence(run: DrillRun) -> dict[str, Any]:
    return build_evidence(run, current_verdict(run), T0 + timedelta(seconds=60))


def test_a_kwok_drill_passes_with_limited_scope_and_lists_what_was_simulated(tmp_path: Path) -> None:
    evidence = _evidence(_run(tmp_path, nodes=KWOK_NODES))
    assert evidence["verdict"] == "pass" and evidence["verdict_summary"] == "pass (limited scope)"
    assert [x["id"] for x in evidence["scope"]["limits"]] == ["synthetic-application", "simulated-nodes",
                                                            "no-volume-data", "no-datastore", "not-production"]
    assert evidence["nodes"][0] == {"name": "kwok-0", "simulated": True, "ready": True, "kubelet": "fake"}
    page = unescape(summary_block(evidence))
    assert "Verdict: PASS (limited scope)" in page
    assert ("simulated nodes (kwok): kwok-0, kwok-1; pods of Deployment insightlearn/web ran there; no real node"
            in page)
    assert "kwok-0 (simulated), kwok-1 (simulated)" in page and "2/2 replicas Ready" in page


def test_a_drill_on_real_nodes_with_the_datastore_is_still_synthetic(tmp_path: Path) -> None:
    evidence = _evidence(_run(tmp_path, nodes=[NodeInfo("node-a", False, True, "v1.34.2")], datastore=True))
    assert [x["id"] for x in evidence["scope"]["limits"]] == ["synthetic-application", "no-volume-data",
                                                            "not-production"]
    assert "pods on node" in summary_block(evidence) and "node-a (real)" in summary_block(evidence)


def test_counts_are_reconciled_and_every_left_out_object_has_its_reason(tmp_path: Path) -> None:
    page = unescape(summary_block(_evidence(_run(tmp_path, nodes=KWOK_NODES))))
    assert ("backed up 5 = expected 4 + left out by the restore plan 1; expected 4 = equal 4 + differs 0 + missing 0"
            " + unhealthy 0 — reconciled") in page
    assert "ConfigMap insightlearn/kube-root-ca.crt" in page and "published by the kube-controller-manager" in page


@pytest.mark.parametrize(("interval", "shown"), [
    (3600, "up to 1 h (a backup every 1 h), within the 1 h target"),
    (7200, "up to 2 h (a backup every 2 h), NOT within the 1 h target"),
    (None, "unknown: the drill was not given the backup schedule"),
])
def test_drill_rpo_beside_the_schedules_rpo(tmp_path: Path, interval: int | None, shown: str) -> None:
    evidence = _evidence(_run(tmp_path, nodes=KWOK_NODES, interval=interval))
    page = unescape(summary_block(evidence))
    assert shown in page
    assert "5.0 s measured / 1 h target: met" in page  # the drill's RPO: backup at +20 s, loss at +25 s
    assert "it measures the drill, not your backup schedule" in page


def test_who_ran_it_and_why(tmp_path: Path) -> None:
    identity = {"initiator": "octo (GitHub Actions, runner r1)", "trigger": "schedule", "ticket": "CHG-42",
                "reviewer": "Alice", "ci_run_url": "https://github.com/acme/k3s-dr/actions/runs/7"}
    page = summary_block(_evidence(_run(tmp_path, nodes=KWOK_NODES, identity=identity)))
    assert '<a href="https://github.com/acme/k3s-dr/actions/runs/7">' in page
    for text in ("octo (GitHub Actions, runner r1)", "schedule", "CHG-42", "Alice"):
        assert text in page
    plain = summary_block(_evidence(_run(tmp_path, nodes=KWOK_NODES, identity={"ci_run_url": "not recorded: x"})))
    assert "<a href" not in plain and "none given (k3s-dr drill --ticket)" in plain


def test_the_rto_exclusions_and_the_framework_references_are_shown(tmp_path: Path) -> None:
    page = unescape(summary_block(_evidence(_run(tmp_path, nodes=KWOK_NODES))))
    for excluded in ("detection", "declaration", "offsite fetch", "image pulls"):
        assert f"<td>{excluded}</td>" in page
    for requirement in ("ISO 27001 A.8.13", "ISO 27001 A.5.30", "SOC 2 A1.2", "SOC 2 A1.3", "NIST CP-4",
                        "NIST CP-9", "NIST CP-10"):
        assert requirement in page
    assert "4 restore (passed)" in page


def test_the_timeline_picture_is_well_formed_and_marks_loss_and_recovery(tmp_path: Path) -> None:
    page = summary_block(_evidence(_run(tmp_path, nodes=KWOK_NODES)))
    svg = re.search(r"<svg .*?</svg>", page, re.DOTALL)
    assert svg is not None
    root = ET.fromstring(svg.group(0))
    classes = [e.get("class") for e in root.iter() if e.get("class")]
    assert classes.count("bar-passed") == 6 and "bar-phase" in classes
    assert "marker-loss" in classes and "marker-recovered" in classes


def test_names_from_the_cluster_are_escaped(tmp_path: Path) -> None:
    page = summary_block(_evidence(_run(tmp_path, nodes=KWOK_NODES, evil=True)))
    assert EVIL not in page and "&lt;script&gt;" in page


PYTEST_HTML = ('<html><head><title>t</title></head><body>\n<h1 id="title">t</h1>\n    <p>Report generated on '
               '04-Dec-2026 at 18:57:28 by <a href="https://pypi.python.org/pypi/pytest-html">pytest-html</a>\n'
               '        v4.2.0</p>\n<div id="environment-header">\n<h2>Environment</h2></div><table id="environment">'
               "</table></body></html>")


def test_the_summary_goes_above_the_environment_table_and_the_time_is_utc() -> None:
    page = place_summary(PYTEST_HTML, "<section id='drill-summary'>S</section>", "2026-12-04T18:57:28.044Z")
    assert page.index("drill-summary") < page.index('<div id="environment-header">')
    assert "Report generated at 2026-12-04T18:57:28.044Z (UTC) by pytest-html v4.2.0" in page
    assert "04-Dec-2026" not in page
    other = place_summary("<html><body><p>x</p></body></html>", "<section>S</section>", "T")
    assert other == "<html><body><section>S</section><p>x</p></body></html>"


@pytest.mark.parametrize(("written", "utc"), [
    ("2026-12-04T20:02:57.083631+01:00", "2026-12-04T19:02:57.083Z"),
    ("2026-12-04T19:02:57.083631", "2026-12-04T19:02:57.083Z"),
    ("not a time", "not a time"),
])
def test_junit_suite_time_in_utc(written: str, utc: str) -> None:
    xml = f'<testsuites><testsuite name="k3s-dr-drill" timestamp="{written}" hostname="h"></testsuite></testsuites>'
    assert junit_in_utc(xml) == xml.replace(written, utc)


def test_an_archive_drills_summary_names_the_archive_and_its_source(tmp_path: Path) -> None:
    """An archive drill (FAKE run, a real archive file): kind archive everywhere, no synthetic or
    not-production limit, the archive's source cluster and age named; a datastore it holds counts."""
    from dr_lib.archive import verify_archive  # noqa: PLC0415
    from dr_lib.drill.archive_input import ArchiveInput  # noqa: PLC0415
    from tests.unit._archive_factory import CONFIGMAPS, IDENTITY, good_archive  # noqa: PLC0415

    archive = good_archive(tmp_path, {CONFIGMAPS: [CONFIGMAPS.obj("a")]}, datastore=(b"sqlite", b"token"))
    run = _run(tmp_path, nodes=[NodeInfo("node-a", False, True, "v1.34.2")])
    run.settings = DrillSettings(archive=archive, backup_interval_seconds=3600)
    run.archive = ArchiveInput(str(archive), archive, archive, verify_archive(archive), "the file given (--archive)")
    run.archive.data_results = [{"member": "data/volumes/x.tar", "kind": "volume", "ok": True, "detail": "placed"}]
    evidence = _evidence(run)
    assert evidence["kind"] == "archive" and evidence["verdict_summary"] == "pass"
    assert evidence["scope"] == {"limited": False, "limits": []}
    page = unescape(summary_block(evidence))
    assert f"your archive {archive.name}, the file given (--archive)" in page
    assert f"of the cluster {IDENTITY.server} (kube-system {IDENTITY.kube_system_uid}" in page
    assert "Age when the drill started (RPO)" in page and "the archive's age when the drill started" in page
    assert "seeded with its application" not in page
    run.archive.data_results[0]["ok"] = False
    assert [x["id"] for x in _evidence(run)["scope"]["limits"]] == ["no-volume-data"]
