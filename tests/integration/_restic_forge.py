"""Forge a restic snapshot straight into a real repository: trees restic's own ``backup`` never writes.

A test of hostile repository content needs a snapshot whose tree is whatever the attacker chose —
e.g. one directory holding two nodes of one name (a symlink, then a directory or a file). ``restic backup``
cannot make that from any file system, so this helper writes the repository's files itself, as
restic 0.14 would (``doc/design.rst``; ``internal/pack``, ``internal/repository`` at v0.14.0):

* every file is ``IV(16) ‖ AES-256-CTR ‖ Poly1305-AES`` under the master key, which a key file
  opens with the password (:mod:`dr_lib.datarepo.fastkey` does that crypto; it is reused here);
* a pack ``data/<id[:2]>/<id>`` of the data blobs and one of the trees (restic never mixes them):
  the encrypted blobs, uncompressed (header types 0 data, 1 tree), then the encrypted header (per
  blob: type, little-endian encrypted length, id), then its little-endian length; a pack's id is
  the sha256 of the whole file;
* one index ``index/<id>`` and the snapshot ``snapshots/<id>``: encrypted JSON, uncompressed (format
  2 reads plaintext starting with ``{`` as raw JSON), named by the sha256 of the encrypted bytes.

A tree blob is ``{"nodes":[...]}`` and a newline, as restic marshals it; its id, like a data blob's, is
the sha256 of its plaintext. Files are written 0400 in 0700 directories, like restic's local backend.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dr_lib.datarepo import fastkey
from dr_lib.errors import IntegrityError

GO_MODE_DIR = 1 << 31  # Go's os.ModeDir
GO_MODE_SYMLINK = 1 << 27  # os.ModeSymlink
GO_SPECIAL = ((0o4000, 1 << 23), (0o2000, 1 << 22), (0o1000, 1 << 20))  # setuid, setgid, sticky in Go's bits
DATA_BLOB, TREE_BLOB = 0, 1  # pack header entry types, uncompressed


@dataclass(frozen=True)
class ForgedFile:
    """A regular file; ``mode`` in Unix bits (0o4755 is stored as Go's setuid bit with 0o755)."""

    name: str
    content: bytes
    mode: int = 0o644


@dataclass(frozen=True)
class ForgedLink:
    """A symbolic link to ``target`` (any text: absolute, relative, dangling)."""

    name: str
    target: str


@dataclass(frozen=True)
class ForgedDir:
    """A directory holding ``children``, duplicates and all, sorted by name as restic writes trees (nodes of
    one name keep their order here); the root's name is unused."""

    name: str
    children: Sequence[ForgedNode] = field(default_factory=tuple)
    mode: int = 0o755


ForgedNode = ForgedFile | ForgedLink | ForgedDir


def go_mode(unix_mode: int) -> int:
    """Unix permission bits (with setuid, setgid, sticky) as Go's os.FileMode stores them."""
    mode = unix_mode & 0o777
    for unix_bit, go_bit in GO_SPECIAL:
        if unix_mode & unix_bit:
            mode |= go_bit
    return mode


def master_key(repository: Path, password_file: Path) -> fastkey.UserKey:
    """The repository's master key (encryption and MAC keys), from the first key file the password opens."""
    password = password_file.read_bytes().strip()  # restic trims a password file's surrounding whitespace
    documents = sorted(fastkey.key_documents(repository), key=lambda item: not fastkey.is_fast(item[1]))
    for _name, document in documents:  # the fast key first: scrypt N=2^10 opens it in milliseconds
        try:
            raw = fastkey.master_key(document, password)
        except IntegrityError:
            continue
        parsed = json.loads(raw)
        return fastkey.UserKey(base64.b64decode(parsed["encrypt"]), base64.b64decode(parsed["mac"]["k"]),
                               base64.b64decode(parsed["mac"]["r"]))
    raise ValueError(f"no key of {repository} opens with the password in {password_file}")


def encrypt(key: fastkey.UserKey, plaintext: bytes) -> bytes:
    """restic's ciphertext of ``plaintext``: a random IV, AES-256-CTR, then the Poly1305-AES tag."""
    return fastkey.seal(key, os.urandom(fastkey.NONCE_BYTES), plaintext)


def write_file(path: Path, content: bytes) -> None:
    """A new repository file (never overwritten), 0400 like restic's local backend, synced."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o400)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def rfc3339(moment: datetime) -> str:
    """An RFC 3339 UTC time with microseconds (restic writes nanoseconds; Go parses any fraction)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Forge:
    """Blobs in the order they are made (children's trees before their parent's), deduplicated by id."""

    def __init__(self, when: str) -> None:
        self.when = when
        self.blobs: dict[str, tuple[int, bytes]] = {}  # id -> (header type, plaintext)
        self.inode = 1000

    def blob(self, kind: int, plaintext: bytes) -> str:
        blob_id = hashlib.sha256(plaintext).hexdigest()
        self.blobs.setdefault(blob_id, (kind, plaintext))
        return blob_id

    def tree(self, children: Sequence[ForgedNode]) -> str:
        # sorted by name like every tree restic writes; stable, so twins keep the caller's order
        nodes = [self.node(child) for child in sorted(children, key=lambda child: child.name.encode())]
        encoded = json.dumps({"nodes": nodes}, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
        return self.blob(TREE_BLOB, encoded)

    def node(self, item: ForgedNode) -> dict[str, Any]:
        self.inode += 1
        common: dict[str, Any] = {"mtime": self.when, "atime": self.when, "ctime": self.when, "uid": 0, "gid": 0,
                                  "user": "root", "group": "root", "inode": self.inode, "device_id": 65024}
        if isinstance(item, ForgedDir):
            subtree = self.tree(item.children)
            return {"name": item.name, "type": "dir", "mode": GO_MODE_DIR | go_mode(item.mode), **common,
                    "content": None, "subtree": subtree}
        if isinstance(item, ForgedLink):
            return {"name": item.name, "type": "symlink", "mode": GO_MODE_SYMLINK | 0o777, **common, "links": 1,
                    "linktarget": item.target, "content": None}
        content = [self.blob(DATA_BLOB, item.content)] if item.content else []
        return {"name": item.name, "type": "file", "mode": go_mode(item.mode), **common, "size": len(item.content),
                "links": 1, "content": content}


def write_pack(repository: Path, key: fastkey.UserKey, blobs: dict[str, tuple[int, bytes]]) -> dict[str, Any]:
    """One pack file holding ``blobs``; its entry of an index (id, and each blob's type, offset, length)."""
    body, header, entries = bytearray(), bytearray(), []
    for blob_id, (kind, plaintext) in blobs.items():
        sealed = encrypt(key, plaintext)
        entries.append({"id": blob_id, "type": "tree" if kind == TREE_BLOB else "data", "offset": len(body),
                        "length": len(sealed)})
        header += struct.pack("<BI", kind, len(sealed)) + bytes.fromhex(blob_id)
        body += sealed
    sealed_header = encrypt(key, bytes(header))
    pack = bytes(body) + sealed_header + struct.pack("<I", len(sealed_header))
    pack_id = hashlib.sha256(pack).hexdigest()
    write_file(repository / "data" / pack_id[:2] / pack_id, pack)
    return {"id": pack_id, "blobs": entries}


def write_unpacked(repository: Path, key: fastkey.UserKey, kind: str, document: dict[str, Any]) -> str:
    """An index or snapshot file: encrypted compact JSON named by the sha256 of the encrypted bytes; its id."""
    sealed = encrypt(key, json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode())
    file_id = hashlib.sha256(sealed).hexdigest()
    write_file(repository / kind / file_id, sealed)
    return file_id


def forge_snapshot(repository: Path, password_file: Path, paths: Sequence[str], root: ForgedDir, *,
                   tags: Sequence[str] = (), hostname: str = "k3s-dr", when: datetime | None = None) -> tuple[str, str]:
    """Write a snapshot of ``paths`` whose root tree holds ``root.children`` into ``repository``.

    Returns (snapshot id, root tree id). The repository must exist (``restic init``, format 2) and not
    be locked exclusively by another process; nothing is taken from or checked against its other content.
    """
    moment = when or datetime.now(UTC)
    key = master_key(repository, password_file)
    forge = _Forge(rfc3339(moment))
    tree = forge.tree(root.children)
    packs = [write_pack(repository, key, {i: b for i, b in forge.blobs.items() if b[0] == kind})
             for kind in (DATA_BLOB, TREE_BLOB) if any(b[0] == kind for b in forge.blobs.values())]
    write_unpacked(repository, key, "index", {"packs": packs})
    snapshot: dict[str, Any] = {"time": rfc3339(moment), "tree": tree, "paths": list(paths), "hostname": hostname,
                                "username": "root"}
    if tags:
        snapshot["tags"] = list(tags)
    return write_unpacked(repository, key, "snapshots", snapshot), tree


__all__ = ["ForgedDir", "ForgedFile", "ForgedLink", "ForgedNode", "forge_snapshot", "go_mode", "master_key"]
