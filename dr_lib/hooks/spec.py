"""Which hooks a pod has: read from its annotations, or from config rules for pods the operator
cannot annotate. Pure: pods in, plans (or the exact reason a declaration is wrong) out.

Annotations, in the spirit of Velero's (``docs/hooks.md`` has the full table)::

    pre.hook.backup.k3s-dr.io/command     quiesce before data is taken (JSON array, or text run by /bin/sh -c)
    dump.hook.backup.k3s-dr.io/command    its stdout is the dump streamed into the archive
    post.hook.backup.k3s-dr.io/command    resume; runs whenever the pre hook ran
    post.hook.restore.k3s-dr.io/command   after restore, once the pod is Ready: reads the dump on stdin
    verify.hook.restore.k3s-dr.io/command after the restore hook: exit 0 means the data is good
    <phase>.hook.<backup|restore>.k3s-dr.io/{container,timeout,on-error}
    hook.k3s-dr.io/preset                 postgresql | mysql | mssql | mongodb | redis | sqlite
    hook.k3s-dr.io/preset-params          database=app,user=postgres
    hook.k3s-dr.io/container              container for every hook [default: the first]
    hook.k3s-dr.io/name                   the dump's name in the archive [default: the preset, else "dump"]
    hook.k3s-dr.io/on-error               fail | continue, for every hook [default: config hooks.annotation_on_error,
                                          continue; hooks of config rules: hooks.on_error]
    backup.k3s-dr.io/volumes              pod volumes whose data is copied (hostPath, local, local-path)
    backup.k3s-dr.io/volume-mode          quiesced (between pre and post) | consistent-enough
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from dr_lib.config import parse_duration
from dr_lib.errors import HookSpecError
from dr_lib.hooks.policy import DOMAIN, Defaults, annotations_honoured, declares_hooks
from dr_lib.hooks.presets import PHASES, Preset, check_params, find_preset, preset_command
from dr_lib.hooks.selectors import rule_matches, selector_matches

ON_ERROR = ("fail", "continue")
VOLUME_MODES = ("quiesced", "consistent-enough")
_NAME = re.compile(r"^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$")
# phase → the annotation prefix it is declared under
PHASE_PREFIX = {"pre": f"pre.hook.backup.{DOMAIN}", "dump": f"dump.hook.backup.{DOMAIN}",
                "post": f"post.hook.backup.{DOMAIN}", "restore": f"post.hook.restore.{DOMAIN}",
                "verify": f"verify.hook.restore.{DOMAIN}"}
PRESET_KEY = f"hook.{DOMAIN}/preset"
PARAMS_KEY = f"hook.{DOMAIN}/preset-params"
CONTAINER_KEY = f"hook.{DOMAIN}/container"
NAME_KEY = f"hook.{DOMAIN}/name"
ON_ERROR_KEY = f"hook.{DOMAIN}/on-error"
VOLUMES_KEY = f"backup.{DOMAIN}/volumes"
VOLUME_MODE_KEY = f"backup.{DOMAIN}/volume-mode"


__all__ = ["Defaults", "Hook", "PodPlan", "plan_for_pod", "selector_matches"]


@dataclass(frozen=True)
class Hook:
    phase: str
    command: tuple[str, ...]
    container: str | None
    timeout: float
    on_error: str
    magic: tuple[bytes, ...] = ()  # dump only: accepted first bytes (empty: any non-empty output)
    max_output: int | None = None  # dump only: the most it may write to stdout (hooks.max_dump_size)

    def describe(self, preset: str | None) -> str:
        """How reports name the hook: its phase and preset, never its command (it may carry a secret)."""
        return f"{self.phase} hook" + (f" (preset {preset})" if preset else "")


@dataclass(frozen=True)
class PodPlan:
    """Everything to do for one pod's data, and where it was declared."""

    namespace: str
    pod: str
    source: str  # "annotations" | "config rule <n>"
    name: str
    preset: str | None
    hooks: Mapping[str, Hook] = field(default_factory=dict)
    volumes: tuple[str, ...] = ()
    volume_mode: str = "consistent-enough"
    on_error: str = "fail"
    params: Mapping[str, str] = field(default_factory=dict)  # preset parameters: names, never secrets

    @property
    def where(self) -> str:
        return f"pod {self.namespace}/{self.pod}"

    def hook(self, phase: str) -> Hook | None:
        return self.hooks.get(phase)


