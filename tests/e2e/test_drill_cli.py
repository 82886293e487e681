"""`k3s-dr drill` as an operator runs it, and what its report proves.

One passing drill (module fixture) is inspected from every side: the JSON interface, the report
files and their manifest, the evidence, the absence of any secret value, and the HTML as a
browser renders it (headless Chromium; its screenshot is kept with the report). A second drill
runs with a restore sanitizer switched off (TEST-ONLY) and must fail at the restore step,
naming the objects that did not come back healthy and why.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _drill_cli import run_drill_cli

from dr_lib.drill import browser
from dr_lib.drill.app import secret_values
from dr_lib.drill.reportdir import check_manifest
from dr_lib.drill.timeline import STEP_NAMES, step_label
from dr_lib.signing.keys import KeyFiles, generate_keypair
from k3s_dr_testbed.clusters import versions


@pytest.fixture(scope="module")
def asked_release(pytestconfig: pytest.Config) -> versions.Release:
    """The release of this run's clusters (``--kubernetes-version``; the newest by default)."""
    return versions.resolve(pytestconfig.getoption("--kubernetes-version"))


@pytest.fixture(scope="module")
def ci_key(tmp_path_factory: pytest.TempPathFactory) -> KeyFiles:
    """A CI identity, as the monthly workflow gives one (a key file from a secret, named in the environment)."""
    return generate_keypair(tmp_path_factory.mktemp("ci-key") / "keys")


@pytest.fixture(scope="module")
def passing(tmp_path_factory: pytest.TempPathFactory, ci_key: KeyFiles,
            asked_release: versions.Release) -> tuple[int, dict[str, Any], str]:
    # The drill's backups are signed with it and its restores require that signature; the report is sealed with it.
    env = {**os.environ, "K3S_DR_TRUST_SIGNING_KEY": str(ci_key.signing_key),
           "K3S_DR_TRUST_VERIFY_KEYS": str(ci_key.verify_key)}
    return run_drill_cli(tmp_path_factory.mktemp("reports"), "--kubernetes-version", asked_release.minor, env=env)


def _decoded_extras(report_html: str) -> list[str]:
    """pytest-html embeds attachments as base64 data URIs: decode them to look inside."""
    blob = re.search(r'data-jsonblob="([^"]*)"', report_html)
    assert blob is not None, "pytest-html data blob not found"
    data = json.loads(html.unescape(blob.group(1)))
    found = []
    for runs in data["tests"].values():
        for test in runs:
            for extra in test.get("extras", []):
                content = str(extra.get("content", ""))
                if content.startswith("data:") and ";base64," in content:
                    found.append(base64.b64decode(content.split(",", 1)[1]).decode("utf-8", "replace"))
    return found


@pytest.mark.compat
def test_drill_json_interface(passing: tuple[int, dict[str, Any], str]) -> None:
    code, result, stderr = passing
    assert code == 0, stderr[-3000:]
    assert result["verdict"] == "pass"
    for key in ("rto_seconds", "rpo_seconds", "objects", "report_html", "evidence_json", "seconds"):
        assert key in result, key
    assert 0 < result["rto_seconds"] <= result["rto_target_seconds"]
    assert 0 <= result["rpo_seconds"] <= result["rpo_target_seconds"]
    assert result["objects"] > 30
    assert result["steps"] == dict.fromkeys(STEP_NAMES, "passed")
    # kwok nodes, a seeded application: the pass is worth what its scope says (verdict keeps its meaning)
    assert result["scope"] == "limited" and result["verdict_summary"] == "pass (limited scope)"
    assert {"synthetic-application", "simulated-nodes", "no-datastore"} <= set(result["scope_limits"])
    assert Path(result["report_html"]).is_file() and Path(result["evidence_json"]).is_file()
    # progress went to the terminal (stderr), every step named
    for name in STEP_NAMES:
        assert f"  {name}: ok" in stderr


