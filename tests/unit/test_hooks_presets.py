"""Presets as data, and the command lines each one hands its tools, run by a real /bin/sh against fake tools.

The fakes (``_fake_tools``) record argv, environment and stdin. PostgreSQL, MariaDB, Redis and
SQLite also run for real on the real node (tests/integration/test_hooks_real.py); SQL Server
and MongoDB against their tools' recorded outputs (test_presets_recorded.py); hostile
parameter values in test_presets_quoting.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from _fake_tools import FakeTools, Step

from dr_lib.hooks.presets import KINDS, PRESETS, find_preset, preset_command


@pytest.fixture
def fakes(tmp_path: Path) -> FakeTools:
    return FakeTools(tmp_path)


def test_every_preset_is_data_with_a_reason_and_says_how_it_is_tested() -> None:
    assert set(PRESETS) == {"postgresql", "mysql", "mssql", "mongodb", "redis", "sqlite"}
    for preset in PRESETS.values():
        assert preset.reason and preset.tested and preset.magic
        assert preset.script("dump") and preset.script("restore") and preset.script("verify")
        assert all(param.kind in KINDS for param in preset.params)
    real = {name for name, preset in PRESETS.items() if preset.tested.startswith("real:")}
    recorded = {name for name, preset in PRESETS.items() if preset.tested.startswith("recorded outputs:")}
    assert real == {"postgresql", "mysql", "redis", "sqlite"} and recorded == {"mssql", "mongodb"}
    assert find_preset("MariaDB") is PRESETS["mysql"] and find_preset("nope") is None


def test_postgresql_takes_credentials_from_the_official_images_environment(fakes: FakeTools) -> None:
    done = fakes.run("postgresql", "dump", env={"POSTGRES_USER": "app", "POSTGRES_PASSWORD": "s3cret-pw"})
    assert done.returncode == 0, done.stderr
    (dump,) = fakes.calls("pg_dump")
    assert dump.argv == ["--format=custom", "--no-password"]
    assert (dump.env["PGUSER"], dump.env["PGDATABASE"], dump.env["PGPASSWORD"]) == ("app", "app", "s3cret-pw")
    fakes.run("postgresql", "restore", {"database": "shop"}, env={"PGPASSWORD": "own"}, stdin=b"PGDMP...")
    (restore,) = fakes.calls("pg_restore")
    # the database travels in PGDATABASE: -d is a connection string without dbname, never the name itself
    assert restore.argv == ["--clean", "--if-exists", "--no-owner", "--exit-on-error", "--single-transaction",
                            "--no-password", "--dbname=application_name=k3s-dr-restore"]
    assert restore.env["PGDATABASE"] == "shop" and restore.env["PGPASSWORD"] == "own"  # an explicit PGPASSWORD wins
    assert restore.stdin == b"PGDMP..."


def test_mysql_password_goes_through_mysql_pwd_never_argv(fakes: FakeTools) -> None:
    fakes.run("mysql", "dump", env={"MARIADB_ROOT_PASSWORD": "root-pw-123"})
    (dump,) = fakes.calls("mariadb-dump")
    assert dump.argv == ["--user=root", "--single-transaction", "--quick", "--routines", "--triggers", "--events",
                         "--hex-blob", "--all-databases"]
    assert "root-pw-123" not in " ".join(dump.argv) and dump.env["MYSQL_PWD"] == "root-pw-123"
    fakes.forget()
    fakes.run("mysql", "dump", {"database": "shop"}, env={"MYSQL_ROOT_PASSWORD": "x"})
    # one database: dropped and recreated by the dump, so a restore replaces it; the name after "--"
    assert fakes.calls("mariadb-dump")[0].argv[-4:] == ["--add-drop-database", "--databases", "--", "shop"]


def test_mysql_verify_counts_user_tables(fakes: FakeTools) -> None:
    fakes.run("mysql", "verify")
    assert "NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')" in fakes.calls("mariadb")[0].argv[-1]
    fakes.forget()
    fakes.run("mysql", "verify", {"database": "shop"})
    argv = fakes.calls("mariadb")[0].argv
    assert "--database=shop" in argv and argv[-1].endswith("WHERE table_schema = DATABASE()")


def test_a_missing_client_is_said_plainly(tmp_path: Path) -> None:
    command = preset_command(PRESETS["mysql"], "dump", {})
    assert command is not None
    done = subprocess.run(list(command), capture_output=True, env={"PATH": str(tmp_path)}, timeout=30, check=False)
    assert done.returncode == 127
    assert b"neither mariadb-dump nor mysqldump is installed in this container" in done.stderr


def test_redis_takes_a_fresh_rdb_with_the_password_from_the_environment(fakes: FakeTools) -> None:
    fakes.plan("redis-cli", Step(when="--rdb", write_last_arg=True, write=b"REDIS0011...",
                                 stdout=b"Transfer finished with success after 12 bytes\n"))
    done = fakes.run("redis", "dump", env={"REDIS_PASSWORD": "redis-pw"})
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"REDIS0011..."  # the RDB, and nothing redis-cli said
    (call,) = fakes.calls("redis-cli")
    assert call.argv[:2] == ["--no-auth-warning", "--rdb"] and call.env["REDISCLI_AUTH"] == "redis-pw"
    assert "redis-pw" not in call.argv
    assert fakes.leftovers() == []


def test_redis_restore_refuses_a_replica(fakes: FakeTools) -> None:
    fakes.plan("redis-cli", Step(
        when="INFO replication", stdout=b"# Replication\r\nrole:slave\r\nmaster_port:6379\r\n"))
    done = fakes.run("redis", "restore", stdin=b"REDIS0011")
    assert done.returncode == 1
    assert b"this Redis is a slave: restore into the master, never a replica" in done.stderr
    assert [c.argv[-2:] for c in fakes.calls("redis-cli")] == [["INFO", "replication"]]  # nothing else was sent
    done = fakes.run("redis", "verify")
    assert done.returncode == 1 and b"the restored Redis is a slave, not a master" in done.stderr


def test_redis_restore_stops_when_the_server_refuses_replicaof(fakes: FakeTools) -> None:
    # redis-cli exits 0 on an error reply (seen with Debian's Redis 7.0 and a renamed REPLICAOF): the reply decides
    fakes.plan("redis-cli", Step(when="INFO replication", stdout=b"# Replication\r\nrole:master\r\n"),
               Step(when="CONFIG GET", stdout=b""), Step(when="PING", stdout=b"PONG\n"),
               Step(when="INFO keyspace", stdout=b"# Keyspace\r\ndb0:keys=3,expires=1,avg_ttl=0\r\n"),
               Step(when="REPLICAOF", stdout=b"ERR unknown command 'REPLICAOF', with args beginning with: \n"))
    done = fakes.run("redis", "restore", stdin=b"REDIS0011")
    assert done.returncode == 1
    assert b"the server refused REPLICAOF: ERR unknown command 'REPLICAOF'" in done.stderr
    (private,) = fakes.calls("redis-server")  # the RDB went to a private server in a directory of its own
    assert private.argv[0].endswith("/redis.conf") and private.argv[0].startswith(str(fakes.root / "tmp"))
    replicaof = [c.argv for c in fakes.calls("redis-cli") if "REPLICAOF" in c.argv]
    assert replicaof == [["--no-auth-warning", "REPLICAOF", "127.0.0.1", replicaof[0][-1]]]  # never NO ONE after
    assert fakes.leftovers() == []  # the RDB and the private config removed


def test_sqlite_uses_the_online_backup_api_and_refuses_a_missing_file(fakes: FakeTools, tmp_path: Path) -> None:
    database = tmp_path / "app.db"
    database.write_bytes(b"SQLite format 3\x00")
    done = fakes.run("sqlite", "dump", {"database": str(database)})
    assert done.returncode == 0, done.stderr
    argv = fakes.calls("sqlite3")[0].argv
    assert argv[0] == str(database) and argv[1].startswith(".backup '")
    fakes.forget()
    done = fakes.run("sqlite", "dump", {"database": str(tmp_path / "gone.db")})
    assert done.returncode == 1 and b"no database file at" in done.stderr
    assert fakes.calls("sqlite3") == []  # sqlite3 would have made an empty database and "backed it up"
    assert fakes.run("sqlite", "verify", {"database": str(database)}).returncode != 0  # the fake does not say "ok"


def test_the_scripts_are_valid_posix_shell() -> None:
    sample = {"name": "x", "path": "/x", "host": "localhost", "port": "1"}
    for preset in PRESETS.values():
        for phase in ("dump", "restore", "verify"):
            command = preset_command(preset, phase, {p.name: sample[p.kind] for p in preset.params})
            assert command is not None
            done = subprocess.run(["/bin/sh", "-n", "-c", command[2]], capture_output=True, timeout=10, check=False)
            assert done.returncode == 0, (preset.name, phase, done.stderr)


def test_presets_documented_in_docs_hooks_md() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "hooks.md").read_text()
    for preset in PRESETS.values():
        assert f"`{preset.name}`" in doc
        for param in preset.params:
            assert f"`{param.name}`" in doc, (preset.name, param.name)
