"""The wipe survived at boot, on a real reference host with the installed, sandboxed units.

The seed's failure, replayed as an operator lives it: the datastore is lost as docs/boot-drill.md
describes, then the hourly backup unit runs twice before anyone reboots. Neither run may promote
its archive (exit 4), the links stay on the good archive, and rotation (keep 2) keeps it on disk.
Then a real boot (``docker restart``): the auto-restore unit brings every user object back —
compared on the API server, before the loss and after the boot, by a script that is not k3s-dr.

Then a planted link: the snapshot link pointed at a verified copy of the good archive outside
``backup.dir``, the datastore lost again, a boot: the unit refuses the snapshot (its journal and the
decision file say why), nothing is restored, and ``k3s-dr check`` fails DR-LINK-003; ``k3s-dr fix``
puts the link back.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from k3s_dr_testbed.docker import docker_cli
from k3s_dr_testbed.lab.bootdrill import judge_boot
from k3s_dr_testbed.lab.bootdrill_host import (
    AUTO_UNIT,
    STATE_FILE,
    Inventory,
    boot,
    lose_datastore,
    read_inventory,
    seed_objects,
)
from k3s_dr_testbed.lab.host import ReferenceHost, exec_in, host_down, host_up, restart
from tests.integration._reference_host import UP_SECONDS, require_tools

pytestmark = [pytest.mark.e2e, pytest.mark.docker, pytest.mark.slow]
D = "/var/backups/k3s-cluster"
LINKS = ("latest-backup.tar.gz", "k3s-cluster-snapshot.tar.gz")
BACKUP_UNIT = "k3s-dr-backup.service"
STEP_SECONDS = 300.0


@dataclass
class Host:
    host: ReferenceHost
    good: str = ""  # the archive both links point at before the loss
    expected: Inventory | None = None

    @property
    def name(self) -> str:
        return self.host.name

    def sh(self, command: str, *, check: bool = True) -> str:
        code, out = exec_in(self.name, command, time.monotonic() + 120, check=False)
        assert code == 0 or not check, f"{command}: exit {code}: {out}"
        return out

    def links(self) -> dict[str, str]:
        return {link: self.sh(f"readlink {D}/{link}").strip() for link in LINKS}

    def archives(self) -> list[str]:
        return sorted(n for n in self.sh(f"ls {D}").split() if n.startswith("k3s-dr-") and n.endswith(".tar.gz"))


@pytest.fixture(scope="module")
def wiped() -> Iterator[Host]:
    bin_dir = require_tools()
    name = f"k3sdr-wipe-{time.monotonic_ns() % 10**8}"
    started = time.monotonic()
    host = host_up(name, bin_dir, started + UP_SECONDS)
    try:
        yield Host(host)
    finally:
        host_down(name)


def test_wipe_1_a_backup_of_user_objects_through_the_unit(wiped: Host) -> None:
    seed_objects(wiped.name, time.monotonic() + 60)
    wiped.expected = read_inventory(wiped.name, time.monotonic() + 60)
    assert wiped.expected is not None and len(wiped.expected.objects) == 28
    wiped.sh(f"systemctl start {BACKUP_UNIT}")
    links = wiped.links()
    assert len(set(links.values())) == 1, links
    wiped.good = links[LINKS[1]]
    assert wiped.good.startswith("k3s-dr-")


def test_wipe_2_the_hourly_unit_after_the_loss_never_promotes(wiped: Host) -> None:
    assert wiped.good
    lose_datastore(wiped.name, time.monotonic() + STEP_SECONDS)
    empty = read_inventory(wiped.name, time.monotonic() + 60)
    assert empty is not None and empty.objects == {}
    for attempt in (1, 2):
        time.sleep(1.1)  # archive names carry the second: two runs in one second would share one
        started = subprocess.run([docker_cli(), "exec", wiped.name, "systemctl", "start", BACKUP_UNIT],
                                 capture_output=True, timeout=STEP_SECONDS, check=False)
        assert started.returncode != 0, attempt  # the unit fails: systemd and the alerts see it
        status = wiped.sh(f"systemctl show -p Result -p ExecMainStatus {BACKUP_UNIT}")
        assert "ExecMainStatus=4" in status and "Result=exit-code" in status, (attempt, status)
        invocation = wiped.sh(f"systemctl show -p InvocationID --value {BACKUP_UNIT}").strip()
        journal = wiped.sh(f"journalctl --no-pager -o cat _SYSTEMD_INVOCATION_ID={invocation}")
        assert "kept but not promoted" in journal and "user objects dropped from 28 to 0" in journal, journal
        assert wiped.links() == dict.fromkeys(LINKS, wiped.good), attempt
    archives = wiped.archives()
    assert wiped.good in archives and len(archives) == 3, archives  # keep 2: the two empty ones, and the good one


def test_wipe_3_a_reboot_restores_every_user_object(wiped: Host) -> None:
    assert wiped.expected is not None
    observed = boot(wiped.name, wiped.expected, time.monotonic() + STEP_SECONDS, label="boot after the wipe",
                    expect_restore=True)
    assert judge_boot(observed) == (), observed
    assert observed.journal[0].reason.startswith("objects lost: 0 of 28 user objects of the snapshot present")
    after = read_inventory(wiped.name, time.monotonic() + 60)
    assert after is not None and after.holds(wiped.expected)
    assert set(after.objects) == set(wiped.expected.objects)  # every user object, nothing else
    state = json.loads(wiped.sh(f"cat {STATE_FILE}"))
    assert state["last_restore"]["snapshot_sha256"] == state["decisions"][-1]["snapshot_sha256"]


def test_wipe_4_a_planted_link_outside_the_backup_directory_is_refused_at_boot(wiped: Host) -> None:
    good = f"{D}/{wiped.good}"
    wiped.sh(f"mkdir -p /srv/planted && cp -p {good} {good}.verified.json /srv/planted/ && "
             f"ln -sfn /srv/planted/{wiped.good} {D}/k3s-cluster-snapshot.tar.gz")
    lose_datastore(wiped.name, time.monotonic() + STEP_SECONDS)
    restart(wiped.name, time.monotonic() + STEP_SECONDS)  # a real boot; systemd is up once the unit has run
    show = wiped.sh(f"systemctl show -p Result -p ExecMainStatus -p ConditionResult -p InvocationID {AUTO_UNIT}")
    assert "ConditionResult=yes" in show and "ExecMainStatus=8" in show and "Result=exit-code" in show, show
    invocation = next(line.split("=", 1)[1] for line in show.splitlines() if line.startswith("InvocationID="))
    journal = wiped.sh(f"journalctl --no-pager -o cat _SYSTEMD_INVOCATION_ID={invocation}")
    reason = f"resolves to /srv/planted/{wiped.good}, outside the backup directory {D}"
    assert "auto-restore decision: no restore — the snapshot is refused" in journal and reason in journal, journal
    last = json.loads(wiped.sh(f"cat {STATE_FILE}"))["decisions"][-1]
    assert last["restore"] is False and last.get("refused") is True and reason in last["reason"], last
    nothing = read_inventory(wiped.name, time.monotonic() + 60)
    assert nothing is not None and nothing.objects == {}  # refused: nothing restored from the planted copy

    checked = subprocess.run([docker_cli(), "exec", wiped.name, "k3s-dr", "check", "--json"], capture_output=True,
                             text=True, timeout=300, check=False)
    assert checked.returncode == 1, checked.stderr
    failed = {r["control"] for r in json.loads(checked.stdout)["results"] if r["verdict"] in ("fail", "error")}
    assert "DR-LINK-003" in failed, failed
    fixed = json.loads(wiped.sh("k3s-dr fix --json"))
    assert any(step.get("control") == "DR-LINK-003" for step in fixed["steps"]), fixed
    assert wiped.links()[LINKS[1]] == wiped.good
