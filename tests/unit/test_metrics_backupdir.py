"""The backup directory as the metrics see it, with archives written by the real writer."""

from __future__ import annotations

from datetime import UTC, datetime

from dr_lib.archive.access import verify_archive
from dr_lib.archive.links import promote
from dr_lib.archive.sidecar import write_sidecar
from dr_lib.metrics import backupdir as module
from dr_lib.metrics.backupdir import ArchiveCache, failed_pod, scan
from dr_lib.metrics.catalog import evaluate
from tests.unit._archive_factory import (
    CONFIGMAPS,
    DEPLOYMENTS,
    good_archive,
    manifest_dict,
    manifest_member,
    raw_archive,
    resources_member,
)
from tests.unit._metrics_inputs import full_inputs

LATEST = "latest-backup.tar.gz"


def cm(name):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "app"}, "data": {}}


def deploy(name):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "app"}}


def verified(path):
    write_sidecar(verify_archive(path), datetime(2026, 11, 28, tzinfo=UTC))
    return path


def test_a_healthy_directory(tmp_path):
    older = verified(good_archive(tmp_path, {CONFIGMAPS: [cm("a")]}, created="2026-11-28T09:00:00Z"))
    newest = verified(good_archive(tmp_path, {CONFIGMAPS: [cm("a"), cm("b")], DEPLOYMENTS: [deploy("web")]},
                                   created="2026-11-28T10:00:00Z", datastore=(b"sqlite", b"token")))
    promote(tmp_path, newest.name, [LATEST])
    facts = scan(tmp_path, LATEST)
    assert facts.readable and facts.count == 2 and facts.latest_link == "ok"
    assert [a.name for a in facts.archives] == [newest.name, older.name]
    latest = facts.latest
    assert latest is not None and latest.name == newest.name
    assert latest.created == datetime(2026, 11, 28, 10, tzinfo=UTC).timestamp()
    assert latest.bytes == newest.stat().st_size
    assert latest.verified and latest.datastore
    assert dict(latest.kinds) == {"configmaps": 2, "deployments.apps": 1}


def test_unverified_tampered_and_corrupt_archives(tmp_path):
    good = verified(good_archive(tmp_path, {CONFIGMAPS: [cm("a")]}, created="2026-11-28T09:00:00Z"))
    unverified = good_archive(tmp_path, {CONFIGMAPS: [cm("a")]}, created="2026-11-28T10:00:00Z")
    tampered = verified(good_archive(tmp_path, {CONFIGMAPS: [cm("x")]}, created="2026-11-28T11:00:00Z"))
    data = bytearray(tampered.read_bytes())
    data[-30] ^= 0xFF  # same size, different content: the sidecar no longer vouches for it
    tampered.write_bytes(bytes(data))
    corrupt = tmp_path / "k3s-dr-20261128T120000Z.tar.gz"
    corrupt.write_bytes(b"\x1f\x8b\x08\x00 this is not a gzip stream")
    promote(tmp_path, unverified.name, [LATEST])
    facts = scan(tmp_path, LATEST)
    by_name = {a.name: a for a in facts.archives}
    assert by_name[good.name].verified
    assert not by_name[unverified.name].verified
    assert not by_name[tampered.name].verified
    assert not by_name[corrupt.name].readable and by_name[corrupt.name].problem
    assert by_name[corrupt.name].created == datetime(2026, 11, 28, 12, tzinfo=UTC).timestamp()  # from its name
    assert facts.latest is not None and facts.latest.name == unverified.name  # the link decides


def test_without_the_link_the_newest_verified_archive_counts(tmp_path):
    good = verified(good_archive(tmp_path, {CONFIGMAPS: [cm("a")]}, created="2026-11-28T09:00:00Z"))
    good_archive(tmp_path, {CONFIGMAPS: [cm("a")]}, created="2026-11-28T10:00:00Z")
    facts = scan(tmp_path, LATEST)
    assert facts.latest_link == "missing"
    assert facts.latest is not None and facts.latest.name == good.name


def test_unlistable_directory_and_foreign_files(tmp_path):
    missing = scan(tmp_path / "nope", LATEST)
    assert not missing.readable and "No such file" in missing.problem
    a_file = tmp_path / "file"
    a_file.write_text("")
    assert "Not a directory" in scan(a_file, LATEST).problem
    (tmp_path / "notes.txt").write_text("")
    (tmp_path / "k3s-cluster-backup-1.tar.gz").write_text("")  # the seed's names are not ours
    facts = scan(tmp_path, LATEST)
    assert facts.readable and facts.count == 0 and facts.latest is None


def test_the_cache_reads_each_archive_once_and_again_when_it_changes(tmp_path, monkeypatch):
    path = verified(good_archive(tmp_path, {CONFIGMAPS: [cm("a")]}))
    cache = ArchiveCache()
    calls = []
    real = module.inspect_archive
    monkeypatch.setattr(module, "inspect_archive", lambda p, size: calls.append(p.name) or real(p, size))
    scan(tmp_path, LATEST, cache)
    scan(tmp_path, LATEST, cache)
    assert calls == [path.name]
    path.write_bytes(b"garbage")
    assert not scan(tmp_path, LATEST, cache).archives[0].readable
    assert calls == [path.name, path.name]


def test_the_newest_good_backups_data_failures_name_their_pods(tmp_path):
    failures = ["dump hook of pod shop/db-0 container 'db' failed: exit code 3 (on-error=continue: left out)",
                "pod shop/db-0: dump and volumes skipped because its pre hook failed",
                "volume 'data' of pod media/files-1: it lives on node 'n2', not on this machine",
                'pod shop/"} evil{x="y: annotation hook.k3s-dr.io/preset is \'x\'']  # no Kubernetes name: no label
    entry, member = resources_member(CONFIGMAPS, [cm("a")])
    archive = raw_archive(tmp_path / "k3s-dr-20261128T100000Z.tar.gz",
                          [manifest_member(manifest_dict([entry], data_failures=failures)), member])
    promote(tmp_path, archive.name, [LATEST])
    latest = scan(tmp_path, LATEST).latest
    assert latest is not None and latest.data_failures == tuple(failures)
    assert latest.failed_pods() == {("shop", "db-0"): 2, ("media", "files-1"): 1, ("", ""): 1}
    values = {spec.suffix: found for spec, found in evaluate(full_inputs(backups=scan(tmp_path, LATEST)))}
    assert values["backup_data_failures"] == [((), 4.0)]
    assert values["backup_data_pod_failures"] == [(("", ""), 1.0), (("media", "files-1"), 1.0),
                                                  (("shop", "db-0"), 2.0)]
    assert failed_pod("no pod named here") == ("", "")


def test_a_complete_backup_reports_zero_and_no_pod_series(tmp_path):
    newest = verified(good_archive(tmp_path, {CONFIGMAPS: [cm("a")]}, created="2026-11-28T10:00:00Z"))
    promote(tmp_path, newest.name, [LATEST])
    values = {spec.suffix: found for spec, found in evaluate(full_inputs(backups=scan(tmp_path, LATEST)))}
    assert values["backup_data_failures"] == [((), 0.0)] and values["backup_data_pod_failures"] == []
