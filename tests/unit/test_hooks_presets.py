"""Presets: their command lines (all of them), run through a real /bin/sh with fake database tools.

SQL Server and MongoDB cannot run on our machines, MariaDB and Redis do not run in our test
image: their presets are proven here on their command lines only — each script is executed
by a real ``sh`` with stub programs on PATH that record their argv and environment, so the
test sees exactly what the database tool would receive. PostgreSQL and SQLite also run for
real on the real node (tests/integration/test_hooks_real.py).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from dr_lib.hooks.presets import PRESETS, find_preset, preset_command

STUB = """#!/bin/sh
# records how it was called, then behaves like a tiny database tool
printf '%s\\n' "$(basename "$0")" "$@" > "$STUB_LOG/$(basename "$0").argv"
env > "$STUB_LOG/$(basename "$0").env"
case "$(basename "$0")" in
  sqlcmd) case "$*" in *BACKUP*) f=$(printf '%s' "$*" | sed "s/.*DISK = N'\\([^']*\\)'.*/\\1/")
                          printf 'TAPEbak' > "$f";; esac ;;
  redis-cli) case "$*" in *--rdb*) for a; do last=$a; done; printf 'REDIS0011' > "$last";;
                          *"CONFIG GET dir"*) printf 'dir\\n%s\\n' "$STUB_LOG";;
                          *"CONFIG GET dbfilename"*) printf 'dbfilename\\ndump.rdb\\n';; esac ;;
  *dump|mongodump) printf '%s' "${STUB_OUTPUT:-DUMP}" ;;
  *) cat > "$STUB_LOG/$(basename "$0").stdin" ;;
