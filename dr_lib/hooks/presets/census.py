"""What a MongoDB dump holds, read from mongodump's own report, and what the verify step must find.

mongodump logs one line per collection it wrote, on stderr: ``done dumping db.coll (12
documents)`` — since mongo-tools 100.16 the namespace is Go-quoted (``%#q``: backquoted, or
double-quoted with escapes when it holds a backquote or a control character) — and, with
``--oplog``, ``dumped 3 oplog entries``. The dump script passes those lines on and ends with
``k3s-dr-census: replica-set <name|none>``. :func:`mongodb_census` turns them into the census
recorded in the dump's meta; :func:`mongodb_census_env` turns a census (read back from an
archive: untrusted) into the expected lines the verify script compares with what ``mongosh``
counts, and whether the restore replays an oplog.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Mapping
from typing import Any

_DONE = re.compile(r"done dumping (?P<ns>`[^`]*`|\"(?:[^\"\\]|\\.)*\"|\S+) \((?P<n>\d+) documents?\)")
_OPLOG = re.compile(r"dumped (?P<n>\d+) oplog entr(?:y|ies)")
_MARK = re.compile(r"^k3s-dr-census: replica-set (?P<rs>\S+)\s*$", re.MULTILINE)
SYSTEM_DATABASES = ("admin", "config", "local")  # differ between servers by design; never compared
MAX_EXPECT_BYTES = 64 * 1024  # the lines travel inside one argument of the exec (the kernel allows 128 KiB)


def _namespace(raw: str) -> str:
    if raw.startswith("`"):
        return raw[1:-1]
    if raw.startswith('"'):
        return codecs.decode(raw[1:-1], "unicode_escape") if "\\" in raw else raw[1:-1]
    return raw


def mongodb_census(stderr: bytes) -> dict[str, Any] | None:
    """The census of one dump from the dump hook's stderr; None when the script's mark is missing."""
    text = stderr.decode("utf-8", "replace")
    mark = _MARK.search(text)
    if mark is None:
        return None
    collections = {_namespace(m["ns"]): int(m["n"]) for m in _DONE.finditer(text)}
    oplog = _OPLOG.search(text)
    replica_set = mark["rs"] if mark["rs"] != "none" else None
    return {"collections": collections, "replica_set": replica_set, "oplog": replica_set is not None,
            "oplog_entries": int(oplog["n"]) if oplog else None}


def _line(*items: Any) -> str:
    # the form mongosh's JSON.stringify prints, so the two sides compare as text
    return json.dumps(list(items), ensure_ascii=False, separators=(",", ":"))


def expected_lines(census: Mapping[str, Any]) -> tuple[list[str], str]:
    """(lines the verify step must find, a note on what is not compared)."""
    collections = census.get("collections")
    if not isinstance(collections, Mapping):
        return [], "no collections in the census"
    entries = census.get("oplog_entries")
    replayed = isinstance(entries, int) and not isinstance(entries, bool) and entries > 0
    lines, gridfs = [], set()
    for namespace, count in sorted(collections.items()):
        database, dot, collection = str(namespace).partition(".")
        if not dot or database in SYSTEM_DATABASES or not isinstance(count, int) or isinstance(count, bool):
            continue
        if collection == "fs.files":
            gridfs.add(database)
        if not replayed:
            lines.append(_line(database, collection, count))
    lines += [_line("gridfs", database, 0) for database in sorted(gridfs)]
    note = (f"{entries} oplog entries were replayed on top of the collections as dumped, so document counts are "
            "not compared (GridFS consistency is)" if replayed else "")
    return lines, note


def mongodb_census_env(census: Mapping[str, Any]) -> dict[str, str]:
    lines, note = expected_lines(census)
    text = "\n".join(lines)
    if len(text.encode()) > MAX_EXPECT_BYTES:
        text, note = "", f"the census lists {len(lines)} counts, more than one exec argument carries: none compared"
    return {"K3S_DR_OPLOG": "1" if census.get("oplog") is True else "0", "K3S_DR_EXPECT": text,
            "K3S_DR_EXPECT_NOTE": note}
