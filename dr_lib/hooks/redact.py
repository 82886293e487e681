"""Keep hook secrets out of every message, report, log line and manifest.

A hook's stderr is the only way to say *why* it failed, and it is also where a careless
script prints its password. Before any text from a pod is kept, every secret the pod's
containers can see is replaced by ``***``: the values of Secrets they reference
(``secretKeyRef``, ``envFrom.secretRef``), and literal env values whose names say they are
credentials. Commands are never recorded at all (a hook is named by its phase and preset).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dr_lib.kube.client import Kube

MASK = "***"
MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words and digits
_CREDENTIAL_NAME = re.compile(r"(?i)(pass|pwd|secret|token|key|credential|auth)")


@dataclass(frozen=True)
class Redactor:
    secrets: frozenset[str] = frozenset()

    def __call__(self, text: str) -> str:
        for value in sorted(self.secrets, key=len, reverse=True):
            if value in text:
                text = text.replace(value, MASK)
        return text

    def with_values(self, values: Iterable[str]) -> Redactor:
        return Redactor(self.secrets | _variants(values))


def _variants(values: Iterable[str]) -> frozenset[str]:
    found: set[str] = set()
    for value in values:
        for line in value.splitlines() or [value]:
            if len(line.strip()) >= MIN_SECRET_LENGTH:
                found.add(line.strip())
        if len(value) >= MIN_SECRET_LENGTH:
            found.add(value)
            found.add(base64.b64encode(value.encode()).decode())
    return frozenset(found)


def secret_refs(pod: Mapping[str, Any]) -> tuple[set[tuple[str, str | None]], set[str]]:
    """(secret name, key or None for every key) pairs the pod's containers read, and literal credential values."""
    refs: set[tuple[str, str | None]] = set()
    literals: set[str] = set()
    spec = pod.get("spec") or {}
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        for env in container.get("env") or []:
            ref = ((env.get("valueFrom") or {}).get("secretKeyRef")) or {}
            if ref.get("name"):
                refs.add((str(ref["name"]), str(ref.get("key")) if ref.get("key") else None))
            elif isinstance(env.get("value"), str) and _CREDENTIAL_NAME.search(str(env.get("name", ""))):
                literals.add(env["value"])
        for source in container.get("envFrom") or []:
            name = (source.get("secretRef") or {}).get("name")
            if name:
                refs.add((str(name), None))
    return refs, literals


def _decoded(value: Any) -> str | None:
    try:
        return base64.b64decode(str(value)).decode("utf-8", "replace")
    except (ValueError, TypeError):
        return None


def redactor_for_pod(kube: Kube, pod: Mapping[str, Any]) -> Redactor:
    """A redactor that masks every secret the pod can see (a Secret we cannot read masks nothing extra)."""
    namespace = str((pod.get("metadata") or {}).get("namespace", ""))
    refs, literals = secret_refs(pod)
    values = set(literals)
    cache: dict[str, Mapping[str, Any]] = {}
    for name, key in refs:
        if name not in cache:
            response = kube.request("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}")
            cache[name] = (response.body.get("data") or {}) if response.ok else {}
        data = cache[name]
        for item_key, raw in data.items():
            if key is None or item_key == key:
                decoded = _decoded(raw)
                if decoded:
                    values.add(decoded)
    return Redactor().with_values(values)


def tail_text(raw: bytes, redactor: Redactor, limit: int = 600) -> str:
    """The last ``limit`` characters of a command's output, decoded and redacted, on one line."""
    text = redactor(raw.decode("utf-8", "replace"))
    text = " | ".join(line.strip() for line in text.strip().splitlines() if line.strip())
    return text if len(text) <= limit else "…" + text[-limit:]
