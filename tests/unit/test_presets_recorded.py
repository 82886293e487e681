"""SQL Server and MongoDB presets against their tools' recorded outputs (neither server can run here).

No Debian package and no image registry: the scripts run in a real /bin/sh against fake
``sqlcmd``, ``mongodump``, ``mongorestore`` and ``mongosh`` that replay what the real tools
printed (``fixtures/presets/*.txt``, each citing where it was recorded; the few assembled from
the tools' format strings say so) and record the argv, environment and stdin they got. What is
proven: the command lines, the T-SQL batches, the parsing of the tools' reports, the decisions
taken on them (oplog or not, failed documents, a valid backup set) and the cleanup. What is not:
that a real server accepts them — that needs SQL Server or MongoDB, which only CI with registry
access could run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _fake_tools import FakeTools, Step, recorded

from dr_lib.hooks.presets import dump_census

ARCHIVE = b"\x6d\xe2\x99\x81" + b"\x00" * 16  # what mongodump --archive writes first (its magic number)
MONGO_ENV = {"MONGO_INITDB_ROOT_USERNAME": "root", "MONGO_INITDB_ROOT_PASSWORD": 'p"w\\9 secret'}


@pytest.fixture
def fakes(tmp_path: Path) -> FakeTools:
    return FakeTools(tmp_path / "fakes")


# --- SQL Server ----------------------------------------------------------------------------------------------

MSSQL_ENV = {"MSSQL_SA_PASSWORD": "Sa-pw-456"}


def test_sql_server_backs_up_copy_only_with_checksum_streams_the_file_and_removes_it(fakes: FakeTools,
                                                                                   tmp_path: Path) -> None:
    fakes.plan("sqlcmd", Step(when="BACKUP DATABASE", stdout=recorded("sqlcmd-backup-ok.txt"),
                              write_env="K3S_DR_BAK_DUMP", write=b"TAPE\x00\x01bak"))
    done = fakes.run("mssql", "dump", {"database": "InsightLearn", "backup_dir": str(tmp_path)},
                     env=MSSQL_ENV)
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"TAPE\x00\x01bak"  # the .bak alone: sqlcmd's messages went to stderr
    assert b"BACKUP DATABASE successfully processed 7514 pages" in done.stderr
    (call,) = fakes.calls("sqlcmd")
    assert call.argv[:5] == ["-b", "-x", "-d", "master", "-Q"]
    assert call.argv[5].startswith(f"BACKUP DATABASE [InsightLearn] TO DISK = N'{tmp_path}/k3s-dr-dump-")
    assert call.argv[5].endswith(".bak' WITH COPY_ONLY, INIT, CHECKSUM")
    assert (call.env["SQLCMDUSER"], call.env["SQLCMDSERVER"], call.env["SQLCMDPASSWORD"]) == \
        ("sa", "localhost", "Sa-pw-456")
    assert "Sa-pw-456" not in " ".join(call.argv)
    assert not list(tmp_path.glob("k3s-dr-*.bak"))  # the server-side file is removed


def test_sql_server_restore_takes_the_database_single_user_in_the_same_batch(fakes: FakeTools,
                                                                            tmp_path: Path) -> None:
    fakes.plan("sqlcmd", Step(when="RESTORE DATABASE", stdout=recorded("sqlcmd-restore-ok.txt")))
    done = fakes.run("mssql", "restore", {"database": "InsightLearn", "backup_dir": str(tmp_path)},
                     env=MSSQL_ENV, stdin=b"TAPE...")
    assert done.returncode == 0, done.stderr
    (call,) = fakes.calls("sqlcmd")  # one batch, one session: nobody can take the single-user slot in between
    bak = next(tmp_path.glob("k3s-dr-restore-*.bak"))
    assert call.argv[5] == (
        "IF DB_ID(N'InsightLearn') IS NOT NULL ALTER DATABASE [InsightLearn] SET SINGLE_USER WITH ROLLBACK IMMEDIATE; "
        f"BEGIN TRY RESTORE DATABASE [InsightLearn] FROM DISK = N'{bak}' WITH REPLACE, CHECKSUM; END TRY "
        "BEGIN CATCH IF DB_ID(N'InsightLearn') IS NOT NULL ALTER DATABASE [InsightLearn] SET MULTI_USER; THROW; "
        "END CATCH; IF DB_ID(N'InsightLearn') IS NOT NULL ALTER DATABASE [InsightLearn] SET MULTI_USER;")
    assert bak.read_bytes() == b"TAPE..."  # kept for the verify step
    assert oct(bak.stat().st_mode & 0o777) == "0o600"


def test_a_failed_sql_server_restore_puts_the_database_back_to_multi_user(fakes: FakeTools, tmp_path: Path) -> None:
    fakes.plan("sqlcmd", Step(when="RESTORE DATABASE", stdout=recorded("sqlcmd-restore-in-use.txt"), exit=1))
    done = fakes.run("mssql", "restore", {"database": "InsightLearn", "backup_dir": str(tmp_path)},
                     env=MSSQL_ENV, stdin=b"TAPE...")
    assert done.returncode == 1
    assert b"Exclusive access could not be obtained because the database is in use." in done.stderr
    first, second = fakes.calls("sqlcmd")
    assert "SET SINGLE_USER WITH ROLLBACK IMMEDIATE" in first.argv[5]
    assert second.argv[5] == "IF DB_ID(N'InsightLearn') IS NOT NULL ALTER DATABASE [InsightLearn] SET MULTI_USER"
    assert not list(tmp_path.glob("k3s-dr-*.bak"))  # nothing left behind for a verify that will not run


def test_sql_server_verify_is_verifyonly_with_checksum_then_checkdb(fakes: FakeTools, tmp_path: Path) -> None:
    params = {"database": "InsightLearn", "backup_dir": str(tmp_path)}
    fakes.plan("sqlcmd", Step(when="RESTORE DATABASE", stdout=recorded("sqlcmd-restore-ok.txt")),
               Step(when="VERIFYONLY", stdout=recorded("sqlcmd-verifyonly-ok.txt")))
    fakes.run("mssql", "restore", params, env=MSSQL_ENV, stdin=b"TAPE...")
    fakes.forget()
    done = fakes.run("mssql", "verify", params, env=MSSQL_ENV)
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"backup set valid (RESTORE VERIFYONLY WITH CHECKSUM); DBCC CHECKDB found no errors\n"
    verify, checkdb = fakes.calls("sqlcmd")
    assert verify.argv[5].startswith(f"RESTORE VERIFYONLY FROM DISK = N'{tmp_path}/k3s-dr-restore-")
    assert verify.argv[5].endswith(".bak' WITH CHECKSUM")
    assert checkdb.argv[5] == "DBCC CHECKDB ([InsightLearn]) WITH NO_INFOMSGS"
    assert not list(tmp_path.glob("k3s-dr-*.bak"))  # removed after the check


@pytest.mark.parametrize(("output", "exit_code", "said"), [
    (recorded("sqlcmd-device-error.txt"), 1, b"Cannot open backup device"),
    (b"", 0, b"RESTORE VERIFYONLY did not report a valid backup set"),  # exit 0 is not enough: "is valid" is
])
def test_a_backup_set_not_reported_valid_fails_the_verify(fakes: FakeTools, tmp_path: Path, output: bytes,
                                                          exit_code: int, said: bytes) -> None:
    params = {"database": "InsightLearn", "backup_dir": str(tmp_path)}
    fakes.plan("sqlcmd", Step(when="VERIFYONLY", stdout=output, exit=exit_code))
    fakes.run("mssql", "restore", params, env=MSSQL_ENV, stdin=b"TAPE...")
    done = fakes.run("mssql", "verify", params, env=MSSQL_ENV)
    assert done.returncode == 1 and said in done.stderr
    assert not any("CHECKDB" in c.argv[-1] for c in fakes.calls("sqlcmd"))


def test_sql_server_verify_without_the_restored_file_says_why(fakes: FakeTools, tmp_path: Path) -> None:
    done = fakes.run("mssql", "verify", {"database": "x", "backup_dir": str(tmp_path)}, env=MSSQL_ENV)
    assert done.returncode == 1 and b"the restored .bak is gone" in done.stderr
    assert fakes.calls("sqlcmd") == []


# --- MongoDB: the dump and its census ------------------------------------------------------------------------

def test_mongodb_dumps_a_standalone_without_oplog_and_records_its_counts(fakes: FakeTools) -> None:
    fakes.plan("mongosh", Step(when="hello", stdout=recorded("mongosh-hello-standalone.txt")))
    fakes.plan("mongodump", Step(stdout=ARCHIVE, stderr=recorded("mongodump-gridfs-100.16.txt")))
    done = fakes.run("mongodb", "dump", env=MONGO_ENV)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ARCHIVE
    (dump,) = fakes.calls("mongodump")
    assert dump.argv[0] == "--archive" and "--oplog" not in dump.argv
    assert dump.argv[2:] == ["--username=root", "--authenticationDatabase=admin"]
    assert dump.argv[1].startswith("--config=") and 'p"w' not in " ".join(dump.argv)
    (hello,) = fakes.calls("mongosh")
    assert "secret" not in " ".join(hello.argv)
    census = dump_census("mongodb", done.stderr)
    assert census == {"collections": {"admin.system.version": 1, "media.fs.files": 2, "media.fs.chunks": 41,
                                      "shop.orders $(touch x)": 1200, "shop.we`ird\nname": 3},
                      "replica_set": None, "oplog": False, "oplog_entries": None}
    assert fakes.leftovers() == []  # the 0600 password file is gone


def test_mongodb_config_file_escapes_the_password(fakes: FakeTools, tmp_path: Path) -> None:
    fakes.plan("mongodump", Step(stdout=ARCHIVE, stderr=b""))
    script = (tmp_path / "fakes" / "bin" / "mongodump")
    real = script.read_text()
    # one run with a mongodump that keeps a copy of its --config file (the fake itself records only argv)
    script.write_text(real.replace("args = sys.argv[1:]", "args = sys.argv[1:]\nimport shutil\n"
                                   "shutil.copy(args[1].split('=', 1)[1], os.path.join(os.environ['FAKE_TOOLS_DIR'], "
                                   "'auth.yaml'))"))
    fakes.run("mongodb", "dump", env={**MONGO_ENV, "MONGO_INITDB_ROOT_PASSWORD": 'a"b\\c'})
    copy = tmp_path / "fakes" / "auth.yaml"
    assert copy.read_text() == 'password: "a\\"b\\\\c"\n'
    assert oct(copy.stat().st_mode & 0o777) == "0o600"


def test_mongodb_refuses_a_password_a_config_file_cannot_carry(fakes: FakeTools) -> None:
    done = fakes.run("mongodb", "dump", env={**MONGO_ENV, "MONGO_INITDB_ROOT_PASSWORD": "two\nlines"})
    assert done.returncode == 2 and b"holds a newline" in done.stderr
    assert fakes.calls("mongodump") == []


def test_mongodb_dumps_a_replica_set_member_with_oplog(fakes: FakeTools) -> None:
    fakes.plan("mongosh", Step(when="hello", stdout=recorded("mongosh-hello-replica-set.txt")))
    fakes.plan("mongodump", Step(stdout=ARCHIVE, stderr=recorded("mongodump-oplog-2017.txt")))
    done = fakes.run("mongodb", "dump")
    assert done.returncode == 0, done.stderr
    assert fakes.calls("mongodump")[0].argv == ["--archive", "--oplog"]
    assert dump_census("mongodb", done.stderr) == {
        "collections": {"admin.system.version": 2, "oplog.oplog": 93869}, "replica_set": "rs0", "oplog": True,
        "oplog_entries": 0}


def test_mongodump_failing_fails_the_dump_with_its_own_words(fakes: FakeTools) -> None:
    # what asking for --oplog of a standalone looks like: the reason the preset asks db.hello() first
    fakes.plan("mongosh", Step(when="hello", stdout=recorded("mongosh-hello-replica-set.txt")))
    fakes.plan("mongodump", Step(stderr=recorded("mongodump-oplog-on-standalone.txt"), exit=1))
    done = fakes.run("mongodb", "dump")
    assert done.returncode == 1
    assert b"Failed: error getting oplog start" in done.stderr and b"k3s-dr-census" not in done.stderr


# --- MongoDB: restore and verify against the census ----------------------------------------------------------

def census_of(fixture: str) -> dict[str, object]:
    census = dump_census("mongodb", recorded(fixture) + b"k3s-dr-census: replica-set none\n")
    assert census is not None
    return census


def test_mongodb_restore_replays_the_oplog_only_when_the_dump_has_one(fakes: FakeTools) -> None:
    fakes.plan("mongorestore", Step(stderr=recorded("mongorestore-ok.txt")))
    with_oplog = {"collections": {}, "replica_set": "rs0", "oplog": True, "oplog_entries": 0}
    done = fakes.run("mongodb", "restore", env=MONGO_ENV, stdin=ARCHIVE, census=with_oplog)
    assert done.returncode == 0, done.stderr
    (call,) = fakes.calls("mongorestore")
    assert call.argv[:3] == ["--archive", "--drop", "--oplogReplay"] and call.stdin == ARCHIVE
    assert b"517 document(s) restored successfully. 0 document(s) failed to restore." in done.stderr
    fakes.forget()
    fakes.run("mongodb", "restore", env=MONGO_ENV, stdin=ARCHIVE, census=census_of("mongodump-gridfs-100.16.txt"))
    assert "--oplogReplay" not in fakes.calls("mongorestore")[0].argv  # no oplog in that archive: it would fail


@pytest.mark.parametrize(("fixture", "exit_code", "said"), [
    ("mongorestore-some-failed.txt", 0, b"mongorestore could not restore 2 document(s)"),  # exit 0, still a failure
    ("mongorestore-failed.txt", 1, b"Failed: --nsFrom and --nsTo"),
])
def test_mongodb_restore_fails_when_documents_did_not_make_it(fakes: FakeTools, fixture: str, exit_code: int,
                                                              said: bytes) -> None:
    fakes.plan("mongorestore", Step(stderr=recorded(fixture), exit=exit_code))
    done = fakes.run("mongodb", "restore", stdin=ARCHIVE)
    assert done.returncode == 1 and said in done.stderr


def test_mongodb_verify_finds_every_count_as_dumped(fakes: FakeTools) -> None:
    fakes.plan("mongosh", Step(when="countDocuments", stdout=recorded("mongosh-count-as-dumped.txt")))
    done = fakes.run("mongodb", "verify", env=MONGO_ENV, census=census_of("mongodump-gridfs-100.16.txt"))
    assert done.returncode == 0, done.stderr
    # 4 collections and GridFS, admin left out; "extra" (not in the dump) is allowed
    assert done.stdout == b"5 counts as dumped, all among the 6 mongosh printed\n"
    (call,) = fakes.calls("mongosh")
    assert call.env["K3S_DR_EXPECT"].splitlines() == [
        '["media","fs.chunks",41]', '["media","fs.files",2]', '["shop","orders $(touch x)",1200]',
        '["shop","we`ird\\nname",3]', '["gridfs","media",0]']
    assert "secret" not in " ".join(call.argv)  # mongosh reads the password from its own process.env


def test_mongodb_verify_names_what_is_not_as_dumped(fakes: FakeTools) -> None:
    fakes.plan("mongosh", Step(when="countDocuments", stdout=recorded("mongosh-count-short.txt")))
    done = fakes.run("mongodb", "verify", census=census_of("mongodump-gridfs-100.16.txt"))
    assert done.returncode == 1
    said = done.stderr.decode()
    for line in ('["gridfs","media",0]', '["media","fs.chunks",41]', '["shop","orders $(touch x)",1200]'):
        assert line in said
    assert '["shop","we`ird' not in said  # that one is as dumped


def test_mongodb_verify_after_an_oplog_replay_compares_gridfs_only(fakes: FakeTools) -> None:
    census = {**census_of("mongodump-gridfs-100.16.txt"), "oplog": True, "oplog_entries": 4}
    fakes.plan("mongosh", Step(when="countDocuments", stdout=recorded("mongosh-count-short.txt")))
    done = fakes.run("mongodb", "verify", census=census)
    assert done.returncode == 1 and b'["gridfs","media",0]' in done.stderr  # the lost chunk is still caught
    assert fakes.calls("mongosh")[0].env["K3S_DR_EXPECT"] == '["gridfs","media",0]'
    fakes.plan("mongosh", Step(when="countDocuments", stdout=recorded("mongosh-count-as-dumped.txt")))
    done = fakes.run("mongodb", "verify", census=census)
    assert done.returncode == 0
    assert b"4 oplog entries were replayed" in done.stdout


def test_mongodb_verify_without_a_census_counts_and_says_it_compared_nothing(fakes: FakeTools) -> None:
    fakes.plan("mongosh", Step(when="countDocuments", stdout=recorded("mongosh-count-as-dumped.txt")))
    done = fakes.run("mongodb", "verify")
    assert done.returncode == 0
    assert done.stdout == b"mongosh printed 6 counts; no census came with this dump, nothing compared\n"


@pytest.mark.parametrize("census", [
    {"collections": "not a mapping"},
    {"collections": {"no-dot": 1, "db.c": "7", "db.d": True, "admin.x": 1}, "oplog": "yes", "oplog_entries": True},
    {"collections": {f"db.c{i}": i for i in range(5000)}},  # more than one exec argument carries
])
def test_a_hostile_census_from_an_archive_compares_nothing_rather_than_anything(fakes: FakeTools,
                                                                                census: dict[str, object]) -> None:
    fakes.plan("mongosh", Step(when="countDocuments", stdout=b""))
    done = fakes.run("mongodb", "verify", census=census)
    assert done.returncode == 0 and b"nothing compared" in done.stdout
    assert fakes.calls("mongosh")[0].env.get("K3S_DR_OPLOG") == "0"
    assert json.dumps(census)  # the census itself never reached a command line
    assert all("db.c" not in a for a in fakes.calls("mongosh")[0].argv)
