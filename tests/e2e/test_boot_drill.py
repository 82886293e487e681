"""The boot drill on a real reference host: lose the cluster's state, reboot (``docker restart``),
see the auto-restore unit fire at boot and the user objects come back; reboot again and see it
decide not to restore; lose the state again the same day and see it restore again.

One test per step, in order, on one host: the report shows where the drill broke. The loss is
the datastore itself (k3s's SQLite file gone, k3s up on an empty one), the disaster the seed's
auto-restore unit was written for: a node that comes back with an empty cluster. Deleting
namespaces would not need a boot, and the stand-in has no namespace controller to finish it.

Numbers (boot time, boot RTO, the decisions) are printed and kept in the evidence JSON, never
asserted. Run: ``pytest tests/e2e/test_boot_drill.py`` (about 2 minutes; needs a Docker engine).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dr_lib.errors import DRError
from k3s_dr_testbed.clusters.binaries import locate_binaries
from k3s_dr_testbed.docker import ensure_engine
from k3s_dr_testbed.lab.bootdrill import BootObservation, boot_json, boot_times, drill_verdict, evidence, judge_boot
from k3s_dr_testbed.lab.bootdrill_host import (
    AUTO_UNIT,
    SEED_NAMESPACE,
    Inventory,
    boot,
    lose_datastore,
    read_inventory,
    seed_objects,
    take_backup,
)
from k3s_dr_testbed.lab.host import ReferenceHost, exec_in, host_down, host_up

pytestmark = [pytest.mark.e2e, pytest.mark.docker, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
UP_SECONDS = 900.0  # a cold machine builds the Debian image and the host images first
STEP_SECONDS = 240.0
SEEDED = 20  # ConfigMaps, beside a Secret, their namespace and the host's own app
# Signature checks on (issue 14: `k3s-dr install` creates the key pair and configures it, so the units sign and
# check by default). Off until archive signing is on main; on, the drill also proves the snapshot it backs up and
# the one the auto-restore restores verify as signed (`verify --json`'s `signature`). docs/boot-drill.md.
SIGNATURES = os.environ.get("K3S_DR_BOOT_DRILL_SIGNATURES", "") == "1"


def _require_tools() -> Path:
    for tool, package in (("docker", "docker.io"), ("openssl", "openssl"), ("debootstrap", "debootstrap")):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (Debian package {package}): the reference host cannot run")
    try:
        ensure_engine(time.monotonic() + 120)
    except DRError as exc:
        pytest.skip(f"no Docker engine can run here (dockerd): {exc}")
    try:
        return locate_binaries()
    except DRError as exc:
        pytest.skip(f"the control-plane binaries (kine, kube-apiserver) are not built: {exc}")


@dataclass
class Drill:
    host: ReferenceHost
    started: datetime
    expected: Inventory | None = None
    backup: dict[str, Any] = field(default_factory=dict)
    boots: list[BootObservation] = field(default_factory=list)
    broken: str = ""  # the first step that failed: the later ones cannot mean anything

    @property
    def name(self) -> str:
        return self.host.name

    def sh(self, command: str) -> str:
        return exec_in(self.name, command, time.monotonic() + 60)[1]

    def ledgers(self) -> set[str]:
        return set(self.sh("ls /var/lib/k3s-dr/ledgers 2>/dev/null || true").split())


@pytest.fixture(scope="module")
def boot_drill() -> Iterator[Drill]:
    bin_dir = _require_tools()
    name = f"k3sdr-bootdrill-{os.getpid()}"
    host = host_up(name, bin_dir, time.monotonic() + UP_SECONDS)
    try:
        yield Drill(host, datetime.now(UTC))
    finally:
        host_down(name)


@pytest.fixture
def step(boot_drill: Drill, request: pytest.FixtureRequest) -> Iterator[Drill]:
    """Runs a step only when every earlier one passed; a failure marks the drill broken there."""
    if boot_drill.broken:
        pytest.fail(f"not run: step {boot_drill.broken!r} failed first")
    failed_before = request.session.testsfailed
    yield boot_drill
    if request.session.testsfailed > failed_before:  # the call's report is counted before teardown
        boot_drill.broken = request.node.name


def _boot(drill: Drill, label: str, *, expect_restore: bool) -> BootObservation:
    assert drill.expected is not None
    observed = boot(drill.name, drill.expected, time.monotonic() + STEP_SECONDS, label=label,
                    expect_restore=expect_restore)
    drill.boots.append(observed)
    print(f"\n{label}: {json.dumps(boot_json(observed), indent=1)}")
    return observed


def test_boot_1_healthy_host_backs_up_its_user_objects(step: Drill) -> None:
    assert step.sh(f"systemctl is-enabled {AUTO_UNIT}").strip() == "enabled"
    assert "ProtectSystem=strict" in step.sh(f"systemctl cat {AUTO_UNIT}")  # the drill runs the sandboxed unit
    seed_objects(step.name, time.monotonic() + 60, SEEDED)
    before = read_inventory(step.name, time.monotonic() + 60)
    assert before is not None
    # the host's app (2 namespaces, a ConfigMap, a Secret, a Service, a Deployment) and ours
    assert len(before.objects) == 6 + 1 + SEEDED + 1, sorted(before.objects)
    assert f"namespaces//{SEED_NAMESPACE}" in before.objects and "deployments/shop/web" in before.objects
    step.backup = take_backup(step.name, time.monotonic() + 120)
    assert step.backup["promoted"] is True and step.backup["verified"] is True, step.backup
    link = step.sh("readlink /var/backups/k3s-cluster/k3s-cluster-snapshot.tar.gz").strip()
    assert link == Path(step.backup["archive"]).name
    assert step.backup["kinds"]["configmaps"] >= SEEDED + 1 and step.backup["datastore"]["kind"] == "sqlite"
    if SIGNATURES:
        assert _signature(step, step.backup["archive"]) == "valid"
    step.expected = before


def _signature(drill: Drill, archive: str) -> str:
    """What `k3s-dr verify --json` on the host says of the archive's signature (valid, invalid, missing)."""
    return str(json.loads(drill.sh(f"k3s-dr verify {archive} --json")).get("signature"))


