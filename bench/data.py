"""Benchmark: application data through k3s-dr — a volume (full, incremental, restore, hourly) and a PostgreSQL.

    .venv/bin/python bench/data.py --volume-mb 2048 --change-percent 1 --rows 100000 --hourly 24

Starts a local cluster with the real node (needs root, the node's Debian packages, Docker to
build the database image), then measures in the same run, one run each:

* volume (``--volume-mb``: 4 MB files, half compressible text, half random bytes) held by a pod
  through a claim on a hostPath volume: ``k3s-dr backup`` (``full_backup_s``, ``full_bytes``: the
  backup directory's bytes afterwards), then ``--change-percent`` of the files rewritten and
  ``k3s-dr backup`` again (``incremental_backup_s``, ``incremental_bytes``: what the directory
  grew by), then the namespace, its volume object and the directory are deleted and
  ``k3s-dr restore`` brings them back (``restore_s``, its tree digest checked against the data).
  The backup directory's data repository is made before the first backup and restic's baseline
  repository before its backup, each timed on its own (``repository_init_s``, ``restic_init_s``:
  a one-time cost, restic's key calibration) and outside the backup times they are compared by.
  Baselines of the same directory in the same run: ``tar -cf - DIR | zstd -T0 -3``
  (``zstd_baseline_s``) and ``zstd -dc | tar -x`` (``unzstd_baseline_s``); ``restic backup DIR``
  into a fresh local repository and ``restic restore`` from it, restic's defaults
  (``restic_full_s``, ``restic_restore_s``).
* ``--hourly N``: N backups into a fresh directory (``backup.keep`` N: all kept), each after
  ``--change-percent`` of the files changed; ``hourly_total_bytes`` on disk against ``full_bytes``.
* database (``--rows``, 0 to skip): ``k3s-dr backup -n bench-db`` of Debian's PostgreSQL against
  ``pg_dump -Fc`` inside the pod; ``k3s-dr restore`` into the emptied namespace against
  ``pg_restore`` inside the pod.

The machine is shared: the load average at start and end is reported. The LAST line printed is
one JSON object with every number; the lines before give the ratios.
"""

from __future__ import annotations

import argparse
import array
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dr_lib.datarepo.repository import DataRepository  # noqa: E402
from dr_lib.hooks.pvdata import tree_digest  # noqa: E402
from dr_lib.kube.client import Kube  # noqa: E402
from dr_lib.kube.exec import exec_in_pod  # noqa: E402
from k3s_dr_testbed.apps.images import db_image_tar  # noqa: E402
from k3s_dr_testbed.apps.manifests import APP_IMAGE, ROWS_FINGERPRINT, postgres_statefulset  # noqa: E402
from k3s_dr_testbed.clusters import ClusterSpec, start_cluster  # noqa: E402
from k3s_dr_testbed.realnode.config import NodeLayout  # noqa: E402
from k3s_dr_testbed.realnode.host import ctr  # noqa: E402

K3S_DR = str(Path(sys.executable).parent / "k3s-dr")
PASSWORD = "bench-pg-password-93c1"
FILE_MB = 4
_VOCABULARY = [("".join(random.Random(i).choice("etaoinshrdlucmfwypvbgkjqxz") for _ in range(2 + i % 9))).encode()
               for i in range(4096)]


