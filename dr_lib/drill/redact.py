"""Secrets never reach a report: object redaction, and a scrubber for any text.

Two layers, because one is not enough: objects are redacted where they are turned into report
data (a Secret's ``data`` values, and the last-applied annotation that repeats them), and every
file of the report directory is scrubbed of every secret value the archive holds, plain and
base64, before the sha256 manifest is written. Values are replaced, never hashed: a hash of a
short password is a dictionary lookup away from the password.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass

from dr_lib.jsontypes import JSONObject

REDACTED = "<redacted>"
# Shorter values are too likely to be ordinary words or numbers elsewhere in a report
# ("true", "8080"); such values are still removed from objects by :func:`redact_object`.
MIN_SCRUB_LENGTH = 8
_ANNOTATIONS_WITH_COPIES = ("kubectl.kubernetes.io/last-applied-configuration",)


def is_secret(obj: JSONObject) -> bool:
    return obj.get("kind") == "Secret" and str(obj.get("apiVersion", "v1")) == "v1"


def redact_object(obj: JSONObject) -> JSONObject:
    """A copy of ``obj`` safe to show: a Secret keeps its keys, never its values."""
    if not is_secret(obj):
        return obj
    copy = dict(obj)
    for field_name in ("data", "stringData"):
        values = obj.get(field_name)
        if isinstance(values, dict):
            copy[field_name] = {key: REDACTED for key in values}
    meta = obj.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("annotations"), dict):
        annotations = {k: (REDACTED if k in _ANNOTATIONS_WITH_COPIES else v) for k, v in meta["annotations"].items()}
        copy["metadata"] = {**meta, "annotations": annotations}
    return copy


def _decoded(value: str) -> str | None:
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def secret_strings(obj: JSONObject) -> set[str]:
    """Every form in which a Secret's values could appear in text: base64 as stored, and plain."""
    found: set[str] = set()
    if not is_secret(obj):
        return found
    for value in (obj.get("data") or {}).values():
        if not isinstance(value, str):
            continue
        found.add(value)
        plain = _decoded(value)
        if plain is not None:
            found.add(plain)
            found.update(line for line in plain.splitlines() if line)
    for value in (obj.get("stringData") or {}).values():
        if isinstance(value, str):
            found.add(value)
            found.add(base64.b64encode(value.encode()).decode())
    return {value for value in found if len(value.strip()) >= MIN_SCRUB_LENGTH}


@dataclass(frozen=True)
class Scrubber:
    """Replaces known secret values in text. Longest first, so a value containing another goes whole."""

    values: tuple[str, ...]

    @classmethod
    def of(cls, strings: Iterable[str]) -> Scrubber:
        unique = {s for s in strings if len(s.strip()) >= MIN_SCRUB_LENGTH}
        return cls(tuple(sorted(unique, key=lambda s: (-len(s), s))))

    def scrub(self, text: str) -> tuple[str, int]:
        """The text without secret values, and how many were replaced."""
        replaced = 0
        for value in self.values:
            count = text.count(value)
            if count:
                text = text.replace(value, REDACTED)
                replaced += count
        return text, replaced

    def found_in(self, text: str) -> list[str]:
        """Which values occur (for a test's message: never print the value itself)."""
        return [f"value #{i} ({len(v)} chars)" for i, v in enumerate(self.values) if v in text]
