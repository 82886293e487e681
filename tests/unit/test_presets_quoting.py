"""Parameter values built to hurt, through every preset that takes parameters, run for real by /bin/sh.

Each value reaches the scripts' tools (fakes that record argv and environment) intact and only
where it belongs: never split into words, never run (``$(…)``, backticks), never read as an
option (a leading ``-`` only after ``--`` or inside ``--flag=value``), and in T-SQL only as a
``QUOTENAME``-style identifier or an ``N'…'`` literal. What no quoting carries is refused with
the parameter, the value and what is accepted.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from _fake_tools import Call, FakeTools, Step

from dr_lib.archive.dataentry import HOOK_DUMP, DataEntry
from dr_lib.errors import HookSpecError
from dr_lib.hooks.presets import PRESETS, preset_command
from dr_lib.hooks.presets.values import tsql_ident, tsql_literal
from dr_lib.hooks.restoredata import DataRestorer
from dr_lib.hooks.settings import HookSettings
from dr_lib.hooks.spec import Defaults, plan_from_annotations, plan_from_rule

MARK = "MARK"  # replaced by a path in the test's own directory: a value that runs anything creates it


def hostile_names() -> list[str]:
    return ["a]; DROP DATABASE x;--", f"$(touch {MARK})", f"`touch {MARK}`", "it's a \"quoted\" name",
            "two  spaces and * glob ?", "-leading-dash --help", f"'; touch {MARK}; '", "a\\b\\\\c %s%n",
            "]]][[[", "x" * 128, "ünï cödé 名前"]


def hostile_paths() -> list[str]:
    return [f"/data/$(touch {MARK})/x.db", f"/data/it's \"q\" `touch {MARK}`.db", "/data/a b/-x.db",
            "/data/a]; DROP DATABASE x;--"]


# (preset, parameter) → where the value must arrive: an environment variable of every call to ``tool`` or an argv
# element ("--user=" + value, "--" followed by value, the first argument).
WHERE = {
    ("postgresql", "database"): ("pg_dump", "env", "PGDATABASE"),
    ("postgresql", "user"): ("pg_dump", "env", "PGUSER"),
    ("mysql", "database"): ("mariadb-dump", "after --", ""),
    ("mysql", "user"): ("mariadb-dump", "flag", "--user="),
    ("mssql", "database"): ("sqlcmd", "tsql", ""),
    ("mssql", "user"): ("sqlcmd", "env", "SQLCMDUSER"),
    ("mssql", "backup_dir"): ("sqlcmd", "tsql-dir", ""),
    ("sqlite", "database"): ("sqlite3", "first", ""),
}


def _kind(preset: str, param: str) -> str:
    return next(p.kind for p in PRESETS[preset].params if p.name == param)


CASES = [(preset, param, value) for (preset, param) in WHERE
         for value in (hostile_paths() if _kind(preset, param) == "path" else hostile_names())]


def _params(preset: str, param: str, value: str) -> dict[str, str]:
    return {param: value, **({"database": "shop"} if preset == "mssql" and param != "database" else {})}


def _plan(fakes: FakeTools) -> None:
    fakes.plan("sqlcmd", Step(when="VERIFYONLY", stdout=b"The backup set on file 1 is valid.\n"))
    fakes.plan("mariadb-dump", Step(stdout=b"-- MariaDB dump\n"))


def _arrived(call: Call, how: str, key: str, value: str, params: dict[str, str]) -> bool:
    if how == "env":
        return call.env.get(key) == value
    if how == "flag":
        return key + value in call.argv
    if how == "after --":
        return "--" in call.argv and call.argv[call.argv.index("--") + 1:] == [value]
    if how == "first":
        return call.argv[:1] == [value]
    sql = call.argv[-1]  # sqlcmd -Q "<sql>"
    if how == "tsql":
        return tsql_ident(value) in sql or tsql_literal(value) in sql
    tag = hashlib.sha256(params["database"].encode()).hexdigest()[:12]
    return any(tsql_literal(f"{value.rstrip('/')}/k3s-dr-{use}-{tag}.bak") in sql for use in ("dump", "restore"))


@pytest.mark.parametrize(("preset", "param", "value"), CASES,
                         ids=[f"{p}-{n}-{i}" for i, (p, n, _v) in enumerate(CASES)])
def test_a_hostile_value_arrives_whole_and_runs_nothing(tmp_path: Path, preset: str, param: str, value: str) -> None:
    mark = tmp_path / "pwned"
    value = value.replace(MARK, str(mark))
    fakes = FakeTools(tmp_path / "fakes")
    _plan(fakes)
    params = _params(preset, param, value)
    for phase in ("dump", "restore", "verify"):
        fakes.run(preset, phase, params, stdin=b"dump bytes")
    tool, how, key = WHERE[(preset, param)]
    calls = fakes.calls()
    assert calls, "the scripts called no tool"
    assert any(_arrived(c, how, key, value, params) for c in calls if c.tool == tool), [c.argv for c in calls]
    for call in calls:  # a value is never an option: it stands alone only after "--"
        for i, arg in enumerate(call.argv):
            if arg == value and value.startswith("-"):
                assert "--" in call.argv[:i], (call.tool, call.argv)
    assert not mark.exists(), f"{value!r} ran a command"


def _read_quoted(sql: str, start: int, opening: str, closing: str) -> tuple[str, int]:
    """Parse a T-SQL quoted token at ``start`` as SQL Server does: the closing character doubled stands for
    itself, alone it ends the token (``[na]]me]`` is ``na]me``, ``N'it''s'`` is ``it's``)."""
    assert sql.startswith(opening, start)
    out, i = [], start + len(opening)
    while True:
        if sql[i] == closing:
            if sql[i + 1:i + 2] == closing:
                out.append(closing)
                i += 2
                continue
            return "".join(out), i + 1
        out.append(sql[i])
        i += 1


