"""Typed configuration: ``/etc/k3s-dr/config.yaml``, ``--config``, environment overrides.

The schema is data: nested frozen dataclasses whose fields carry a check and a sentence
saying what is accepted. Loading walks the schema, so every key is validated the same way
and a bad value yields one :class:`ConfigError` naming key, value and what is accepted.
Precedence, lowest first: defaults (the seed's paths) → the YAML file → ``K3S_DR_*``
environment variables (``K3S_DR_BACKUP_DIR`` overrides ``backup.dir``).
"""

from __future__ import annotations

import dataclasses
import os
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dr_lib.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("/etc/k3s-dr/config.yaml")
ENV_PREFIX = "K3S_DR_"
CONFIG_ENV = "K3S_DR_CONFIG"

_DURATION = re.compile(r"^(\d+)([smhd])$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """``"90s"``, ``"15m"``, ``"1h"``, ``"2d"`` or a plain number of seconds → seconds."""
    if text.isdigit():
        return int(text)
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(text)
    return int(match.group(1)) * _DURATION_UNITS[match.group(2)]


def _spec(default: Any, accepted: str, check: Callable[[Any], bool] = lambda _v: True) -> Any:
    return field(default=default, metadata={"accepted": accepted, "check": check})


def _positive(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _non_negative(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _fraction(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1


def _file_name(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and "/" not in value and value not in {".", ".."}


def _absolute(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("/")


def _unit(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9@._:-]+\.(service|timer)", value) is not None


def _duration(value: Any) -> bool:
    try:
        return parse_duration(str(value)) > 0
    except ValueError:
        return False


@dataclass(frozen=True)
class BackupConfig:
    dir: str = _spec("/var/backups/k3s-cluster", "an absolute directory path", _absolute)
    keep: int = _spec(2, "a whole number ≥ 1 (archives kept, newest first)", _positive)
    keep_daily: int = _spec(0, "a whole number ≥ 0 (days with one archive kept)", _non_negative)
    keep_weekly: int = _spec(0, "a whole number ≥ 0 (weeks with one archive kept)", _non_negative)
    latest_link: str = _spec("latest-backup.tar.gz", "a file name without '/'", _file_name)
    snapshot_link: str = _spec("k3s-cluster-snapshot.tar.gz", "a file name without '/'", _file_name)
    shrink_threshold: float = _spec(
        0.5, "a fraction 0..1: the drop in objects against the last promoted archive that blocks promotion", _fraction
    )
    interval: str = _spec("1h", "a duration such as 15m, 1h, 1d", _duration)
    log_file: str = _spec("/var/log/k3s-dr.log", "an absolute file path", _absolute)
    k3s_data_dir: str = _spec("/var/lib/rancher/k3s", "an absolute directory path", _absolute)
    lock_file: str = _spec("/run/lock/k3s-dr.lock", "an absolute file path", _absolute)


@dataclass(frozen=True)
class RestoreConfig:
    auto_loss_threshold: float = _spec(
        0.5,
        "a fraction 0..1: the share of the snapshot's user objects missing live that triggers auto-restore",
        _fraction,
    )
    state_dir: str = _spec("/var/lib/k3s-dr", "an absolute directory path", _absolute)
    wait_timeout: str = _spec("10m", "a duration such as 90s, 10m", _duration)


@dataclass(frozen=True)
class TargetsConfig:
    rto: str = _spec("15m", "a duration such as 15m", _duration)
    rpo: str = _spec("1h", "a duration such as 1h", _duration)


@dataclass(frozen=True)
class UnitsConfig:
    k3s: str = _spec("k3s.service", "a systemd unit name ending in .service", _unit)
    auto_restore: str = _spec("k3s-auto-restore.service", "a systemd unit name ending in .service", _unit)
    backup: str = _spec("k3s-dr-backup.service", "a systemd unit name ending in .service", _unit)
    backup_timer: str = _spec("k3s-dr-backup.timer", "a systemd unit name ending in .timer", _unit)


@dataclass(frozen=True)
class MetricsConfig:
    prefix: str = _spec(
        "k3s_dr_", "a Prometheus name prefix ([a-zA-Z_][a-zA-Z0-9_]*)",
        lambda v: isinstance(v, str) and re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", v) is not None,
    )
    listen: str = _spec(
        "0.0.0.0:9101", "HOST:PORT", lambda v: isinstance(v, str) and re.fullmatch(r".+:\d{1,5}", v) is not None
    )
    textfile: str = _spec("/var/lib/node_exporter/textfile_collector/k3s_dr.prom", "an absolute file path", _absolute)


@dataclass(frozen=True)
class Config:
    kubeconfig: str = _spec(
        "/etc/rancher/k3s/k3s.yaml", "a path to a kubeconfig file", lambda v: isinstance(v, str) and bool(v)
    )
    backup: BackupConfig = field(default_factory=BackupConfig)
    restore: RestoreConfig = field(default_factory=RestoreConfig)
    targets: TargetsConfig = field(default_factory=TargetsConfig)
    units: UnitsConfig = field(default_factory=UnitsConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    source: str | None = field(default=None, compare=False)


def _coerce(raw: Any, target: Any) -> Any:
    """Environment values arrive as text; turn them into the field's type when they fit."""
    if not isinstance(raw, str):
        return raw
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
        if hint is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not f.metadata["check"](value):
            raise ConfigError(key, value, f.metadata["accepted"], source=where)
        kwargs[f.name] = value
    return cls(**kwargs)


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Load and validate the configuration.

    ``path`` None means ``$K3S_DR_CONFIG`` or ``/etc/k3s-dr/config.yaml`` *if it exists*
    (defaults otherwise); an explicitly named file must exist.
    """
    env = dict(os.environ) if env is None else env
    explicit = path is not None or CONFIG_ENV in env
    chosen = Path(path) if path is not None else Path(env.get(CONFIG_ENV, str(DEFAULT_CONFIG_PATH)))
    values: Mapping[str, Any] = {}
    source: str | None = None
    if chosen.exists() or explicit:
        source = str(chosen)
        try:
            loaded = yaml.safe_load(chosen.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError("--config", str(chosen), "a readable YAML file (it does not exist)") from None
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError("--config", str(chosen), f"a readable YAML file ({type(exc).__name__})") from None
        loaded = {} if loaded is None else loaded
        if not isinstance(loaded, Mapping):
            raise ConfigError("(top level)", type(loaded).__name__, "a mapping of keys", source=source)
        values = loaded
    config: Config = _build(Config, values, env, "", source)
    return dataclasses.replace(config, source=source)


def duration_seconds(text: str) -> int:
    """Seconds of a duration that already passed validation."""
    return parse_duration(str(text))
