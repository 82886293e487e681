"""The data repository's fast key, its pure parts: restic's key format sealed and opened, hostile key files refused."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from dr_lib.datarepo import fastkey
from dr_lib.errors import IntegrityError

PASSWORD = b"0123456789abcdef" * 4
MASTER = json.dumps({"mac": {"k": "a", "r": "b"}, "encrypt": "c"}).encode()


def key_document(master: bytes = MASTER, password: bytes = PASSWORD) -> dict[str, object]:
    raw = fastkey.fast_key_document(master, password, salt=bytes(64), nonce=bytes(16), created="2026-12-05T00:00:00Z")
    document: dict[str, object] = json.loads(raw)
    return document


def test_a_fast_key_opens_to_the_same_master_key_and_is_recognised() -> None:
    document = key_document()
    assert fastkey.master_key(document, PASSWORD) == MASTER
    assert fastkey.is_fast(document)
    assert (document["N"], document["r"], document["p"]) == (1024, 8, 1)


def _flip_data(document: dict[str, object]) -> dict[str, object]:
    sealed = bytearray(base64.b64decode(str(document["data"])))
    sealed[20] ^= 1
    return {**document, "data": base64.b64encode(bytes(sealed)).decode()}


@pytest.mark.parametrize(("change", "password", "message"), [
    (lambda d: d, b"another password", "does not open"),
    (_flip_data, PASSWORD, "does not open"),
    (lambda d: {**d, "N": 1 << 24}, PASSWORD, "not opened"),  # 2 GiB of scrypt memory: refused before deriving
    (lambda d: {**d, "N": 1 << 16, "r": 1, "p": 1 << 12}, PASSWORD, "not opened"),  # little memory, hours of CPU
    (lambda d: {**d, "p": 0}, PASSWORD, "not opened"),
    (lambda d: {**d, "kdf": "argon2"}, PASSWORD, "not scrypt"),
    (lambda d: {**d, "N": "1024"}, PASSWORD, "not scrypt"),
    (lambda d: {**d, "salt": "not base64!"}, PASSWORD, "no valid 'salt'"),
    (lambda d: {**d, "data": base64.b64encode(b"short").decode()}, PASSWORD, "too short"),
], ids=["other password", "tampered data", "huge N", "huge p", "zero p", "other kdf", "N as text", "bad salt",
        "short data"])
def test_hostile_key_documents_are_refused(change: Callable[[dict[str, object]], dict[str, object]], password: bytes,
                                           message: str) -> None:
    with pytest.raises(IntegrityError, match=message):
        fastkey.master_key(change(key_document()), password)


def test_a_master_key_that_is_not_restics_json_is_refused() -> None:
    with pytest.raises(IntegrityError, match="lacks"):
        fastkey.master_key(key_document(master=b'{"other": 1}'), PASSWORD)


def test_only_bounded_well_named_key_files_are_read(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    good = json.dumps(key_document()).encode()
    (keys / ("a" * 64)).write_bytes(good)
    (keys / ("b" * 64)).write_bytes(b"x" * (fastkey.MAX_KEY_BYTES + 1))  # oversized: not parsed
    (keys / ("c" * 64)).write_bytes(b"not json")
    (keys / "short-name").write_bytes(good)
    os.symlink(keys / ("a" * 64), keys / ("d" * 64))  # a link is not a key file
    assert [name for name, _ in fastkey.key_documents(tmp_path)] == ["a" * 64]
    assert fastkey.fast_key_hint(tmp_path) == "a" * 64
    assert fastkey.fast_key_hint(tmp_path / "missing") is None
