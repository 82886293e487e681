"""``k3s-dr fix`` on the links after a wipe, on a *fake* host and a *fake* backup directory (named as such:
the real one is the reference host of tests/e2e/test_wipe_at_boot.py).

After a wipe the newest verified archive is a backup of the empty cluster (verified, zero user objects,
kept but not promoted). Pointing a link there would make the next boot restore nothing and the next
backup be promoted over the last archive that can bring the cluster back: fix takes the archive rotation
keeps for that (:func:`dr_lib.archive.rotation.newest_with_user_objects`), or says why it leaves the link.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from _host_facts import LAYOUT, NOW, archive, archive_record, healthy, link, with_files, with_stat
from test_units_install import EXE, _state

from dr_lib.archive.rotation import RotationPolicy, plan_rotation
from dr_lib.archive.userobjects import RULES_VERSION
from dr_lib.checks.hostfacts import HostFacts, PathFacts
from dr_lib.checks.model import failed, passed
from dr_lib.host.fix import archive_records, plan_fix, remaining_after
from dr_lib.host.steps import Kind

GOOD = "k3s-dr-20270115T060000Z.tar.gz"  # the backup before the loss: 28 user objects
EMPTY_1 = "k3s-dr-20270115T070000Z.tar.gz"  # the hourly backups after it: verified, not promoted
EMPTY_2 = "k3s-dr-20270115T075000Z.tar.gz"
PLANTED = f"/srv/planted/{GOOD}"

FAKE_WIPED_DIRECTORY = (archive_record(EMPTY_2, user_objects=0), archive_record(EMPTY_1, user_objects=0),
                        archive_record(GOOD, user_objects=28))


def _planted_snapshot_link() -> HostFacts:
    """The fake host of the wipe test's last step: the snapshot link planted outside backup.dir."""
    planted = dataclasses.replace(link(LAYOUT.snapshot_link, PLANTED), resolved=PLANTED)
    facts = with_stat(healthy(), planted)
    return with_files(facts, archives=(archive(EMPTY_2), archive(EMPTY_1), archive(GOOD)), newest_verified=EMPTY_2)


def _relinks(facts: HostFacts, archives) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    steps, unfixable = plan_fix(facts, EXE, _state(Path("/nonexistent")), archives)
    return [(s.target, s.args[0], s.control) for s in steps if s.kind is Kind.RELINK], unfixable


def test_after_a_wipe_fix_points_the_snapshot_link_at_the_archive_with_user_objects() -> None:
    relinks, unfixable = _relinks(_planted_snapshot_link(), FAKE_WIPED_DIRECTORY)
    assert relinks == [(LAYOUT.snapshot_link, GOOD, "DR-LINK-003")] and unfixable == []


def test_fix_and_rotation_name_the_same_archive() -> None:
    plan = plan_rotation(FAKE_WIPED_DIRECTORY, RotationPolicy(keep=2), now=datetime.fromtimestamp(NOW, UTC))
    kept_for_users = [d.name for d in plan.decisions if "newest with user objects" in d.reasons]
    relinks, _ = _relinks(_planted_snapshot_link(), FAKE_WIPED_DIRECTORY)
    assert kept_for_users == [relinks[0][1]] == [GOOD]


def test_a_missing_latest_link_goes_to_the_archive_with_user_objects_too() -> None:
    # Backups compare against the archive the links point at: an empty one there would let the next
    # backup of the wiped cluster be promoted.
    facts = with_files(with_stat(healthy(), PathFacts(LAYOUT.latest_link)),
                       archives=(archive(EMPTY_2), archive(GOOD)), newest_verified=EMPTY_2)
    relinks, _ = _relinks(facts, FAKE_WIPED_DIRECTORY)
    assert relinks == [(LAYOUT.latest_link, GOOD, "DR-LINK-001")]


@pytest.mark.parametrize(("name", "archives"), [
    ("every archive empty", (archive_record(EMPTY_2, user_objects=0), archive_record(EMPTY_1, user_objects=0))),
    ("the archive with user objects not verified",
     (archive_record(EMPTY_2, user_objects=0), archive_record(GOOD, verified=False, user_objects=28))),
    ("user objects not known", (archive_record(EMPTY_2, user_objects=0), archive_record(GOOD, user_objects=None))),
])
def test_without_a_verified_archive_holding_user_objects_fix_leaves_the_link_and_says_why(name, archives) -> None:
    relinks, unfixable = _relinks(_planted_snapshot_link(), archives)
    assert relinks == [], name
    ((label, why),) = unfixable
    assert "DR-LINK-003" in label and f"the newest, {EMPTY_2}, holds none" in why, (name, why)
    assert f"{LAYOUT.snapshot_link} left as it is" in why


def test_the_reason_fix_knew_stays_with_the_control_still_failing() -> None:
    after = {"DR-LINK-003": failed("the snapshot link resolves to /srv/planted/x", "x"),
             "DR-LINK-001": passed("ok"), "DR-BKP-004": failed("stale", "y")}
    remaining = remaining_after(after, [("DR-LINK-002, DR-LINK-003", "no verified archive holds user objects")])
    assert remaining == (("DR-LINK-003", "the snapshot link resolves to /srv/planted/x; not repaired: no verified "
                          "archive holds user objects"), ("DR-BKP-004", "stale"))


def _fake_archive_file(directory: Path, name: str, user_objects: int, *, size: int = 100) -> None:
    (directory / name).write_bytes(b"x" * size)
    sidecar = {"archive": name, "sha256": "ab" * 32, "bytes": size, "objects": 150,
               "verified_at": "2027-01-15T08:00:00Z", "tool_version": "test", "user_objects": user_objects,
               "user_objects_rules": RULES_VERSION}
    (directory / f"{name}.verified.json").write_text(json.dumps(sidecar))


def test_archive_records_read_the_directory_as_rotation_does(tmp_path: Path) -> None:
    """A fake backup directory: sidecars of these very files, one changed since, one the probe hashed."""
    _fake_archive_file(tmp_path, GOOD, 28)
    _fake_archive_file(tmp_path, EMPTY_1, 0)
    _fake_archive_file(tmp_path, EMPTY_2, 0)
    (tmp_path / EMPTY_1).write_bytes(b"changed after verification")  # another size: no longer verified
    (tmp_path / "k3s-dr-latest-copy.tar.gz").write_bytes(b"not named like ours")

    def facts_of(name: str, sha256: str | None) -> object:
        return archive(name, path=str(tmp_path / name), real=str(tmp_path / name), sha256=sha256)

    facts = with_files(healthy(), archives=(facts_of(EMPTY_2, None), facts_of(EMPTY_1, None),
                                            facts_of(GOOD, "cd" * 32), facts_of("k3s-dr-latest-copy.tar.gz", None)))
    records = {r.name: (r.verified, r.user_objects) for r in archive_records(facts)}
    # GOOD's digest, computed by the probe, differs from its record: not verified, however its size matches.
    assert records == {EMPTY_2: (True, 0), EMPTY_1: (False, None), GOOD: (False, 28)}