def parse_command(value: Any, what: str) -> tuple[str, ...]:
    """A JSON array of strings, a YAML list, or text (run by ``/bin/sh -c``)."""
    if isinstance(value, (list, tuple)):
        items = list(value)
    elif isinstance(value, str) and value.strip().startswith("["):
        try:
            items = json.loads(value)
        except ValueError:
            raise HookSpecError(f"{what} is not a JSON array: accepted is [\"cmd\", \"arg\"] or plain shell text") \
                from None
    elif isinstance(value, str) and value.strip():
        return ("/bin/sh", "-c", value)
    else:
        raise HookSpecError(f"{what} is empty: accepted is a JSON array of strings or shell text")
    if not items or not all(isinstance(i, str) for i in items):
        raise HookSpecError(f"{what} must be a non-empty list of strings")
    return tuple(items)


def _timeout(value: Any, what: str, defaults: Defaults) -> float:
    if value is None:
        return defaults.timeout
    try:
        seconds = parse_duration(str(value).strip())
    except ValueError:
        seconds = 0
    if seconds <= 0:
        raise HookSpecError(f"{what} is {value!r}: accepted is a duration such as 30s, 5m, 1h")
    if seconds > defaults.max_timeout:
        raise HookSpecError(f"{what} is {value!r}, longer than the ceiling hooks.max_timeout "
                            f"({defaults.max_timeout:g} s): accepted is a duration up to that")
    return float(seconds)


def _on_error(value: Any, what: str, default: str) -> str:
    if value is None:
        return default
    text = str(value).strip().lower()
    if text not in ON_ERROR:
        raise HookSpecError(f"{what} is {value!r}: accepted is fail or continue")
    return text


