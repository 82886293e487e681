"""One flag per concept across the commands: a table over every command of ``cli/main.py``.

Every command (and subcommand) ends its ``--help`` with the exit codes of ``dr_lib.errors``; ``-n``
is a namespace wherever it exists; ``--kubeconfig`` is a file everywhere, resolved in one order;
every length of time is one duration type; the old spellings still parse, hidden from ``--help``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from dr_lib.cli.main import COMMAND_MODULES, TESTBED_COMMANDS, load_command, main
from dr_lib.cli.params import DURATION, AliasedOption
from dr_lib.config import DEFAULT_KUBECONFIG, config_from_text, kubeconfig_path, parse_duration
from dr_lib.errors import EXIT_CODES, ExitCode, UsageError

DURATION_WORDS = ("timeout", "interval", "deadline")


def _walk(command: click.Command, path: str) -> Iterator[tuple[str, click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from _walk(sub, f"{path} {name}")


def every_command() -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name in sorted([*COMMAND_MODULES, *TESTBED_COMMANDS]):
        found += _walk(load_command(name), name)
    return found


COMMANDS = every_command()
IDS = [path for path, _ in COMMANDS]


def _help(path: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main([*path.split(), "--help"]) == ExitCode.OK
    return capsys.readouterr().out


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_every_help_ends_with_every_exit_code(path: str, command: click.Command,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(path, capsys)
    tail = text[text.index("Exit status:"):].splitlines()[1:]
    assert [line.split(None, 1)[0] for line in tail] == [str(code) for code, _ in EXIT_CODES]
    assert [line.split(None, 1)[1] for line in tail] == [meaning for _, meaning in EXIT_CODES]


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_n_is_a_namespace_wherever_it_parses(path: str, command: click.Command) -> None:
    for param in command.params:
        if "-n" not in getattr(param, "opts", ()):
            continue
        if param.expose_value:
            assert "--namespace" in param.opts and param.multiple, f"{path}: -n is {param.opts}"
        else:  # check: -n once meant --workers; it now fails with the option to use
            assert param.hidden, path


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_kubeconfig_is_a_file_everywhere_and_says_its_order(path: str, command: click.Command) -> None:
    for param in command.params:
        if "--kubeconfig" in getattr(param, "opts", ()):
            assert isinstance(param.type, click.Path) and not param.type.dir_okay, path
            assert "$KUBECONFIG, config 'kubeconfig', /etc/rancher/k3s/k3s.yaml" in (param.help or ""), path


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_every_length_of_time_is_a_duration(path: str, command: click.Command) -> None:
    for param in command.params:
        if any(word in (param.name or "") for word in DURATION_WORDS):
            assert param.type is DURATION, f"{path} {param.name}: {param.type}"
            if param.default is not None:
                assert parse_duration(str(param.default)) > 0


def test_the_table_found_the_commands_that_matter() -> None:
    assert {"backup", "restore", "diff", "drill", "check", "list", "ls", "cluster up", "lab host drill"} <= set(IDS)


@pytest.mark.parametrize(("text", "seconds"), [
    ("90s", 90), ("5m", 300), ("1h30m", 5400), ("2d", 172800), ("45", 45), ("1d2h3m4s", 93784), (" 10m ", 600),
    ("0", 0),
])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5x", "m", "1.5", "-5", "5 m", "1h1d", "٣", "1h 30m", "10M", "s5"])
def test_what_is_no_duration(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize("value", ["soon", "0s", "1.5m"])
def test_a_bad_duration_option_is_one_line_naming_it(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["restore", "--wait", "--wait-timeout", value]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("k3s-dr: error: Invalid value for '--wait-timeout': ")
    assert repr(value) in err and "1h30m" in err


def _params(path: str, *args: str) -> dict[str, object]:
    command = dict(COMMANDS)[path]
    with command.make_context(path, list(args)) as ctx:
        return dict(ctx.params)


@pytest.mark.parametrize(("old", "new"), [
    (["--include-namespace", "a", "--include-namespace", "b"], ["-n", "a", "--namespace", "b"]),
    (["--include-kind", "ConfigMap"], ["--kind", "ConfigMap"]),
])
def test_backups_old_spellings_still_parse_to_the_same(old: list[str], new: list[str]) -> None:
    assert _params("backup", *old) == _params("backup", *new)


def test_old_spellings_are_hidden_from_help(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help("backup", capsys)
    assert "-n, --namespace NAMESPACE" in text and "--kind TEXT" in text
    assert "--include-namespace" not in text and "--include-kind" not in text
    aliases = [p for p in dict(COMMANDS)["backup"].params if isinstance(p, AliasedOption) and p.aliases]
    assert sorted(a for p in aliases for a in p.aliases) == ["--include-kind", "--include-namespace"]


def test_ls_is_list_under_its_old_name_and_hidden(capsys: pytest.CaptureFixture[str]) -> None:
    assert _params("ls", "--remote", "--target", "far") == _params("list", "--remote", "--target", "far")
    listed = [line.split()[0] for line in _help("", capsys).splitlines() if line.startswith("  ")]
    assert "list" in listed and "ls" not in listed


def test_check_refuses_n_and_names_workers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "-n", "2"]) == ExitCode.USAGE
    assert capsys.readouterr().err == ("k3s-dr: error: -n 2 is --namespace in k3s-dr, and this command takes no "
                                       "namespace: accepted is --workers N (hosts judged in parallel)\n")


def test_diff_has_its_own_help(capsys: pytest.CaptureFixture[str]) -> None:
    diff, restore = _help("diff", capsys), _help("restore", capsys)
    assert "Compare only this namespace" in diff and "Restore only this namespace" in restore
    assert "Restore" not in diff.split("Options:")[0]


CONFIG_SET = config_from_text("kubeconfig: /etc/k3s-dr/cluster.yaml", "test")
CONFIG_UNSET = config_from_text("", "test")


@pytest.mark.parametrize(("option", "env", "config", "expected"), [
    ("/opt/a.yaml", {"KUBECONFIG": "/env.yaml"}, CONFIG_SET, "/opt/a.yaml"),
    (None, {"KUBECONFIG": "/env.yaml"}, CONFIG_SET, "/env.yaml"),
    (None, {"KUBECONFIG": ""}, CONFIG_SET, "/etc/k3s-dr/cluster.yaml"),
    (None, {}, CONFIG_SET, "/etc/k3s-dr/cluster.yaml"),
    (None, {}, CONFIG_UNSET, DEFAULT_KUBECONFIG),
])
def test_kubeconfig_order(option: str | None, env: dict[str, str], config: object, expected: str) -> None:
    assert kubeconfig_path(config, option, env) == expected  # type: ignore[arg-type]


def test_a_kubeconfig_list_in_the_environment_is_refused_not_merged() -> None:
    with pytest.raises(UsageError, match=r"\$KUBECONFIG '/a.yaml:/b.yaml' lists several files: accepted is one path"):
        kubeconfig_path(CONFIG_UNSET, None, {"KUBECONFIG": "/a.yaml:/b.yaml"})


def test_kubeconfig_reaches_every_cluster_command_from_the_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """$KUBECONFIG names a file that is not a kubeconfig: backup, restore and diff all read that file."""
    planted = tmp_path / "not-a-kubeconfig"
    planted.write_text("{{ this is not yaml")
    monkeypatch.setenv("KUBECONFIG", str(planted))
    monkeypatch.setenv("K3S_DR_CONFIG", "/dev/null")
    monkeypatch.setenv("K3S_DR_BACKUP_DIR", str(tmp_path / "b"))
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(b"")
    for argv in (["backup", "--no-datastore", "--dir", str(tmp_path / "b")], ["diff", str(archive)],
                 ["restore", str(archive), "--dry-run"]):
        code = main(argv)
        err = capsys.readouterr().err
        assert code != ExitCode.OK and err.count("\n") == 1, (argv, err)
        assert "this is not yaml" not in err  # a kubeconfig's text (credentials) never in an error
        if argv[0] == "backup":  # the others refuse the empty archive before any cluster is asked
            assert str(planted) in err and "is not valid YAML (" in err and "at line 1, column 20)" in err, err


def test_a_missing_backup_directory_is_one_line_or_an_explicit_json_field(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "none"
    assert main(["list", "--dir", str(missing)]) == ExitCode.USAGE
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == (
        f"k3s-dr: error: backup directory '{missing}' does not exist (set backup.dir in the config, pass --dir, "
        "or run `k3s-dr backup` first)\n")
    assert main(["list", "--dir", str(missing), "--json"]) == ExitCode.OK
    assert '"dir_exists": false' in capsys.readouterr().out
    missing.mkdir()
    assert main(["list", "--dir", str(missing), "--json"]) == ExitCode.OK
    assert '"dir_exists": true' in capsys.readouterr().out
