"""README.md's "Install on a k3s server", executed as written on a bare reference host.

The host is the k3s stand-in with Debian's python3-venv and nothing of k3s-dr: no checkout, no Go, no
Docker. The test builds the wheel (``python -m build``) and a wheelhouse of its core dependencies here
(``pip wheel`` of the wheel's own metadata), copies them in, and runs every ``bash`` block of the
section, in order, in one shell, as root, with ``PIP_NO_INDEX=1 PIP_FIND_LINKS=/root/wheelhouse`` —
the section's offline form (the host has no network). Then: the units run the venv's program, the
whole conformance suite passes there, the sandboxed units' ``systemd-analyze security`` scores are
recorded, and a venv that others can write is refused by ``install`` with the path named (exit 2).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from dr_lib.drill.runbook import command_blocks
from k3s_dr_testbed.docker import docker_cli
from k3s_dr_testbed.lab.standin import STANDIN_DIR
from k3s_dr_testbed.lab.wheel import wheelhouse
from tests.integration._reference_host import reference_host, sh

pytestmark = [pytest.mark.docker, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Install on a k3s server"
VENV = "/opt/k3s-dr"
SITE = f"{VENV}/lib/python3.11/site-packages"
UNITS = ("k3s-dr-backup.service", "k3s-auto-restore.service", "k3s-dr-exporter.service")


def install_section(readme: str) -> str:
    start = readme.index(SECTION + "\n")
    end = readme.find("\n## ", start + len(SECTION))
    return readme[start:] if end < 0 else readme[start:end]


def exposure(name: str, unit: str) -> float:
    out = sh(name, f"systemd-analyze security --no-pager {unit} | tail -1")
    match = re.search(r"exposure level for \S+: (\d+\.\d)", out)
    assert match, out
    return float(match.group(1))


def test_the_section_has_the_commands_an_operator_runs() -> None:
    blocks = command_blocks(install_section((ROOT / "README.md").read_text()))
    commands = [line.split()[0] for block in blocks for line in block.splitlines() if line.strip()]
    assert commands == ["python3", "/opt/k3s-dr/bin/pip", "ln", "k3s-dr", "systemctl", "k3s-dr"]


def test_the_readme_installs_k3s_dr_on_a_bare_k3s_server(tmp_path: Path,
                                                        record_property: pytest.RecordProperty) -> None:
    script = "\n".join(command_blocks(install_section((ROOT / "README.md").read_text())))
    house = tmp_path / "wheelhouse"
    started = time.monotonic()
    wheel = wheelhouse(house, time.monotonic() + 1800)
    built = time.monotonic() - started
    with reference_host("k3sdr-readme", stage="bare") as host:
        name = host.name
        absent = sh(name, "command -v k3s-dr go docker git; ls /opt; true")
        assert absent.split() == [], absent  # a k3s server before k3s-dr: nothing of ours, no toolchains
        subprocess.run([docker_cli(), "cp", str(house), f"{name}:/root/wheelhouse"], check=True, timeout=300)
        sh(name, f"{STANDIN_DIR}/seed-app")  # the operator's applications
        began = time.monotonic()
        done = subprocess.run([docker_cli(), "exec", "-e", "PIP_NO_INDEX=1", "-e", "PIP_FIND_LINKS=/root/wheelhouse",
                               name, "bash", "-c", f"set -euo pipefail\n{script}"], capture_output=True, text=True,
                              timeout=1200, check=False)
        ran = time.monotonic() - began
        assert done.returncode == 0, f"the README's commands failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"

        found = sh(name, f"{VENV}/bin/python -c 'import dr_lib, sys; print(dr_lib.__file__, sys.prefix)'").split()
        assert found == [f"{SITE}/dr_lib/__init__.py", VENV]  # the wheel's copy, in the venv
        assert "editable" not in sh(name, f"cat {SITE}/k3s_dr-*.dist-info/direct_url.json 2>/dev/null; true")
        assert sh(name, f"ls {SITE}").count("k3s_dr-") == 1 and wheel.name.startswith("k3s_dr-")
        for unit in UNITS:
            exec_start = sh(name, f"systemctl show -p ExecStart --value {unit}")
            assert f"path={VENV}/bin/k3s-dr " in exec_start, (unit, exec_start)
        assert sh(name, "systemctl show -p Result,ExecMainStatus k3s-dr-backup.service").split() == [
            "Result=success", "ExecMainStatus=0"]  # the section's first backup, run by the sandboxed unit

        checked = subprocess.run([docker_cli(), "exec", name, "k3s-dr", "check", "--json"], capture_output=True,
                                 text=True, timeout=300, check=False)
        report = json.loads(checked.stdout)
        assert checked.returncode == 0 and report["failed"] == 0 and report["passed"] >= 25, checked.stdout

        scores = {unit: exposure(name, unit) for unit in UNITS}
        assert all(score <= 3.0 for score in scores.values()), scores  # systemd rates ≤ 3.9 "OK"

        sh(name, f"chmod o+w {SITE}")
        refused = subprocess.run([docker_cli(), "exec", name, "k3s-dr", "install"], capture_output=True, text=True,
                                 timeout=300, check=False)
        assert refused.returncode == 2, refused.stderr  # the program named as run (the README's link), then the path
        assert refused.stderr.startswith(f"k3s-dr: error: refusing to install units that run /usr/local/bin/k3s-dr as "
                                         f"root: {SITE} is writable by others (mode 0757)"), refused.stderr
        assert refused.stderr.count("\n") == 1 and refused.stdout == ""  # one line, the hint in it
        sh(name, f"chmod o-w {SITE}")
        again = json.loads(sh(name, "k3s-dr install --json"))
        assert again["steps"] == [] and again["exec"] == f"{VENV}/bin/k3s-dr"
    record_property("install_readme", json.dumps({"wheelhouse_seconds": round(built, 1),
                                                  "readme_commands_seconds": round(ran, 1), "scores": scores,
                                                  "check": {k: report[k] for k in ("passed", "failed", "skipped")}}))
    print(f"\nwheel + wheelhouse {built:.1f}s; README commands on the host {ran:.1f}s; scores {scores}; "
          f"check {report['passed']} passed, {report['failed']} failed, {report['skipped']} skipped")
