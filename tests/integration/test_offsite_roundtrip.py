"""The whole offsite story on real clusters: back up (which pushes: S3 encrypted + restic), lose every
local file, restore from each remote into a fresh cluster with nothing but the config and the identity."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

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
    config = write_config(host, endpoint=s3_server.endpoint, bucket=new_bucket(s3_server), recipient=recipient,
                          identity=identity, restic_repo=tmp_path / "restic-repo")
    with seeded_objects(kube, namespace) as seeded:
        backup = k3s_dr(config, "backup", "--kubeconfig", cluster.kubeconfig, "--dir", host / "backups", "--json")
        assert backup.code == 0, backup.stderr
        archive_name = Path(backup.json["archive"]).name
        # pushed by the backup itself, once verified (offsite.push_after_backup, the default)
        assert {t["target"]: t["push"]["action"] for t in backup.json["push"]["targets"]} == {"home": "pushed",
                                                                                             "lab": "pushed"}

    # The machine is gone: archives, links, sidecars, state, locks. What is left: the config and the keys.
    for leftover in host.iterdir():
        if leftover.name not in ("config.yaml", "restic.pass"):
            shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()

    for remote in ("lab", f"home:{archive_name}"):
        fresh = cluster_factory(nodes=1)
        restored = k3s_dr(config, "restore", "--from", remote, "--kubeconfig", fresh.kubeconfig, "--json")
        assert restored.code == 0, restored.stderr + restored.stdout
        assert f"fetched {archive_name} from offsite target {remote.split(':')[0]}" in restored.stderr
        assert restored.json["complete"], restored.json
        check = k3s_dr(config, "backup", "--kubeconfig", fresh.kubeconfig, "--dir", tmp_path / f"check-{fresh.name}",
                       "--json")
        assert check.code == 0, check.stderr
        back = identities(archive_objects(Path(check.json["archive"])))
        missing = seeded.expected - back
        assert not missing, f"not restored from {remote}: {sorted(missing, key=str)}"
        (host / "backups" / archive_name).unlink()  # the next remote must fetch again, not reuse this copy
