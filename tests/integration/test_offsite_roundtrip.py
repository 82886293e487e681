"""The whole offsite story on real clusters: back up (which pushes: S3 encrypted + restic), lose every
local file, restore from each remote into a fresh cluster with nothing but the config and the identity.

The backup carries a volume (a claim on a hostPath volume of a kwok node whose disk is declared this
machine's): its data travels with the archive — the snapshots it references copied into each target's
data repository — and comes back with ``restore --from``, byte for byte, before the objects."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from dr_lib.hooks.pvdata import tree_digest
from dr_lib.kube.client import Kube
from k3s_dr_testbed.s3.server import S3Server
from tests.integration._backup_helpers import archive_objects, identities, seeded_objects
from tests.integration._offsite_env import (
    aws_env,
    k3s_dr,
    keypair,
    new_bucket,
    restic_or_skip,
    s3_server,
    write_config,
)
from tests.integration._volumes import hostpath_claim_pod, node_names

__all__ = ["aws_env", "s3_server"]
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("aws_env")]


def test_backup_push_lose_everything_restore_from_remote(s3_server: S3Server, cluster: Any, kube: Kube,
                                                         namespace: str, cluster_factory: Any,
                                                         tmp_path: Path) -> None:
    restic_or_skip()
    keys = tmp_path / "keys"
    keys.mkdir()
    identity, recipient = keypair(keys)
    host = tmp_path / "host"
    volumes = tmp_path / "node-disk"
    nodes = node_names(kube)
    config = write_config(host, endpoint=s3_server.endpoint, bucket=new_bucket(s3_server), recipient=recipient,
                          identity=identity, restic_repo=tmp_path / "restic-repo",
                          extra={"hooks": {"local_nodes": nodes}, "data": {"volume_roots": [str(volumes)]}})
    data = volumes / "uploads"
    with seeded_objects(kube, namespace) as seeded:
        written = volume_with_files(kube, namespace, data)
        backup = k3s_dr(config, "backup", "--kubeconfig", cluster.kubeconfig, "--dir", host / "backups", "--json",
                        "-n", namespace)
        assert backup.code == 0, backup.stderr
        archive_name = Path(backup.json["archive"]).name
        # pushed by the backup itself, once verified (offsite.push_after_backup, the default), data first
        targets = {t["target"]: t["push"] for t in backup.json["push"]["targets"]}
        assert {name: push["action"] for name, push in targets.items()} == {"home": "pushed", "lab": "pushed"}
        assert all(push["details"]["data"]["copied"] == 1 for push in targets.values()), targets
        seeded_expected = {i for i in seeded.expected if i[1] == namespace}

    # The machine is gone: archives, links, sidecars, the data repository and its key, state, locks, and the
    # volume's directory. What is left: the config and the keys.
    for leftover in host.iterdir():
        if leftover.name not in ("config.yaml", "restic.pass"):
            shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()

    for remote in ("lab", f"home:{archive_name}"):
        shutil.rmtree(data)
        fresh = cluster_factory(nodes=1)
        restored = k3s_dr(config, "restore", "--from", remote, "--kubeconfig", fresh.kubeconfig, "--json")
        assert restored.code == 0, restored.stderr + restored.stdout
        assert f"fetched {archive_name} from offsite target {remote.split(':')[0]}" in restored.stderr
        assert restored.json["complete"], restored.json
        volume = restored.json["data"]["volumes"][0]
        assert (volume["action"], volume["verified"]) == ("placed", True)
        assert tree_digest(data) == written and (data / "2026" / "clip-3.bin").stat().st_size == 10_003
        check = k3s_dr(config, "backup", "--kubeconfig", fresh.kubeconfig, "--dir", tmp_path / f"check-{fresh.name}",
                       "--json", "--no-data")
        assert check.code == 0, check.stderr
        back = identities(archive_objects(Path(check.json["archive"])))
        missing = seeded_expected - back
        assert not missing, f"not restored from {remote}: {sorted(missing, key=str)}"
        (host / "backups" / archive_name).unlink()  # the next remote must fetch again, not reuse this copy
        shutil.rmtree(host / "backups" / "data")  # and its data: the next restore pulls it from that remote


def volume_with_files(kube: Kube, namespace: str, data: Path) -> tuple[int, int, str]:
    """A pod on a kwok node whose claim is bound to a hostPath volume holding some files; their digest."""
    (data / "2026").mkdir(parents=True)
    for index in range(8):
        (data / "2026" / f"clip-{index}.bin").write_bytes(os.urandom(10_000 + index))
    hostpath_claim_pod(kube, namespace, data, storage_class="offsite-test")
    return tree_digest(data)
