"""What a hook declaration gets when it says nothing, the limits it may not pass, and whose
annotations count at all. Pure.

Pod annotations are written by whoever may edit a workload — in a shared cluster, a tenant.
They must not be able to hold the cluster's backup hostage: hooks declared there default to
``on-error: continue`` (a failure leaves that pod's data out and marks the backup partial), an
operator may honour annotations only in some namespaces (``hooks.annotation_namespaces``), no
hook may ask for a timeout above ``hooks.max_timeout``, and no dump may grow past
``hooks.max_dump_size``. Config rules are the operator's own: they keep ``hooks.on_error``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DOMAIN = "k3s-dr.io"
GIB = 1 << 30
# Every key the hooks read from a pod's annotations (docs/hooks.md has the table).
_HOOK_ANNOTATION = re.compile(rf"^(?:[a-z]+\.hook\.(?:backup|restore)\.|hook\.|backup\.){re.escape(DOMAIN)}/")


@dataclass(frozen=True)
class Defaults:
    """Defaults and ceilings of hook declarations (from the config section ``hooks``)."""

    timeout: float = 600.0
    on_error: str = "fail"  # hooks of config rules
    annotation_on_error: str = "continue"  # hooks of pod annotations
    max_timeout: float = 3600.0
    max_dump_bytes: int = 16 * GIB
    annotation_namespaces: frozenset[str] = frozenset()  # empty: annotations count in every namespace


def declares_hooks(annotations: Mapping[str, Any]) -> bool:
    """Whether any annotation is one of the hooks' own keys."""
    return any(_HOOK_ANNOTATION.match(str(key)) for key in annotations)


def annotations_honoured(namespace: str, defaults: Defaults) -> bool:
    return not defaults.annotation_namespaces or namespace in defaults.annotation_namespaces


def ignored_annotations(pod: Mapping[str, Any], defaults: Defaults) -> str | None:
    """Why this pod's hook annotations are ignored (its namespace is not allowed), or None."""
    meta = pod.get("metadata") or {}
    namespace = str(meta.get("namespace", ""))
    if annotations_honoured(namespace, defaults) or not declares_hooks(meta.get("annotations") or {}):
        return None
    allowed = ", ".join(sorted(defaults.annotation_namespaces))
    return (f"pod {namespace}/{meta.get('name', '')}: hook annotations ignored: namespace {namespace!r} is not "
            f"in hooks.annotation_namespaces ({allowed})")


def human_bytes(count: int) -> str:
    """``16 GiB``, ``500 MiB``, ``123 bytes``: how a size limit is named in a message."""
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= size and count % size == 0:
            return f"{count // size} {unit}"
    return f"{count} bytes"
