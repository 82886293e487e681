"""User objects of real archive files: counted by verification, recorded in the sidecar, checked against
the manifest, recounted for archives whose counts came from other rules, and the archive before another."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from _archive_factory import CONFIGMAPS, NAMESPACES, Kind, good_archive

from dr_lib.archive import format as fmt
from dr_lib.archive import read_manifest, read_sidecar, verify_archive, write_sidecar
from dr_lib.archive.usercount import archive_user_objects, older_archives, previous_with_user_objects, user_object_drop
from dr_lib.archive.userobjects import RULES_VERSION
from dr_lib.errors import IntegrityError

NOW = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)
CLUSTER_ROLES = Kind("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False)
BOOTSTRAP = {"kubernetes.io/bootstrapping": "rbac-defaults"}
CONTENT = {
    NAMESPACES: [NAMESPACES.obj("default"), NAMESPACES.obj("kube-system"), NAMESPACES.obj("shop")],
    CONFIGMAPS: [CONFIGMAPS.obj("kube-root-ca.crt", "shop"), CONFIGMAPS.obj("a", "shop"), CONFIGMAPS.obj("b", "shop"),
                 CONFIGMAPS.obj("coredns", "kube-system")],
    CLUSTER_ROLES: [CLUSTER_ROLES.obj(name, None, metadata={"name": name, "labels": BOOTSTRAP})
                    for name in ("admin", "edit", "system:basic-user")] + [CLUSTER_ROLES.obj("mine", None)],
}
USER = {NAMESPACES: 1, CONFIGMAPS: 2, CLUSTER_ROLES: 1}  # shop, a, b, mine
# What k3s-dr before RULES_VERSION 2 recorded: bootstrap RBAC counted as the user's.
OLD_RULES_COUNTS = {NAMESPACES: 1, CONFIGMAPS: 2, CLUSTER_ROLES: 4}


def test_verification_counts_user_objects_and_the_sidecar_records_them(tmp_path: Path) -> None:
    path = good_archive(tmp_path, CONTENT, user_objects=USER, rules=RULES_VERSION)
    result = verify_archive(path)
    assert (result.objects, result.user_objects, result.manifest.user_objects) == (11, 4, 4)
    sidecar = write_sidecar(result, NOW)
    assert (sidecar.user_objects, sidecar.user_objects_rules) == (4, RULES_VERSION)
    assert read_sidecar(path) == sidecar
    assert archive_user_objects(path) == 4


def test_a_manifest_lying_about_user_objects_is_refused(tmp_path: Path) -> None:
    path = good_archive(tmp_path, CONTENT, user_objects={**USER, CONFIGMAPS: 4}, rules=RULES_VERSION)
    with pytest.raises(IntegrityError, match=r"configmaps\.yaml holds 2 user objects, the manifest says 4"):
        verify_archive(path)


@pytest.mark.parametrize("rules", [None, 1])
def test_archives_counted_by_older_rules_are_recounted_not_compared(tmp_path: Path, rules: int | None) -> None:
    path = good_archive(tmp_path, CONTENT, user_objects=OLD_RULES_COUNTS, rules=rules)
    assert read_manifest(path).user_objects is None  # 7 recorded, by rules that counted bootstrap RBAC
    assert verify_archive(path).user_objects == 4
    assert archive_user_objects(path) == 4  # read from the objects: no sidecar yet


def test_archives_without_any_count_are_counted_too(tmp_path: Path) -> None:
    path = good_archive(tmp_path, CONTENT)
    assert archive_user_objects(path) == 4


def test_an_old_sidecar_without_counts_is_not_believed(tmp_path: Path) -> None:
    path = good_archive(tmp_path, CONTENT, user_objects=OLD_RULES_COUNTS, rules=1)
    write_sidecar(verify_archive(path), NOW)
    sidecar_file = tmp_path / fmt.sidecar_name(path.name)
    record = json.loads(sidecar_file.read_text())
    record.update(user_objects=7, user_objects_rules=1)  # what another rule set would have written
    sidecar_file.write_text(json.dumps(record))
    assert archive_user_objects(path) == 4
    for bad in ("7", -1, True, None):
        record.update(user_objects=bad, user_objects_rules=RULES_VERSION)
        sidecar_file.write_text(json.dumps(record))
        read = read_sidecar(path)
        assert read is not None and read.current_user_objects is None
        assert archive_user_objects(path) == 4


def test_an_unreadable_archive_has_no_count(tmp_path: Path) -> None:
    path = tmp_path / "k3s-dr-20261128T100000Z.tar.gz"
    path.write_bytes(b"\x1f\x8b not gzip")
    assert archive_user_objects(path) is None
    assert archive_user_objects(tmp_path / "missing.tar.gz") is None


def test_the_archive_before_another_is_the_newest_older_one_holding_user_objects(tmp_path: Path) -> None:
    empty = {NAMESPACES: [NAMESPACES.obj("kube-system")]}
    oldest = good_archive(tmp_path, CONTENT, created="2026-11-28T08:00:00Z")
    before = good_archive(tmp_path, CONTENT, created="2026-11-28T09:00:00Z")
    wiped_1 = good_archive(tmp_path, empty, created="2026-11-28T09:10:00Z")
    wiped_2 = good_archive(tmp_path, empty, created="2026-11-28T09:20:00Z")
    good_archive(tmp_path, CONTENT, created="2026-11-28T11:00:00Z")  # newer: not "before"
    (tmp_path / "k3s-cluster-snapshot.tar.gz").symlink_to(oldest.name)  # links are not archives
    (tmp_path / "k3s-dr-20261128T093000Z.tar.gz.verified.json").write_text("{}")
    when = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    assert older_archives(tmp_path, when) == [wiped_2, wiped_1, before, oldest]
    assert older_archives(tmp_path, when, besides=tmp_path / "k3s-cluster-snapshot.tar.gz") == \
        [wiped_2, wiped_1, before]  # the archive itself, even named through a link, is not "before" itself
    assert previous_with_user_objects(tmp_path, when) == (before, 4)  # the two wiped backups are passed over
    assert previous_with_user_objects(tmp_path, read_manifest(oldest).created_at) is None
    assert older_archives(tmp_path / "missing", when) == []


@pytest.mark.parametrize(("previous", "current", "drop"), [(28, 0, 1.0), (28, 14, 0.5), (28, 28, 0.0),
                                                           (0, 0, 0.0), (5, 9, 0.0)])
def test_user_object_drop(previous: int, current: int, drop: float) -> None:
    assert user_object_drop(previous, current) == drop