def test_boot_2_losing_the_datastore_leaves_an_empty_cluster(step: Drill) -> None:
    assert step.expected is not None
    last_run = step.sh(f"systemctl show -p InvocationID,ExecMainStartTimestampMonotonic {AUTO_UNIT}")
    lose_datastore(step.name, time.monotonic() + STEP_SECONDS)
    empty = read_inventory(step.name, time.monotonic() + 60)
    assert empty is not None and empty.objects == {}, sorted(empty.objects if empty else [])
    assert empty.cluster_uid != step.expected.cluster_uid  # a new datastore: a new cluster identity
    # restarting k3s does not run the auto-restore (only a boot does): nothing comes back by itself
    assert step.sh(f"systemctl show -p InvocationID,ExecMainStartTimestampMonotonic {AUTO_UNIT}") == last_run


def test_boot_3_boot_fires_the_auto_restore_and_the_objects_come_back(step: Drill) -> None:
    ledgers = step.ledgers()
    observed = _boot(step, "boot after the loss", expect_restore=True)
    assert judge_boot(observed) == (), boot_json(observed)
    assert observed.unit.condition_result == "yes" and observed.unit.exit_status == 0
    assert observed.unit.active_state == "inactive" and observed.unit.result == "success"
    assert [d.restore for d in observed.journal] == [True]
    assert observed.journal[0].reason.startswith("objects lost: 0 of 28 user objects of the snapshot present")
    back = read_inventory(step.name, time.monotonic() + 60)
    assert back is not None and back.holds(step.expected or back)
    assert set(back.objects) == set((step.expected or back).objects)  # nothing more, nothing less
    new = step.ledgers() - ledgers
    assert len(new) == 1, new
    ledger = json.loads(step.sh(f"cat /var/lib/k3s-dr/ledgers/{new.pop()}"))
    assert ledger["outcome"] == "complete" and ledger["archive_sha256"] == step.backup["sha256"], ledger["counts"]
    assert boot_times(observed)["boot_rto_seconds"] is not None
    if SIGNATURES:  # the archive the unit restored is the signed one: same sha256 as the backup, signature valid
        assert _signature(step, ledger["archive"]) == "valid"