def parse_params(value: Any, preset: Preset | None, what: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    if isinstance(value, Mapping):
        pairs = {str(k): str(v) for k, v in value.items()}
    elif value is not None and value != "":
        for part in str(value).split(","):
            key, sep, val = part.partition("=")
            if not sep or not key.strip():
                raise HookSpecError(f"{what} part {part.strip()!r} is not name=value")
            pairs[key.strip()] = val.strip()
    known = {p.name for p in preset.params} if preset else set()
    unknown = sorted(set(pairs) - known)
    if unknown:
        accepted = ", ".join(sorted(known)) or "none (this preset takes no parameters)"
        raise HookSpecError(f"{what} names {unknown[0]!r}: accepted is {accepted}")
    if preset is not None:
        check_params(preset, pairs, what)  # refused now, when the declaration is read, not in the pod
    return pairs


def _preset(value: Any, what: str) -> Preset | None:
    if value is None or value == "":
        return None
    preset = find_preset(str(value))
    if preset is None:
        from dr_lib.hooks.presets import PRESETS  # noqa: PLC0415 - only for the message

        raise HookSpecError(f"{what} is {value!r}: accepted is one of {', '.join(PRESETS)}")
    return preset


@dataclass(frozen=True)
class _Declared:
    """One declaration's raw values, whichever syntax it came in."""

    where: str
    get: Any  # (phase | None, key) -> value | None
    key_name: Any  # (phase | None, key) -> how the report names it


def _plan(namespace: str, pod: str, source: str, declared: _Declared, defaults: Defaults) -> PodPlan | None:
    get, key = declared.get, declared.key_name
    preset = _preset(get(None, "preset"), key(None, "preset"))
    params = parse_params(get(None, "params"), preset, key(None, "params"))
    on_error = _on_error(get(None, "on-error"), key(None, "on-error"), defaults.on_error)
    default_container = get(None, "container")
    hooks: dict[str, Hook] = {}
    for phase in PHASES:
        raw = get(phase, "command")
        command = parse_command(raw, key(phase, "command")) if raw is not None else (
            preset_command(preset, phase, params) if preset else None)
        if command is None:
            continue
        hooks[phase] = Hook(
            phase, command, get(phase, "container") or default_container,
            _timeout(get(phase, "timeout"), key(phase, "timeout"), defaults),
            _on_error(get(phase, "on-error"), key(phase, "on-error"), on_error),
            magic=preset.magic if preset and phase == "dump" and raw is None else (),
            max_output=defaults.max_dump_bytes if phase == "dump" else None)
    volumes = _volumes(get(None, "volumes"), key(None, "volumes"))
    if not hooks and not volumes:
        return None
    mode = _volume_mode(get(None, "volume-mode"), key(None, "volume-mode"), "pre" in hooks)
    name = str(get(None, "name") or (preset.name if preset else "dump"))
    if not _NAME.match(name):
        raise HookSpecError(f"{key(None, 'name')} is {name!r}: accepted is a lower-case name (letters, digits, -._)")
    return PodPlan(namespace, pod, source, name, preset.name if preset else None, hooks, volumes, mode, on_error,
                   params)


def _volumes(value: Any, what: str) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    names = tuple(str(v).strip() for v in items if str(v).strip())
    bad = [n for n in names if not _NAME.match(n)]
    if bad:
        raise HookSpecError(f"{what} names {bad[0]!r}: accepted is a comma-separated list of pod volume names")
    return names


def _volume_mode(value: Any, what: str, has_pre: bool) -> str:
    if value is None or value == "":
        return "quiesced" if has_pre else "consistent-enough"
    mode = str(value).strip().lower()
    if mode not in VOLUME_MODES:
        raise HookSpecError(f"{what} is {value!r}: accepted is quiesced or consistent-enough")
    if mode == "quiesced" and not has_pre:
        raise HookSpecError(f"{what} is quiesced but no pre hook is declared to quiesce the workload: declare "
                            f"{PHASE_PREFIX['pre']}/command, or accept consistent-enough")
    return mode


def _annotation_key(phase: str | None, key: str) -> str:
    if phase is not None:
        return f"{PHASE_PREFIX[phase]}/{key}"
    if key in ("volumes", "volume-mode"):
        return f"backup.{DOMAIN}/{key}"
    return f"hook.{DOMAIN}/{'preset-params' if key == 'params' else key}"


def plan_from_annotations(pod: Mapping[str, Any], defaults: Defaults) -> PodPlan | None:
    """The pod's plan from its annotations; None when it declares nothing. Raises HookSpecError.

    Their hooks default to ``defaults.annotation_on_error`` (continue), not to the rules' policy.
    """
    meta = pod.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
    where = f"pod {namespace}/{name}: annotation"
    return _plan(namespace, name, "annotations", _Declared(
        where, lambda phase, key: annotations.get(_annotation_key(phase, key)),
        lambda phase, key: f"{where} {_annotation_key(phase, key)}"),
        replace(defaults, on_error=defaults.annotation_on_error))


_RULE_KEY = {"on-error": "on_error", "volume-mode": "volume_mode"}


def plan_from_rule(pod: Mapping[str, Any], rule: Mapping[str, Any], index: int, defaults: Defaults) -> PodPlan | None:
    """A config rule applied to a pod it matches. Raises HookSpecError naming ``hooks.rules[index]``."""
    meta = pod.get("metadata") or {}
    namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
    where = f"config hooks.rules[{index}]"

    def get(phase: str | None, key: str) -> Any:
        if phase is None:
            return rule.get(_RULE_KEY.get(key, key))
        if key == "command":
            return rule.get(phase)
        if key == "container":
            return None  # one container per rule
        # timeout and on_error apply to every hook of the rule
        return None

    def key_name(phase: str | None, key: str) -> str:
        return f"{where}.{phase}" if phase is not None and key == "command" else f"{where}.{_RULE_KEY.get(key, key)}"

    return _plan(namespace, name, f"config rule {index}", _Declared(where, get, key_name),
                 replace(defaults, timeout=_timeout(rule.get("timeout"), f"{where}.timeout", defaults),
                         on_error=_on_error(rule.get("on_error"), f"{where}.on_error", defaults.on_error)))


def _honoured(pod: Mapping[str, Any], defaults: Defaults) -> bool:
    return annotations_honoured(str((pod.get("metadata") or {}).get("namespace", "")), defaults)


def plan_for_pod(pod: Mapping[str, Any], rules: tuple[Mapping[str, Any], ...], defaults: Defaults) -> PodPlan | None:
    """Annotations win (the workload's own declaration) where they are honoured; else the first
    config rule that matches."""
    plan = plan_from_annotations(pod, defaults) if _honoured(pod, defaults) else None
    if plan is not None:
        return plan
    for index, rule in enumerate(rules):
        if rule_matches(rule, pod):
            return plan_from_rule(pod, rule, index, defaults)
    return None


def declaration_on_error(pod: Mapping[str, Any], rules: tuple[Mapping[str, Any], ...], defaults: Defaults) -> str:
    """The policy that judges a pod whose declaration is wrong (:class:`HookSpecError`): the
    annotations' own on-error, else their default, when annotations declared it; else the rule's."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    if _honoured(pod, defaults) and declares_hooks(annotations):
        said = str(annotations.get(ON_ERROR_KEY, "")).strip().lower()
        return said if said in ON_ERROR else defaults.annotation_on_error
    rule = next((r for r in rules if rule_matches(r, pod)), None)
    said = str((rule or {}).get("on_error", "")).strip().lower()
    return said if said in ON_ERROR else defaults.on_error
