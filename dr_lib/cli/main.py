"""``k3s-dr``: the entry point and the one place that maps errors to exit status.

Commands raise :class:`dr_lib.errors.DRError` subclasses; :func:`main` prints one clear line
(``k3s-dr: error: …``) and exits with the error's code. A traceback is printed only with
``--debug`` (or ``K3S_DR_DEBUG=1``), and for unexpected exceptions, which are our bugs.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from types import ModuleType

import click

from dr_lib import __version__
from dr_lib.cli.common import AppContext
from dr_lib.cli.params import add_epilogs, exit_codes_epilog
from dr_lib.errors import DRError, EnvironmentProblem, ExitCode

# Command name → the dr_lib.cli module that defines it (in its COMMANDS list). Modules are
# imported only when their command runs: importing every feature (and the kubernetes client
# with it) costs more start-up time than a whole backup of a small cluster.
COMMAND_MODULES: dict[str, str] = {
    "backup": "backup", "verify": "backup", "list": "backup", "ls": "backup",  # ls: list's old spelling, hidden
    "check": "check",
    "restore": "restore", "diff": "restore",
    "install": "host", "fix": "host",
    "drill": "drill",
    "exporter": "metrics", "metrics": "metrics",
    "push": "offsite", "pull": "offsite",
    "report": "report", "keygen": "keys",
}

# The test bed's commands (`testbed` extra) → their k3s_dr_testbed modules, via the cluster door (it names the extra).
TESTBED_COMMANDS: dict[str, str] = {"cluster": "cli.cluster", "lab": "cli.lab"}


def _command_in(module: ModuleType, name: str) -> click.Command:
    for command in module.COMMANDS:
        if command.name == name:
            return command  # type: ignore[no-any-return]
    raise LookupError(f"{module.__name__} defines no command {name!r}")


def _provider() -> ModuleType:
    from dr_lib.cluster import provider  # noqa: PLC0415  # reads package metadata (~20 ms): test-bed commands only
    return provider


def load_command(name: str) -> click.Command:
    """The command ``name``, its --help ending with the exit codes (its subcommands' too)."""
    module = (_provider().load_testbed(TESTBED_COMMANDS[name], f"`k3s-dr {name}`") if name in TESTBED_COMMANDS
              else importlib.import_module(f"dr_lib.cli.{COMMAND_MODULES[name]}"))
    return add_epilogs(_command_in(module, name))


def _unavailable(name: str, problem: DRError) -> click.Command:
    """Stands in for a test-bed command when the test bed is not installed: listed, and failing
    with the problem's one line whatever the arguments (``--help`` included)."""

    def fail() -> None:
        raise problem

    return click.Command(name, callback=fail, short_help=f"(needs the test bed: {_provider().INSTALL})",
                         add_help_option=False,
                         context_settings={"ignore_unknown_options": True, "allow_extra_args": True})


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use (see COMMAND_MODULES)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*COMMAND_MODULES, *TESTBED_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMAND_MODULES and cmd_name not in TESTBED_COMMANDS:
            return None
        try:
            return load_command(cmd_name)
        except EnvironmentProblem as problem:
            if cmd_name not in TESTBED_COMMANDS:
                raise
            return _unavailable(cmd_name, problem)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
             epilog=exit_codes_epilog())
@click.version_option(__version__, prog_name="k3s-dr")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Configuration file [default: $K3S_DR_CONFIG or /etc/k3s-dr/config.yaml if present].")
@click.option("--debug", is_flag=True, default=False, help="Print tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, debug: bool) -> None:
    """Disaster recovery for k3s clusters: verified backups, safe restores, drills.

    Shell completion (bash; zsh and fish alike): eval "$(_K3S_DR_COMPLETE=bash_source k3s-dr)".
    """
    ctx.obj = AppContext(config_path=config_path, debug=debug)


def _one_line(exc: click.ClickException) -> str:
    message = " ".join(exc.format_message().split())
    context = getattr(exc, "ctx", None)
    if isinstance(context, click.Context):
        message += f" (see: {context.command_path} --help)"
    return message


def _debug_requested(argv: Sequence[str]) -> bool:
    return "--debug" in argv or os.environ.get("K3S_DR_DEBUG", "") not in ("", "0")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    debug = _debug_requested(args)
    try:
        cli.main(args=args, prog_name="k3s-dr", standalone_mode=False)
    except DRError as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"k3s-dr: error: {exc}", err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("k3s-dr: interrupted", err=True)
        return ExitCode.INTERRUPTED
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:  # click's own usage errors: one line too, with where to look
        click.echo(f"k3s-dr: error: {_one_line(exc)}", err=True)
        return ExitCode.USAGE
    except KeyboardInterrupt:
        click.echo("k3s-dr: interrupted", err=True)
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        return ExitCode.OK
    except Exception as exc:  # noqa: BLE001 - the last line of defence: a bug of ours
        if debug:
            traceback.print_exc()
        click.echo(f"k3s-dr: internal error: {type(exc).__name__}: {exc} (run with --debug for a traceback)", err=True)
        return ExitCode.FAILURE
    return ExitCode.OK


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
