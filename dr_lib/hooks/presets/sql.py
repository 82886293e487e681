"""The SQL presets: PostgreSQL, MariaDB/MySQL, SQL Server, SQLite — each script with the reason it is written so."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from dr_lib.hooks.presets.model import Param, Preset
from dr_lib.hooks.presets.values import tsql_ident, tsql_literal


def _pg_env() -> str:
    # libpq reads PG* itself; the official image's POSTGRES_* are the fallbacks.
    return ('PGUSER="${PGUSER:-${POSTGRES_USER:-postgres}}"; PGDATABASE="${PGDATABASE:-${POSTGRES_DB:-$PGUSER}}"; '
            'if [ -z "${PGPASSWORD:-}" ] && [ -n "${POSTGRES_PASSWORD:-}" ]; then PGPASSWORD="$POSTGRES_PASSWORD"; '
            'export PGPASSWORD; fi; export PGUSER PGDATABASE; ')


POSTGRESQL = Preset(
    name="postgresql", engine="PostgreSQL",
    scripts={
        "dump": _pg_env() + "exec pg_dump --format=custom --no-password",
        # -d holds a connection string without dbname, so libpq takes the database from PGDATABASE: a database
        # name given as -d would itself be parsed as a connection string when it holds '=' (host=… would win).
        "restore": _pg_env() + "exec pg_restore --clean --if-exists --no-owner --exit-on-error --single-transaction "
                               "--no-password --dbname=application_name=k3s-dr-restore",
        "verify": _pg_env() + "exec psql -X -A -t -q -v ON_ERROR_STOP=1 --no-password -c "  # noqa: S608 - fixed
                              "\"select count(*) from pg_catalog.pg_tables "
                              "where schemaname not in ('pg_catalog', 'information_schema')\"",
    },
    magic=(b"PGDMP",),
    params=(Param("database", "PGDATABASE", "database to dump [default: POSTGRES_DB, else the user]"),
            Param("user", "PGUSER", "role to connect as [default: POSTGRES_USER, else postgres]"),
            Param("host", "PGHOST", "server address [default: the local socket]", kind="host")),
    reason="pg_dump takes one consistent MVCC snapshot while the database keeps serving; the custom format is "
           "compressed and lets pg_restore --clean --if-exists replace objects in a fresh or existing database in "
           "one transaction, so a failed restore changes nothing; --no-password fails instead of waiting at a prompt; "
           "names reach libpq through PG* variables, never as a connection string",
    tested="real: Debian's PostgreSQL 15 on the real node (tests/integration/test_hooks_real.py)",
)

_MY_ENV = ('MYSQL_PWD="${MYSQL_PWD:-${MARIADB_ROOT_PASSWORD:-${MYSQL_ROOT_PASSWORD:-}}}"; export MYSQL_PWD; '
           'U="${DB_USER:-root}"; ')
_MY_CLIENT = ('C=$(command -v mariadb || command -v mysql) || { echo "k3s-dr: neither mariadb nor mysql is installed '
              'in this container" >&2; exit 127; }; ')
MYSQL = Preset(
    name="mysql", engine="MariaDB / MySQL",
    scripts={
        "dump": _MY_ENV + 'D=$(command -v mariadb-dump || command -v mysqldump) || { echo "k3s-dr: neither '
                          'mariadb-dump nor mysqldump is installed in this container" >&2; exit 127; }; '
                          'if [ -n "${DB_NAME:-}" ]; then set -- --add-drop-database --databases -- "$DB_NAME"; '
                          'else set -- --all-databases; fi; '
                          'exec "$D" --user="$U" --single-transaction --quick --routines --triggers --events '
                          '--hex-blob "$@"',
        "restore": _MY_ENV + _MY_CLIENT + 'exec "$C" --user="$U"',
        "verify": _MY_ENV + _MY_CLIENT +  # noqa: S608 - fixed queries; the name travels as --database=
        'if [ -n "${DB_NAME:-}" ]; then set -- --database="$DB_NAME" -e "SELECT COUNT(*) FROM '
        'information_schema.tables WHERE table_schema = DATABASE()"; else set -- -e "SELECT COUNT(*) FROM '
        'information_schema.tables WHERE table_schema NOT IN (\'mysql\', \'information_schema\', '
        '\'performance_schema\', \'sys\')"; fi; exec "$C" --user="$U" -N -B "$@"',
    },
    magic=(b"-- MySQL dump", b"-- MariaDB dump", b"/*M!999999"),
    params=(Param("database", "DB_NAME", "one database, replaced whole on restore [default: all databases]"),
            Param("user", "DB_USER", "account [default: root]")),
    reason="--single-transaction dumps InnoDB tables from one consistent snapshot without locking writers; one named "
           "database is dumped with DROP DATABASE first, so a restore replaces it like pg_restore --clean (all "
           "databases are restored table by table, never dropping the mysql schema under the running server); the "
           "name follows --, so a leading - is no option; the password goes through MYSQL_PWD, never the command "
           "line; MariaDB ≥ 10.5 names the tools mariadb-dump/mariadb and newer dumps start with a sandbox-mode "
           "comment, hence three signatures",
    tested="real: Debian's MariaDB 10.11 on the real node (tests/integration/test_hooks_real.py)",
)

# sqlcmd: -b exits non-zero on an error, -x turns off $(var) substitution (a name may hold "$("), -d master keeps
# the session off the database being replaced; login and server come from SQLCMDUSER/SQLCMDSERVER, which sqlcmd
# reads itself, so no value of ours is ever an argument; mssql-tools18 needs -C for the image's own certificate.
_SQLCMD = ('S=$(command -v sqlcmd || ls /opt/mssql-tools18/bin/sqlcmd /opt/mssql-tools/bin/sqlcmd 2>/dev/null '
           '| head -n 1); [ -n "$S" ] || { echo "k3s-dr: sqlcmd is not installed in this container" >&2; exit 127; }; '
           'case "$S" in *tools18*) T=-C;; *) T=;; esac; '
           'SQLCMDPASSWORD="${SQLCMDPASSWORD:-${MSSQL_SA_PASSWORD:-${SA_PASSWORD:-}}}"; '
           'SQLCMDUSER="${MSSQL_USER:-${SQLCMDUSER:-sa}}"; SQLCMDSERVER="${MSSQL_HOST:-${SQLCMDSERVER:-localhost}}"; '
           'export SQLCMDPASSWORD SQLCMDUSER SQLCMDSERVER; umask 077; '
           'q() { "$S" ${T:+"$T"} -b -x -d master -Q "$1"; }; ')
_MSSQL_DATA = "/var/opt/mssql/data"


def _mssql_sql(params: Mapping[str, str]) -> dict[str, str]:
    """Every T-SQL statement, with the database quoted QUOTENAME-style and file paths as N'…' literals."""
    name = params["database"]
    ident, literal = tsql_ident(name), tsql_literal(name)
    directory = params.get("backup_dir", _MSSQL_DATA).rstrip("/") or ""
    tag = hashlib.sha256(name.encode()).hexdigest()[:12]  # file names from the name, never the name itself
    dump, restore = f"{directory}/k3s-dr-dump-{tag}.bak", f"{directory}/k3s-dr-restore-{tag}.bak"
    multi_user = f"IF DB_ID({literal}) IS NOT NULL ALTER DATABASE {ident} SET MULTI_USER"
    return {
        "K3S_DR_BAK_DUMP": dump, "K3S_DR_BAK_RESTORE": restore,
        "K3S_DR_SQL_BACKUP": f"BACKUP DATABASE {ident} TO DISK = {tsql_literal(dump)} WITH COPY_ONLY, INIT, CHECKSUM",
        # One batch on one session: the single-user slot is ours from ALTER to RESTORE, so no reconnecting client
        # can take it in between; multi-user again afterwards, and in the CATCH when the restore fails.
        "K3S_DR_SQL_RESTORE": (f"IF DB_ID({literal}) IS NOT NULL ALTER DATABASE {ident} SET SINGLE_USER WITH "
                               f"ROLLBACK IMMEDIATE; BEGIN TRY RESTORE DATABASE {ident} FROM DISK = "
                               f"{tsql_literal(restore)} WITH REPLACE, CHECKSUM; END TRY BEGIN CATCH {multi_user}; "
                               f"THROW; END CATCH; {multi_user};"),
        "K3S_DR_SQL_MULTI_USER": multi_user,
        "K3S_DR_SQL_VERIFYONLY": f"RESTORE VERIFYONLY FROM DISK = {tsql_literal(restore)} WITH CHECKSUM",
        "K3S_DR_SQL_CHECKDB": f"DBCC CHECKDB ({ident}) WITH NO_INFOMSGS",
    }


MSSQL = Preset(
    name="mssql", engine="SQL Server",
    scripts={
        "dump": _SQLCMD + 'F="$K3S_DR_BAK_DUMP"; trap \'rm -f "$F"\' EXIT; q "$K3S_DR_SQL_BACKUP" >&2 && cat "$F"',
        # The .bak stays on success: the verify step checks it, then removes it.
        "restore": _SQLCMD + 'F="$K3S_DR_BAK_RESTORE"; ok=0; trap \'[ "$ok" = 1 ] || rm -f "$F"\' EXIT; '
                             'cat > "$F" || exit 1; '
                             'if q "$K3S_DR_SQL_RESTORE" >&2; then ok=1; else rc=$?; '
                             'q "$K3S_DR_SQL_MULTI_USER" >&2; exit "$rc"; fi',
        "verify": _SQLCMD + 'F="$K3S_DR_BAK_RESTORE"; trap \'rm -f "$F"\' EXIT; '
                            '[ -s "$F" ] || { echo "k3s-dr: the restored .bak is gone: the restore step keeps it for '
                            'this check" >&2; exit 1; }; '
                            'out=$(q "$K3S_DR_SQL_VERIFYONLY" 2>&1) || { printf \'%s\\n\' "$out" >&2; exit 1; }; '
                            'case "$out" in *"is valid"*) ;; *) printf \'k3s-dr: RESTORE VERIFYONLY did not report a '
                            'valid backup set: %s\\n\' "$out" >&2; exit 1;; esac; '
                            'q "$K3S_DR_SQL_CHECKDB" >&2 || exit 1; '
                            'echo "backup set valid (RESTORE VERIFYONLY WITH CHECKSUM); DBCC CHECKDB found no errors"',
    },
    magic=(b"TAPE",),
    params=(Param("database", "MSSQL_DATABASE", "database to back up", required=True),
            Param("user", "MSSQL_USER", "login [default: sa]"),
            Param("host", "MSSQL_HOST", "server [default: localhost]", kind="host"),
            Param("backup_dir", "MSSQL_BACKUP_DIR", "where the server may write the .bak [default: its data dir]",
                  kind="path")),
    derived=_mssql_sql,
    reason="SQL Server writes backups only to files it opens itself: BACKUP DATABASE … TO DISK in the pod, then the "
           "file is streamed out and removed; COPY_ONLY leaves the operator's own backup chain untouched, CHECKSUM "
           "makes the server verify pages; the restore takes the database SINGLE_USER WITH ROLLBACK IMMEDIATE in the "
           "same batch as RESTORE … WITH REPLACE, CHECKSUM (connected applications would block it) and MULTI_USER "
           "after, also on failure; the verify step is RESTORE VERIFYONLY … WITH CHECKSUM, then DBCC CHECKDB; the "
           "name is a QUOTENAME-style identifier; the password goes through SQLCMDPASSWORD; a .bak starts with the "
           "MTF 'TAPE' block",
    tested="recorded outputs: SQL Server is not in Debian's archive and no image registry is reachable here; the "
           "scripts run against a fake sqlcmd replaying sqlcmd's real messages (tests/unit/test_presets_recorded.py)",
)

SQLITE = Preset(
    name="sqlite", engine="SQLite",
    scripts={
        "dump": '[ -f "$SQLITE_DATABASE" ] || { echo "k3s-dr: no database file at $SQLITE_DATABASE" >&2; exit 1; }; '
                'F=$(mktemp); trap \'rm -f "$F"\' EXIT; sqlite3 "$SQLITE_DATABASE" ".backup \'$F\'" && cat "$F"',
        "restore": 'F=$(mktemp); trap \'rm -f "$F"\' EXIT; cat > "$F" && sqlite3 "$SQLITE_DATABASE" ".restore \'$F\'"',
        "verify": 'test "$(sqlite3 "$SQLITE_DATABASE" "PRAGMA integrity_check")" = ok',
    },
    magic=(b"SQLite format 3\x00",),
    params=(Param("database", "SQLITE_DATABASE", "path of the database file in the container", kind="path",
                  required=True),),
    reason="the sqlite3 shell's .backup uses SQLite's online backup API: a consistent copy while writers continue "
           "(a plain copy of a live database, WAL included, is not); a missing file is an error, not an empty backup "
           "(sqlite3 would create one); .restore replaces the content through the same API; integrity_check proves "
           "the result",
    tested="real: Debian's sqlite3 on the real node (tests/integration/test_hooks_real.py)",
)
