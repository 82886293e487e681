"""Evidence over time, end to end: a real drill on the local cluster (kwok nodes), a host check
report of this machine (its controls fail here: not an installed host), and a tampered copy of
the drill's report, then `k3s-dr report index DIR --json`. The CSV must load with the csv module,
the page must render in headless Chromium (its screenshot is kept beside it), the tampered copy
must be flagged, and the drill's own summary must say what its scope left out.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from _drill_cli import run_drill_cli

from dr_lib.drill import browser

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow]


def k3s_dr(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dr_lib", *args], capture_output=True, text=True, timeout=300,
                          check=False)


def check_report(root: Path) -> Path:
    """`k3s-dr check` of this machine: its HTML, JUnit and JSON sealed in root/checks-<UTC>/ (the controls fail
    here, this machine is no installed host: the index must show a failing check run)."""
    done = k3s_dr("check", "--reports", str(root), "--json")
    assert done.returncode == 1, done.stderr[-2000:]
    directory = Path(json.loads(done.stdout.strip().splitlines()[-1])["report_dir"])
    results = json.loads((directory / "checks.json").read_text())
    assert {"control", "requirement", "reason"} <= set(results["frameworks"][0])  # the references travel with it
    assert "<h3>Framework references</h3>" in (directory / "report.html").read_text()  # static, not drawn by script
    return directory


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("reports")
    code, drill, stderr = run_drill_cli(root, "--ticket", "CHG-1234", "--reviewer", "Audit <Team>")
    assert code == 0, stderr[-3000:]
    checks = check_report(root)
    original = Path(drill["report_dir"])
    tampered = root / f"{original.name}-copy"
    shutil.copytree(original, tampered)
    document = json.loads((tampered / "evidence.json").read_text())
    document["rto_seconds"] = 1.0  # a better number than the drill measured
    (tampered / "evidence.json").write_text(json.dumps(document))
    done = k3s_dr("report", "index", str(root), "--json")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout  # exactly one JSON object
    return {"root": root, "drill": drill, "checks": checks, "original": original, "tampered": tampered,
            "index": json.loads(lines[0])}


def test_index_json_interface(evidence: dict[str, Any]) -> None:
    index = evidence["index"]
    assert index["reports"] == 3
    assert Path(index["index_html"]) == evidence["root"] / "index.html" and Path(index["index_html"]).is_file()
    assert Path(index["index_csv"]) == evidence["root"] / "index.csv" and Path(index["index_csv"]).is_file()
    assert index["tampered"] == [evidence["tampered"].name]
    assert index["kinds"] == {"synthetic": 2, "checks": 1}


def test_csv_lists_each_report_with_the_right_verdict(evidence: dict[str, Any]) -> None:
    rows = {r["report"].split("/")[0]: r for r in csv.DictReader(io.StringIO(Path(evidence["index"]["index_csv"])
                                                                             .read_text()))}
    drill, copy = rows[evidence["original"].name], rows[evidence["tampered"].name]
    assert drill["verdict"] == "pass (limited scope)" and drill["integrity"] == "verified"
    assert float(drill["rto_seconds"]) == pytest.approx(evidence["drill"]["rto_seconds"], abs=0.001)
    assert drill["archive_sha256"] == evidence["drill"]["backup_sha256"]
    assert drill["kubernetes_source"].startswith("v1.") and drill["rto_met"] == drill["rpo_met"] == "yes"
    assert copy["integrity"] == "tampered" and "evidence.json: sha256 mismatch" in copy["integrity_detail"]
    checks = rows[evidence["checks"].name]
    assert checks["kind"] == "checks" and checks["verdict"] == "fail" and checks["integrity"] == "verified"
    assert "NIST CP-9" in checks["frameworks"]


def test_index_renders_in_chromium_and_its_screenshot_is_kept(evidence: dict[str, Any]) -> None:
    chromium = browser.find_chromium()
    assert chromium is not None, "chromium is not installed (Debian: apt-get install -y chromium)"
    page = Path(evidence["index"]["index_html"])
    dom = unescape(browser.dump_dom(page, binary=chromium))
    assert "k3s-dr evidence index" in dom and "<script" not in page.read_text()
    assert "TAMPERED: evidence.json: sha256 mismatch" in dom and 'id="trend-rto"' in dom
    assert evidence["original"].name in dom and evidence["checks"].name in dom
    screenshot = browser.screenshot(page, evidence["root"] / "index.png", binary=chromium)
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and screenshot.stat().st_size > 20_000
    print(f"\nindex: {page}\nindex screenshot: {screenshot}\ndrill report screenshot: "
          f"{evidence['drill']['screenshot']}")


def test_verification_command_passes_the_drill_and_fails_the_tampered_copy(evidence: dict[str, Any]) -> None:
    assert k3s_dr("report", "verify", str(evidence["original"])).returncode == 0
    done = k3s_dr("report", "verify", str(evidence["tampered"]), "--json")
    assert done.returncode == 8 and json.loads(done.stdout)["status"] == "tampered"
    plain = subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=evidence["tampered"],
                           capture_output=True, text=True, check=False)
    assert plain.returncode != 0 and "evidence.json: FAILED" in plain.stdout


def test_the_drills_summary_on_kwok_nodes_says_limited_scope(evidence: dict[str, Any]) -> None:
    drill = evidence["drill"]
    document = json.loads(Path(drill["evidence_json"]).read_text())
    assert document["verdict"] == "pass" and document["verdict_summary"] == "pass (limited scope)"
    simulated = [n["name"] for n in document["nodes"] if n["simulated"]]
    assert simulated and len(simulated) == len(document["nodes"])  # the local provider: only kwok nodes
    page = unescape(Path(drill["report_html"]).read_text())
    summary = page[page.index("<section id='drill-summary'>"):page.index('<div id="environment-header">')]
    assert "Verdict: PASS (limited scope)" in summary
    assert f"simulated nodes (kwok): {', '.join(simulated)}" in summary
    assert "Deployment insightlearn/web" in summary.split("simulated nodes (kwok):")[1].split("</td>")[0]
    assert f"{simulated[0]} (simulated)" in summary  # the per-object health names the node, and what it is
    raw = Path(drill["report_html"]).read_text()
    assert "CHG-1234" in summary and "Audit <Team>" not in raw and "Audit &lt;Team&gt;" in raw
    assert "— reconciled" in summary and "Left out by the restore plan" in summary
    for excluded in ("detection", "declaration", "offsite fetch", "image pulls"):
        assert f"<td>{excluded}</td>" in summary
    assert "<svg " in summary and "ISO 27001 A.8.13" in summary
    healthy = {(o["kind"], o["name"]): o for o in document["objects"] if o["health"]}
    assert healthy[("Deployment", "web")]["health"].endswith("replicas Ready")
    assert set(healthy[("Deployment", "web")]["nodes"]) <= set(simulated)
    assert healthy[("PersistentVolumeClaim", "db-data")]["health"] == "Bound"
