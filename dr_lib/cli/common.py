"""What every command shares: the application context, options gathered into typed values, the
reporter jobs talk through, JSON output and the end of a run."""

from __future__ import annotations

import dataclasses
import functools
import json
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import click

from dr_lib.config import Config, load_config

if TYPE_CHECKING:  # `k3s-dr --version` and --help load this module: nothing beyond the types
    from _typeshed import DataclassInstance

    from dr_lib.jobs.report import Finished

T = TypeVar("T", bound="DataclassInstance")
Command = Callable[..., None]


@dataclass
class AppContext:
    config_path: str | None = None
    debug: bool = False
    _config: Config | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config


def app(ctx: click.Context) -> AppContext:
    obj = ctx.find_root().obj
    if not isinstance(obj, AppContext):  # invoked without the root group (tests)
        obj = AppContext()
        ctx.find_root().obj = obj
    return obj


def build(cls: type[T], params: dict[str, Any]) -> T:
    """``cls`` from the parameters named like its fields (taken out of ``params``); a field that is
    itself a dataclass (restore's ``filters``) is built from the same flat parameters."""
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for item in dataclasses.fields(cls):
        hint = hints[item.name]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            values[item.name] = build(hint, params)
        elif item.name in params:
            values[item.name] = params.pop(item.name)
        else:
            raise TypeError(f"{cls.__name__}.{item.name} is no parameter of the command")
    return cls(**values)


def gather(**parts: type[Any]) -> Callable[[Command], Command]:
    """Hand a command its parsed parameters as typed values, click's context first.

    ``@gather(options=BackupOptions)`` under the ``click.option`` decorators: the command is
    called as ``backup(ctx, options=BackupOptions(...), as_json=...)``, with the parameters no
    dataclass claims passed on as they are.
    """
    def decorate(command: Command) -> Command:
        @functools.wraps(command)
        def callback(**params: Any) -> None:
            built = {name: build(cls, params) for name, cls in parts.items()}
            command(click.get_current_context(), **built, **params)

        callback.gathered = parts  # type: ignore[attr-defined] # for tests: which dataclasses a command takes
        return callback
    return decorate


def signature_options(what: str) -> Callable[[Command], Command]:
    """``--verify-key FILE`` (repeatable) and ``--allow-unsigned``: whose signature ``what`` must carry."""
    def decorate(command: Command) -> Command:
        command = click.option(
            "--allow-unsigned", is_flag=True,
            help="Accept an unsigned archive (written before signing) although verify keys are given; an invalid "
                 "signature is refused all the same.")(command)
        return click.option(
            "--verify-key", "verify_keys", multiple=True, type=click.Path(dir_okay=False), metavar="FILE",
            help=f"Accept only {what} signed by this Ed25519 verify key (repeatable); anything else is refused "
                 "(exit 8) [default: config trust.verify_keys; none: signatures are reported, not required].",
        )(command)
    return decorate


class StderrReporter:
    """A job's warnings and progress, each one line on stderr as it happens."""

    def warn(self, message: str) -> None:
        click.echo(f"k3s-dr: warning: {message}", err=True)

    def note(self, line: str) -> None:
        click.echo(line, err=True)


REPORTER = StderrReporter()


def print_json(value: Any) -> None:
    """One JSON object on stdout: the machine-readable result of a command."""
    click.echo(json.dumps(value, sort_keys=True, default=str))


def finish(result: Finished) -> None:
    """End the run as the job decided, once its result is printed: exit 0, or the error's code."""
    error = result.exit_error
    if error is not None:
        raise error
