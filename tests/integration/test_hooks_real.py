"""Application data for real: hooks and volume copies on the real node, through the real CLI.

One source cluster runs Debian's PostgreSQL (StatefulSet, hostPath volume, password from a
Secret) and a file-writing app (StatefulSet on a claim bound to a hostPath volume). The hooks
that fail, hang or write garbage run in small pods of their own namespaces, each backed up
alone (``-n``). MariaDB and Redis make their round trips in namespaces of their own: seeded,
fingerprinted, backed up with their preset, destroyed (namespace and volume), restored, and
fingerprinted again. The last test backs up PostgreSQL and the files, loses them (the cluster
is stopped, their directories deleted), restores into a fresh cluster, and reads them back.

Needs root, the real node's Debian packages and the Docker engine (the database image is built
here from Debian's packages); each skip names what is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _backup_helpers import cli, isolated_env
from _hooks_apps import (
    MARIADB_PASSWORD,
    PASSWORDS,
    PG_PASSWORD,
    REDIS_PASSWORD,
    create,
    delete_namespace,
    import_image,
    mariadb,
    mariadb_ident,
    namespace,
    psql,
    redis_eval,
    restart_pod,
    secret,
    servers_image_or_skip,
    sh,
    sleeper_pod,
    wait_ready,
)
from _real_node import skip_unless_real_node

from dr_lib.archive.access import read_manifest
from dr_lib.kube.client import Kube
from k3s_dr_testbed.apps.images import DB_REF
from k3s_dr_testbed.apps.manifests import ROWS_FINGERPRINT, file_app, postgres_statefulset
from k3s_dr_testbed.apps.servers import (
    MARIADB_FINGERPRINT,
    REDIS_FINGERPRINT,
    REDIS_SEED,
    mariadb_statefulset,
    redis_statefulset,
)

pytestmark = [pytest.mark.real_node, pytest.mark.slow]

SHOP = "shop"
FILES_LIST = ("cd /data && for f in obj-*; do printf '%s ' \"$f\"; sha256sum < \"$f\" | cut -c1-64; done")


@pytest.fixture(scope="module")
def image(pytestconfig: pytest.Config) -> Path:
    skip_unless_real_node(pytestconfig)
    return servers_image_or_skip()


@pytest.fixture(scope="module")
def source(image: Path, session_cluster_factory: Any) -> Iterator[Any]:
    handle = session_cluster_factory(nodes=0, real_node=True, name=f"hks{os.getpid()}")
    started = time.monotonic()
    import_image(handle, image)
    print(f"\nimported {image.name} ({image.stat().st_size / 1e6:.0f} MB) in {time.monotonic() - started:.1f} s")
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def kube(source: Any) -> Iterator[Kube]:
    with Kube.from_kubeconfig(source.kubeconfig) as client:
        yield client


@pytest.fixture(scope="module")
def volumes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("node-volumes")
    root.chmod(0o755)
    return root


@pytest.fixture(scope="module")
def kubeconfig(source: Any) -> str:
    return str(source.kubeconfig)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return isolated_env(tmp_path, K3S_DR_RESTORE_STATE_DIR=str(tmp_path / "state"))


def leaked(text: str) -> bool:
    return any(password in text for password in PASSWORDS)


def assert_no_secret_anywhere(run: Any, env: dict[str, str], backup_dir: Path) -> None:
    assert not leaked(run.stdout) and not leaked(run.stderr)
    log = Path(env["K3S_DR_BACKUP_LOG_FILE"])
    assert not log.exists() or not leaked(log.read_text())
    for archive in backup_dir.glob("k3s-dr-*.tar.gz"):
        assert not leaked(read_manifest(archive).to_json().decode())


# --- failing, hanging and garbage hooks: each in a namespace of its own -------------------------------------

def hook_namespace(kube: Kube, name: str, *pods: dict[str, Any]) -> None:
    create(kube, namespace(name))
    create(kube, secret(name, "creds", password=PG_PASSWORD))
    for pod in pods:
        create(kube, pod)
    for pod in pods:
        wait_ready(kube, name, pod["metadata"]["name"])


SECRET_ENV = [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}}]


def test_a_failing_hook_that_asks_for_fail_fails_the_backup_says_which_and_why_and_leaks_nothing(
        kube: Kube, kubeconfig: str, env: dict[str, str], tmp_path: Path) -> None:
    hook_namespace(kube, "hk-fail", sleeper_pod("hk-fail", "db-0", {
        "dump.hook.backup.k3s-dr.io/command": 'echo "connecting with password $DB_PASSWORD" >&2; exit 3',
        "hook.k3s-dr.io/on-error": "fail",  # annotation hooks default to continue (test_hooks_hostage.py)
    }, env=SECRET_ENV))
    backup_dir = tmp_path / "backups"
    run = cli("backup", "--kubeconfig", kubeconfig, "--dir", backup_dir, "-n", "hk-fail", "--json", env=env)
    assert run.code == 1, run.stderr
    assert ("backup aborted: dump hook of pod hk-fail/db-0 failed: exit code 3; "
            "stderr: connecting with password ***") in run.stderr
    assert "on-error=fail; nothing was written or promoted" in run.stderr
    assert not list(backup_dir.glob("k3s-dr-*")) and not list(backup_dir.glob(".k3s-dr-tmp-*"))
    assert not (backup_dir / "latest-backup.tar.gz").exists()
    assert_no_secret_anywhere(run, env, backup_dir)
    assert "FAILED" in Path(env["K3S_DR_BACKUP_LOG_FILE"]).read_text()


def test_a_hanging_hook_times_out_and_its_processes_are_stopped(kube: Kube, kubeconfig: str, env: dict[str, str],
                                                               tmp_path: Path) -> None:
    hook_namespace(kube, "hk-hang", sleeper_pod("hk-hang", "db-0", {
        "pre.hook.backup.k3s-dr.io/command": "sleep 600",
        "pre.hook.backup.k3s-dr.io/timeout": "3s",
        "post.hook.backup.k3s-dr.io/command": "touch /tmp/resumed",
    }))
    started = time.monotonic()
    run = cli("backup", "--kubeconfig", kubeconfig, "--dir", tmp_path / "b", "-n", "hk-hang", env=env)
    assert time.monotonic() - started < 60
    assert run.code == 3  # an annotation hook: on-error continue by default, the backup is partial
    assert ("pre hook of pod hk-hang/db-0 failed: timed out after 3 s (timeout); the hook's processes were killed"
            in run.stderr)
    processes = sh(kube, "hk-hang", "db-0", "main", "ps -eo stat=,args=").stdout.decode()
    assert not [line for line in processes.splitlines() if "sleep 600" in line and not line.startswith("Z")]
    assert sh(kube, "hk-hang", "db-0", "main", "test -e /tmp/resumed").ok  # the post hook resumed it


def test_garbage_from_a_dump_tool_is_refused(kube: Kube, kubeconfig: str, env: dict[str, str], tmp_path: Path) -> None:
    # a broken pg_dump first on PATH: exit 0, but what it writes is no PostgreSQL dump
    fake = "printf '#!/bin/sh\\necho not-a-dump\\n' > /usr/local/bin/pg_dump && chmod +x /usr/local/bin/pg_dump " \
           "&& exec sleep infinity"
    hook_namespace(kube, "hk-junk", sleeper_pod("hk-junk", "db-0", {"hook.k3s-dr.io/preset": "postgresql"},
                                                image=DB_REF, command=fake))
    run = cli("backup", "--kubeconfig", kubeconfig, "--dir", tmp_path / "b", "-n", "hk-junk", env=env)
    assert run.code == 3  # left out (on-error continue), named
    assert ("dump hook (preset postgresql) of pod hk-junk/db-0 failed: wrote 11 bytes that are not a dump of this "
            "kind (garbage): a good one starts with 'PGDMP'") in run.stderr


def test_on_error_continue_keeps_the_good_data_and_marks_the_backup_partial(kube: Kube, kubeconfig: str,
                                                                           env: dict[str, str],
                                                                           tmp_path: Path) -> None:
    hook_namespace(kube, "hk-cont",
                   sleeper_pod("hk-cont", "bad-0", {"dump.hook.backup.k3s-dr.io/command": "exit 7",
                                                    "hook.k3s-dr.io/on-error": "continue"}),
                   sleeper_pod("hk-cont", "good-0", {"dump.hook.backup.k3s-dr.io/command": "echo good dump",
                                                     "hook.k3s-dr.io/name": "notes"}))
    backup_dir = tmp_path / "b"
    run = cli("backup", "--kubeconfig", kubeconfig, "--dir", backup_dir, "-n", "hk-cont", "--json", env=env)
    assert run.code == 3, run.stderr  # partial
    result = run.json
    assert result["partial"] is True and result["promoted"] is True
    assert result["data"]["failures"][0].startswith("dump hook of pod hk-cont/bad-0 failed: exit code 7")
    manifest = read_manifest(Path(result["archive"]))
    assert [e.path for e in manifest.data] == ["data/hooks/hk-cont/good-0/notes.dump"]
    assert manifest.data_failures and "bad-0" in manifest.data_failures[0]
    with tarfile.open(result["archive"]) as tar:
        member = tar.extractfile("data/hooks/hk-cont/good-0/notes.dump")
        assert member is not None and member.read() == b"good dump\n"
    assert "PARTIAL" in Path(env["K3S_DR_BACKUP_LOG_FILE"]).read_text()


def test_sqlite_preset_restores_lost_rows_into_the_damaged_original(kube: Kube, kubeconfig: str,
                                                                   env: dict[str, str], tmp_path: Path) -> None:
    db = "/data/app.db"
    start = (f"mkdir -p /data && sqlite3 {db} 'create table t (x int); insert into t values (1), (2), (3)' "
             "&& exec sleep infinity")
    hook_namespace(kube, "hk-lite", sleeper_pod("hk-lite", "lite-0", {
        "hook.k3s-dr.io/preset": "sqlite", "hook.k3s-dr.io/preset-params": f"database={db}"},
        image=DB_REF, command=start))
    run = cli("backup", "--kubeconfig", kubeconfig, "--dir", tmp_path / "b", "-n", "hk-lite", "--json", env=env)
    assert run.code == 0, run.stderr
    archive = run.json["archive"]
    with tarfile.open(archive) as tar:
        member = tar.extractfile("data/hooks/hk-lite/lite-0/sqlite.dump")
        assert member is not None and member.read(16) == b"SQLite format 3\x00"
    count = f"sqlite3 {db} 'select count(*) from t'"
    assert sh(kube, "hk-lite", "lite-0", "main", f"sqlite3 {db} 'delete from t' && {count}").stdout == b"0\n"
    restore = cli("restore", archive, "--kubeconfig", kubeconfig, "-n", "hk-lite", "--json", env=env)
    assert restore.code == 0, restore.stderr
    assert [(h["phase"], h["ok"]) for h in restore.json["data"]["hooks"]] == [("restore", True), ("verify", True)]
    assert sh(kube, "hk-lite", "lite-0", "main", count).stdout == b"3\n"


# --- MariaDB and Redis: round trips through their presets on Debian's real servers ------------------------------

# Built to hurt: a leading "-" (an option to mariadb-dump unless it follows --), backticks, $( ), quotes, "]".
HOSTILE_DB = "-shop `id` $(touch /tmp/k3s-dr-pwn) it's \"q\" ]x"


def deploy(kube: Kube, credentials: dict[str, Any], workload: dict[str, Any]) -> None:
    """The workload's namespace, its Secret and the one-replica StatefulSet, until its pod is Ready."""
    ns = workload["metadata"]["namespace"]
    for obj in (namespace(ns), credentials, workload):
        create(kube, obj)
    wait_ready(kube, ns, f"{workload['metadata']['name']}-0", timeout=180)


