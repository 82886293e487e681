"""`k3s-dr check` on this machine seals its report with this machine's signing key (trust.signing_key), and
`k3s-dr report verify --verify-key` proves who sealed it — the controls' own verdicts do not matter here
(this machine is no k3s server: most fail), the report does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
K3S_DR = [sys.executable, "-m", "dr_lib"]


def test_a_check_run_signs_its_report_with_the_configured_key(tmp_path: Path) -> None:
    made = subprocess.run([*K3S_DR, "keygen", "--dir", str(tmp_path / "keys"), "--json"], capture_output=True,
                          text=True, check=True)
    key = json.loads(made.stdout)
    config = tmp_path / "config.yaml"
    config.write_text(f"trust: {{signing_key: {key['signing_key']}, verify_keys: [{key['verify_key']}]}}\n"
                      f"backup: {{dir: {tmp_path / 'backups'}}}\n", encoding="utf-8")
    run = subprocess.run([*K3S_DR, "--config", str(config), "check", "--reports", str(tmp_path / "reports"),
                          "--json"], capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode in (0, 1), run.stderr[-2000:]  # 1: controls failed on a machine that is no k3s server
    report = next((tmp_path / "reports").glob("checks-*"))
    assert (report / "SHA256SUMS.sig").is_file()
    verified = subprocess.run([*K3S_DR, "--config", str(config), "report", "verify", str(report), "--json"],
                              capture_output=True, text=True, check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["signer"] == key["key_id"]
    (report / "checks.json").write_text(json.dumps({"results": [], "counts": {}}))  # an edit …
    sums = subprocess.run(["sha256sum", "checks.json", "junit.xml", "report.html"], cwd=report, capture_output=True,
                          text=True, check=True)
    (report / "SHA256SUMS").write_text(sums.stdout)  # … with its checksums regenerated
    tampered = subprocess.run([*K3S_DR, "--config", str(config), "report", "verify", str(report), "--json"],
                              capture_output=True, text=True, check=False)
    assert tampered.returncode == 8 and json.loads(tampered.stdout)["signature"] == "invalid"