@pytest.mark.parametrize("name", hostile_names())
def test_tsql_sees_one_identifier_and_one_literal_however_the_name_is_built(name: str) -> None:
    sql = PRESETS["mssql"].derived({"database": name})
    backup = sql["K3S_DR_SQL_BACKUP"]
    parsed, end = _read_quoted(backup, len("BACKUP DATABASE "), "[", "]")
    assert parsed == name
    assert re.fullmatch(r" TO DISK = N'/var/opt/mssql/data/k3s-dr-dump-[0-9a-f]{12}\.bak' WITH COPY_ONLY, INIT, "
                        r"CHECKSUM", backup[end:])
    restore = sql["K3S_DR_SQL_RESTORE"]
    literal, end = _read_quoted(restore, len("IF DB_ID("), "N'", "'")
    parsed, after = _read_quoted(restore, end + len(") IS NOT NULL ALTER DATABASE "), "[", "]")
    assert literal == parsed == name
    assert restore[after:].startswith(" SET SINGLE_USER WITH ROLLBACK IMMEDIATE; BEGIN TRY RESTORE DATABASE [")


# --- what cannot be carried is refused, naming the parameter and what is accepted ----------------------------

REFUSED = [
    ("postgresql", "database", "shop\ncontinued", "a control character"),
    ("postgresql", "database", "nul\x00byte", "a control character"),
    ("mysql", "user", "tab\there", "a control character"),
    ("mssql", "database", "x\n!! touch /tmp/pwn", "a control character"),  # a sqlcmd command on a line of its own
    ("mssql", "database", "", "0 characters long"),
    ("mysql", "database", "x" * 129, "129 characters long"),
    ("sqlite", "database", "relative/app.db", "not an absolute path"),
    ("sqlite", "database", "/data/../etc/shadow", "'..' component"),
    ("mssql", "backup_dir", "/var/opt\n/x", "a control character"),
    ("postgresql", "host", "-h evil", "not a host name"),
    ("postgresql", "host", "db;touch x", "not a host name"),
    ("mssql", "host", "a b", "not a host name"),
]


@pytest.mark.parametrize(("preset", "param", "value", "problem"), REFUSED)
def test_a_value_no_quoting_carries_is_refused_with_what_is_accepted(preset: str, param: str, value: str,
                                                                    problem: str) -> None:
    params = _params(preset, param, value)
    with pytest.raises(HookSpecError) as caught:
        preset_command(PRESETS[preset], "dump", params)
    message = caught.value.message
    assert f"{param}=" in message and problem in message and "accepted is" in message
    assert "\n" not in message  # one line, the value shown escaped


def test_required_and_unknown_parameters_are_refused() -> None:
    with pytest.raises(HookSpecError, match="has no database=: the mssql preset needs it"):
        preset_command(PRESETS["mssql"], "dump", {})
    with pytest.raises(HookSpecError, match="name 'collection': accepted is none"):
        preset_command(PRESETS["mongodb"], "restore", {"collection": "x"})  # e.g. read back from an archive


def test_annotations_are_checked_when_read_not_in_the_pod() -> None:
    pod = {"metadata": {"namespace": "ns", "name": "db-0", "annotations": {
        "hook.k3s-dr.io/preset": "mssql", "hook.k3s-dr.io/preset-params": "database=x\n!!touch /tmp/pwn"}}}
    with pytest.raises(HookSpecError) as caught:
        plan_from_annotations(pod, Defaults())
    assert caught.value.message.startswith("pod ns/db-0: annotation hook.k3s-dr.io/preset-params database='x\\n")
    pod["metadata"]["annotations"] = {"hook.k3s-dr.io/preset": "mssql"}
    with pytest.raises(HookSpecError, match="has no database="):
        plan_from_annotations(pod, Defaults())
    # a config rule carries what an annotation's comma-separated list cannot: a comma
    plan = plan_from_rule(pod, {"namespace": "ns", "preset": "mssql", "params": {"database": "a,b]"}}, 0, Defaults())
    assert plan is not None and plan.params == {"database": "a,b]"}


def test_parameters_read_back_from_an_archive_are_checked_again() -> None:
    # an archive is outside input: its manifest's meta may carry what no annotation could have passed
    entry = DataEntry("data/hooks/shop/db-0/mssql.dump", HOOK_DUMP, 10, "a" * 64,
                      {"namespace": "shop", "pod": "db-0", "preset": "mssql",
                       "params": {"database": "x\n!! touch /tmp/pwn"}})
    pod = {"metadata": {"namespace": "shop", "name": "db-0"}}
    with pytest.raises(HookSpecError) as caught:
        DataRestorer(Path("/nonexistent"), HookSettings())._plan(pod, entry)
    assert caught.value.message.startswith(
        "the parameters recorded with data/hooks/shop/db-0/mssql.dump database='x\\n!! touch /tmp/pwn': "
        "it holds a control character; accepted is")
