"""The lazy command tables in dr_lib.cli.main must name every command of every CLI module:
dr_lib's own (COMMAND_MODULES) and the test bed's (TESTBED_COMMANDS, loaded through the door)."""

import importlib
import pkgutil
from types import ModuleType

from click.testing import CliRunner

import dr_lib.cli
import k3s_dr_testbed.cli
from dr_lib.cli.main import COMMAND_MODULES, TESTBED_COMMANDS, cli, load_command


def _modules_with_commands(package: ModuleType, prefix: str = "") -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        commands = getattr(module, "COMMANDS", None)
        if commands:
            found[prefix + info.name] = [command.name for command in commands]
    return found


def _defined(package: ModuleType, prefix: str = "") -> dict[str, str]:
    return {name: module for module, names in _modules_with_commands(package, prefix).items() for name in names}


def test_table_lists_exactly_the_commands_the_modules_define() -> None:
    assert _defined(dr_lib.cli) == COMMAND_MODULES


def test_testbed_table_lists_exactly_the_commands_the_testbed_defines() -> None:
    assert _defined(k3s_dr_testbed.cli, "cli.") == TESTBED_COMMANDS
    assert not set(TESTBED_COMMANDS) & set(COMMAND_MODULES)


def test_every_command_loads_and_has_help() -> None:
    for name in [*COMMAND_MODULES, *TESTBED_COMMANDS]:
        command = load_command(name)
        assert command.name == name
        assert command.get_short_help_str(), f"{name} has no help text"


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["no-such-command"])
    assert result.exit_code == 2
    assert "No such command" in result.output
