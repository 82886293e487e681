"""YAML read from outside, with limits: what ``kubectl get -o yaml`` writes, and nothing that can hurt.

PyYAML's safe loader refuses Python objects, but not a "billion laughs" (aliases of aliases that
expand to gigabytes once constructed), nor nesting deep enough to exhaust the recursion limit.
kubectl never writes anchors, aliases or tags, so the events are scanned first (libyaml, in C:
nothing is constructed) and any anchor, alias or explicit tag is refused, as is nesting deeper
than :data:`MAX_DEPTH`; only then is the text constructed. The size is bounded by the caller (the
member's bytes). Timestamps stay strings, as the API server wrote them.
"""

from __future__ import annotations

from typing import Any

import yaml

from dr_lib.errors import IntegrityError

MAX_DEPTH = 100  # kubectl objects nest ~20 deep; a CRD's schema perhaps 60
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_BASE: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BASE):  # type: ignore[misc]  # PyYAML's C loader, or its Python one when libyaml is missing
    """The safe loader without the timestamp resolver: ``creationTimestamp`` stays the text it was."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != _TIMESTAMP]
    for first, resolvers in _BASE.yaml_implicit_resolvers.items()
}

_OPENS = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSES = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def _scan(text: str, where: str) -> int:
    """Refuse what kubectl never writes and a loader would pay for; the number of documents."""
    depth = documents = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise IntegrityError(f"{where}: YAML anchors and aliases are refused (kubectl never writes them; "
                                 "they can expand without bound)")
        tag = getattr(event, "tag", None)
        if tag not in (None, "!") and not (isinstance(event, yaml.ScalarEvent) and event.implicit[0]):
            raise IntegrityError(f"{where}: the YAML tag {tag[:60]!r} is refused (kubectl never writes tags)")
        if isinstance(event, _OPENS):
            depth += 1
            if depth > MAX_DEPTH:
                raise IntegrityError(f"{where}: YAML nested deeper than {MAX_DEPTH} levels is refused")
        elif isinstance(event, _CLOSES):
            depth -= 1
        elif isinstance(event, yaml.DocumentStartEvent):
            documents += 1
    return documents


def load_documents(data: bytes, where: str) -> list[Any]:
    """Every document of ``data`` (UTF-8 YAML), checked by :func:`_scan` before anything is constructed."""
    try:
        text = data.decode("utf-8")
        _scan(text, where)
        return list(yaml.load_all(text, Loader=_Loader))  # the safe loader, scanned above
    except UnicodeDecodeError as exc:
        raise IntegrityError(f"{where}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise IntegrityError(f"{where}: not valid YAML{at}: {getattr(exc, 'problem', None) or type(exc).__name__}") \
            from None
    except RecursionError:
        raise IntegrityError(f"{where}: YAML nested too deeply to read") from None
