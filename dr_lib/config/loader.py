"""Loading: walk the schema, apply file values and ``K3S_DR_*`` overrides, validate every key."""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from dr_lib.config.fields import CONFIG_ENV, DEFAULT_CONFIG_PATH, ENV_PREFIX, parse_duration
from dr_lib.config.schema import Config
from dr_lib.errors import ConfigError


def _coerce(raw: Any, target: Any) -> Any:
    """Environment values arrive as text; turn them into the field's type when they fit."""
    if not isinstance(raw, str):
        return raw
    if target is bool:  # YAML's spellings; anything else stays text and fails the field's check
        return {"true": True, "yes": True, "on": True, "1": True,
                "false": False, "no": False, "off": False, "0": False}.get(raw.strip().lower(), raw)
    try:
        if target is int:
            return int(raw)
        if target is float:
            return float(raw)
    except ValueError:
        return raw
    return raw


def _build(cls: type[Any], values: Mapping[str, Any], env: Mapping[str, str], prefix: str, source: str | None) -> Any:
    hints = typing.get_type_hints(cls)
    unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        key = prefix + sorted(unknown)[0]
        names = ", ".join(f.name for f in dataclasses.fields(cls) if f.name != "source")
        raise ConfigError(key, values[sorted(unknown)[0]], f"one of the known keys: {names}", source=source)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name == "source":
            continue
        key = prefix + f.name
        hint = hints[f.name]
        if typing.get_origin(hint) is dict:  # named sections of one schema, e.g. offsite.targets.<name>
            kwargs[f.name] = _build_named(typing.get_args(hint)[1], values.get(f.name) or {}, f, env=env, key=key,
                                         source=source)
            continue
        if dataclasses.is_dataclass(hint):
            section = values.get(f.name, {}) or {}
            if not isinstance(section, Mapping):
                raise ConfigError(key, section, "a mapping of keys", source=source)
            kwargs[f.name] = _build(hint, section, env, key + ".", source)  # type: ignore[arg-type]
            continue
        env_name = ENV_PREFIX + key.replace(".", "_").upper()
        value: Any = values.get(f.name, f.default)
        where = source
        if env_name in env:
            value, where = _coerce(env[env_name], hint), f"environment variable {env_name}"
        if hint is str and isinstance(value, bool):  # YAML 1.1 reads an unquoted `off` (and `on`) as a boolean
            value = "on" if value else "off"
        if hint is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if typing.get_origin(hint) is tuple and isinstance(value, list):  # YAML lists: keep the config hashable
            value = tuple(value)
        if not f.metadata["check"](value):
            raise ConfigError(key, value, f.metadata["accepted"], source=where)
        kwargs[f.name] = value
    return cls(**kwargs)


def _build_named(cls: type[Any], entries: Any, f: dataclasses.Field[Any], *, env: Mapping[str, str], key: str,
                 source: str | None) -> dict[str, Any]:
    if not isinstance(entries, Mapping):
        raise ConfigError(key, entries, f.metadata["accepted"], source=source)
    built: dict[str, Any] = {}
    for name, section in entries.items():
        if not f.metadata["check"](name):
            raise ConfigError(f"{key}.{name}", section, f.metadata["accepted"], source=source)
        if not isinstance(section, Mapping):
            raise ConfigError(f"{key}.{name}", section, "a mapping of keys", source=source)
        built[name] = _build(cls, section, env, f"{key}.{name}.", source)
    return built


def _parse(text: str, source: str) -> Mapping[str, Any]:
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError("--config", source, f"a readable YAML file ({type(exc).__name__})") from None
    loaded = {} if loaded is None else loaded
    if not isinstance(loaded, Mapping):
        raise ConfigError("(top level)", type(loaded).__name__, "a mapping of keys", source=source)
    return loaded


def _validated(values: Mapping[str, Any], env: Mapping[str, str], source: str | None) -> Config:
    config: Config = _build(Config, values, env, "", source)
    return dataclasses.replace(config, source=source)


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Load and validate the configuration.

    ``path`` None means ``$K3S_DR_CONFIG`` or ``/etc/k3s-dr/config.yaml`` *if it exists*
    (defaults otherwise); an explicitly named file must exist.
    """
    env = dict(os.environ) if env is None else env
    explicit = path is not None or CONFIG_ENV in env
    chosen = Path(path) if path is not None else Path(env.get(CONFIG_ENV, str(DEFAULT_CONFIG_PATH)))
    if not (chosen.exists() or explicit):
        return _validated({}, env, None)
    try:
        text = chosen.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("--config", str(chosen), "a readable YAML file (it does not exist)") from None
    except OSError as exc:
        raise ConfigError("--config", str(chosen), f"a readable YAML file ({type(exc).__name__})") from None
    return _validated(_parse(text, str(chosen)), env, str(chosen))


def duration_seconds(text: str) -> int:
    """Seconds of a duration that already passed validation."""
    return parse_duration(str(text))


def config_from_text(text: str, source: str, env: Mapping[str, str] | None = None) -> Config:
    """Validate configuration text read elsewhere, e.g. on a remote host by the conformance suite.

    ``env`` defaults to none at all: the caller's environment says nothing about that host.
    """
    return _validated(_parse(text, source), env or {}, source)
