"""The drill's sabotage switch is out of the production path, proven on a real API server: with the old
environment variable set, a plain ``k3s-dr restore`` still sanitizes (the volume's claimRef loses the old
claim's uid); only the hidden flag the drill passes skips the sanitizer, and it says so."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dr_lib.kube.client import Kube
from tests.integration._archives import server_metadata, write_objects_archive
from tests.integration.restore_cli import write_config

OLD_CLAIM_UID = "11111111-2222-4333-8444-555555555555"


@pytest.fixture
def volume_archive(tmp_path: Path, kube: Kube) -> Iterator[tuple[Path, str]]:
    name = f"switch-{secrets.token_hex(4)}"
    volume = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name, **server_metadata(1)},
              "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                       "persistentVolumeReclaimPolicy": "Retain", "hostPath": {"path": f"/tmp/{name}"},
                       "claimRef": {"kind": "PersistentVolumeClaim", "namespace": "shop", "name": "data",
                                    "uid": OLD_CLAIM_UID, "resourceVersion": "77"}},
              "status": {"phase": "Bound"}}
    archive = write_objects_archive(tmp_path / "backups", [("persistentvolumes", "PersistentVolume", False, [volume])])
    yield archive, name
    kube.request("DELETE", f"/api/v1/persistentvolumes/{name}")


def _restore(config: Path, archive: Path, kubeconfig: Path, *flags: str, env: dict[str, str]) -> Any:
    return subprocess.run([sys.executable, "-m", "dr_lib", "--config", str(config), "restore", str(archive),
                           "--kubeconfig", str(kubeconfig), "--json", *flags], capture_output=True, text=True,
                          timeout=300, env=env, check=False)


def test_the_environment_variable_does_not_reach_a_production_restore(
        cluster: Any, kube: Kube, volume_archive: tuple[Path, str], tmp_path: Path) -> None:
    archive, name = volume_archive
    env = {**os.environ, "K3S_DR_TEST_DISABLE_SANITIZER": "persistentvolumes"}
    done = _restore(write_config(tmp_path / "host"), archive, cluster.kubeconfig, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "TEST-ONLY" not in done.stderr
    claim = kube.get(f"/api/v1/persistentvolumes/{name}")["spec"]["claimRef"]
    assert (claim["name"], "uid" in claim) == ("data", False), "sanitized: the old claim's uid is gone"


def test_only_the_hidden_flag_breaks_it_and_says_so(cluster: Any, kube: Kube, volume_archive: tuple[Path, str],
                                                      tmp_path: Path) -> None:
    archive, name = volume_archive
    env = {k: v for k, v in os.environ.items() if k != "K3S_DR_TEST_DISABLE_SANITIZER"}
    done = _restore(write_config(tmp_path / "host"), archive, cluster.kubeconfig, "--test-disable-sanitizer",
                    "persistentvolumes", env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "k3s-dr: warning: TEST-ONLY: the sanitizer of persistentvolumes is switched off" in done.stderr
    assert kube.get(f"/api/v1/persistentvolumes/{name}")["spec"]["claimRef"]["uid"] == OLD_CLAIM_UID
