"""Signed archives against a real API server and the real file system (issue 14).

A forged archive — one object changed, every sha256 and size recomputed, the old signature kept, and a
verification record written for it as whoever forged it could — is refused by ``verify``, ``restore``,
``restore --auto`` and ``restore --from`` (a real S3 target): exit 8, 0 objects applied (counted on the
API server), no file written in the backup directory, its staging directories or the ledgers (listed
before and after). The genuine signed archive passes all four. Rotation: with two verify keys, archives
of either restore; with the old key removed, its archives are refused. (These archives hold API objects
only: volume data targets are datapath's tests; here nothing exists to write them to.)
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from _backup_helpers import cli, isolated_env
from _kube import create, delete, wait_for
from restore_cli import Run, run_inprocess

from dr_lib.archive import format as fmt
from dr_lib.archive.access import verify_archive
from dr_lib.archive.sidecar import write_sidecar
from dr_lib.clock import utc_now
from dr_lib.kube.client import Kube
from k3s_dr_testbed.s3.server import S3Server
from tests.integration._offsite_env import aws_env, new_bucket, s3_server
from tests.unit._archive_factory import forge

__all__ = ["aws_env", "s3_server"]
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("aws_env")]
OBJECTS = 4


def keygen(directory: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    run = run_inprocess(capsys, Path("/nonexistent-config-is-not-read"), "keygen", "--dir", str(directory), "--json")
    assert run.code == 0, run.stderr
    return run.json()


def write_config(root: Path, *, signing_key: str = "", verify_keys: tuple[str, ...] = (),
                 endpoint: str = "", bucket: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {
        "backup": {"dir": str(root / "backups"), "lock_file": str(root / "lock" / "k3s-dr.lock"),
                   "log_file": str(root / "k3s-dr.log"), "k3s_data_dir": str(root / "no-k3s")},
        "restore": {"state_dir": str(root / "state"), "wait_timeout": "90s"},
        "metrics": {"textfile": str(root / "no-textfile" / "k3s_dr.prom")},
        "trust": {"signing_key": signing_key, "verify_keys": list(verify_keys)},
        "offsite": {"encrypt": "off", "push_after_backup": False,
                    "targets": {"lab": {"bucket": bucket, "endpoint_url": endpoint, "timeout": "2m"}} if bucket
                    else {}},
    }
    path = root / f"config-{len(verify_keys)}-{abs(hash(verify_keys)) % 10000}.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def seed(kube: Kube, namespace: str) -> None:
    for i in range(OBJECTS):
        create(kube, f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": f"cm-{i}"},
                                                                   "data": {"value": str(i)}})


def present(kube: Kube, namespace: str) -> int:
    items = kube.get(f"/api/v1/namespaces/{namespace}/configmaps").get("items") or []
    return sum(1 for item in items if item["metadata"]["name"].startswith("cm-"))


def lose(kube: Kube, namespace: str) -> None:
    for i in range(OBJECTS):
        delete(kube, f"/api/v1/namespaces/{namespace}/configmaps/cm-{i}")
    wait_for(lambda: present(kube, namespace) == 0, 30, "the config maps to be gone")


def files(*roots: Path) -> set[str]:
    """Every file and directory under ``roots`` (the backup directory with its hidden staging, the ledgers)."""
    found: set[str] = set()
    for root in roots:
        for directory, dirs, names in os.walk(root):
            found |= {os.path.join(directory, n) for n in (*dirs, *names)}
    return found


def backup(config: Path, cluster: Any, namespace: str, tmp_path: Path, *args: str) -> dict[str, Any]:
    made = cli("--config", config, "backup", "--kubeconfig", cluster.kubeconfig, "-n", namespace, "--kind",
               "configmaps", "--no-datastore", "--json", *args, env=isolated_env(tmp_path))
    assert made.code == 0, made.stderr
    return made.json


def refused(run: Run, what: str) -> None:
    assert run.code == 8, (what, run.code, run.stderr[-1500:])
    assert "refused" in run.stderr, (what, run.stderr[-1500:])


def test_a_forged_archive_is_refused_by_every_restore_path_the_genuine_one_passes(
        cluster: Any, kube: Kube, namespace: str, s3_server: S3Server, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    key = keygen(tmp_path / "keys", capsys)
    root = tmp_path / "host"
    config = write_config(root, signing_key=key["signing_key"], verify_keys=(key["verify_key"],),
                          endpoint=s3_server.endpoint, bucket=new_bucket(s3_server))
    seed(kube, namespace)
    made = backup(config, cluster, namespace, tmp_path)
    assert made["signature"] == {"state": "valid", "key_id": key["key_id"], "reason": None}
    genuine = Path(made["archive"])
    backups, ledgers = genuine.parent, root / "state" / "ledgers"
    forged = forge(genuine, backups / "k3s-dr-20991231T235959Z.tar.gz")  # newest: what --from and links pick
    write_sidecar(verify_archive(forged), utc_now())  # the forger's verification record: consistent, unsigned-checked
    for what, args in (("push forged", ("push", str(forged), "--target", "lab", "--json")),
                       ("push genuine", ("push", str(genuine), "--target", "lab", "--json"))):
        pushed = run_inprocess(capsys, config, *args)
        assert pushed.code == 0, (what, pushed.stderr)
    lose(kube, namespace)
    (backups / "k3s-cluster-snapshot.tar.gz").unlink()
    (backups / "k3s-cluster-snapshot.tar.gz").symlink_to(forged.name)  # planted on the forged archive
    kubeconfig = str(cluster.kubeconfig)
    before = files(backups, ledgers)

    refused(run_inprocess(capsys, config, "verify", str(forged), "--verify-key", key["verify_key"]), "verify")
    refused(run_inprocess(capsys, config, "restore", str(forged), "--kubeconfig", kubeconfig, "--json"), "restore")
    refused(run_inprocess(capsys, config, "restore", "--auto", "--boot-id", "forged-boot", "--kubeconfig",
                          kubeconfig, "--json"), "restore --auto")
    forged_copy = backups / "forged-elsewhere.tar.gz"
    shutil.move(forged, forged_copy)  # --from must fetch it, not find it
    shutil.move(forged.with_name(fmt.sidecar_name(forged.name)), backups / "forged-elsewhere.sidecar")
    before = files(backups, ledgers)
    from_run = run_inprocess(capsys, config, "restore", "--from", f"lab:{forged.name}", "--kubeconfig", kubeconfig,
                             "--json")
    assert from_run.code == 8 and "does not match the signed bytes" in from_run.stderr, from_run.stderr[-1500:]
    assert present(kube, namespace) == 0, "objects of the forged archive were applied"
    assert files(backups, ledgers) == before, "a refused restore wrote files"

    # The genuine signed archive passes all four.
    assert run_inprocess(capsys, config, "verify", str(genuine), "--verify-key", key["verify_key"]).code == 0
    restored = run_inprocess(capsys, config, "restore", str(genuine), "--kubeconfig", kubeconfig, "--json")
    assert restored.code == 0, restored.stderr
    assert present(kube, namespace) == OBJECTS
    lose(kube, namespace)
    (backups / "k3s-cluster-snapshot.tar.gz").unlink()
    (backups / "k3s-cluster-snapshot.tar.gz").symlink_to(genuine.name)
    auto = run_inprocess(capsys, config, "restore", "--auto", "--boot-id", "genuine-boot", "--kubeconfig", kubeconfig,
                         "--json")
    assert auto.code == 0 and auto.json()["auto"]["decision"]["restore"], auto.stderr
    assert present(kube, namespace) == OBJECTS
    lose(kube, namespace)
    genuine.unlink()
    genuine.with_name(fmt.sidecar_name(genuine.name)).unlink()
    from_genuine = run_inprocess(capsys, config, "restore", "--from", f"lab:{genuine.name}", "--kubeconfig",
                                 kubeconfig, "--json")
    assert from_genuine.code == 0, from_genuine.stderr
    assert present(kube, namespace) == OBJECTS
    assert verify_archive(genuine).signature.state == "unchecked" and genuine.exists()  # pulled back, signed


def test_rotation_two_verify_keys_accept_both_and_a_removed_key_is_refused(
        cluster: Any, kube: Kube, namespace: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one, two = keygen(tmp_path / "one", capsys), keygen(tmp_path / "two", capsys)
    root = tmp_path / "host"
    both = write_config(root, signing_key=one["signing_key"], verify_keys=(one["verify_key"], two["verify_key"]))
    seed(kube, namespace)
    old = Path(backup(both, cluster, namespace, tmp_path)["archive"])  # signed by key one
    new_run = backup(both, cluster, namespace, tmp_path, "--signing-key", two["signing_key"])  # key two now signs
    new = Path(new_run["archive"])
    assert new_run["signature"]["key_id"] == two["key_id"] and not new_run["warnings"]
    kubeconfig = str(cluster.kubeconfig)
    for archive in (old, new):
        lose(kube, namespace)
        run = run_inprocess(capsys, both, "restore", str(archive), "--kubeconfig", kubeconfig, "--json")
        assert run.code == 0, (archive.name, run.stderr)
        assert present(kube, namespace) == OBJECTS
    only_two = write_config(root, verify_keys=(two["verify_key"],))  # key one retired
    lose(kube, namespace)
    before = files(root / "backups", root / "state")
    run = run_inprocess(capsys, only_two, "restore", str(old), "--kubeconfig", kubeconfig, "--json")
    refused(run, "restore of an archive signed by a removed key")
    assert f"names key {one['key_id']}, which is not a verify key given" in run.stderr
    assert present(kube, namespace) == 0 and files(root / "backups", root / "state") == before
    assert run_inprocess(capsys, only_two, "restore", str(new), "--kubeconfig", kubeconfig).code == 0
    assert present(kube, namespace) == OBJECTS
