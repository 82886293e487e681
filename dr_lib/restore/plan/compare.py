"""Semantic comparison of an archive object with its live counterpart (both sanitized).

"Archive ⊆ live": every field the archive holds must be live with the same value; fields
present only live are taken as server defaults (a newer API server defaults more fields)
and ignored — except in maps that are user content (labels, annotations, data), where an
extra key is a real difference. Lists compare element by element. Secret values are never
shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dr_lib.jsontypes import JSONObject

STRICT_MAPS: frozenset[tuple[str, ...]] = frozenset({
    ("metadata", "labels"), ("metadata", "annotations"), ("data",), ("binaryData",), ("stringData",),
})
REDACTED_KINDS = frozenset({"Secret"})
MAX_VALUE_CHARS = 80


@dataclass(frozen=True)
class Difference:
    path: str
    change: str  # "missing live" | "changed" | "extra live"
    archive: str | None
    live: str | None

    def __str__(self) -> str:
        if self.change == "changed":
            return f"{self.path}: {self.archive} → {self.live}"
        value = self.archive if self.change == "missing live" else self.live
        return f"{self.path}: {self.change} ({value})"


def _show(value: Any, redact: bool) -> str:
    if redact:
        return "<redacted>"
    text = repr(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def _path(parts: tuple[str, ...]) -> str:
    text = ""
    for part in parts:
        text += part if part.startswith("[") else ("." + part if text else part)
    return text


def _same_scalar(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)


class _Comparer:
    def __init__(self, redact: bool) -> None:
        self.redact = redact
        self.differences: list[Difference] = []

    def add(self, parts: tuple[str, ...], change: str, archive: Any, live: Any) -> None:
        redact = self.redact and bool(parts) and parts[0] in ("data", "stringData", "binaryData")
        self.differences.append(Difference(
            _path(parts), change,
            None if change == "extra live" else _show(archive, redact),
            None if change == "missing live" else _show(live, redact),
        ))

    def compare(self, archive: Any, live: Any, parts: tuple[str, ...]) -> None:
        if isinstance(archive, dict) and isinstance(live, dict):
            self._dicts(archive, live, parts)
        elif isinstance(archive, list) and isinstance(live, list):
            if len(archive) != len(live):
                self.add(parts, "changed", archive, live)
                return
            for index, (a, b) in enumerate(zip(archive, live, strict=True)):
                self.compare(a, b, (*parts, f"[{index}]"))
        elif not _same_scalar(archive, live):
            self.add(parts, "changed", archive, live)

    def _dicts(self, archive: dict[str, Any], live: dict[str, Any], parts: tuple[str, ...]) -> None:
        for key, value in archive.items():
            if key not in live:
                if value not in (None, {}, [], ""):  # empty and absent mean the same to the API server
                    self.add((*parts, key), "missing live", value, None)
                continue
            self.compare(value, live[key], (*parts, key))
        for key in live.keys() - archive.keys():
            if parts in STRICT_MAPS or ((*parts, key) in STRICT_MAPS and live[key]):
                self.add((*parts, key), "extra live", None, live[key])


def compare_objects(archive: JSONObject, live: JSONObject) -> list[Difference]:
    """Differences between a sanitized archive object and the sanitized live object."""
    comparer = _Comparer(redact=archive.get("kind") in REDACTED_KINDS)
    comparer.compare(archive, live, ())
    return comparer.differences
