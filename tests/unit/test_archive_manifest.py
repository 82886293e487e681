"""manifest.json: strict parsing, round trip, and refusal of everything that does not add up."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from _archive_factory import CONFIGMAPS, DEPLOYMENTS, manifest_dict, resources_member

from dr_lib.archive import format as fmt
from dr_lib.archive.manifest import manifest_from_dict, parse_manifest
from dr_lib.archive.userobjects import RULES_VERSION
from dr_lib.errors import IntegrityError

CM_ENTRY, _ = resources_member(CONFIGMAPS, [CONFIGMAPS.obj("a"), CONFIGMAPS.obj("b")])
DEP_ENTRY, _ = resources_member(DEPLOYMENTS, [DEPLOYMENTS.obj("web")])
DATASTORE = {"kind": "sqlite", "path": fmt.SQLITE_MEMBER, "token_path": fmt.TOKEN_MEMBER, "sha256": "a" * 64,
             "bytes": 4096, "token_sha256": "b" * 64, "token_bytes": 40}


def good() -> dict[str, Any]:
    return manifest_dict([CM_ENTRY, DEP_ENTRY], datastore=dict(DATASTORE))


def test_round_trip_preserves_every_field() -> None:
    manifest = manifest_from_dict(good())
    assert manifest.objects == 3
    assert [f.resource for f in manifest.files] == ["configmaps", "deployments.apps"]
    assert manifest.files[1].api_version == "apps/v1"
    assert manifest.member_paths() == ["resources/configmaps.yaml", "resources/deployments.apps.yaml",
                                       fmt.SQLITE_MEMBER, fmt.TOKEN_MEMBER]
    assert json.loads(manifest.to_json()) == good()
    assert parse_manifest(manifest.to_json()) == manifest


def test_created_is_utc_with_z() -> None:
    manifest = manifest_from_dict(good())
    assert manifest.created_at.utcoffset() is not None
    assert manifest.created_at.isoformat() == "2026-11-28T10:00:00+00:00"


def _mutate(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(good())
    target: Any = data
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    last = keys[-1]
    if value is KeyError:
        del target[last]
    else:
        target[int(last) if last.isdigit() else last] = value
    return data


@pytest.mark.parametrize(("path", "value", "reason"), [
    ("format", "tarball", "format is 'tarball'"),
    ("format_version", 2, "format_version is 2.*this tool reads version 1.*newer k3s-dr"),
    ("format_version", "1", "format_version is '1'"),
    ("created", "2026-11-28 10:00", "created"),
    ("objects", 4, "says 4 objects but its files add up to 3"),
    ("objects", True, "objects is True"),
    ("files", {}, "files is {}"),
    ("files.0", "x", r"files\[0\] is str"),
    ("files.0.objects", -1, "expected a count"),
    ("files.0.sha256", "ABC", "hex digits"),
    ("files.0.path", "resources/../../etc/passwd", "should be 'resources/configmaps.yaml'"),
    ("files.0.plural", "Config Maps", "not resource names"),
    ("files.1.group", "../apps", "not resource names"),
    ("files.0.namespaced", "yes", "namespaced"),
    ("files.0.kind", KeyError, "kind is None"),
    ("cluster", None, "cluster is NoneType"),
    ("cluster.server", 1, "server is 1"),
    ("datastore.kind", "zip", "expected kind sqlite or etcd"),
    ("datastore.path", "/etc/shadow", "expected kind sqlite or etcd"),
    ("datastore", [], "datastore is list"),
    ("scope", None, "scope is None"),
])
def test_bad_manifests_are_refused_naming_the_field(path: str, value: Any, reason: str) -> None:
    with pytest.raises(IntegrityError, match=reason):
        manifest_from_dict(_mutate(path, value))


def test_duplicate_members_are_refused() -> None:
    data = manifest_dict([CM_ENTRY, CM_ENTRY])
    with pytest.raises(IntegrityError, match="same member path twice"):
        manifest_from_dict(data)


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b"null"])
def test_unparsable_manifest_is_refused(raw: bytes) -> None:
    with pytest.raises(IntegrityError):
        parse_manifest(raw)


def test_archive_names_carry_utc_time() -> None:
    manifest = manifest_from_dict(good())
    name = fmt.archive_name(manifest.created_at)
    assert name == "k3s-dr-20261128T100000Z.tar.gz"
    assert fmt.archive_time(name) == manifest.created_at
    assert fmt.archive_time("k3s-cluster-backup-1.tar.gz") is None
    assert fmt.archive_time("k3s-dr-20261399T100000Z.tar.gz") is None
    assert fmt.archive_time(fmt.TEMP_PREFIX + name + ".123") is None
    assert fmt.resource_member("", "configmaps") == "resources/configmaps.yaml"
    assert fmt.resource_member("example.com", "widgets") == "resources/widgets.example.com.yaml"


def test_user_objects_absent_stays_absent_and_sums_to_none() -> None:
    manifest = manifest_from_dict(good())  # an archive written before user objects were counted
    assert all(entry.user_objects is None for entry in manifest.files)
    assert manifest.user_objects is None
    assert "user_objects" not in json.loads(manifest.to_json())["files"][0]


def test_user_objects_round_trip_and_sum() -> None:
    data = good()
    data["files"][0]["user_objects"], data["files"][1]["user_objects"] = 1, 0
    data["user_objects_rules"] = RULES_VERSION
    manifest = manifest_from_dict(data)
    assert [entry.user_objects for entry in manifest.files] == [1, 0]
    assert manifest.user_objects == 1
    assert json.loads(manifest.to_json()) == data
    assert parse_manifest(manifest.to_json()) == manifest
    data["files"][1].pop("user_objects")  # one kind not counted: the sum is unknown
    assert manifest_from_dict(data).user_objects is None


@pytest.mark.parametrize("rules", [None, 1, RULES_VERSION + 1])
def test_counts_of_other_rules_are_kept_but_not_summed(rules: int | None) -> None:
    # Archives of k3s-dr before RULES_VERSION 2 counted bootstrap RBAC as user objects: their
    # counts round-trip unchanged, but nothing compares them with counts of these rules.
    data = good()
    data["files"][0]["user_objects"], data["files"][1]["user_objects"] = 2, 1
    if rules is not None:
        data["user_objects_rules"] = rules
    manifest = manifest_from_dict(data)
    assert manifest.user_objects is None and not manifest.counts_current
    assert json.loads(manifest.to_json()) == data


@pytest.mark.parametrize("rules", [0, -1, "2", 2.0, True])
def test_bad_rules_versions_are_refused(rules: Any) -> None:
    data = good()
    data["user_objects_rules"] = rules
    with pytest.raises(IntegrityError, match="user_objects_rules"):
        manifest_from_dict(data)


@pytest.mark.parametrize(("value", "reason"), [
    (3, "more than its 2 objects"), (-1, "expected a count ≥ 0"), ("1", "expected int"), (True, "expected int"),
])
def test_bad_user_objects_are_refused(value: Any, reason: str) -> None:
    data = good()
    data["files"][0]["user_objects"] = value
    with pytest.raises(IntegrityError, match=reason) as caught:
        manifest_from_dict(data)
    assert "files[0].user_objects" in caught.value.message
