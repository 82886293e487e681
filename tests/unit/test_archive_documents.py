"""The resources-file codec: JSON documents in a YAML stream, split without a YAML parser."""

from __future__ import annotations

import io
import json

import pytest
import yaml

from dr_lib.archive.documents import encode_documents, encode_object, iter_documents, parse_document
from dr_lib.errors import IntegrityError


class Trickle(io.RawIOBase):
    """A stream that returns at most ``step`` bytes per read, to put separators across reads."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.step, self.pos = data, step, 0

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        chunk = self.data[self.pos:self.pos + min(self.step, size if size > 0 else self.step)]
        self.pos += len(chunk)
        return chunk


OBJECTS = [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "plain", "namespace": "ns"}, "data": {"a": "b"}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tricky"},
     "data": {"dashes": "---", "newline": "x\n---\ny", "unicode": "é😀", "c1": "\x85\x9f\x7f", "ls": "\u2028\u2029",
              "nul": "\x00", "bom": "\ufeff", "quote": '"\'\\', "yaml-ish": "key: value # no"}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nested"},
     "spec": {"replicas": 3, "flag": True, "none": None, "float": 1.5, "list": [1, [2, {"x": []}], {}]}},
    {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "empty"}},
]


def test_round_trip_through_our_reader() -> None:
    data = encode_documents(OBJECTS)
    docs = [parse_document(raw, where="t") for raw in iter_documents(io.BytesIO(data), where="t")]
    assert docs == OBJECTS


def test_every_document_is_yaml_that_pyyaml_reads_back_identically() -> None:
    assert list(yaml.safe_load_all(encode_documents(OBJECTS))) == OBJECTS


def test_top_level_fields_are_one_per_line_and_each_document_starts_with_a_separator() -> None:
    text = encode_object(OBJECTS[0]).decode()
    assert text.startswith("---\n{\"apiVersion\": \"v1\",\n \"kind\": \"ConfigMap\",\n")
    assert text.endswith("}\n")
    assert json.loads(text[4:]) == OBJECTS[0]


@pytest.mark.parametrize("value", [2**64 + 1, -(2**63) - 1, "lone \ud800 surrogate", "\x85 and \ud800"],
                         ids=["int beyond u64", "int below i64", "lone surrogate", "C1 and surrogate"])
def test_what_orjson_refuses_is_written_by_the_standard_library(value: object) -> None:
    obj = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"v": value}}
    data = encode_object(obj)
    assert data.startswith(b"---\n{\"apiVersion\": \"example.com/v1\",\n")
    assert parse_document(data[4:], where="t") == obj
    assert "\x85" not in data.decode("utf-8")


def test_orjson_and_standard_library_documents_read_back_alike() -> None:
    from dr_lib.archive.documents import _encode_object_stdlib  # noqa: PLC0415 - the fallback, compared

    for obj in OBJECTS:
        ours, stdlib = encode_object(obj), _encode_object_stdlib(obj)
        assert parse_document(ours[4:], where="t") == parse_document(stdlib[4:], where="t") == obj
        assert yaml.safe_load(ours) == yaml.safe_load(stdlib) == obj


def test_characters_yaml_refuses_raw_are_escaped() -> None:
    text = encode_documents(OBJECTS[1:2]).decode()
    assert "\\u2028" in text
    for raw in ("\x85", "\x9f", "\x7f", "\u2028", "\u2029", "\ufeff"):
        assert raw not in text
    assert "\\u0085" in text and "é😀" in text


@pytest.mark.parametrize("step", [1, 2, 3, 5, 7, 64, 4096])
def test_separators_split_across_reads_are_found(step: int) -> None:
    data = encode_documents(OBJECTS * 3)
    docs = list(iter_documents(Trickle(data, step), where="t"))  # type: ignore[arg-type]
    assert [json.loads(d) for d in docs] == OBJECTS * 3


def test_empty_stream_has_no_documents() -> None:
    assert list(iter_documents(io.BytesIO(b""), where="t")) == []


def test_compact_and_indented_json_documents_are_read_too() -> None:
    data = ("---\n" + json.dumps(OBJECTS[0]) + "\n---\n" + json.dumps(OBJECTS[2], indent=2) + "\n").encode()
    assert [json.loads(d) for d in iter_documents(io.BytesIO(data), where="t")] == [OBJECTS[0], OBJECTS[2]]


@pytest.mark.parametrize(("data", "reason"), [
    (b"garbage\n---\n{}\n", "before the first"),
    (b"{\"a\": 1}\n", "no '---' line"),
    (b"---\n{\"a\": 1}", "cut off"),
])
def test_malformed_streams_are_refused(data: bytes, reason: str) -> None:
    with pytest.raises(IntegrityError, match=reason):
        list(iter_documents(io.BytesIO(data), where="t"))


def test_an_oversized_document_is_refused_with_bounded_memory() -> None:
    data = b"---\n{\"a\": \"" + b"x" * 5000 + b"\"}\n"
    with pytest.raises(IntegrityError, match="larger than 1000 bytes"):
        list(iter_documents(Trickle(data, 100), where="t", max_document=1000))  # type: ignore[arg-type]


@pytest.mark.parametrize(("raw", "reason"), [
    (b"{not json", "does not parse"),
    (b"[1, 2]", "is list"),
    (b"{\"kind\": \"ConfigMap\"}", "no apiVersion/kind"),
    (b"{\"apiVersion\": \"v1\", \"kind\": 3}", "no apiVersion/kind"),
])
def test_documents_that_are_not_api_objects_are_refused(raw: bytes, reason: str) -> None:
    with pytest.raises(IntegrityError, match=reason):
        parse_document(raw, where="t")


@pytest.mark.parametrize("raw", [
    b'{"apiVersion": "v1", "kind": "ConfigMap"}',
    b'  {"apiVersion":"v1","kind":"ConfigMap","big":123456789012345678901234567890}\n',
    b'{"apiVersion": "v1", "kind": "ConfigMap", "s": "\\ud800"}',
    b'{"apiVersion": "v1", "kind": "ConfigMap", "f": 1e400}',
    b'{"apiVersion": "v1", "kind": "ConfigMap", "n": NaN}',
    b'{"apiVersion": "v1", "kind": "ConfigMap"} trailing',
    b'{"apiVersion": "v1", "kind": "ConfigMap", "c": "tab\there"}',
    b'\xef\xbb\xbf{"apiVersion": "v1", "kind": "ConfigMap"}',
    b'{"apiVersion": "v1", "kind": "ConfigMap", "u": "\xff"}',
    b'{"apiVersion": "v1"}',
    b'["apiVersion", "kind"]',
    b'',
], ids=["plain", "big int", "lone surrogate", "1e400", "NaN", "trailing data", "raw tab", "BOM", "bad utf-8",
        "no kind", "array", "empty"])
def test_the_fast_check_gives_the_exact_parsers_verdict(raw: bytes) -> None:
    from dr_lib.archive.documents import check_document  # noqa: PLC0415

    def verdict(parse: object) -> bool:
        try:
            parse(raw, where="t")  # type: ignore[operator]
        except IntegrityError:
            return False
        return True

    assert verdict(check_document) == verdict(parse_document)