@pytest.mark.compat
def test_report_dir_is_new_named_by_utc_time_and_hashed(passing: tuple[int, dict[str, Any], str]) -> None:
    _code, result, _stderr = passing
    report_dir = Path(result["report_dir"])
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{6}", report_dir.name)
    names = {p.name for p in report_dir.iterdir()}
    assert {"report.html", "junit.xml", "evidence.json", "SHA256SUMS"} <= names
    assert check_manifest(report_dir) == []
    done = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=report_dir, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_signed_seal_verifies_and_an_edited_report_with_new_checksums_does_not(
        passing: tuple[int, dict[str, Any], str], ci_key: KeyFiles, tmp_path: Path) -> None:
    _code, result, stderr = passing
    report_dir = Path(result["report_dir"])
    assert (report_dir / "SHA256SUMS.sig").is_file() and f"signed by key {ci_key.key_id}" in stderr
    verify = [sys.executable, "-m", "dr_lib", "report", "verify", "--verify-key", str(ci_key.verify_key), "--json"]
    done = subprocess.run([*verify, str(report_dir)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["signer"] == ci_key.key_id
    edited = tmp_path / report_dir.name
    shutil.copytree(report_dir, edited)
    evidence = json.loads((edited / "evidence.json").read_text())
    evidence["rto_seconds"] = 1  # a better RTO than the drill measured
    (edited / "evidence.json").write_text(json.dumps(evidence, indent=2, sort_keys=True) + "\n")
    sums = subprocess.run(["sha256sum", *sorted(p.name for p in edited.iterdir() if p.name not in
                                                ("SHA256SUMS", "SHA256SUMS.sig"))],
                          cwd=edited, capture_output=True, text=True, check=True)
    (edited / "SHA256SUMS").write_text(sums.stdout)  # regenerated: `sha256sum -c` passes again
    checked = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=edited, capture_output=True, check=False)
    assert checked.returncode == 0
    done = subprocess.run([*verify, str(edited)], capture_output=True, text=True, check=False)
    assert done.returncode == 8, done.stdout + done.stderr
    assert json.loads(done.stdout)["signature"] == "invalid"


@pytest.mark.compat
def test_evidence_answers_the_auditors_questions(passing: tuple[int, dict[str, Any], str],
                                                 asked_release: versions.Release) -> None:
    _code, result, _stderr = passing
    evidence = json.loads(Path(result["evidence_json"]).read_text())
    assert evidence["identity"]["kubernetes_version_source"] == asked_release.kubernetes
    assert evidence["identity"]["kubernetes_version_target"] == asked_release.kubernetes
    assert evidence["verdict"] == "pass" and evidence["failed_step"] is None
    assert re.fullmatch(r"k3s-dr-\d{8}T\d{6}Z\.tar\.gz", evidence["backup"]["archive"])
    assert re.fullmatch(r"[0-9a-f]{64}", evidence["backup"]["sha256"])
    assert evidence["started"].endswith("Z") and evidence["finished"].endswith("Z")
    for key in ("tool_version", "git_commit", "provider", "kubernetes_version_source", "kubernetes_version_target"):
        assert evidence["identity"][key], key
    assert [s["step"] for s in evidence["timeline"]["steps"]] == list(STEP_NAMES)
    assert evidence["timeline"]["disaster"] and evidence["timeline"]["recovered"]
    assert {"verify-archive", "dry-run", "restore-and-wait"} <= set(evidence["restore"]["phases"])
    kinds = evidence["per_kind"]
    for kind in ("Deployment", "StatefulSet", "Service", "Ingress", "Secret", "ConfigMap", "PersistentVolume",
                 "PersistentVolumeClaim", "ClusterRole", "Role", "CustomResourceDefinition", "Course"):
        assert kinds[kind]["expected"] >= 1 and kinds[kind]["equal"] == kinds[kind]["expected"], kind
    assert evidence["counts"]["missing"] == evidence["counts"]["differs"] == evidence["counts"]["unhealthy"] == 0
    assert evidence["test_only_options"] == {}
    # kwok's nodes run nothing: the evidence says so plainly, pod by pod
    coverage = evidence["coverage"]
    assert evidence["kind"] == "synthetic" and coverage["simulated_nodes"] is True
    assert coverage["pod_counts"]["target"]["simulated"] == coverage["pod_counts"]["target"]["pods"]
    assert all(load["how"].startswith("none: every node is simulated") for load in coverage["images"]["loads"])


@pytest.mark.compat
def test_junit_has_one_testcase_per_step(passing: tuple[int, dict[str, Any], str]) -> None:
    _code, result, _stderr = passing
    junit = Path(result["junit_xml"]).read_text()
    assert junit.count("<testcase ") == len(STEP_NAMES)
    assert 'failures="0"' in junit


@pytest.mark.compat
def test_no_secret_value_anywhere_in_the_report(passing: tuple[int, dict[str, Any], str]) -> None:
    _code, result, _stderr = passing
    report_dir = Path(result["report_dir"])
    forms = [v for value in secret_values() for v in (value, base64.b64encode(value.encode()).decode())]
    texts = {p.name: p.read_bytes().decode("utf-8", "replace") for p in report_dir.iterdir()}
    texts.update({f"report.html extra #{i}": text
                  for i, text in enumerate(_decoded_extras(texts["report.html"]))})
    leaks = [(name, f"secret #{forms.index(form)}") for name, text in texts.items() for form in forms if form in text]
    assert leaks == []
    assert any("api-secrets" in text for text in texts.values()), "Secrets must be listed by name, values redacted"


@pytest.mark.compat
def test_html_renders_steps_and_verdict_in_chromium(passing: tuple[int, dict[str, Any], str]) -> None:
    chromium = browser.find_chromium()
    if chromium is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium)")
    _code, result, _stderr = passing
    report_html = Path(result["report_html"])
    dom = browser.dump_dom(report_html, binary=chromium)
    assert "Verdict: PASS" in dom
    for name in STEP_NAMES:
        assert step_label(name) in dom, name
        assert f"test_{STEP_NAMES.index(name) + 1}_" in dom  # the row of the step's test, drawn by the page's JS
    overview = dom[dom.index('id="drill-overview"'):dom.index('id="environment-header"')]
    assert re.search(r"<th>RTO</th><td>.*? s measured / .*? target: met", overview)
    assert re.search(r"<th>Drill RPO</th><td>.*? s measured / .*? target: met", overview)
    screenshot = Path(result["screenshot"])
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and screenshot.stat().st_size > 20_000
    assert "report.png" in (report_html.parent / "SHA256SUMS").read_text()


