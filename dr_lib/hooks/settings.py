"""The hooks' settings as one value, from the config section ``hooks`` and the command line."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dr_lib.config import DataConfig, HooksConfig, duration_seconds, parse_size
from dr_lib.errors import ConfigError, HookSpecError
from dr_lib.hooks.policy import Defaults
from dr_lib.hooks.spec import plan_from_rule

VOLUME_POLICIES = ("keep-existing", "replace")


@dataclass(frozen=True)
class HookSettings:
    defaults: Defaults = field(default_factory=Defaults)
    rules: tuple[Mapping[str, Any], ...] = ()
    backend: str = "copy"
    local_nodes: frozenset[str] = frozenset()
    include_namespaces: frozenset[str] = frozenset()
    exclude_namespaces: frozenset[str] = frozenset()
    restore_wait: float = 300.0
    restore_volumes: str = "keep-existing"
    namespace_mapping: tuple[tuple[str, str], ...] = ()  # restore --namespace-mapping OLD:NEW
    volume_roots: tuple[str, ...] = DataConfig.volume_roots
    zfs_datasets: tuple[str, ...] = ()
    verify_cycle: int = 24
    data_timeout: float = 3600.0

    @classmethod
    def from_config(cls, config: HooksConfig, *, include_namespaces: tuple[str, ...] | frozenset[str] = (),
                    exclude_namespaces: tuple[str, ...] | frozenset[str] = (),
                    namespace_mapping: tuple[tuple[str, str], ...] = (),
                    data: DataConfig | None = None) -> HookSettings:
        defaults = _defaults(config)
        rules = tuple(dict(rule) for rule in config.rules)
        _check_rules(rules, defaults)
        nodes = frozenset(config.local_nodes) or frozenset({"localhost", socket.gethostname()})
        data = data or DataConfig()
        return cls(defaults, rules, config.volume_backend, nodes, frozenset(include_namespaces),
                   frozenset(exclude_namespaces), float(duration_seconds(config.restore_wait)),
                   config.restore_volumes, namespace_mapping, volume_roots(data), _listed(data.zfs_datasets),
                   data.verify_cycle, float(duration_seconds(data.timeout)))

    def mapped(self, namespace: str) -> str:
        return dict(self.namespace_mapping).get(namespace, namespace)

    def namespace_wanted(self, namespace: str) -> bool:
        if self.include_namespaces and namespace not in self.include_namespaces:
            return False
        return namespace not in self.exclude_namespaces


def volume_roots(data: DataConfig) -> tuple[str, ...]:
    """The directories volumes are backed up from and restored to (``data.volume_roots``)."""
    return _listed(data.volume_roots)


def _listed(value: tuple[str, ...] | str) -> tuple[str, ...]:
    """A list from the config file, or comma-separated text from the environment."""
    items = value.split(",") if isinstance(value, str) else value
    return tuple(item.strip() for item in items if item.strip())


def _defaults(config: HooksConfig) -> Defaults:
    timeout, ceiling = float(duration_seconds(config.timeout)), float(duration_seconds(config.max_timeout))
    if timeout > ceiling:
        raise ConfigError("hooks.timeout", config.timeout, f"a duration up to hooks.max_timeout ({config.max_timeout})")
    return Defaults(timeout, config.on_error, config.annotation_on_error, ceiling, parse_size(config.max_dump_size),
                    frozenset(config.annotation_namespaces))


def _check_rules(rules: tuple[Mapping[str, Any], ...], defaults: Defaults) -> None:
    """Every rule parses against a stand-in pod, so a bad rule is refused before any backup starts."""
    for index, rule in enumerate(rules):
        probe = {"metadata": {"namespace": rule.get("namespace", ""), "name": "probe"}}
        try:
            plan_from_rule(probe, rule, index, defaults)
        except HookSpecError as exc:
            raise ConfigError(f"hooks.rules[{index}]", {k: v for k, v in rule.items() if k in ("namespace", "preset",
                                                                                             "selector")},
                              str(exc)) from None