def cli(args: list[str], env: dict[str, str], timeout: float = 7200) -> tuple[float, dict[str, Any]]:
    started = time.monotonic()
    done = subprocess.run([K3S_DR, *args, "--json"], env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"k3s-dr {' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds, json.loads(done.stdout)


def timed(command: str, env: dict[str, str] | None = None) -> float:
    started = time.monotonic()
    subprocess.run(["/bin/sh", "-c", command], check=True, env=env)
    return time.monotonic() - started


def post(kube: Kube, path: str, body: dict[str, Any]) -> None:
    response = kube.request("POST", path, body=body)
    if not response.ok:
        raise SystemExit(f"POST {path}: {response.status} {response.body.get('message')}")


def wait(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise SystemExit(f"timed out waiting for {what}")


def ready(kube: Kube, ns: str, pod: str) -> bool:
    response = kube.request("GET", f"/api/v1/namespaces/{ns}/pods/{pod}")
    status = response.body.get("status") if response.ok and isinstance(response.body, dict) else None
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in (status or {}).get("conditions") or [])


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


# --- the volume's content ------------------------------------------------------------------------------
def text_bytes(size: int) -> bytes:
    """Words from a 4096-word vocabulary in random order: text that compresses about 3x, never repeats."""
    parts, total = [], 0
    while total < size:
        words = b" ".join([_VOCABULARY[i & 4095] for i in array.array("H", os.urandom(2 * 65536))]) + b"\n"
        parts.append(words)
        total += len(words)
    return b"".join(parts)[:size]


def file_content(index: int) -> bytes:
    return text_bytes(FILE_MB << 20) if index % 2 == 0 else os.urandom(FILE_MB << 20)


def fill_volume(directory: Path, megabytes: int) -> int:
    directory.mkdir(parents=True)
    count = max(2, megabytes // FILE_MB)
    for index in range(count):
        (directory / f"f-{index:05d}.{'txt' if index % 2 == 0 else 'bin'}").write_bytes(file_content(index))
    return count


def change_files(directory: Path, count: int, percent: float, round_: int) -> int:
    """Rewrite ``percent`` of the files (at least one), each with new content of its kind; how many."""
    changed = max(1, math.ceil(count * percent / 100))
    step = max(1, count // changed)
    for n in range(changed):
        index = (n * step + round_) % count
        (directory / f"f-{index:05d}.{'txt' if index % 2 == 0 else 'bin'}").write_bytes(file_content(index))
    return changed


def disk_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file() and not p.is_symlink())


# --- the volume benchmark -----------------------------------------------------------------------------------
def volume_objects(ns: str, pv: str, data: Path) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("/api/v1/namespaces", {"metadata": {"name": ns}}),
        ("/api/v1/persistentvolumes", {"metadata": {"name": pv}, "spec": {
            "capacity": {"storage": "100Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "bench",
            "persistentVolumeReclaimPolicy": "Retain", "hostPath": {"path": str(data)}}}),
        (f"/api/v1/namespaces/{ns}/persistentvolumeclaims", {"metadata": {"name": "data"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "storageClassName": "bench", "volumeName": pv,
            "resources": {"requests": {"storage": "100Gi"}}}}),
        (f"/api/v1/namespaces/{ns}/pods", {"metadata": {"name": "holder", "annotations": {
            "backup.k3s-dr.io/volumes": "data"}}, "spec": {
            "nodeSelector": {"kubernetes.io/hostname": "localhost"}, "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "main", "image": APP_IMAGE, "imagePullPolicy": "Never",
                            "command": ["sleep", "inf"], "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]}}),
    ]


def baselines(data: Path, work: Path) -> dict[str, float]:
    """What an operator could type instead, on the same directory in the same run."""
    restic_env = {**os.environ, "RESTIC_PASSWORD": "bench", "RESTIC_REPOSITORY": str(work / "restic-baseline"),
                  "RESTIC_CACHE_DIR": str(work / "restic-cache")}
    out = {"restic_init_s": timed("restic init -q", restic_env),
           "restic_full_s": timed(f"restic backup -q {data}", restic_env),
           "zstd_baseline_s": timed(f"tar -C {data} -cf - . | zstd -q -T0 -3 -o {work / 'baseline.tar.zst'}")}
    (work / "restic-restored").mkdir()
    out["restic_restore_s"] = timed(f"restic restore -q latest --target {work / 'restic-restored'}", restic_env)
    (work / "unzstd").mkdir()
    out["unzstd_baseline_s"] = timed(f"zstd -q -dc {work / 'baseline.tar.zst'} | tar -C {work / 'unzstd'} -xf -")
    out["zstd_baseline_bytes"] = (work / "baseline.tar.zst").stat().st_size
    out["restic_baseline_bytes"] = disk_bytes(work / "restic-baseline")
    for scratch in ("restic-restored", "unzstd", "restic-baseline", "restic-cache", "baseline.tar.zst"):
        path = work / scratch
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in out.items()}


def start_volume(kube: Kube, ns: str, pv: str, data: Path, megabytes: int) -> int:
    """The volume filled, held by a Ready pod through its claim; how many files it holds."""
    count = fill_volume(data, megabytes)
    for path, body in volume_objects(ns, pv, data):
        post(kube, path, body)
    wait(lambda: ready(kube, ns, "holder"), 300, f"the pod holding {data.name}")
    return count


def bench_volume(kube: Kube, kubeconfig: str, env: dict[str, str], work: Path, megabytes: int,
                 percent: float) -> dict[str, Any]:
    ns, pv, data, backups = "bench-vol", "bench-vol-pv", work / "volumes" / "vol", work / "b-vol"
    count = start_volume(kube, ns, pv, data, megabytes)
    base = baselines(data, work)
    backups.mkdir(mode=0o700)
    started = time.monotonic()  # the data repository made ahead, as restic's baseline repository is (both timed apart)
    DataRepository(backups).ensure(time.monotonic() + 600)
    repository_init_s = time.monotonic() - started
    full_s, full = cli(["backup", "--kubeconfig", kubeconfig, "--dir", str(backups), "-n", ns], env)
    full_bytes = disk_bytes(backups)
    changed = change_files(data, count, percent, 0)
    expected = tree_digest(data)
    incremental_s, incremental = cli(["backup", "--kubeconfig", kubeconfig, "--dir", str(backups), "-n", ns], env)
    incremental_bytes = disk_bytes(backups) - full_bytes
    delete_namespace(kube, ns, pv)
    shutil.rmtree(data)
    restore_s, restored = cli(["restore", incremental["archive"], "--kubeconfig", kubeconfig], env)
    volume = restored["data"]["volumes"][0]
    if not volume.get("verified") or tree_digest(data) != expected:
        raise SystemExit(f"the restored volume differs: {volume}")
    delete_namespace(kube, ns, pv)
    return {"volume_mb": megabytes, "files": count, "changed_files": changed, **base,
            "repository_init_s": round(repository_init_s, 2), "full_backup_s": round(full_s, 2),
            "full_bytes": full_bytes,
            "incremental_backup_s": round(incremental_s, 2), "incremental_bytes": incremental_bytes,
            "restore_s": round(restore_s, 2), "restore_data_s": restored["data"]["seconds"],
            "full_phases": full["phases"], "incremental_phases": incremental["phases"],
            "full_data": _data_summary(full), "incremental_data": _data_summary(incremental),
            "restore_volume_s": volume.get("seconds")}


def _data_summary(result: dict[str, Any]) -> dict[str, Any]:
    """Where a backup's data phase went: the snapshot (restic + our hashing + listing) and the check."""
    repository = result["data"].get("repository") or {}
    volumes = result["data"].get("volumes") or [{}]
    return {"snapshots": repository.get("snapshots"), "check": repository.get("check"),
            "bytes_read": volumes[0].get("bytes_read"), "data_s": result["data"].get("seconds")}


def bench_hourly(kube: Kube, kubeconfig: str, env: dict[str, str], work: Path, megabytes: int, percent: float,
                 hours: int) -> dict[str, Any]:
    ns, pv, data, backups = "bench-hourly", "bench-hourly-pv", work / "volumes" / "hourly", work / "b-hourly"
    count = start_volume(kube, ns, pv, data, megabytes)
    config = work / "hourly.yaml"
    config.write_text(json.dumps({"data": {"volume_roots": [str(work / "volumes")]}, "backup": {"keep": hours}}))
    hourly_env = {**env, "K3S_DR_CONFIG": str(config)}
    seconds = []
    for hour in range(hours):
        if hour:
            change_files(data, count, percent, hour)
        took, _result = cli(["backup", "--kubeconfig", kubeconfig, "--dir", str(backups), "-n", ns], hourly_env)
        seconds.append(took)
    total = disk_bytes(backups)
    archives = len(list(backups.glob("k3s-dr-*.tar.gz")))
    delete_namespace(kube, ns, pv)
    shutil.rmtree(data)
    return {"hourly_backups": hours, "hourly_archives_kept": archives, "hourly_total_bytes": total,
            "hourly_first_s": round(seconds[0], 2), "hourly_median_s": round(statistics.median(seconds[1:] or seconds),
                                                                               2)}


# --- the database benchmark -----------------------------------------------------------------------------------
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
                                       "> /tmp/floor.dump; e=$(date +%s.%N); python3 -c \"print($e - $s)\"")
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
                                       "-d shop2 /tmp/floor.dump; e=$(date +%s.%N); python3 -c \"print($e - $s)\"")
    baseline_restore = float(floor.strip().splitlines()[-1])
    delete_namespace(kube, ns)
    return {"rows": rows, "dump_bytes": dump["bytes"], "backup_s": round(ours_backup, 2),
            "backup_data_s": result["phases"].get("data"), "baseline_backup_s": round(baseline_backup, 2),
            "restore_s": round(ours_restore, 2), "restore_hook_s": hooks["restore"]["seconds"],
            "baseline_restore_s": round(baseline_restore, 2), "rows_equal": True}


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def report(result: dict[str, Any]) -> None:
    print(f"volume {result['volume_mb']} MB ({result['files']} files, half text, half random; load "
          f"{result['load_average']['start']} → {result['load_average']['end']}):")
    print(f"  full backup {result['full_backup_s']} s = {ratio(result['full_backup_s'], result['restic_full_s'])} "
          f"restic backup ({result['restic_full_s']} s), {ratio(result['full_backup_s'], result['zstd_baseline_s'])} "
          f"tar|zstd -T0 -3 ({result['zstd_baseline_s']} s); {result['full_bytes']:,} bytes on disk")
    print(f"  incremental ({result['changed_files']} files changed) {result['incremental_backup_s']} s = "
          f"{ratio(result['incremental_backup_s'], result['full_backup_s'])} of the full; "
          f"{result['incremental_bytes']:,} bytes = "
          f"{ratio(result['incremental_bytes'], result['full_bytes'])} of the full")
    print(f"  restore {result['restore_s']} s = {ratio(result['restore_s'], result['restic_restore_s'])} restic "
          f"restore ({result['restic_restore_s']} s), {ratio(result['restore_s'], result['unzstd_baseline_s'])} "
          f"zstd -dc|tar -x ({result['unzstd_baseline_s']} s)")
    if "hourly_total_bytes" in result:
        print(f"  {result['hourly_backups']} hourly backups ({result['hourly_archives_kept']} kept): "
              f"{result['hourly_total_bytes']:,} bytes on disk = {result['hourly_ratio']}x one full; "
              f"median backup {result['hourly_median_s']} s")
    database = result.get("database")
    if database:
        print(f"database {database['rows']} rows: backup {database['backup_s']} s, its dump phase "
              f"{database['backup_data_s']} s = {ratio(database['backup_data_s'], database['baseline_backup_s'])} "
              f"in-pod pg_dump ({database['baseline_backup_s']} s); restore {database['restore_s']} s (pg_restore "
              f"hook {database['restore_hook_s']} s = "
              f"{ratio(database['restore_hook_s'], database['baseline_restore_s'])} in-pod pg_restore)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volume-mb", type=int, default=1024)
    parser.add_argument("--change-percent", type=float, default=1.0)
    parser.add_argument("--rows", type=int, default=100_000, help="PostgreSQL rows (0: no database part)")
    parser.add_argument("--hourly", type=int, default=0, help="that many backups, each after a change (0: none)")
    args = parser.parse_args()
    load_start = [round(v, 2) for v in os.getloadavg()]
    work = Path(tempfile.mkdtemp(prefix="k3s-dr-bench-data-", dir="/var/tmp"))
    work.chmod(0o755)
    tar = db_image_tar(time.monotonic() + 1200) if args.rows else None
    cluster = start_cluster(ClusterSpec(f"bd{os.getpid()}", nodes=0, real_node=True, owned_by_process=True))
    try:
        if tar is not None:
            ctr(NodeLayout(Path(cluster.dir) / "node").containerd_socket, ["images", "import", str(tar)],
                time.monotonic() + 300, "importing the database image")
        config = work / "config.yaml"
        config.write_text(json.dumps({"data": {"volume_roots": [str(work / "volumes")]}}))
        env = {**os.environ, "K3S_DR_CONFIG": str(config), "K3S_DR_BACKUP_LOCK_FILE": str(work / "lock"),
               "K3S_DR_BACKUP_LOG_FILE": str(work / "log"), "K3S_DR_BACKUP_K3S_DATA_DIR": str(work / "none"),
               "K3S_DR_RESTORE_STATE_DIR": str(work / "state")}
        with Kube.from_kubeconfig(cluster.kubeconfig) as kube:
            kubeconfig = str(cluster.kubeconfig)
            result: dict[str, Any] = bench_volume(kube, kubeconfig, env, work, args.volume_mb, args.change_percent)
            if args.hourly:
                result.update(bench_hourly(kube, kubeconfig, env, work, args.volume_mb, args.change_percent,
                                           args.hourly))
                result["hourly_ratio"] = round(result["hourly_total_bytes"] / result["full_bytes"], 3)
            if args.rows:
                result["database"] = bench_database(kube, kubeconfig, env, work, args.rows)
    finally:
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
    result["load_average"] = {"start": load_start, "end": [round(v, 2) for v in os.getloadavg()]}
    report(result)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
