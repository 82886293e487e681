"""The resources files: a YAML stream of JSON documents, written and read without a YAML library.

Every object is one document: a ``---`` line, then the object as JSON with its top-level
fields one per line. JSON is valid YAML, so kubectl, yq and PyYAML read the files, while we
write and read them with the C ``json`` codec, ~20x faster than PyYAML (which alone needs
more than 5 s for 10,000 ConfigMaps). A line that is exactly ``---`` cannot occur inside a
JSON text (strings cannot hold a raw newline), so documents are split on that line alone.

A few characters are valid in JSON strings but not as raw characters in YAML (C1 controls,
NEL and the Unicode line separators that YAML 1.1 treats as line breaks, surrogates,
non-characters): they are written as ``\\uXXXX`` escapes, which both languages decode alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import IO, Any

from dr_lib.archive import format as fmt
from dr_lib.errors import IntegrityError

_encode = json.JSONEncoder(ensure_ascii=False, check_circular=False, allow_nan=False).encode
_NOT_YAML_SAFE = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]")
_SEPARATOR = b"\n" + fmt.DOCUMENT_SEPARATOR  # a "---" line, seen from the end of the previous line
_CHUNK = 1024 * 1024


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group(0)):04x}"


def encode_object(obj: dict[str, Any]) -> str:
    """One document (separator line included) for one API object."""
    fields = ",\n ".join([f"{_encode(key)}: {_encode(value)}" for key, value in obj.items()])
    return f"---\n{{{fields}}}\n"


def encode_documents(objects: Iterable[dict[str, Any]]) -> bytes:
    """The YAML stream text of several objects, as UTF-8."""
    text = "".join([encode_object(obj) for obj in objects])
    if _NOT_YAML_SAFE.search(text) is not None:
        text = _NOT_YAML_SAFE.sub(_escape, text)
    return text.encode("utf-8")


def iter_documents(stream: IO[bytes], *, where: str, max_document: int = fmt.MAX_DOCUMENT_BYTES) -> Iterator[bytes]:
    """The raw documents of a YAML stream, one at a time, with memory bounded by ``max_document``."""
    buffer = bytearray(b"\n")  # so the first "---" line is found like every other
    start: int | None = None  # where the current document begins; None before the first "---"
    scan = 0
    while True:
        chunk = stream.read(_CHUNK)
        buffer += chunk
        while (found := buffer.find(_SEPARATOR, scan)) >= 0:
            if start is None and found != 0:
                raise IntegrityError(f"{where}: text before the first '---' line")
            if start is not None:
                yield bytes(buffer[start:found])
            start = scan = found + len(_SEPARATOR)
        if start:
            del buffer[:start]
            scan -= start
            start = 0
        scan = max(scan, len(buffer) - len(_SEPARATOR) + 1)
        if len(buffer) > max_document:
            raise IntegrityError(f"{where}: a document is larger than {max_document} bytes")
        if not chunk:
            break
    if start is None:
        if buffer.strip():
            raise IntegrityError(f"{where}: no '---' line; not a k3s-dr resources file")
        return
    if not buffer.endswith(b"\n"):
        raise IntegrityError(f"{where}: the last document is cut off (no final newline)")
    yield bytes(buffer[:-1])


def parse_document(raw: bytes, *, where: str) -> dict[str, Any]:
    """One document as an API object: a JSON object with ``apiVersion`` and ``kind``."""
    try:
        obj = json.loads(raw)
    except ValueError as exc:
        raise IntegrityError(f"{where}: document does not parse: {exc}") from None
    if not isinstance(obj, dict):
        raise IntegrityError(f"{where}: document is {type(obj).__name__}, not an object")
    if not isinstance(obj.get("apiVersion"), str) or not isinstance(obj.get("kind"), str):
        raise IntegrityError(f"{where}: document has no apiVersion/kind")
    return obj
