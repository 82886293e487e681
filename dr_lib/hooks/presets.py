"""Ready-made hooks for common databases, as data: each command with the reason it is written so.

Every preset runs through ``/bin/sh -c`` in the database's own container and takes its
credentials from that container's environment (the variables the official images use, which
operators fill from Secrets with ``secretKeyRef``): a password never travels in a command
line k3s-dr builds, logs or records. Parameters (database name, user) are not secrets; they
come from the annotation ``hook.k3s-dr.io/preset-params`` or a config rule's ``params`` and
are exported as environment variables before the script runs.

``tested`` says honestly how each preset is proven: for real against the database on our real
node, or on its command lines only because the database cannot run on our machines.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass

PHASES = ("pre", "dump", "post", "restore", "verify")


@dataclass(frozen=True)
class Param:
    name: str
    env: str
    meaning: str


@dataclass(frozen=True)
class Preset:
    name: str
    engine: str
    scripts: Mapping[str, str]  # phase → shell script
    magic: tuple[bytes, ...]  # a good dump starts with one of these
    params: tuple[Param, ...]
    reason: str
    tested: str

    def script(self, phase: str) -> str | None:
        return self.scripts.get(phase)


def _pg_env() -> str:
    # libpq reads PG* itself; the official image's POSTGRES_* are the fallbacks.
    return ('PGUSER="${PGUSER:-${POSTGRES_USER:-postgres}}"; PGDATABASE="${PGDATABASE:-${POSTGRES_DB:-$PGUSER}}"; '
            'if [ -z "${PGPASSWORD:-}" ] && [ -n "${POSTGRES_PASSWORD:-}" ]; then PGPASSWORD="$POSTGRES_PASSWORD"; '
            'export PGPASSWORD; fi; export PGUSER PGDATABASE; ')


POSTGRESQL = Preset(
    name="postgresql", engine="PostgreSQL",
    scripts={
        "dump": _pg_env() + "exec pg_dump --format=custom --no-password",
        "restore": _pg_env() + "exec pg_restore --clean --if-exists --no-owner --exit-on-error --single-transaction "
                               "--no-password --dbname=\"$PGDATABASE\"",
        "verify": _pg_env() + "exec psql -X -A -t -q -v ON_ERROR_STOP=1 --no-password -c "  # noqa: S608 - fixed
                              "\"select count(*) from pg_catalog.pg_tables "
                              "where schemaname not in ('pg_catalog', 'information_schema')\"",
    },
    magic=(b"PGDMP",),
    params=(Param("database", "PGDATABASE", "database to dump [default: POSTGRES_DB, else the user]"),
            Param("user", "PGUSER", "role to connect as [default: POSTGRES_USER, else postgres]"),
            Param("host", "PGHOST", "server address [default: the local socket]")),
    reason="pg_dump takes one consistent MVCC snapshot while the database keeps serving; the custom format is "
           "compressed and lets pg_restore --clean --if-exists replace objects in a fresh or existing database in "
           "one transaction, so a failed restore changes nothing; --no-password fails instead of waiting at a prompt",
    tested="real: Debian's postgresql 15 on the real node (tests/integration/test_hooks_real.py)",
)

_MY_ENV = ('MYSQL_PWD="${MYSQL_PWD:-${MARIADB_ROOT_PASSWORD:-${MYSQL_ROOT_PASSWORD:-}}}"; export MYSQL_PWD; '
           'U="${DB_USER:-root}"; ')
MYSQL = Preset(
    name="mysql", engine="MariaDB / MySQL",
    scripts={
        "dump": _MY_ENV + 'D=$(command -v mariadb-dump || command -v mysqldump); '
                          'if [ -n "${DB_NAME:-}" ]; then W="--databases $DB_NAME"; else W=--all-databases; fi; '
                          'exec "$D" --user="$U" --single-transaction --quick --routines --triggers --events '
                          '--hex-blob $W',
        "restore": _MY_ENV + 'C=$(command -v mariadb || command -v mysql); exec "$C" --user="$U"',
        "verify": _MY_ENV + 'C=$(command -v mariadb || command -v mysql); '  # noqa: S608 - a fixed query
                            'exec "$C" --user="$U" -N -e "SELECT COUNT(*) FROM information_schema.tables"',
    },
    magic=(b"-- MySQL dump", b"-- MariaDB dump", b"/*M!999999"),
    params=(Param("database", "DB_NAME", "one database [default: all databases]"),
            Param("user", "DB_USER", "account [default: root]")),
    reason="--single-transaction dumps InnoDB tables from one consistent snapshot without locking writers; the "
           "password goes through MYSQL_PWD (read by the client), never the command line; MariaDB ≥ 10.5 names the "
           "tools mariadb-dump/mariadb and newer dumps start with a sandbox-mode comment, hence three signatures",
    tested="command lines only: no MariaDB server runs in our test image (Debian's mariadb-server could; "
           "not wired yet)",
)

_SQLCMD = ('S=$(command -v sqlcmd || ls /opt/mssql-tools18/bin/sqlcmd /opt/mssql-tools/bin/sqlcmd 2>/dev/null '
           '| head -n 1); case "$S" in *tools18*) T=-C;; *) T=;; esac; '
           'SQLCMDPASSWORD="${SQLCMDPASSWORD:-${MSSQL_SA_PASSWORD:-${SA_PASSWORD:-}}}"; export SQLCMDPASSWORD; '
           'F="${MSSQL_BACKUP_DIR:-/var/opt/mssql/data}/k3s-dr-$$.bak"; trap \'rm -f "$F"\' EXIT; '
           'q() { "$S" $T -b -S "${MSSQL_HOST:-localhost}" -U "${MSSQL_USER:-sa}" -Q "$1" >&2; }; ')
MSSQL = Preset(
    name="mssql", engine="SQL Server",
    scripts={
        "dump": _SQLCMD + 'q "BACKUP DATABASE [$MSSQL_DATABASE] TO DISK = N\'$F\' WITH COPY_ONLY, INIT, CHECKSUM" '
                          '&& cat "$F"',
        "restore": _SQLCMD + 'cat > "$F" && q "RESTORE DATABASE [$MSSQL_DATABASE] FROM DISK = N\'$F\' '
                             'WITH REPLACE, CHECKSUM"',
        "verify": _SQLCMD + 'q "DBCC CHECKDB ([$MSSQL_DATABASE]) WITH NO_INFOMSGS"',
    },
    magic=(b"TAPE",),
    params=(Param("database", "MSSQL_DATABASE", "database to back up (required)"),
            Param("user", "MSSQL_USER", "login [default: sa]"),
            Param("backup_dir", "MSSQL_BACKUP_DIR", "where the server may write the .bak [default: its data dir]")),
    reason="SQL Server writes backups only to files it opens itself: BACKUP DATABASE … TO DISK in the pod, then the "
           "file is streamed out and removed; COPY_ONLY leaves the operator's own backup chain untouched, CHECKSUM "
           "makes the server verify pages; the password goes through SQLCMDPASSWORD; a .bak starts with the MTF "
           "'TAPE' block",
    tested="command lines only: SQL Server is not in Debian's archive and no image registry is reachable here",
)

_MONGO_AUTH = ('A=; if [ -n "${MONGO_INITDB_ROOT_USERNAME:-}" ]; then umask 077; CFG=$(mktemp); '
               'trap \'rm -f "$CFG"\' EXIT; printf \'password: "%s"\\n\' '
               '"$(printf %s "$MONGO_INITDB_ROOT_PASSWORD" | sed \'s/[\\\\"]/\\\\&/g\')" > "$CFG"; '
               'A="--config=$CFG --username=$MONGO_INITDB_ROOT_USERNAME --authenticationDatabase=admin"; fi; ')
MONGODB = Preset(
    name="mongodb", engine="MongoDB (with GridFS)",
    scripts={
        "dump": _MONGO_AUTH + "mongodump --archive --quiet $A",
        "restore": _MONGO_AUTH + "mongorestore --archive --drop --quiet $A",
        "verify": _MONGO_AUTH + "mongodump --archive=/dev/null --quiet $A",
    },
    magic=(b"\x6d\xe2\x99\x81",),
    params=(),
    reason="mongodump --archive streams every database to stdout as one file; GridFS files are ordinary "
           "collections (fs.files, fs.chunks), so the videos come with it; the password is written to a 0600 "
           "--config file (mongodump reads 'password' there) instead of the command line; --drop makes the restore "
           "replace collections; the archive starts with its magic number 0x8199e26d",
    tested="command lines only: MongoDB is not in Debian's archive and no image registry is reachable here",
)

_REDIS_AUTH = ('P="${REDISCLI_AUTH:-${REDIS_PASSWORD:-}}"; if [ -n "$P" ]; then REDISCLI_AUTH="$P"; '
               'export REDISCLI_AUTH; fi; ')
REDIS = Preset(
    name="redis", engine="Redis",
    scripts={
        "dump": _REDIS_AUTH + 'F=$(mktemp); trap \'rm -f "$F"\' EXIT; redis-cli --no-auth-warning --rdb "$F" >&2 '
                              '&& cat "$F"',
        "restore": _REDIS_AUTH + 'D=$(redis-cli --no-auth-warning CONFIG GET dir | tail -n 1); '
                                 'N=$(redis-cli --no-auth-warning CONFIG GET dbfilename | tail -n 1); '
                                 'cat > "$D/$N.k3s-dr" && mv "$D/$N.k3s-dr" "$D/$N" '
                                 '&& redis-cli --no-auth-warning CONFIG SET appendonly no >&2 '
                                 '&& { (sleep 1; redis-cli --no-auth-warning SHUTDOWN NOSAVE) >/dev/null 2>&1 & }',
        "verify": _REDIS_AUTH + "redis-cli --no-auth-warning DBSIZE",
    },
    magic=(b"REDIS",),
    params=(),
    reason="redis-cli --rdb asks the server for a fresh RDB snapshot over the replication protocol (point in time, "
           "no SAVE on the server's disk); Redis loads an RDB only at start, so the restore puts the file in the "
           "server's dir and shuts it down without saving: the kubelet restarts it on the restored data (the dir "
           "must be a volume); the password goes through REDISCLI_AUTH",
    tested="command lines only: no Redis server runs in our test image (Debian's redis-server could; not wired yet)",
)

SQLITE = Preset(
    name="sqlite", engine="SQLite",
    scripts={
        "dump": 'F=$(mktemp); trap \'rm -f "$F"\' EXIT; sqlite3 "$SQLITE_DATABASE" ".backup \'$F\'" && cat "$F"',
        "restore": 'F=$(mktemp); trap \'rm -f "$F"\' EXIT; cat > "$F" && sqlite3 "$SQLITE_DATABASE" ".restore \'$F\'"',
        "verify": 'test "$(sqlite3 "$SQLITE_DATABASE" "PRAGMA integrity_check")" = ok',
    },
    magic=(b"SQLite format 3\x00",),
    params=(Param("database", "SQLITE_DATABASE", "path of the database file in the container (required)"),),
    reason="the sqlite3 shell's .backup uses SQLite's online backup API: a consistent copy while writers continue "
           "(a plain copy of a live database, WAL included, is not); .restore replaces the content through the same "
           "API; integrity_check proves the result",
    tested="real: Debian's sqlite3 on the real node (tests/integration/test_hooks_real.py)",
)

PRESETS: dict[str, Preset] = {p.name: p for p in (POSTGRESQL, MYSQL, MSSQL, MONGODB, REDIS, SQLITE)}
ALIASES = {"postgres": "postgresql", "mariadb": "mysql", "sqlserver": "mssql", "mongo": "mongodb"}


def find_preset(name: str) -> Preset | None:
    key = name.strip().lower()
    return PRESETS.get(ALIASES.get(key, key))


def preset_command(preset: Preset, phase: str, params: Mapping[str, str]) -> tuple[str, ...] | None:
    """``/bin/sh -c '<exports><script>'`` for ``phase``, or None when the preset has no such step.

    Parameters become ``export VAR='value'`` (quoted) in front of the script; unknown names are
    the caller's error (checked when the annotation or rule is parsed).
    """
    script = preset.script(phase)
    if script is None:
        return None
    by_name = {p.name: p.env for p in preset.params}
    exports = "".join(f"{by_name[name]}={shlex.quote(value)}; export {by_name[name]}; "
                      for name, value in sorted(params.items()))
    return ("/bin/sh", "-c", exports + script)
