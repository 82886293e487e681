"""The data repository's fast key against the real restic: restic opens the repository with it, and every
command we run names it; a repository made before it gets it at its next backup; one restic cannot open
with it is left on the calibrated key, working."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from dr_lib.datarepo import fastkey
from dr_lib.datarepo.repository import DataRepository
from dr_lib.datarepo.restic import argv_for, restic
from tests.integration._offsite_env import restic_or_skip


def made(tmp_path: Path) -> DataRepository:
    restic_or_skip()
    directory = tmp_path / "backups"
    directory.mkdir(mode=0o700)
    repository = DataRepository(directory)
    assert repository.ensure(time.monotonic() + 120)
    return repository


def current_key(repository: DataRepository) -> str:
    listed = repository.run(["key", "list", "--json"], time.monotonic() + 60, "list its keys").stdout
    return next(str(k["id"]) for k in json.loads(listed) if k["current"])


def test_a_new_repository_is_opened_with_its_fast_key(tmp_path: Path) -> None:
    repository = made(tmp_path)
    hint = fastkey.fast_key_hint(repository.path)
    assert hint is not None and len(list((repository.path / "keys").iterdir())) == 2
    assert ["--key-hint", hint] == argv_for(repository.repo, ["snapshots"])[2:4]
    assert current_key(repository) == hint[:8]
    assert (repository.path / "keys" / hint).stat().st_mode & 0o777 == 0o400
    assert not list(repository.directory.glob(".k3s-dr-key-*"))  # no temporary file left
    # a second DataRepository of the same directory (the next backup, a restore) finds it by itself
    assert DataRepository(repository.directory).repo.key_hint == hint
    assert not DataRepository(repository.directory).ensure(time.monotonic() + 60)
    assert len(list((repository.path / "keys").iterdir())) == 2


def test_a_repository_made_before_the_fast_key_gets_it_at_its_next_backup(tmp_path: Path) -> None:
    repository = made(tmp_path)
    hint = fastkey.fast_key_hint(repository.path)
    assert hint is not None
    (repository.path / "keys" / hint).unlink()
    later = DataRepository(repository.directory)
    assert later.repo.key_hint is None
    later.ensure(time.monotonic() + 60)
    assert later.repo.key_hint is not None and later.repo.key_hint != hint
    assert current_key(later) == later.repo.key_hint[:8]


def test_a_fast_key_restic_does_not_open_is_never_used(tmp_path: Path) -> None:
    """A planted "fast" key sealed under another password: restic falls back to the calibrated key; the
    repository keeps working (only slower)."""
    repository = made(tmp_path)
    hint = fastkey.fast_key_hint(repository.path)
    assert hint is not None
    (repository.path / "keys" / hint).unlink()
    master = b'{"mac": {"k": "a", "r": "b"}, "encrypt": "c"}'
    # random salt and nonce: restic refuses an all-zero nonce with a fatal "nonce is invalid" (not "wrong
    # password"), which stops its search of the keys whenever the planted one is listed before the real one
    raw = fastkey.fast_key_document(master, b"not the password", salt=os.urandom(64), nonce=os.urandom(16),
                                    created="2026-12-05T00:00:00Z")
    planted = hashlib.sha256(raw).hexdigest()
    (repository.path / "keys" / planted).write_bytes(raw)
    later = DataRepository(repository.directory)
    assert later.repo.key_hint == planted  # named, but restic proves nothing with it…
    listed = restic(later.repo, ["snapshots", "--json", "--no-lock"], deadline=time.monotonic() + 60, doing="list")
    assert json.loads(listed.stdout) == []  # …and opens the repository with the calibrated key
    assert current_key(later) != planted[:8]
