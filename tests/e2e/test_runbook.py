"""docs/runbook.md, executed as written: every bash block, in order, in one shell, against a
fresh local cluster standing in for the rebuilt server, with a real archive of a seeded one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from dr_lib.drill import live
from dr_lib.drill.app import NAMESPACES, AppOptions, application
from dr_lib.drill.images import ROLES
from dr_lib.drill.run import DrillSettings, command_env
from dr_lib.drill.runbook import command_blocks, script
from dr_lib.kube.client import Kube
from k3s_dr_testbed.provider import drill_images as local_images_for

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


def test_runbook_commands_restore_a_lost_cluster(cluster_factory: Any, tmp_path: Path) -> None:
    blocks = command_blocks(RUNBOOK.read_text())
    assert len(blocks) == 7, "declare, pick, verify, restore, check, report (+ the shell set-up)"
    env = command_env(DrillSettings(), tmp_path)
    source = cluster_factory(nodes=2)
    _backup_of_seeded_cluster(source, tmp_path, env)
    source.stop()  # the disaster
    target = cluster_factory(nodes=2)
    incident = tmp_path / "incident"
    env.update({"KUBECONFIG": str(target.kubeconfig), "BACKUP_DIR": str(tmp_path / "backups"),
                "INCIDENT_DIR": str(incident), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"})
    done = subprocess.run(["bash", "-c", script(RUNBOOK.read_text())], env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, f"runbook failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    restore = json.loads((incident / "restore.json").read_text())
    assert restore["complete"] is True and restore["counts"]["failed"] == 0
    assert json.loads((incident / "verify.json").read_text())
    for name in ("declared-at", "recovered-at", "dry-run.json", "diff.json", "log.txt", "SHA256SUMS"):
        assert (incident / name).is_file(), name
    sums = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=incident, capture_output=True, text=True,
                          check=False)
    assert sums.returncode == 0, sums.stdout + sums.stderr
    with Kube.from_kubeconfig(target.kubeconfig) as kube:
        for namespace in NAMESPACES:
            assert kube.request("GET", f"/api/v1/namespaces/{namespace}").ok, namespace