def test_boot_4_boot_again_without_a_loss_does_not_restore(step: Drill) -> None:
    ledgers = step.ledgers()
    observed = _boot(step, "boot again, nothing lost", expect_restore=False)
    assert judge_boot(observed) == (), boot_json(observed)
    assert [d.restore for d in observed.journal] == [False]
    assert observed.journal[0].reason.startswith("cluster healthy: 28 of 28 user objects")
    assert observed.unchanged is True  # same uids and resourceVersions: nothing rewritten
    assert step.ledgers() == ledgers  # no restore ran
    assert observed.state_boot_id != step.boots[0].state_boot_id  # a new boot, seen as one


def test_boot_5_losing_it_again_the_same_day_restores_again(step: Drill) -> None:
    lose_datastore(step.name, time.monotonic() + STEP_SECONDS)
    empty = read_inventory(step.name, time.monotonic() + 60)
    assert empty is not None and empty.objects == {}
    observed = _boot(step, "boot after a second loss, same day", expect_restore=True)
    assert judge_boot(observed) == (), boot_json(observed)  # the seed's once-a-day latch is gone
    assert [d.restore for d in observed.journal] == [True]
    state = json.loads(step.sh("cat /var/lib/k3s-dr/auto-restore.json"))
    assert [d["restore"] for d in state["decisions"]] == [True, False, True]
    assert len({d["boot_id"] for d in state["decisions"]}) == 3


def test_boot_6_evidence_and_measurements(step: Drill, tmp_path: Path,
                                     record_property: Callable[[str, object], None]) -> None:
    assert len(step.boots) == 3 and step.expected is not None
    verdict, reasons = drill_verdict(step.boots)
    assert (verdict, reasons) == ("pass", [])
    document = evidence(step.host.as_dict(), step.backup, step.boots, started=step.started.isoformat(),
                        finished=datetime.now(UTC).isoformat(), user_objects=len(step.expected.objects))
    path = tmp_path / "boot-drill-evidence.json"
    path.write_text(json.dumps(document, indent=2))
    assert json.loads(path.read_text())["verdict"] == "pass"
    assert "not-a-real-one" not in path.read_text()  # the app's Secret value never appears
    numbers = {o.label: {k: v for k, v in boot_times(o).items() if v is not None} for o in step.boots}
    record_property("boot_drill", json.dumps(numbers))
    print(f"\nhost up {step.host.seconds:.1f}s (boot {step.host.boot_seconds:.1f}s); evidence {path}")
    for label, times in numbers.items():
        print(f"{label}: {times}")


def test_boot_7_cli_runs_the_boot_drill_on_a_host(step: Drill) -> None:
    done = subprocess.run([sys.executable, "-m", "dr_lib", "lab", "host", "drill", "--name", step.name, "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["verdict"] == "pass", result["reasons"]
    assert [b["decision"]["restore"] for b in result["boots"]] == [True, False, True]
    assert result["boot_rto_seconds"] > 0 and result["user_objects"] >= 28


def test_boot_8_a_boot_id_that_survives_reboots_fails_the_drill_at_the_second_loss(step: Drill) -> None:
    """The bug this drill found, put back with a drop-in (a fixed --boot-id, as the kernel's boot id
    behaves in a container): the drill must fail, at the boot after the second loss, and say why."""
    dropin = f"/etc/systemd/system/{AUTO_UNIT}.d/same-boot-id.conf"
    exec_start = step.sh(f"systemctl show -p ExecStart --value {AUTO_UNIT}")
    argv = exec_start.split("argv[]=", 1)[1].split(" ;", 1)[0].strip()
    step.sh(f"mkdir -p {Path(dropin).parent} && printf '[Service]\\nExecStart=\\nExecStart=%s --boot-id "
            f"the-same-boot\\n' '{argv}' > {dropin} && systemctl daemon-reload")
    done = subprocess.run([sys.executable, "-m", "dr_lib", "lab", "host", "drill", "--name", step.name, "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 1, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["verdict"] == "fail"
    assert [b["verdict"] for b in result["boots"]] == ["pass", "pass", "fail"]
    broken = result["boots"][2]
    assert "the decision is the expected one" in broken["problems"]
    assert "at most one per boot" in broken["decision"]["reason"]
    assert any("same boot id" in reason for reason in result["reasons"])
    assert "boot drill failed" in done.stderr
