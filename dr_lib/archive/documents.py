"""The resources files: a YAML stream of JSON documents, written and read without a YAML library.

Every object is one document: a ``---`` line, then the object as JSON with its top-level
fields one per line. JSON is valid YAML, so kubectl, yq and PyYAML read the files, while we
write them with orjson and read them with the C ``json`` codec, ~20x faster than PyYAML
(which alone needs more than 5 s for 10,000 ConfigMaps). A line that is exactly ``---``
cannot occur inside a JSON text (strings cannot hold a raw newline), so documents are split
on that line alone.

A few characters are valid in JSON strings but not as raw characters in YAML (C1 controls,
NEL and the Unicode line separators that YAML 1.1 treats as line breaks, surrogates,
non-characters): they are written as ``\\uXXXX`` escapes, which both languages decode alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import IO, Any

import orjson

from dr_lib.archive import format as fmt
from dr_lib.errors import IntegrityError

_dumps = orjson.dumps
_encode = json.JSONEncoder(ensure_ascii=False, check_circular=False, allow_nan=False).encode
# raw_decode on text: half the per-document cost of json.loads on bytes (no encoding sniffing).
_decode = json.JSONDecoder().raw_decode
_NOT_YAML_SAFE = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]")
# The same characters as orjson writes them (UTF-8; it never writes surrogates).
_NOT_YAML_SAFE_UTF8 = re.compile(rb"\x7f|\xc2[\x80-\x9f]|\xe2\x80[\xa8\xa9]|\xef\xbb\xbf|\xef\xbf[\xbe\xbf]")
_SEPARATOR = b"\n" + fmt.DOCUMENT_SEPARATOR  # a "---" line, seen from the end of the previous line
_CHUNK = 1024 * 1024


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group(0)):04x}"


def _escape_utf8(match: re.Match[bytes]) -> bytes:
    return f"\\u{ord(match.group(0).decode('utf-8')):04x}".encode("ascii")


def _encode_object_stdlib(obj: dict[str, Any]) -> bytes:
    fields = ",\n ".join([f"{_encode(key)}: {_encode(value)}" for key, value in obj.items()])
    text = f"---\n{{{fields}}}\n"
    if _NOT_YAML_SAFE.search(text) is not None:
        text = _NOT_YAML_SAFE.sub(_escape, text)
    return text.encode("utf-8")


def encode_object(obj: dict[str, Any]) -> bytes:
    """One document (separator line included) for one API object, as UTF-8.

    orjson writes the values (~6x faster than the standard library here, which matters: a
    backup encodes every object while the next LIST page arrives); what it refuses — an
    integer beyond 64 bits, a lone surrogate — is written by the standard library instead.
    """
    try:
        fields = b",\n ".join([_dumps(key) + b": " + _dumps(value) for key, value in obj.items()])
    except orjson.JSONEncodeError:
        return _encode_object_stdlib(obj)
    data = b"---\n{" + fields + b"}\n"
    if _NOT_YAML_SAFE_UTF8.search(data) is not None:
        data = _NOT_YAML_SAFE_UTF8.sub(_escape_utf8, data)
    return data


def encode_documents(objects: Iterable[dict[str, Any]]) -> bytes:
    """The YAML stream text of several objects, as UTF-8."""
    return b"".join([encode_object(obj) for obj in objects])


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


def _checked(obj: Any, where: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise IntegrityError(f"{where}: document is {type(obj).__name__}, not an object")
    if not isinstance(obj.get("apiVersion"), str) or not isinstance(obj.get("kind"), str):
        raise IntegrityError(f"{where}: document has no apiVersion/kind")
    return obj


def parse_document(raw: bytes, *, where: str) -> dict[str, Any]:
    """One document as an API object: a JSON object with ``apiVersion`` and ``kind``, exactly."""
    try:
        text = raw.decode("utf-8")
        start = len(text) - len(text.lstrip())
        obj, end = _decode(text, start)
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError included
        raise IntegrityError(f"{where}: document does not parse: {str(exc)[:200]}") from None
    except RecursionError:  # the decoder recurses once per nesting level: [[[[… ends here
        raise IntegrityError(f"{where}: document is nested too deeply to be an API object") from None
    if text[end:].strip():
        raise IntegrityError(f"{where}: document does not parse: extra data at character {end}")
    return _checked(obj, where)


def check_document(raw: bytes, *, where: str) -> dict[str, Any]:
    """:func:`parse_document`'s verdict, twice as fast, for checks that drop the object.

    orjson reads integers beyond 64 bits as floats, so its objects are not restored from; what it
    refuses but the json module reads (a lone surrogate escape, 1e400) is judged by the latter.
    """
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return parse_document(raw, where=where)
    return _checked(obj, where)
