"""A backup's batch against the real restic: the digest is that of what was stored, whatever the volume does.

A live workload changes files while restic reads them. Here the change is made right after restic
finished (a deterministic stand-in for "during"): the batch cannot prove what restic read, so it
runs again — incrementally — and records the digest of the second snapshot's content; a volume that
never settles fails naming its file. Special files never enter a snapshot.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dr_lib.archive.dataentry import VOLUME, DataContext
from dr_lib.datarepo.repository import DataRepository
from dr_lib.hooks.databatch import DataBatch, Outcome, Pending
from dr_lib.hooks.pvdata import tree_digest
from tests.integration._offsite_env import restic_or_skip


def volume(tmp_path: Path) -> Path:
    data = tmp_path / "storage" / "vol"
    (data / "d").mkdir(parents=True)
    for index in range(5):
        (data / "d" / f"f{index}").write_bytes(os.urandom(50_000))
    (data / "live.db").write_bytes(b"a" * 4096)
    return data


def flush(tmp_path: Path, data: Path, after_backup: Callable[[int], None]) -> tuple[Outcome, DataBatch]:
    """One batch of ``data``; ``after_backup(n)`` runs right after the n-th ``restic backup`` returned."""
    restic_or_skip()
    directory = tmp_path / "backups"
    directory.mkdir(mode=0o700, exist_ok=True)
    repository = DataRepository(directory)
    calls = 0
    real = repository.backup

    def backup(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        result = real(*args, **kwargs)
        calls += 1
        after_backup(calls)
        return result

    repository.backup = backup  # type: ignore[method-assign]
    context = DataContext(directory, "k3s-dr-20260101T000000Z.tar.gz", "2026-01-01T00:00:00Z")
    batch = DataBatch(repository, context, {}, deadline=time.monotonic() + 300)
    batch.add(Pending("data/volumes/ns/vol.dir", VOLUME, str(data), {}, "pod ns/app-0", "fail"))
    (outcome,) = batch.flush()
    batch.close()
    return outcome, batch


def rewrite_in_place(path: Path) -> None:
    time.sleep(0.05)  # past a coarse clock tick: the change shows in mtime/ctime
    with path.open("r+b") as handle:
        handle.write(os.urandom(4096))


def test_a_file_changed_after_restic_read_it_makes_the_batch_run_again(tmp_path: Path) -> None:
    data = volume(tmp_path)
    outcome, batch = flush(tmp_path, data, lambda n: rewrite_in_place(data / "live.db") if n == 1 else None)
    assert outcome.entry is not None, outcome.problem
    (snapshot,) = batch.snapshots
    assert snapshot["attempts"] == 2 and snapshot["files_changed"] == 1 and snapshot["files_unmodified"] == 5
    assert outcome.entry.sha256 == tree_digest(data)[2]  # the second snapshot's content: the file as it is now


def test_a_volume_that_never_settles_fails_naming_its_file(tmp_path: Path) -> None:
    data = volume(tmp_path)
    outcome, batch = flush(tmp_path, data, lambda _n: rewrite_in_place(data / "live.db"))
    assert outcome.entry is None
    assert "live.db (changed while being copied)" in outcome.problem and "quiesce the workload" in outcome.problem
    assert batch.snapshots[0]["attempts"] == 3


def test_special_files_stay_out_of_the_snapshot_and_are_listed(tmp_path: Path) -> None:
    data = volume(tmp_path)
    os.mkfifo(data / "d" / "pipe")
    (data / "sock-dir").mkdir()
    outcome, batch = flush(tmp_path, data, lambda _n: None)
    assert outcome.entry is not None, outcome.problem
    assert outcome.entry.meta["skipped"] == ["d/pipe"]
    _snapshot, nodes = DataRepository(tmp_path / "backups").listing(batch.snapshots[0]["id"], time.monotonic() + 60)
    assert f"{data}/d/pipe" not in nodes and nodes[f"{data}/d/f0"].kind == "file"
    assert outcome.entry.sha256 == tree_digest(data)[2]


@pytest.mark.parametrize("name", ["we*ird [name]?.txt", "back\\slash"])
def test_an_excluded_special_file_with_pattern_characters_in_its_name(tmp_path: Path, name: str) -> None:
    data = volume(tmp_path)
    os.mkfifo(data / name)
    (data / f"{name}.keep").write_text("kept")  # a file the pattern must not catch too
    outcome, _batch = flush(tmp_path, data, lambda _n: None)
    assert outcome.entry is not None, outcome.problem
    assert outcome.entry.meta["skipped"] == [name] and outcome.entry.meta["files"] == 7
