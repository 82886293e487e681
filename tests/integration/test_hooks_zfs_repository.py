"""A ZFS volume's stream through the real data repository and back, with a fake ``zfs`` (no pool here).

The backup side stores the ``zfs send`` stream as a file of a batch (restic for real); the restore
side reads it back with ``restic dump`` into ``zfs receive``, checks its sha256 and only then renames
the received dataset into place — and only below ``data.zfs_datasets``, the mountpoint below
``data.volume_roots``. The fake records every zfs command (tests/unit/test_hooks_zfs.py).
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from dr_lib.archive.dataentry import REPOSITORY_KEY_MEMBER, VOLUME, DataContext, RepositoryRef
from dr_lib.archive.manifest import ClusterIdentity, Manifest
from dr_lib.archive.writer import write_archive
from dr_lib.datarepo.repository import DataRepository
from dr_lib.errors import IntegrityError
from dr_lib.hooks.databatch import DataBatch, Pending
from dr_lib.hooks.restoredata import DataRestorer
from dr_lib.hooks.settings import HookSettings
from dr_lib.hooks.zfs import ZfsBackend
from tests.integration._offsite_env import restic_or_skip
from tests.unit.test_hooks_zfs import FakeZfs

NODE_PATH = "/var/lib/rancher/k3s/storage/pvc-1"


def zfs_archive(directory: Path, fake: FakeZfs) -> Path:
    restic_or_skip()
    directory.mkdir(mode=0o700)
    repository = DataRepository(directory)
    context = DataContext(directory, "k3s-dr-20260101T000000Z.tar.gz", "2026-01-01T00:00:00Z")
    batch = DataBatch(repository, context, {}, deadline=time.monotonic() + 300)
    member = "data/volumes/shop/pvc-1.zfs"
    stream = batch.spool_path(member)
    capture = ZfsBackend(run=fake).capture(NODE_PATH, stream, "20260101T000000Z")
    meta = {"namespace": "shop", "node_path": NODE_PATH, "backend": "zfs", **capture.meta()}
    batch.add(Pending(member, VOLUME, str(stream), meta, "pod shop/db-0", "fail", capture.bytes, capture.sha256))
    (outcome,) = batch.flush()
    batch.close()
    assert outcome.entry is not None, outcome.problem
    key = repository.key_file.read_bytes()
    manifest = Manifest(tool_version="test", created=context.created, cluster=ClusterIdentity("s", "v1", "u"),
                        files=(), data=(outcome.entry,),
                        data_repository=RepositoryRef(hashlib.sha256(key).hexdigest(), len(key)))
    return write_archive(directory, manifest, {REPOSITORY_KEY_MEMBER: repository.key_file})


def settings(datasets: tuple[str, ...]) -> HookSettings:
    return HookSettings(volume_roots=("/var/lib/rancher/k3s/storage",), zfs_datasets=datasets)


def test_the_stream_comes_back_checked_and_is_placed_below_the_datasets(tmp_path: Path) -> None:
    archive = zfs_archive(tmp_path / "backups", FakeZfs())
    fake = FakeZfs()
    restorer = DataRestorer(Path("/nonexistent/kubeconfig"), settings(("tank/k3s",)), zfs=ZfsBackend(run=fake))
    restorer.before_apply(archive)
    restorer.close()
    assert restorer.failures == []
    assert fake.received == b"ZFS-STREAM-" * 1000
    assert fake.calls == [
        ["zfs", "receive", "-u", "-F", "tank/k3s/pvc-1-k3s-dr-restoring"],
        ["zfs", "list", "-H", "-o", "name", "tank/k3s/pvc-1"],
        ["zfs", "rename", "tank/k3s/pvc-1-k3s-dr-restoring", "tank/k3s/pvc-1"],
        ["zfs", "set", f"mountpoint={NODE_PATH}", "tank/k3s/pvc-1"],
        ["zfs", "mount", "tank/k3s/pvc-1"],
    ]
    assert restorer.volumes[0]["action"] == "placed"


@pytest.mark.parametrize("datasets", [(), ("tank/other",), ("tank/k3s/pvc-1",)])
def test_a_dataset_outside_the_configured_ones_is_refused_before_any_zfs_command(tmp_path: Path,
                                                                                datasets: tuple[str, ...]) -> None:
    archive = zfs_archive(tmp_path / "backups", FakeZfs())
    fake = FakeZfs()
    restorer = DataRestorer(Path("/nonexistent/kubeconfig"), settings(datasets), zfs=ZfsBackend(run=fake))
    with pytest.raises(IntegrityError, match="ZFS dataset 'tank/k3s/pvc-1' is outside the configured datasets"):
        restorer.before_apply(archive)
    assert fake.calls == []
