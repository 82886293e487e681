"""The data repository's pure parts: restic's output read strictly, and what pruning may let go."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dr_lib.archive.dataentry import HOOK_DUMP, DataEntry
from dr_lib.datarepo.prune import KeptArchive, unreferenced
from dr_lib.datarepo.repository import (
    SnapNode,
    Snapshot,
    parse_backup_summary,
    parse_listing,
    parse_snapshots,
    pattern_escape,
    rfc3339_ns,
)
from dr_lib.datarepo.restic import CommandResult, ResticRepo, failure
from dr_lib.errors import IntegrityError, LockBusy, UsageError
from dr_lib.offsite.datacopy import find


@pytest.mark.parametrize(("text", "ns"), [
    ("2026-12-04T18:47:48.395393957Z", 1_796_410_068_395_393_957),
    ("2026-12-04T18:47:48Z", 1_796_410_068_000_000_000),
    ("2026-12-04T18:47:48.5Z", 1_796_410_068_500_000_000),
    ("2026-12-04T19:47:48.000000001+01:00", 1_796_410_068_000_000_001),
])
def test_restic_times_to_nanoseconds(text: str, ns: int) -> None:
    assert rfc3339_ns(text) == ns


def test_a_broken_time_is_refused() -> None:
    with pytest.raises(IntegrityError, match="not RFC 3339"):
        rfc3339_ns("yesterday")


SNAPSHOT = {"time": "2026-12-04T18:58:20.381673752Z", "tree": "t" * 64, "paths": ["/v"], "hostname": "k3s-dr",
            "tags": ["k3s-dr-data", "archive:k3s-dr-20261204T185820Z.tar.gz"], "id": "a" * 64, "short_id": "aaaaaaaa",
            "struct_type": "snapshot"}


def test_a_listing_gives_the_snapshot_and_its_nodes() -> None:
    node = {"name": "f", "type": "file", "path": "/v/f", "size": 6, "mtime": "2026-12-04T18:47:48.1Z",
            "ctime": "2026-12-04T18:47:48.2Z", "struct_type": "node"}
    snapshot, nodes = parse_listing("\n".join(json.dumps(x) for x in (SNAPSHOT, node)) + "\nnoise\n")
    assert (snapshot.id, snapshot.tree, snapshot.archive) == ("a" * 64, "t" * 64, "k3s-dr-20261204T185820Z.tar.gz")
    assert nodes == {"/v/f": SnapNode("file", 6, 1_796_410_068_100_000_000, 1_796_410_068_200_000_000)}
    with pytest.raises(IntegrityError, match="no snapshot"):
        parse_listing(json.dumps(node))


def test_snapshots_keep_the_original_id_of_a_copy() -> None:
    copy = {**SNAPSHOT, "id": "b" * 64, "original": "a" * 64}
    (found,) = parse_snapshots(json.dumps([copy, {"no": "id"}]))
    assert (found.id, found.ref) == ("b" * 64, "a" * 64)
    with pytest.raises(IntegrityError):
        parse_snapshots("{not json")


def test_a_backup_without_a_summary_references_nothing() -> None:
    line = {"message_type": "summary", "snapshot_id": "1cafc8ac", "files_new": 1, "files_changed": 2,
            "files_unmodified": 3, "data_added": 4}
    summary = parse_backup_summary(CommandResult((), 0, (json.dumps(line) + "\n").encode(), b"", 1.5))
    assert (summary.short_id, summary.files_changed, summary.data_added) == ("1cafc8ac", 2, 4)
    with pytest.raises(IntegrityError, match="without a summary"):
        parse_backup_summary(CommandResult((), 0, b'{"message_type":"status"}\n', b"", 1.0))


def test_exclude_patterns_match_exactly_that_path() -> None:
    assert pattern_escape("/v/a*b?[c]\\d") == "/v/a\\*b\\?\\[c\\]\\\\d"


@pytest.mark.parametrize(("stderr", "error", "sentence"), [
    ("Fatal: wrong password or no key found", UsageError, "does not open it"),
    ("Fatal: unable to create lock in backend: repository is already locked by PID 9", LockBusy, "holds its lock"),
    ("ciphertext verification failed", IntegrityError, "tampered"),
    ("Fatal: no matching ID found for prefix \"abc\"", IntegrityError, "not there"),
])
def test_restic_failures_are_said_in_one_line(stderr: str, error: type[Exception], sentence: str) -> None:
    repo = ResticRepo("/r", Path("/k"), "data repository /r")
    found = failure(repo, CommandResult((), 1, b"", stderr.encode(), 0.1), "do it")
    assert isinstance(found, error) and sentence in str(found) and str(found).startswith("data repository /r:")


def snap(ident: str, archive: str | None, original: str | None = None) -> Snapshot:
    tags = ("k3s-dr-data", *((f"archive:{archive}",) if archive else ()))
    return Snapshot(ident, "t", original, ("/v",), tags, "")


def test_pruning_keeps_what_a_kept_archive_references_and_nothing_else() -> None:
    snapshots = [snap("s1", "a1"), snap("s2", "a2"), snap("s3", "a3"), snap("copy-of-s4", "a4", original="s4"),
                 snap("orphan", "never-written"), snap("untagged", None)]
    kept = [KeptArchive("a2", frozenset({"s2"})), KeptArchive("a4", frozenset({"s4"})),
            KeptArchive("a3", None)]  # a3's manifest is unreadable: whatever it may need stays
    assert [s.id for s in unreferenced(snapshots, kept)] == ["s1", "orphan", "untagged"]
    assert unreferenced(snapshots, []) == snapshots


def entry(snapshot: str, tree: str) -> DataEntry:
    return DataEntry("data/hooks/a/b/c.dump", HOOK_DUMP, 1, "0" * 64, {}, "restic", snapshot, tree, "/x")


def test_an_archives_data_is_found_by_id_or_original_and_only_with_its_tree() -> None:
    listed = [Snapshot("local", "T1", None, (), (), ""), Snapshot("copy", "T2", "orig", (), (), "")]
    found, missing = find(listed, [entry("local", "T1"), entry("orig", "T2"), entry("orig", "OTHER"),
                                   entry("gone", "T1")])
    assert {k: v.id for k, v in found.items()} == {"local": "local", "orig": "copy"}
    assert len(missing) == 2
