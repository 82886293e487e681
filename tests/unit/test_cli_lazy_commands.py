"""The lazy command table in dr_lib.cli.main must name every command of every CLI module."""

import importlib
import pkgutil

from click.testing import CliRunner

import dr_lib.cli
from dr_lib.cli.main import COMMAND_MODULES, cli, load_command


def _modules_with_commands() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for info in pkgutil.iter_modules(dr_lib.cli.__path__):
        module = importlib.import_module(f"dr_lib.cli.{info.name}")
        commands = getattr(module, "COMMANDS", None)
        if commands:
            found[info.name] = [command.name for command in commands]
    return found


def test_table_lists_exactly_the_commands_the_modules_define() -> None:
    defined = {name: module for module, names in _modules_with_commands().items() for name in names}
    assert defined == COMMAND_MODULES


def test_every_command_loads_and_has_help() -> None:
    for name in COMMAND_MODULES:
        command = load_command(name)
        assert command.name == name
        assert command.get_short_help_str(), f"{name} has no help text"


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["no-such-command"])
    assert result.exit_code == 2
    assert "No such command" in result.output