def round_trip(kube: Kube, kubeconfig: str, env: dict[str, str], tmp_path: Path, ns: str,
               data_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Back up ``ns`` with its preset, delete the namespace and the volume, restore it: (backup, restore) JSON."""
    run = cli("backup", "--kubeconfig", kubeconfig, "--dir", tmp_path / "backups", "-n", ns, "--json", env=env,
              timeout=300)
    assert run.code == 0, run.stderr
    assert_no_secret_anywhere(run, env, tmp_path / "backups")
    delete_namespace(kube, ns)
    shutil.rmtree(data_dir)
    restore = cli("restore", run.json["archive"], "--kubeconfig", kubeconfig, "--json", "--wait", "--wait-timeout",
                  "4m", env=env, timeout=600)
    assert restore.code == 0, restore.stderr + restore.stdout
    assert not leaked(restore.stdout + restore.stderr)
    return run.json, restore.json


def test_mariadb_comes_back_with_the_same_rows_under_a_hostile_database_name(kube: Kube, kubeconfig: str,
                                                                              volumes: Path, env: dict[str, str],
                                                                              tmp_path: Path) -> None:
    ns, data_dir = "maria", volumes / "mariadb"
    deploy(kube, secret(ns, "mariadb-credentials", password=MARIADB_PASSWORD), mariadb_statefulset(
        ns, data_dir, {"hook.k3s-dr.io/preset": "mysql", "hook.k3s-dr.io/container": "db",
                       "hook.k3s-dr.io/preset-params": f"database={HOSTILE_DB}"}, HOSTILE_DB))
    use = f"USE {mariadb_ident(HOSTILE_DB)}; "
    mariadb(kube, ns, use + "CREATE TABLE items (id INT PRIMARY KEY, title VARCHAR(100) NOT NULL); "
                            "INSERT INTO items SELECT seq, CONCAT('course ', seq) FROM seq_1_to_500")
    before = mariadb(kube, ns, use + MARIADB_FINGERPRINT)
    assert before.startswith("500\t")

    backup, restored = round_trip(kube, kubeconfig, env, tmp_path, ns, data_dir)
    dump = backup["data"]["dumps"][0]
    assert dump["path"] == "data/hooks/maria/mariadb-0/mysql.dump"
    assert dump["meta"]["preset"] == "mysql" and dump["meta"]["params"] == {"database": HOSTILE_DB}
    hooks = restored["data"]["hooks"]
    assert [(h["phase"], h["ok"]) for h in hooks] == [("restore", True), ("verify", True)]
    assert hooks[1]["stdout"] == "1"  # one table in that database

    wait_ready(kube, ns, "mariadb-0", timeout=180)
    after = mariadb(kube, ns, use + MARIADB_FINGERPRINT)
    assert after == before
    # nothing in the name ran: neither $( ) nor the backticks, in the pod that dumped or the one restored
    assert not sh(kube, ns, "mariadb-0", "db", "test -e /tmp/k3s-dr-pwn").ok
    print(f"\nmariadb fingerprint before {before!r}, after {after!r}; dump {dump['bytes']} bytes; "
          f"backup {backup['seconds']} s, restore {restored['seconds']} s")


def test_redis_comes_back_with_the_same_keys_and_keeps_them_across_a_restart(kube: Kube, kubeconfig: str,
                                                                             volumes: Path, env: dict[str, str],
                                                                             tmp_path: Path) -> None:
    ns, data_dir = "cache", volumes / "redis"
    deploy(kube, secret(ns, "redis-credentials", password=REDIS_PASSWORD), redis_statefulset(
        ns, data_dir, {"hook.k3s-dr.io/preset": "redis", "hook.k3s-dr.io/container": "redis"}))
    assert redis_eval(kube, ns, REDIS_SEED) == ["301"]
    before = redis_eval(kube, ns, REDIS_FINGERPRINT)
    assert before[0] == "301"

    backup, restored = round_trip(kube, kubeconfig, env, tmp_path, ns, data_dir)
    dump = backup["data"]["dumps"][0]
    assert dump["path"] == "data/hooks/cache/redis-0/redis.dump" and dump["meta"]["preset"] == "redis"
    hooks = restored["data"]["hooks"]
    assert [(h["phase"], h["ok"]) for h in hooks] == [("restore", True), ("verify", True)]
    assert hooks[1]["stdout"].startswith("role master, keys without expiry: db0=300 ")

    after = redis_eval(kube, ns, REDIS_FINGERPRINT)
    assert after == before
    # AOF is on: a restart loads the AOF, not an RDB, so the keys must be in the AOF by now
    restart_pod(kube, ns, "redis-0")
    assert redis_eval(kube, ns, REDIS_FINGERPRINT) == before
    print(f"\nredis fingerprint before {before}, after {after}, after a restart the same; dump {dump['bytes']} bytes; "
          f"backup {backup['seconds']} s, restore {restored['seconds']} s")


# --- the real round trip -----------------------------------------------------------------------------------

def test_postgres_and_files_come_back_in_a_fresh_cluster(source: Any, kube: Kube, image: Path, volumes: Path,
                                                         session_cluster_factory: Any, env: dict[str, str],
                                                         tmp_path: Path) -> None:
    pg_dir, files_dir = volumes / "pg", volumes / "files"
    create(kube, namespace(SHOP))
    create(kube, secret(SHOP, "pg-credentials", password=PG_PASSWORD))
    create(kube, postgres_statefulset(SHOP, pg_dir, {"hook.k3s-dr.io/preset": "postgresql",
                                                     "hook.k3s-dr.io/container": "pg",
                                                     "hook.k3s-dr.io/preset-params": "database=shop"}))
    for obj in file_app(SHOP, files_dir, 40, f"files-{os.getpid()}"):
        create(kube, obj)
    wait_ready(kube, SHOP, "pg-0", timeout=180)
    wait_ready(kube, SHOP, "files-0", timeout=120)
    psql(kube, SHOP, "create table items (id int primary key, title text not null)")
    psql(kube, SHOP, "insert into items select g, 'course ' || g from generate_series(1, 500) g")
    written_rows = psql(kube, SHOP, ROWS_FINGERPRINT)
    assert written_rows.startswith("500 ")
    time.sleep(1)  # the app is still writing while we look and back up: "consistent enough"
    written_files = sh(kube, SHOP, "files-0", "writer", FILES_LIST).stdout.decode().split("\n")
    written_files = [line for line in written_files if line]
    assert len(written_files) >= 5

    backup_dir = tmp_path / "backups"
    run = cli("backup", "--kubeconfig", source.kubeconfig, "--dir", backup_dir, "-n", SHOP, "--json", env=env,
              timeout=300)
    assert run.code == 0, run.stderr
    result = run.json
    data = result["data"]
    assert not data["failures"] and data["partial"] is False
    dump = data["dumps"][0]
    assert dump["path"] == "data/hooks/shop/pg-0/postgresql.dump"
    assert dump["meta"]["preset"] == "postgresql" and dump["meta"]["workload"] == {"kind": "StatefulSet", "name": "pg"}
    volume = data["volumes"][0]
    assert (volume["volume"], volume["node_path"], volume["mode"]) == ("data", str(files_dir), "consistent-enough")
    assert volume["files"] >= len(written_files)
    manifest = read_manifest(Path(result["archive"]))
    entries = {e.path: e for e in manifest.data}
    assert set(entries) == {"data/hooks/shop/pg-0/postgresql.dump", "data/volumes/shop/files-data.tar"}
    assert entries["data/volumes/shop/files-data.tar"].meta["tree_sha256"] == volume["tree_sha256"]
    assert_no_secret_anywhere(run, env, backup_dir)
    print(f"\nbackup: {result['seconds']} s, phases {result['phases']}, dump {dump['bytes']} bytes, "
          f"volume {volume['files']} files / {volume['content_bytes']} bytes")

    # the disaster: the cluster is gone and so is the data on the node
    source.stop()
    shutil.rmtree(pg_dir)
    shutil.rmtree(files_dir)

    target = session_cluster_factory(nodes=0, real_node=True, name=f"hkt{os.getpid()}")
    import_image(target, image)
    restore = cli("restore", result["archive"], "--kubeconfig", target.kubeconfig, "--json", "--wait",
                  "--wait-timeout", "4m", env=env, timeout=600)
    assert restore.code == 0, restore.stderr + restore.stdout
    restored = restore.json
    assert restored["complete"] is True
    placed = restored["data"]["volumes"][0]
    assert (placed["action"], placed["verified"], placed["node_path"]) == ("placed", True, str(files_dir))
    phases = [(h["phase"], h["ok"]) for h in restored["data"]["hooks"]]
    assert phases == [("restore", True), ("verify", True)]
    assert restored["data"]["hooks"][1]["stdout"] == "1"  # one user table
    assert not leaked(restore.stdout + restore.stderr)

    with Kube.from_kubeconfig(target.kubeconfig) as target_kube:
        assert psql(target_kube, SHOP, ROWS_FINGERPRINT) == written_rows
        wait_ready(target_kube, SHOP, "files-0")
        after = sh(target_kube, SHOP, "files-0", "writer", FILES_LIST).stdout.decode().split("\n")
        assert set(written_files) <= set(after)
        starts = sh(target_kube, SHOP, "files-0", "writer", "cat /data/starts.log").stdout.decode().splitlines()
        # the restored pod's first start already found the data: it was in place before the pod existed
        assert len(starts) == 2 and int(starts[1].split()[1]) > len(written_files)
    print(f"restore: {restored['seconds']} s; data {json.dumps(restored['data'])[:400]}")
