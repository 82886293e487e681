"""Benchmark: application data through k3s-dr — a 1 GB volume and a 100,000-row PostgreSQL.

    .venv/bin/python bench/data.py --volume-mb 1024 --rows 100000

Starts a local cluster with the real node (needs root, the node's Debian packages, Docker to
build the database image), then measures in the same run:

* volume: ``k3s-dr backup -n bench-vol`` of a pod whose claim is a hostPath volume holding
  ``--volume-mb`` of random (incompressible) data, against the baseline an operator would type,
  ``tar -c DIR | gzip -1 > file`` (gzip -1: the level our archive uses); then ``k3s-dr restore``
  after the namespace, the volume object and the directory are gone, against ``gzip -dc | tar -x``.
* database: ``k3s-dr backup -n bench-db`` of Debian's PostgreSQL holding ``--rows`` rows, against
  ``pg_dump -Fc`` run inside the pod to a local file (the floor: no transfer, no archive); then
  ``k3s-dr restore`` into the emptied namespace (pod start, initdb, ``pg_restore`` through exec),
  against ``pg_restore`` of the same dump inside the pod.

The LAST line printed is one JSON object with every number; the lines before give ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dr_lib.kube.client import Kube  # noqa: E402
from dr_lib.kube.exec import exec_in_pod  # noqa: E402
from k3s_dr_testbed.apps.images import db_image_tar  # noqa: E402
from k3s_dr_testbed.apps.manifests import APP_IMAGE, ROWS_FINGERPRINT, postgres_statefulset  # noqa: E402
from k3s_dr_testbed.clusters import ClusterSpec, start_cluster  # noqa: E402
from k3s_dr_testbed.realnode.config import NodeLayout  # noqa: E402
from k3s_dr_testbed.realnode.host import ctr  # noqa: E402

K3S_DR = str(Path(sys.executable).parent / "k3s-dr")
PASSWORD = "bench-pg-password-93c1"


def cli(args: list[str], env: dict[str, str], timeout: float = 3600) -> tuple[float, dict[str, Any]]:
    started = time.monotonic()
    done = subprocess.run([K3S_DR, *args, "--json"], env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"k3s-dr {' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds, json.loads(done.stdout)


def post(kube: Kube, path: str, body: dict[str, Any]) -> None:
    response = kube.request("POST", path, body=body)
    if not response.ok:
        raise SystemExit(f"POST {path}: {response.reason}")


def wait(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise SystemExit(f"timed out waiting for {what}")


def ready(kube: Kube, ns: str, pod: str) -> bool:
    body = kube.request("GET", f"/api/v1/namespaces/{ns}/pods/{pod}").body
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (body.get("status") or {}).get("conditions") or [])


def gone(kube: Kube, path: str) -> bool:
    return kube.request("GET", path).status == 404


def delete_namespace(kube: Kube, ns: str, pv: str | None = None) -> None:
    kube.request("DELETE", f"/api/v1/namespaces/{ns}")
    wait(lambda: gone(kube, f"/api/v1/namespaces/{ns}"), 300, f"namespace {ns} to go")
    if pv:
        kube.request("DELETE", f"/api/v1/persistentvolumes/{pv}")
        wait(lambda: gone(kube, f"/api/v1/persistentvolumes/{pv}"), 120, f"volume {pv} to go")


def sh(kube: Kube, ns: str, pod: str, container: str, script: str) -> str:
    result = exec_in_pod(kube, ns, pod, container, ["/bin/sh", "-c", script], timeout=3600)
    if not result.ok:
        raise SystemExit(f"{script[:80]}: {result.exit_code} {result.failure} {result.stderr[-500:]!r}")
    return result.stdout.decode()


def fill_volume(directory: Path, megabytes: int) -> None:
    directory.mkdir(parents=True)
    chunk = 4
    for index in range(max(1, megabytes // chunk)):
        (directory / f"blob-{index:04d}.bin").write_bytes(os.urandom(chunk * 1024 * 1024))


def bench_volume(kube: Kube, kubeconfig: str, env: dict[str, str], work: Path, megabytes: int) -> dict[str, Any]:
    ns, pv, data = "bench-vol", "bench-vol-pv", work / "volume"
    fill_volume(data, megabytes)
    post(kube, "/api/v1/namespaces", {"metadata": {"name": ns}})
    post(kube, "/api/v1/persistentvolumes", {"metadata": {"name": pv}, "spec": {
        "capacity": {"storage": "2Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "bench",
        "persistentVolumeReclaimPolicy": "Retain", "hostPath": {"path": str(data)}}})
    post(kube, f"/api/v1/namespaces/{ns}/persistentvolumeclaims", {"metadata": {"name": "data"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "storageClassName": "bench", "volumeName": pv,
        "resources": {"requests": {"storage": "2Gi"}}}})
    post(kube, f"/api/v1/namespaces/{ns}/pods", {"metadata": {"name": "holder", "annotations": {
        "backup.k3s-dr.io/volumes": "data"}}, "spec": {
        "nodeSelector": {"kubernetes.io/hostname": "localhost"}, "terminationGracePeriodSeconds": 1,
        "containers": [{"name": "main", "image": APP_IMAGE, "imagePullPolicy": "Never", "command": ["sleep", "inf"],
                        "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
        "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]}})
    wait(lambda: ready(kube, ns, "holder"), 180, "the volume pod")
    ours_backup, result = cli(["backup", "--kubeconfig", kubeconfig, "--dir", str(work / "b-vol"), "-n", ns], env)
    baseline_file = work / "baseline-vol.tar.gz"
    started = time.monotonic()
    subprocess.run(f"tar -C {data} -cf - . | gzip -1 > {baseline_file}", shell=True, check=True)
    baseline_backup = time.monotonic() - started
    delete_namespace(kube, ns, pv)
    shutil.rmtree(data)
    ours_restore, restored = cli(["restore", result["archive"], "--kubeconfig", kubeconfig], env)
    assert restored["data"]["volumes"][0]["verified"], restored["data"]
    scratch = work / "baseline-restore"
    scratch.mkdir()
    started = time.monotonic()
    subprocess.run(f"gzip -dc {baseline_file} | tar -C {scratch} -xf -", shell=True, check=True)
    baseline_restore = time.monotonic() - started
    return {"volume_mb": megabytes, "archive_bytes": result["bytes"], "backup_s": round(ours_backup, 2),
            "backup_phases": result["phases"], "baseline_backup_s": round(baseline_backup, 2),
            "restore_s": round(ours_restore, 2), "restore_data_s": restored["data"]["seconds"],
            "baseline_restore_s": round(baseline_restore, 2)}


def psql(kube: Kube, ns: str, sql: str) -> str:
    return sh(kube, ns, "pg-0", "pg", f"runuser -u postgres -- psql -h /run/postgresql -XAtq -d shop -c \"{sql}\"")


def bench_database(kube: Kube, kubeconfig: str, env: dict[str, str], work: Path, rows: int) -> dict[str, Any]:
    ns, data = "bench-db", work / "pg"
    post(kube, "/api/v1/namespaces", {"metadata": {"name": ns}})
    post(kube, f"/api/v1/namespaces/{ns}/secrets", {"metadata": {"name": "pg-credentials"},
                                                      "stringData": {"password": PASSWORD}})
    post(kube, f"/apis/apps/v1/namespaces/{ns}/statefulsets", postgres_statefulset(ns, data, {
        "hook.k3s-dr.io/preset": "postgresql", "hook.k3s-dr.io/container": "pg",
        "hook.k3s-dr.io/preset-params": "database=shop"}))
    wait(lambda: ready(kube, ns, "pg-0"), 300, "PostgreSQL")
    psql(kube, ns, "create table items (id int primary key, title text not null, price numeric(10,2), "
                   "created timestamptz default now())")
    psql(kube, ns, f"insert into items (id, title, price) select g, 'course number ' || g || ' ' || md5(g::text), "
                   f"g % 1000 / 10.0 from generate_series(1, {rows}) g")
    before = psql(kube, ns, ROWS_FINGERPRINT)
    ours_backup, result = cli(["backup", "--kubeconfig", kubeconfig, "--dir", str(work / "b-db"), "-n", ns], env)
    dump = result["data"]["dumps"][0]
    floor = sh(kube, ns, "pg-0", "pg", "s=$(date +%s.%N); PGPASSWORD=$POSTGRES_PASSWORD pg_dump -Fc -d shop "
                                       "> /tmp/floor.dump; e=$(date +%s.%N); echo \"$e - $s\" | bc 2>/dev/null || "
                                       "python3 -c \"print($e - $s)\"")
    baseline_backup = float(floor.strip().splitlines()[-1])
    delete_namespace(kube, ns)
    shutil.rmtree(data)
    ours_restore, restored = cli(["restore", result["archive"], "--kubeconfig", kubeconfig, "--wait",
                                  "--wait-timeout", "10m"], env)
    hooks = {h["phase"]: h for h in restored["data"]["hooks"]}
    after = psql(kube, ns, ROWS_FINGERPRINT)
    if after != before:
        raise SystemExit(f"rows differ after restore: {before} vs {after}")
    sh(kube, ns, "pg-0", "pg", "PGPASSWORD=$POSTGRES_PASSWORD pg_dump -Fc -d shop > /tmp/floor.dump && "
                               "PGPASSWORD=$POSTGRES_PASSWORD createdb shop2")
    floor = sh(kube, ns, "pg-0", "pg", "s=$(date +%s.%N); PGPASSWORD=$POSTGRES_PASSWORD pg_restore --no-owner "
                                       "-d shop2 /tmp/floor.dump; e=$(date +%s.%N); "
                                       "python3 -c \"print($e - $s)\" 2>/dev/null || echo \"$e - $s\" | bc")
    baseline_restore = float(floor.strip().splitlines()[-1])
    return {"rows": rows, "dump_bytes": dump["bytes"], "backup_s": round(ours_backup, 2),
            "backup_data_s": result["phases"].get("data"), "baseline_backup_s": round(baseline_backup, 2),
            "restore_s": round(ours_restore, 2), "restore_hook_s": hooks["restore"]["seconds"],
            "baseline_restore_s": round(baseline_restore, 2), "rows_equal": True}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volume-mb", type=int, default=1024)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="k3s-dr-bench-data-", dir="/var/tmp"))
    work.chmod(0o755)
    tar = db_image_tar(time.monotonic() + 1200)
    cluster = start_cluster(ClusterSpec(f"bd{os.getpid()}", nodes=0, real_node=True, owned_by_process=True))
    try:
        ctr(NodeLayout(Path(cluster.dir) / "node").containerd_socket, ["images", "import", str(tar)],
            time.monotonic() + 300, "importing the database image")
        config = work / "config.yaml"
        config.write_text("{}\n")
        env = {**os.environ, "K3S_DR_CONFIG": str(config), "K3S_DR_BACKUP_LOCK_FILE": str(work / "lock"),
               "K3S_DR_BACKUP_LOG_FILE": str(work / "log"), "K3S_DR_BACKUP_K3S_DATA_DIR": str(work / "none"),
               "K3S_DR_RESTORE_STATE_DIR": str(work / "state")}
        with Kube.from_kubeconfig(cluster.kubeconfig) as kube:
            kubeconfig = str(cluster.kubeconfig)
            database = bench_database(kube, kubeconfig, env, work, args.rows)
            volume = bench_volume(kube, kubeconfig, env, work, args.volume_mb)
    finally:
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"volume {volume['volume_mb']} MB: backup {volume['backup_s']} s = "
          f"{volume['backup_s'] / volume['baseline_backup_s']:.2f}x tar|gzip -1 ({volume['baseline_backup_s']} s); "
          f"restore {volume['restore_s']} s = {volume['restore_s'] / volume['baseline_restore_s']:.2f}x "
          f"gzip -dc|tar -x ({volume['baseline_restore_s']} s)")
    print(f"database {database['rows']} rows: backup {database['backup_s']} s, its dump phase "
          f"{database['backup_data_s']} s = {database['backup_data_s'] / database['baseline_backup_s']:.2f}x in-pod "
          f"pg_dump ({database['baseline_backup_s']} s); restore {database['restore_s']} s "
          f"(pg_restore hook {database['restore_hook_s']} s = "
          f"{database['restore_hook_s'] / database['baseline_restore_s']:.2f}x in-pod pg_restore "
          f"({database['baseline_restore_s']} s))")
    print(json.dumps({"volume": volume, "database": database}))


if __name__ == "__main__":
    main()
