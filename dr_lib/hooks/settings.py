"""The hooks' settings as one value, from the config section ``hooks`` and the command line."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dr_lib.config import HooksConfig, duration_seconds, parse_size
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

    @classmethod
    def from_config(cls, config: HooksConfig, *, include_namespaces: tuple[str, ...] | frozenset[str] = (),
                    exclude_namespaces: tuple[str, ...] | frozenset[str] = (),
                    namespace_mapping: tuple[tuple[str, str], ...] = ()) -> HookSettings:
        defaults = _defaults(config)
        rules = tuple(dict(rule) for rule in config.rules)
        _check_rules(rules, defaults)
        nodes = frozenset(config.local_nodes) or frozenset({"localhost", socket.gethostname()})
        return cls(defaults, rules, config.volume_backend, nodes, frozenset(include_namespaces),
                   frozenset(exclude_namespaces), float(duration_seconds(config.restore_wait)),
                   config.restore_volumes, namespace_mapping)

    def mapped(self, namespace: str) -> str:
        return dict(self.namespace_mapping).get(namespace, namespace)

    def namespace_wanted(self, namespace: str) -> bool:
        if self.include_namespaces and namespace not in self.include_namespaces:
            return False
        return namespace not in self.exclude_namespaces


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
