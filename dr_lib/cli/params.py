"""One flag per concept across the commands: the shared option types and spellings, and the epilog.

- durations: :data:`DURATION` (``90s``, ``5m``, ``1h30m``, ``2d``; a plain number is seconds), for
  every option that is a length of time; the value stays the text given, checked;
- ``--kubeconfig PATH`` (:func:`kubeconfig_option`): a file, resolved by
  :func:`dr_lib.config.kubeconfig_path` (option, ``$KUBECONFIG``, config ``kubeconfig``, k3s's);
- ``-n``/``--namespace`` means a namespace in every command (:func:`namespace_option`);
- old spellings stay as hidden aliases (:class:`AliasedOption`): they work, ``--help`` shows the new;
- every command's ``--help`` ends with the exit codes (:func:`exit_codes_epilog`, from
  :data:`dr_lib.errors.EXIT_CODES`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from dr_lib.config import DURATION_ACCEPTED, parse_duration
from dr_lib.errors import EXIT_CODES, UsageError

F = TypeVar("F", bound=Callable[..., Any])


if TYPE_CHECKING:  # click's ParamType is generic in recent releases only: subscripted for the type checker
    _ParamType = click.ParamType[str]
else:
    _ParamType = click.ParamType


class DurationType(_ParamType):
    """A length of time: the text as given, once :func:`dr_lib.config.parse_duration` accepts it."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip()
        try:
            seconds = parse_duration(text)
        except ValueError:
            self.fail(f"{value!r} is not a duration: accepted is {DURATION_ACCEPTED}", param, ctx)
        if seconds <= 0:
            self.fail(f"{value!r} is no length of time: accepted is {DURATION_ACCEPTED}, more than zero", param, ctx)
        return text


DURATION = DurationType()


class AliasedOption(click.Option):
    """An option whose old spellings (``aliases``) still parse but are left out of ``--help``."""

    def __init__(self, *args: Any, aliases: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.aliases = aliases

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        every = self.opts
        self.opts = [name for name in every if name not in self.aliases]
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = every


def kubeconfig_option(what: str = "Kubeconfig of the cluster") -> Callable[[F], F]:
    return click.option("--kubeconfig", type=click.Path(dir_okay=False), default=None, metavar="PATH",
                        help=f"{what} [default: $KUBECONFIG, config 'kubeconfig', /etc/rancher/k3s/k3s.yaml].")


def namespace_option(dest: str, help_text: str, *, aliases: tuple[str, ...] = ()) -> Callable[[F], F]:
    """``-n``/``--namespace`` (repeatable) into ``dest``; ``aliases`` are older spellings, hidden."""
    return click.option("-n", "--namespace", *aliases, dest, cls=AliasedOption, aliases=aliases, multiple=True,
                        metavar="NAMESPACE", help=help_text)


def refuse_n_for(replacement: str) -> Callable[[F], F]:
    """A command where ``-n`` once meant something else: it now fails, naming the option to use."""

    def refuse(_ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        if value is not None:
            raise UsageError(f"-n {value} is --namespace in k3s-dr, and this command takes no namespace: "
                             f"accepted is {replacement}")

    return click.option("-n", "refused_n", default=None, hidden=True, expose_value=False, callback=refuse)


def exit_codes_epilog() -> str:
    """The exit codes as a block click prints unwrapped (``\\b``)."""
    rows = "\n".join(f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES)
    return f"\b\nExit status:\n{rows}"


def add_epilogs(command: click.Command) -> click.Command:
    """The exit-code epilog on a command and every subcommand of a group (idempotent)."""
    if not command.epilog:
        command.epilog = exit_codes_epilog()
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            add_epilogs(sub)
    return command
