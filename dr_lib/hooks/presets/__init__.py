"""Ready-made hooks for common databases, as data: each script with the reason it is written so.

``tested`` says honestly how each preset is proven: for real against the database on our real
node, or against recorded real outputs of its tools because the database cannot run here.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from dr_lib.errors import HookSpecError
from dr_lib.hooks.presets.model import PHASES, Param, Preset
from dr_lib.hooks.presets.mongodb import MONGODB
from dr_lib.hooks.presets.redis import REDIS
from dr_lib.hooks.presets.sql import MSSQL, MYSQL, POSTGRESQL, SQLITE
from dr_lib.hooks.presets.values import KINDS, check_params

__all__ = ["ALIASES", "KINDS", "PHASES", "PRESETS", "Param", "Preset", "check_params", "dump_census", "find_preset",
           "preset_command", "with_census"]

PRESETS: dict[str, Preset] = {p.name: p for p in (POSTGRESQL, MYSQL, MSSQL, MONGODB, REDIS, SQLITE)}
ALIASES = {"postgres": "postgresql", "mariadb": "mysql", "sqlserver": "mssql", "mongo": "mongodb"}


def find_preset(name: str) -> Preset | None:
    key = name.strip().lower()
    return PRESETS.get(ALIASES.get(key, key))


def _exports(values: Mapping[str, str]) -> str:
    return "".join(f"{name}={shlex.quote(value)}; export {name}; " for name, value in values.items())


def preset_command(preset: Preset, phase: str, params: Mapping[str, str],
                   what: str | None = None) -> tuple[str, ...] | None:
    """``/bin/sh -c '<exports><script>'`` for ``phase``, or None when the preset has no such step.

    Parameters (checked here too: a restore reads them back from an archive) become ``export
    VAR='value'`` in front of the script, followed by the values the preset derives from them.
    Raises HookSpecError naming ``what`` for an unknown parameter or a value its kind refuses.
    """
    script = preset.script(phase)
    if script is None:
        return None
    where = what or f"preset {preset.name} parameters"
    by_name = {p.name: p.env for p in preset.params}
    unknown = sorted(set(params) - set(by_name))
    if unknown:
        raise HookSpecError(f"{where} name {unknown[0]!r}: accepted is {', '.join(by_name) or 'none'}")
    check_params(preset, params, where)
    values = {by_name[name]: value for name, value in sorted(params.items())}
    return ("/bin/sh", "-c", _exports({**values, **preset.derived(params)}) + script)


def dump_census(preset_name: str | None, stderr: bytes) -> dict[str, Any] | None:
    """What the preset's dump hook reported about its dump (recorded in the dump's meta), or None."""
    preset = find_preset(preset_name or "")
    return preset.census(stderr) if preset is not None and preset.census is not None else None


def with_census(command: tuple[str, ...], preset_name: str | None, census: Any) -> tuple[str, ...]:
    """The restore/verify command with the recorded census exported in front (a shell command only)."""
    preset = find_preset(preset_name or "")
    if preset is None or preset.census_env is None or not isinstance(census, Mapping):
        return command
    if len(command) != 3 or command[:2] != ("/bin/sh", "-c"):
        return command
    return (command[0], command[1], _exports(preset.census_env(census)) + command[2])