def test_drill_with_a_broken_restore_fails_at_the_restore_step(tmp_path: Path) -> None:
    code, result, stderr = run_drill_cli(tmp_path, "--wait-timeout", "15s", "--test-disable-sanitizer",
                                         "persistentvolumes")
    assert code == 1, stderr[-3000:]
    assert result["verdict"] == "fail"
    assert result["failed_step"] == "restore"
    assert result["steps"]["restore"] == "failed" and result["steps"]["verify"] == "failed"
    assert result["steps"]["source"] == result["steps"]["backup"] == result["steps"]["destroy"] == "passed"
    evidence = json.loads(Path(result["evidence_json"]).read_text())
    assert evidence["test_only_options"] == {"test_disable_sanitizer": "persistentvolumes"}
    restore_phases = [p for p in evidence["timeline"]["phases"]
                      if p["step"] == "restore" and p["phase"] != "verify-archive"]
    assert restore_phases and all("--test-disable-sanitizer persistentvolumes" in p["detail"] for p in restore_phases)
    failing = {(o["kind"], o["name"]): o["reasons"] for o in evidence["objects"] if o["result"] == "unhealthy"}
    pv = next(key for key in failing if key[0] == "PersistentVolume")
    assert "Released" in failing[pv][0]
    assert "Pending" in failing[("PersistentVolumeClaim", "db-data")][0]
    assert "0/1 replicas Ready" in failing[("StatefulSet", "db")][0]
    # The summary is rendered server-side into the file; the browser check is in the test above.
    page = html.unescape(Path(result["report_html"]).read_text())
    assert "Verdict: FAIL" in page and "failed at step 4 restore" in page
    assert "PersistentVolumeClaim insightlearn-data/db-data" in page and "phase Pending" in page
    assert "TEST-ONLY" in page


def test_drill_wiping_the_namespaces_in_place_passes(tmp_path: Path) -> None:
    code, result, stderr = run_drill_cli(tmp_path, "--destroy", "wipe")
    assert code == 0, stderr[-3000:]
    evidence = json.loads(Path(result["evidence_json"]).read_text())
    assert evidence["identity"]["destroy_mode"] == "wipe"
    assert "wipe" in {p["phase"] for p in evidence["timeline"]["phases"]}
    assert evidence["counts"]["equal"] == evidence["counts"]["expected"]


@pytest.mark.real_node
def test_drill_on_the_real_node_brings_back_a_running_database(tmp_path: Path) -> None:
    from k3s_dr_testbed.realnode.host import missing_requirements  # noqa: PLC0415 - only this test needs it

    missing = missing_requirements()
    if missing:
        pytest.skip("the real node needs: " + ", ".join(f"{m.tool} (apt-get install {m.package})" for m in missing))
    code, result, stderr = run_drill_cli(tmp_path, "--real-node")
    assert code == 0, stderr[-3000:]
    evidence = json.loads(Path(result["evidence_json"]).read_text())
    database = next(p for p in evidence["timeline"]["phases"] if p["phase"] == "real-database")
    assert "db-0 Ready on localhost" in database["detail"] and "2 starts" in database["detail"]


def test_drill_on_an_existing_cluster_touches_only_its_own_objects(cluster_factory: Any, tmp_path: Path) -> None:
    from dr_lib.kube.client import Kube  # noqa: PLC0415

    existing = cluster_factory(nodes=2)
    with Kube.from_kubeconfig(existing.kubeconfig) as kube:
        assert kube.request("POST", "/api/v1/namespaces", body={"metadata": {"name": "keep-me"}}).ok
        # kwok nodes pull nothing, but an existing cluster's images are always named (docs/drill.md, "Images")
        env = {**os.environ, "K3S_DR_DRILL_IMAGES_APP": "docker.io/local/debian:bookworm"}
        code, result, stderr = run_drill_cli(tmp_path, "--cluster", "kubeconfig", "--kubeconfig",
                                             str(existing.kubeconfig), env=env)
        assert code == 0, stderr[-3000:]
        evidence = json.loads(Path(result["evidence_json"]).read_text())
        assert evidence["identity"]["destroy_mode"] == "wipe"
        assert evidence["backup"]["objects"] == evidence["seeded_objects"], "only the drill's objects backed up"
        assert evidence["coverage"]["simulated_nodes"] is True, "kwok's pods are said to be simulated"
        assert kube.request("GET", "/api/v1/namespaces/keep-me").ok
        for namespace in ("insightlearn", "insightlearn-data", "insightlearn-ops"):
            gone = kube.request("GET", f"/api/v1/namespaces/{namespace}")
            assert gone.status == 404 or gone.body.get("status", {}).get("phase") == "Terminating", namespace
