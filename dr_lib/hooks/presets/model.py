"""What a preset is: shell scripts per phase, the parameters they take, how a good dump starts.

Every preset runs through ``/bin/sh -c`` in the database's own container and takes its
credentials from that container's environment (the variables the official images use, which
operators fill from Secrets with ``secretKeyRef``): a password never travels in a command
line k3s-dr builds, logs or records. Parameters (database name, user) are not secrets; they
come from the annotation ``hook.k3s-dr.io/preset-params`` or a config rule's ``params``, are
checked against their kind (:mod:`.values`) and exported, quoted, before the script runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

PHASES = ("pre", "dump", "post", "restore", "verify")


@dataclass(frozen=True)
class Param:
    name: str
    env: str
    meaning: str
    kind: str = "name"  # a row of values.KINDS: what characters the value may hold and why
    required: bool = False


def _nothing(_params: Mapping[str, str]) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class Preset:
    name: str
    engine: str
    scripts: Mapping[str, str]  # phase → shell script
    magic: tuple[bytes, ...]  # a good dump starts with one of these
    params: tuple[Param, ...]
    reason: str
    tested: str  # "real: …" or "recorded outputs: …": how the preset is proven, honestly
    # Values computed from the (checked) parameters and exported beside them: quoted identifiers and
    # literals for languages the shell cannot quote for (T-SQL), file names derived from a database name.
    derived: Callable[[Mapping[str, str]], dict[str, str]] = _nothing
    # What the dump hook reported about its dump (its stderr) → facts recorded in the dump's meta
    # (``census``), given back to the restore and verify hooks as environment variables.
    census: Callable[[bytes], dict[str, Any] | None] | None = None
    census_env: Callable[[Mapping[str, Any]], dict[str, str]] | None = None
    aliases: tuple[str, ...] = field(default=())

    def script(self, phase: str) -> str | None:
        return self.scripts.get(phase)
