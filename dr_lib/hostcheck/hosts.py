"""The hosts of ``k3s-dr check --hosts``: testinfra host specs (``docker://NAME``,
``ssh://USER@HOST:PORT``, ``ansible://all?ansible_inventory=PATH``, ``local://`` …), checked
before any of them reaches a command line.

testinfra quotes every value it passes to a shell, but a host that starts with ``-`` would still
reach ``ssh``, ``docker`` or ``kubectl`` as an option (``ssh://-oProxyCommand=…`` runs a
command): each spec is held to the backends testinfra knows and to the characters a host name,
user, port and query need, never starting with ``-``.
"""

from __future__ import annotations

import re

from testinfra.backend import BACKENDS

from dr_lib.errors import UsageError

_SPEC = re.compile(r"(?:(?P<scheme>[a-z][a-z-]*)://)?(?P<rest>[A-Za-z0-9_.@:/?=&%+~\[\]-]*)")
_OPTION_LIKE = re.compile(r"(?:^|[/@=:?&])-")  # a part that a program would read as an option
_MAX_HOSTS = 256
_MAX_SPEC = 512
ACCEPTED = ("comma-separated testinfra host specs: BACKEND://HOST (backends: " + ", ".join(sorted(BACKENDS))
            + "), letters, digits and _.@:/?=&%+~[]- only, no part starting with '-'")


def parse_hosts(text: str) -> tuple[str, ...]:
    specs = tuple(part.strip() for part in text.split(","))
    if len(specs) > _MAX_HOSTS:
        raise UsageError(f"--hosts names {len(specs)} hosts: at most {_MAX_HOSTS} in one run")
    for spec in specs:
        _check(spec)
    return specs


def _check(spec: str) -> None:
    match = _SPEC.fullmatch(spec) if len(spec) <= _MAX_SPEC else None
    scheme = match.group("scheme") if match else None
    rest = match.group("rest") if match else ""
    refused = (match is None or (scheme is not None and scheme not in BACKENDS) or "://" in rest
               or _OPTION_LIKE.search(rest) is not None or (not rest and scheme != "local"))
    if refused:
        raise UsageError(f"--hosts value {spec[:80]!r} is not a host this command accepts: accepted are {ACCEPTED}")


def is_local(spec: str) -> bool:
    return spec.startswith("local://")
