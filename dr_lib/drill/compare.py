"""Semantic equality of a backed-up object and its restored counterpart. Pure.

Both sides are sanitized by the restore planner's rules first (what a restore deliberately
does not carry over: uids, resourceVersions, status, cluster IPs, bind data, …). Then every
field the backed-up object has must be in the live object with the same value; fields only
the live object has are ones the target API server filled in (defaults, a new cluster IP) and
do not count — except in maps that hold user content (labels, annotations, ConfigMap and
Secret data), where a key only the restored object has is a difference too. Lists are compared
element by element and must have the same length: a lost container, port or rule is a difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dr_lib.drill.redact import REDACTED, is_secret

MAX_VALUE_CHARS = 120
MAX_DIFFERENCES = 20


@dataclass(frozen=True)
class Difference:
    path: str
    expected: str
    actual: str

    def __str__(self) -> str:
        return f"{self.path}: backed up {self.expected}, restored {self.actual}"

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "backed_up": self.expected, "restored": self.actual}


def _show(value: Any) -> str:
    if value is _MISSING:
        return "(absent)"
    text = repr(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


class _Missing:
    def __repr__(self) -> str:
        return "(absent)"


_MISSING = _Missing()


# Maps of user content: every key counts, on both sides.
STRICT_MAPS = frozenset({"metadata.labels", "metadata.annotations", "data", "binaryData", "stringData"})


def _walk(expected: Any, actual: Any, path: str, out: list[Difference], hide: bool) -> None:
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            out.append(Difference(path or ".", "a mapping", _show(actual) if not hide else REDACTED))
            return
        for key, value in expected.items():
            child = f"{path}.{key}" if path else str(key)
            _walk(value, actual.get(key, _MISSING), child, out, hide)
        if path in STRICT_MAPS:
            for key in sorted(set(actual) - set(expected)):
                shown = REDACTED if hide else _show(actual[key])
                out.append(Difference(f"{path}.{key}", "(absent)", shown))
        return
    if hide and isinstance(actual, dict):
        out.append(Difference(path, REDACTED, "a mapping"))
        return
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            got = f"{len(actual)} items" if isinstance(actual, list) else _show(actual)
            out.append(Difference(path, f"{len(expected)} items", got if not hide else REDACTED))
            return
        for index, (want, have) in enumerate(zip(expected, actual, strict=True)):
            _walk(want, have, f"{path}[{index}]", out, hide)
        return
    if expected != actual:
        if hide:
            out.append(Difference(path, REDACTED, "(absent)" if actual is _MISSING else f"{REDACTED} (differs)"))
        else:
            out.append(Difference(path, _show(expected), _show(actual)))


# Where a Secret's values live, or are copied (kubectl's last-applied annotation repeats them).
_SECRET_VALUE_PATHS = ("data", "stringData", "metadata.annotations")


def differences(backed_up: dict[str, Any], restored: dict[str, Any]) -> list[Difference]:
    """What of ``backed_up`` is not in ``restored``; Secret values are compared but never shown."""
    out: list[Difference] = []
    secret = is_secret(backed_up)
    for key, value in backed_up.items():
        if secret and key == "metadata" and isinstance(value, dict):
            live_meta = restored.get("metadata")
            live_meta = live_meta if isinstance(live_meta, dict) else {}
            for meta_key, meta_value in value.items():
                hide = meta_key == "annotations"
                _walk(meta_value, live_meta.get(meta_key, _MISSING), f"metadata.{meta_key}", out, hide)
            continue
        hide = secret and key in _SECRET_VALUE_PATHS
        _walk(value, restored.get(key, _MISSING), key, out, hide)
    for path in sorted(STRICT_MAPS):
        if _at(backed_up, path) is _MISSING and _at(restored, path) not in (_MISSING, {}):
            shown = REDACTED if secret else f"{len(_at(restored, path))} keys"
            out.append(Difference(path, "(absent)", shown))
    return out[:MAX_DIFFERENCES]


def _at(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return _MISSING
        obj = obj[part]
    return obj