esac
"""
TOOLS = ("pg_dump", "pg_restore", "psql", "mariadb-dump", "mariadb", "sqlcmd", "mongodump", "mongorestore",
         "redis-cli", "sqlite3")


@pytest.fixture
def stubs(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in TOOLS:
        script = bin_dir / tool
        script.write_text(STUB)
        script.chmod(0o755)
    return tmp_path


def run_preset(stubs: Path, preset: str, phase: str, env: dict[str, str], params: dict[str, str] | None = None,
               stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    command = preset_command(PRESETS[preset], phase, params or {})
    assert command is not None and command[:2] == ("/bin/sh", "-c")
    full_env = {"PATH": f"{stubs / 'bin'}:/usr/bin:/bin", "STUB_LOG": str(stubs), "TMPDIR": str(stubs), **env}
    return subprocess.run(list(command), input=stdin, capture_output=True, env=full_env, timeout=30, check=False)


def argv(stubs: Path, tool: str) -> list[str]:
    return (stubs / f"{tool}.argv").read_text().splitlines()[1:]


def env_of(stubs: Path, tool: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in (stubs / f"{tool}.env").read_text().splitlines() if "=" in line)


def test_every_preset_is_data_with_a_reason_and_says_how_it_is_tested() -> None:
    assert set(PRESETS) == {"postgresql", "mysql", "mssql", "mongodb", "redis", "sqlite"}
    for preset in PRESETS.values():
        assert preset.reason and preset.tested and preset.magic
        assert preset.script("dump") and preset.script("restore") and preset.script("verify")
        assert preset.tested.startswith(("real:", "command lines only:"))
    assert PRESETS["mssql"].tested.startswith("command lines only")
    assert PRESETS["mongodb"].tested.startswith("command lines only")
    assert find_preset("MariaDB") is PRESETS["mysql"] and find_preset("nope") is None


def test_postgresql_takes_credentials_from_the_official_images_environment(stubs: Path) -> None:
    done = run_preset(stubs, "postgresql", "dump", {"POSTGRES_USER": "app", "POSTGRES_PASSWORD": "s3cret-pw"})
    assert done.returncode == 0, done.stderr
    assert argv(stubs, "pg_dump") == ["--format=custom", "--no-password"]
    env = env_of(stubs, "pg_dump")
    assert (env["PGUSER"], env["PGDATABASE"], env["PGPASSWORD"]) == ("app", "app", "s3cret-pw")
    run_preset(stubs, "postgresql", "restore", {"PGPASSWORD": "own"}, {"database": "shop"}, stdin=b"PGDMP...")
    assert argv(stubs, "pg_restore") == ["--clean", "--if-exists", "--no-owner", "--exit-on-error",
                                         "--single-transaction", "--no-password", "--dbname=shop"]
    assert env_of(stubs, "pg_restore")["PGPASSWORD"] == "own"  # an explicit PGPASSWORD wins
    assert (stubs / "pg_restore.stdin").read_bytes() == b"PGDMP..."


def test_a_parameter_value_cannot_inject_shell(stubs: Path) -> None:
    run_preset(stubs, "postgresql", "dump", {}, {"database": "x'; touch /tmp/pwned-k3s-dr; '"})
    assert env_of(stubs, "pg_dump")["PGDATABASE"] == "x'; touch /tmp/pwned-k3s-dr; '"
    assert not Path("/tmp/pwned-k3s-dr").exists()


def test_mysql_password_goes_through_mysql_pwd_never_argv(stubs: Path) -> None:
    run_preset(stubs, "mysql", "dump", {"MARIADB_ROOT_PASSWORD": "root-pw-123"})
    args = argv(stubs, "mariadb-dump")
    assert args == ["--user=root", "--single-transaction", "--quick", "--routines", "--triggers", "--events",
                    "--hex-blob", "--all-databases"]
    assert "root-pw-123" not in " ".join(args)
    assert env_of(stubs, "mariadb-dump")["MYSQL_PWD"] == "root-pw-123"
    run_preset(stubs, "mysql", "dump", {"MYSQL_ROOT_PASSWORD": "x"}, {"database": "shop"})
    assert argv(stubs, "mariadb-dump")[-2:] == ["--databases", "shop"]


def test_sql_server_backs_up_to_a_file_streams_it_and_removes_it(stubs: Path) -> None:
    done = run_preset(stubs, "mssql", "dump", {"MSSQL_SA_PASSWORD": "Sa-pw-456", "MSSQL_BACKUP_DIR": str(stubs)},
                      {"database": "InsightLearn"})
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"TAPEbak"
    args = argv(stubs, "sqlcmd")
    assert args[:6] == ["-b", "-S", "localhost", "-U", "sa", "-Q"]
    assert args[6].startswith("BACKUP DATABASE [InsightLearn] TO DISK = N'")
    assert args[6].endswith("' WITH COPY_ONLY, INIT, CHECKSUM")
    assert "Sa-pw-456" not in " ".join(args)
    assert env_of(stubs, "sqlcmd")["SQLCMDPASSWORD"] == "Sa-pw-456"
    assert not list(stubs.glob("k3s-dr-*.bak"))  # the server-side file is removed
    run_preset(stubs, "mssql", "restore", {"MSSQL_BACKUP_DIR": str(stubs)}, {"database": "InsightLearn"},
               stdin=b"TAPE")
    assert "RESTORE DATABASE [InsightLearn] FROM DISK" in argv(stubs, "sqlcmd")[6]
    assert "WITH REPLACE, CHECKSUM" in argv(stubs, "sqlcmd")[6]


def test_mongodb_archive_includes_gridfs_and_keeps_the_password_in_a_private_file(stubs: Path) -> None:
    done = run_preset(stubs, "mongodb", "dump", {"MONGO_INITDB_ROOT_USERNAME": "root",
                                                 "MONGO_INITDB_ROOT_PASSWORD": 'p"w\\9'})
    assert done.returncode == 0, done.stderr
    args = argv(stubs, "mongodump")
    assert args[:2] == ["--archive", "--quiet"]  # every database, GridFS collections included
    assert args[3:] == ["--username=root", "--authenticationDatabase=admin"]
    assert args[2].startswith("--config=")
    assert 'p"w' not in " ".join(args)
    assert not Path(args[2].removeprefix("--config=")).exists()  # removed on exit
    run_preset(stubs, "mongodb", "restore", {}, stdin=b"\x6d\xe2\x99\x81")
    assert argv(stubs, "mongorestore") == ["--archive", "--drop", "--quiet"]


def test_mongodb_config_file_escapes_the_password(stubs: Path, tmp_path: Path) -> None:
    command = preset_command(PRESETS["mongodb"], "dump", {})
    assert command is not None
    script = command[2].replace("mongodump --archive --quiet $A", 'cp "$CFG" "$STUB_LOG/cfg"')
    env = {"PATH": "/usr/bin:/bin", "STUB_LOG": str(stubs), "TMPDIR": str(tmp_path),
           "MONGO_INITDB_ROOT_USERNAME": "root", "MONGO_INITDB_ROOT_PASSWORD": 'a"b\\c'}
    subprocess.run(["/bin/sh", "-c", script], env=env, check=True, timeout=10)
    assert (stubs / "cfg").read_text() == 'password: "a\\"b\\\\c"\n'
    assert oct((stubs / "cfg").stat().st_mode & 0o777) == "0o600"


def test_redis_takes_a_fresh_rdb_and_restores_by_restart(stubs: Path) -> None:
    done = run_preset(stubs, "redis", "dump", {"REDIS_PASSWORD": "redis-pw"})
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"REDIS0011"
    assert argv(stubs, "redis-cli")[:2] == ["--no-auth-warning", "--rdb"]
    assert env_of(stubs, "redis-cli")["REDISCLI_AUTH"] == "redis-pw"
    done = run_preset(stubs, "redis", "restore", {}, stdin=b"REDIS0011")
    assert done.returncode == 0, done.stderr
    assert (stubs / "dump.rdb").read_bytes() == b"REDIS0011"


def test_sqlite_uses_the_online_backup_api(stubs: Path) -> None:
    done = run_preset(stubs, "sqlite", "dump", {}, {"database": "/data/app.db"})
    assert done.returncode == 0, done.stderr
    args = argv(stubs, "sqlite3")
    assert args[0] == "/data/app.db" and args[1].startswith(".backup '")
    assert run_preset(stubs, "sqlite", "verify", {}, {"database": "/data/app.db"}).returncode != 0  # stub says no "ok"


def test_the_scripts_are_valid_posix_shell() -> None:
    for preset in PRESETS.values():
        for phase in ("dump", "restore", "verify"):
            command = preset_command(preset, phase, {p.name: "x" for p in preset.params})
            assert command is not None
            done = subprocess.run(["/bin/sh", "-n", "-c", command[2]], capture_output=True, timeout=10, check=False)
            assert done.returncode == 0, (preset.name, phase, done.stderr)


def test_presets_documented_in_docs_hooks_md() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "hooks.md").read_text()
    for preset in PRESETS.values():
        assert f"`{preset.name}`" in doc
