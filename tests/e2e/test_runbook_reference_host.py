"""docs/runbook.md followed on the reference host through a real incident: the host backs up its
user objects, loses its datastore (k3s's SQLite file gone, k3s up on an empty one, as in the boot
drill), and the runbook — every bash block, as written, in one root shell on the host, no reboot —
brings every user object back, compared on the API server by a plain urllib script (not k3s-dr).

The stand-in runs no controller-manager, so Deployments never turn Ready: the restore's bounded
`--wait` runs out and exits 3, which the runbook explains and goes past to its check. The numbers
(the runbook's declared → recovered time) are printed, never asserted.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dr_lib.drill.runbook import script
from dr_lib.errors import DRError
from k3s_dr_testbed.clusters.binaries import locate_binaries
from k3s_dr_testbed.docker import ensure_engine
from k3s_dr_testbed.lab.bootdrill_host import lose_datastore, read_inventory, seed_objects, take_backup
from k3s_dr_testbed.lab.host import exec_in, host_down, host_up

pytestmark = [pytest.mark.e2e, pytest.mark.docker, pytest.mark.slow]

RUNBOOK = Path(__file__).resolve().parents[2] / "docs" / "runbook.md"
UP_SECONDS = 900.0
STEP_SECONDS = 240.0
RUNBOOK_SECONDS = 900.0  # the restore's --wait-timeout (5m) runs out on the stand-in, plus the rest
INCIDENT = "/var/lib/k3s-dr/incidents/reference-host-test"
TIMER = "k3s-dr-backup.timer"


def _bin_dir() -> Path:
    for tool in ("docker", "openssl", "debootstrap"):
        assert shutil.which(tool), f"{tool} is needed to run the reference host (scripts/setup installs it)"
    try:
        ensure_engine(time.monotonic() + 120)
        return locate_binaries()
    except DRError as exc:
        pytest.fail(f"the reference host cannot run here: {exc}")


@pytest.fixture(scope="module")
def host() -> Iterator[str]:
    name = f"k3sdr-runbook-{os.getpid()}"
    host_up(name, _bin_dir(), time.monotonic() + UP_SECONDS)
    try:
        yield name
    finally:
        host_down(name)


def _sh(name: str, command: str, seconds: float = 60.0) -> str:
    return exec_in(name, command, time.monotonic() + seconds)[1]


def test_the_runbook_brings_every_user_object_back_after_a_datastore_loss(host: str) -> None:
    seed_objects(host, time.monotonic() + 60, 20)
    before = read_inventory(host, time.monotonic() + 60)
    assert before is not None and len(before.objects) > 20
    backup = take_backup(host, time.monotonic() + 120)
    assert backup["promoted"] is True, backup
    timer_was = exec_in(host, f"systemctl is-active {TIMER}", time.monotonic() + 30, check=False)[1].strip()

    lose_datastore(host, time.monotonic() + STEP_SECONDS)  # the disaster
    empty = read_inventory(host, time.monotonic() + 60)
    assert empty is not None and empty.objects == {} and empty.cluster_uid != before.cluster_uid

    _sh(host, f"cat > /root/runbook.sh <<'RUNBOOK_END'\n{script(RUNBOOK.read_text())}\nRUNBOOK_END")
    code, output = exec_in(host, f"INCIDENT_DIR={INCIDENT} bash /root/runbook.sh", time.monotonic() + RUNBOOK_SECONDS,
                           check=False)
    assert code == 0, output[-4000:]

    back = read_inventory(host, time.monotonic() + 60)
    assert back is not None and back.holds(before), "every user object back with what the user wrote"
    assert set(back.objects) == set(before.objects), "nothing more, nothing less"

    log = _sh(host, f"cat {INCIDENT}/log.txt")
    restore = json.loads(_sh(host, f"cat {INCIDENT}/restore.json"))
    assert restore["counts"]["failed"] == 0 and restore["archive_sha256"] == backup["sha256"]
    exit_line = next(line for line in log.splitlines() if line.startswith("restore exit "))
    assert exit_line.split()[2] in ("0", "3"), exit_line  # 3: no controller-manager here, Deployments never Ready
    if exit_line.split()[2] == "3":
        assert restore["wait"]["ready"] is False and restore["wait"]["pending"], restore["wait"]
        assert "waiting: " in output, "the bounded wait said what it waited for"
    diff = json.loads(_sh(host, f"cat {INCIDENT}/diff.json"))
    assert diff["counts"]["missing"] == 0 and diff["counts"]["differs"] == 0, diff["counts"]
    assert exec_in(host, f"cd {INCIDENT} && sha256sum -c SHA256SUMS", time.monotonic() + 30, check=False)[0] == 0
    if timer_was == "active":
        assert "backup timer stopped" in log and "backup timer started again" in log
        assert exec_in(host, f"systemctl is-active {TIMER}", time.monotonic() + 30, check=False)[1].strip() == "active"
    declared, recovered = (_sh(host, f"cat {INCIDENT}/{name}").strip() for name in ("declared-at", "recovered-at"))
    print(f"\nrunbook on the reference host: declared {declared}, recovered {recovered}, timer was {timer_was}, "
          f"{exit_line}")
