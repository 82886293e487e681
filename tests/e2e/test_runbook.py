"""docs/runbook.md, executed as written: every bash block, in order, in one shell, against a
fresh local cluster standing in for the rebuilt server, with a real archive of a seeded one —
from the backup directory, and from an offsite copy (a real S3 server, encrypted) with the shell
closed after the archive was picked and the incident resumed from its directory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from dr_lib.drill import live
from dr_lib.drill.app import NAMESPACES, AppOptions, application
from dr_lib.drill.images import ROLES
from dr_lib.drill.run import DrillSettings, command_env
from dr_lib.drill.runbook import command_blocks, script
from dr_lib.evidence.scan import read_report_dir
from dr_lib.kube.client import Kube
from k3s_dr_testbed.provider import drill_images as local_images_for
from tests.integration._offsite_env import ACCESS_KEY, SECRET_KEY, aws_env, keypair, new_bucket, s3_server

__all__ = ["aws_env", "s3_server"]  # fixtures: a real S3 server for this module, its credentials

RUNBOOK = Path(__file__).resolve().parents[2] / "docs" / "runbook.md"


def _backup_of_seeded_cluster(source: Any, work: Path, env: dict[str, str]) -> None:
    with Kube.from_kubeconfig(source.kubeconfig) as kube:
        images = local_images_for("local", tuple(ROLES)).refs
        objects = application(AppOptions("runbk1", images=images, data_root=str(work / "volumes")))
        live.create_objects(kube, objects, time.monotonic() + 120)
        live.wait_until(lambda: live.unhealthy(kube, objects), time.monotonic() + 120, "seeded application")
    done = subprocess.run([sys.executable, "-m", "dr_lib", "backup", "--kubeconfig", str(source.kubeconfig),
                           "--dir", str(work / "backups"), "--json"], env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr


def _run(script_text: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["bash", "-c", script_text], env=env, capture_output=True, text=True, timeout=900,
                          check=False)
    assert done.returncode == 0, f"runbook failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


def _every_object_back(incident: Path, target: Any) -> None:
    restore = json.loads((incident / "restore.json").read_text())
    assert restore["complete"] is True and restore["counts"]["failed"] == 0
    assert json.loads((incident / "verify.json").read_text())
    assert json.loads((incident / "diff.json").read_text())  # written only when diff found nothing missing
    for name in ("declared-at", "recovered-at", "dry-run.json", "log.txt", "env", "SHA256SUMS"):
        assert (incident / name).is_file(), name
    assert not (incident / "timer-stopped").exists(), "no backup timer runs here: none was stopped"
    sums = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=incident, capture_output=True, text=True,
                          check=False)
    assert sums.returncode == 0, sums.stdout + sums.stderr
    with Kube.from_kubeconfig(target.kubeconfig) as kube:
        for namespace in NAMESPACES:
            assert kube.request("GET", f"/api/v1/namespaces/{namespace}").ok, namespace
    indexed = read_report_dir(incident.parent, incident)  # as `k3s-dr report index` lists it
    assert (indexed.kind, indexed.verdict, indexed.integrity) == ("incident", "pass", "verified"), indexed
    assert indexed.rto_seconds is not None and indexed.rpo_seconds is not None


def test_runbook_commands_restore_a_lost_cluster(cluster_factory: Any, tmp_path: Path) -> None:
    blocks = command_blocks(RUNBOOK.read_text())
    assert len(blocks) == 8, "prepare, declare, decide, pick, verify, restore, check, report"
    env = command_env(DrillSettings(), tmp_path)
    source = cluster_factory(nodes=2)
    _backup_of_seeded_cluster(source, tmp_path, env)
    source.stop()  # the disaster
    target = cluster_factory(nodes=2)
    incident = tmp_path / "incident"
    env.update({"KUBECONFIG": str(target.kubeconfig), "BACKUP_DIR": str(tmp_path / "backups"),
                "INCIDENT_DIR": str(incident), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"})
    done = _run(script(RUNBOOK.read_text()), env)
    _every_object_back(incident, target)
    latest = (tmp_path / "backups" / "latest-backup.tar.gz").resolve()
    assert f"archive: {latest}" in (incident / "log.txt").read_text()
    assert f"export INCIDENT_DIR={incident}" in done.stdout, "the block says how to resume"


def _offsite_config(path: Path, server: Any, bucket: str, recipient: str, identity: Path) -> Path:
    path.write_text(yaml.safe_dump({"offsite": {
        "encrypt": "required", "recipients": [recipient], "identity_file": str(identity),
        "targets": {"lab": {"type": "s3", "bucket": bucket, "endpoint_url": server.endpoint, "timeout": "2m"}}}}))
    return path


@pytest.mark.usefixtures("aws_env")
def test_runbook_pulls_the_offsite_copy_and_resumes_a_closed_shell(
        cluster_factory: Any, tmp_path: Path, s3_server: Any) -> None:
    identity, recipient = keypair(tmp_path)
    env = command_env(DrillSettings(), tmp_path) | {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "K3S_DR_CONFIG": str(_offsite_config(tmp_path / "config.yaml", s3_server, new_bucket(s3_server), recipient,
                                             identity)),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    source = cluster_factory(nodes=2)
    _backup_of_seeded_cluster(source, tmp_path, env)
    pushed = subprocess.run(["k3s-dr", "push", "--target", "lab", "--json"], env=env, capture_output=True, text=True,
                            timeout=300, check=False)
    assert pushed.returncode == 0, pushed.stderr
    source.stop()
    shutil.rmtree(tmp_path / "backups")  # the backup directory was lost with the server
    target = cluster_factory(nodes=2)
    incident = tmp_path / "incident"
    first = env | {"KUBECONFIG": str(target.kubeconfig), "BACKUP_DIR": str(tmp_path / "pulled"),
                   "OFFSITE_TARGET": "lab", "INCIDENT_DIR": str(incident)}
    blocks = command_blocks(RUNBOOK.read_text())
    _run("\n".join(blocks[:4]), first)  # prepare, declare, decide, pick: then the shell is closed
    pulled = json.loads((incident / "pull.json").read_text())
    assert pulled["encrypted"] is True and pulled["verified"] is True
    declared = (incident / "declared-at").read_text()
    resumed = {k: v for k, v in env.items() if k not in ("KUBECONFIG", "BACKUP_DIR", "OFFSITE_TARGET")}
    _run(script(RUNBOOK.read_text()), resumed | {"INCIDENT_DIR": str(incident)})  # from step 0 again
    _every_object_back(incident, target)
    assert (incident / "declared-at").read_text() == declared, "resuming keeps the first declaration"
    log = (incident / "log.txt").read_text()
    assert log.count(f"archive: {pulled['path']}") == 2, "the pulled archive is kept on resume, not pulled again"
    assert json.loads((incident / "pull.json").read_text()) == pulled
