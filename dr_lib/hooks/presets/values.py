"""Preset parameter values: what each kind accepts and why, and the quoting each language needs.

A value reaches a preset's script only as an environment variable exported single-quoted
(``shlex.quote``): the shell never word-splits it nor expands ``$(…)`` or backticks in it.
The scripts then pass it on without re-parsing: in ``--flag=value`` form or after ``--`` (a
leading ``-`` is never read as an option), through the environment a tool reads itself
(``PGDATABASE``, ``SQLCMDUSER``), or — for T-SQL, which the shell cannot quote for — as an
identifier and a literal quoted here, ``QUOTENAME``-style. What a kind refuses is what no
quoting carries safely: control characters (a newline ends a line of ``sqlcmd`` input, where
``:!!`` would run a command; NUL cannot be in an environment), and for paths anything relative.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from dr_lib.errors import HookSpecError
from dr_lib.hooks.presets.model import Preset

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HOST = re.compile(r"^[A-Za-z0-9._:/%\[\]][A-Za-z0-9._:/%\[\]-]{0,252}$")


@dataclass(frozen=True)
class Kind:
    accepted: str
    problem: Callable[[str], str | None]  # what is wrong with a value, or None
    reason: str


def _name(value: str) -> str | None:
    if not 1 <= len(value) <= 128:
        return f"it is {len(value)} characters long"
    if _CONTROL.search(value):
        return "it holds a control character"
    return None


def _path(value: str) -> str | None:
    if not value.startswith("/") or len(value) > 4096:
        return "it is not an absolute path"
    if _CONTROL.search(value):
        return "it holds a control character"
    if ".." in value.split("/"):
        return "it has a '..' component"
    return None


def _host(value: str) -> str | None:
    return None if _HOST.match(value) else "it is not a host name, address or socket directory"


def _port(value: str) -> str | None:
    return None if value.isdigit() and 1 <= int(value) <= 65535 else "it is not a port number"


KINDS: dict[str, Kind] = {
    "name": Kind("1 to 128 characters, none a control character (spaces, quotes, $, `, ;, ] and a leading - are "
                 "fine)", _name,
                 "exported single-quoted and passed on as --flag=value, after --, through the tool's own environment "
                 "variable or as a quoted T-SQL identifier: any printable text arrives as text; a newline would start "
                 "a new line of sqlcmd/psql input and NUL cannot be in an environment"),
    "path": Kind("an absolute path without control characters or '..' components", _path,
                 "a leading / can never be taken for an option; '..' would leave the directory the operator named"),
    "host": Kind("a host name, an IP address or a socket directory (letters, digits and . _ : / % [ ] -, not "
                 "starting with -)", _host,
                 "host values are handed to clients that parse them as addresses; nothing else is an address"),
    "port": Kind("a number from 1 to 65535", _port, "a port is a number"),
}


def _shown(value: str) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_params(preset: Preset, params: Mapping[str, str], what: str) -> None:
    """Raise HookSpecError naming the parameter, its value, what is wrong and what is accepted."""
    for param in preset.params:
        value = params.get(param.name)
        if value is None:
            if param.required:
                raise HookSpecError(f"{what} has no {param.name}=: the {preset.name} preset needs it "
                                    f"({param.meaning})")
            continue
        kind = KINDS[param.kind]
        problem = kind.problem(value)
        if problem:
            raise HookSpecError(f"{what} {param.name}={_shown(value)}: {problem}; accepted is {kind.accepted}")


def tsql_ident(name: str) -> str:
    """``QUOTENAME(name)``: a bracketed T-SQL identifier, ``]`` doubled."""
    return "[" + name.replace("]", "]]") + "]"


def tsql_literal(text: str) -> str:
    """A T-SQL Unicode string literal, ``'`` doubled."""
    return "N'" + text.replace("'", "''") + "'"
