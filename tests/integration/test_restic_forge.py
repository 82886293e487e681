"""Forged restic snapshots (tests/integration/_restic_forge.py) against the real restic and our restore.

The forge writes trees restic's own ``backup`` never makes; first it is proven right on an ordinary
tree (restic checks every byte of it and restores it exactly). Then the hostile one: one directory
holding two nodes of one name, a symlink out of the restore target and then something of the same
name. What restic 0.14 does with them, measured here:

* symlink ``x`` → an outside *directory*, then directory ``x`` holding ``pwned``: restic's first pass
  makes ``x`` a real directory and writes ``pwned`` into it; the second pass cannot make the symlink
  (``file exists``, exit 1). Nothing lands outside.
* symlink ``x`` → an outside *file*, then an *empty* regular file ``x``: the second pass makes the
  symlink, then creates the empty file through it (``O_CREAT|O_TRUNC``, following the link) and sets
  its mode and times through it too: the outside file is emptied and made setuid and world-writable,
  and restic exits 0.

Our restore never hands either to restic: ``restic ls --json --recursive`` prints the twin path twice
and :func:`dr_lib.datarepo.repository.parse_listing` refuses the snapshot before anything is written,
at any depth (without ``--recursive``, restic 0.14 lists a path's direct children only: a twin one
level down went unseen until the listing asked to descend).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dr_lib.archive.dataentry import RESTIC_STORE, VOLUME, DataEntry
from dr_lib.datarepo import fastkey
from dr_lib.datarepo.repository import DataRepository
from dr_lib.errors import IntegrityError
from dr_lib.hooks import datasource
from dr_lib.hooks.datasource import RepositorySource
from dr_lib.hooks.restorevolumes import VolumeRestorer, preflight
from dr_lib.hooks.settings import HookSettings
from dr_lib.hooks.zfs import ZfsBackend
from tests.integration._offsite_env import restic_or_skip
from tests.integration._restic_forge import ForgedDir, ForgedFile, ForgedLink, ForgedNode, forge_snapshot

pytestmark = pytest.mark.slow

SOURCE = "/storage/pvc-x"  # the volume's path inside the snapshot, as our backup stores it
VICTIM_BYTES = b"precious\n"


@dataclass(frozen=True)
class Repo:
    data: DataRepository

    @property
    def path(self) -> Path:
        return self.data.path

    @property
    def password_file(self) -> Path:
        return self.data.key_file

    def forge(self, children: list[ForgedNode]) -> tuple[str, str]:
        """A snapshot of SOURCE holding ``children``; (snapshot id, root tree id)."""
        root = ForgedDir("", [ForgedDir("storage", [ForgedDir("pvc-x", children)])])
        return forge_snapshot(self.path, self.password_file, [SOURCE], root, tags=["k3s-dr-data", "forged"])

    def restic(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RESTIC_")}
        env |= {"RESTIC_REPOSITORY": str(self.path), "RESTIC_PASSWORD_FILE": str(self.password_file)}
        hint = fastkey.fast_key_hint(self.path)
        argv = ["restic", "--no-cache", *(["--key-hint", hint] if hint else []), *args]
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    """One data repository (restic init, format 2, plus the fast key) for the module's forged snapshots."""
    restic_or_skip()
    directory = tmp_path_factory.mktemp("forge") / "backups"
    directory.mkdir(mode=0o700)
    data = DataRepository(directory)
    assert data.ensure(time.monotonic() + 120)
    return Repo(data)


def tree_of(root: Path) -> dict[str, Any]:
    """Every entry below ``root``: a file's bytes and mode, a symlink's target, a directory's mode."""
    found: dict[str, Any] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            found[rel] = ("symlink", os.readlink(path))
        elif path.is_dir():
            found[rel] = ("dir", oct(path.stat().st_mode & 0o7777))
        else:
            found[rel] = ("file", path.read_bytes(), oct(path.stat().st_mode & 0o7777))
    return found


# --- the forge is right ---------------------------------------------------------------------------------
def test_an_ordinary_forged_snapshot_passes_restic_check_and_restores_byte_identically(repo: Repo,
                                                                                       tmp_path: Path) -> None:
    big = os.urandom(3 << 20)  # one data blob of 3 MiB (restic's chunker would have split it; a blob may be any size)
    snapshot, tree = repo.forge([
        ForgedFile("index.json", b'{"clips": 1}'), ForgedFile("empty", b""), ForgedFile("tool", b"#!/bin/sh\n", 0o4755),
        ForgedDir("media", [ForgedFile("big.bin", big, 0o600), ForgedFile("same.bin", big)], mode=0o750),
        ForgedLink("latest", "media/big.bin")])

    checked = repo.restic("check", "--read-data")
    assert checked.returncode == 0, checked.stderr
    assert "no errors were found" in checked.stdout and "mix" not in checked.stdout  # trees and data in own packs

    listing = [json.loads(line) for line in repo.restic("ls", "--json", snapshot).stdout.splitlines()]
    assert listing[0]["struct_type"] == "snapshot" and listing[0]["tree"] == tree and listing[0]["paths"] == [SOURCE]
    assert [n["path"] for n in listing[1:]] == [  # the forge sorts each tree by name, as restic does
        "/storage", SOURCE, f"{SOURCE}/empty", f"{SOURCE}/index.json", f"{SOURCE}/latest", f"{SOURCE}/media",
        f"{SOURCE}/media/big.bin", f"{SOURCE}/media/same.bin", f"{SOURCE}/tool"]
    listed, nodes = repo.data.listing(snapshot, time.monotonic() + 60)  # our parser accepts it
    assert (listed.id, listed.tree, nodes[f"{SOURCE}/media/big.bin"].size) == (snapshot, tree, len(big))

    target = tmp_path / "target"
    restored = repo.restic("restore", snapshot, "--target", str(target))
    assert restored.returncode == 0, restored.stderr
    assert tree_of(target / "storage" / "pvc-x") == {
        "empty": ("file", b"", "0o644"), "index.json": ("file", b'{"clips": 1}', "0o644"),
        "latest": ("symlink", "media/big.bin"), "media": ("dir", "0o750"),
        "media/big.bin": ("file", big, "0o600"), "media/same.bin": ("file", big, "0o644"),
        "tool": ("file", b"#!/bin/sh\n", "0o4755")}


# --- what plain restic 0.14 does with twins -------------------------------------------------------------
def dir_twin(outside: Path) -> list[ForgedNode]:
    """Symlink ``x`` to an outside directory, then a directory ``x`` holding ``pwned``."""
    return [ForgedLink("x", str(outside)), ForgedDir("x", [ForgedFile("pwned", b"owned\n")])]


def empty_file_twin(outside: Path) -> list[ForgedNode]:
    """Symlink ``x`` to an outside file, then an empty setuid world-writable file ``x``; ``y`` likewise to a new
    outside file."""
    return [ForgedLink("x", str(outside / "victim")), ForgedFile("x", b"", 0o4777),
            ForgedLink("y", str(outside / "new")), ForgedFile("y", b"")]


def make_outside(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_bytes(VICTIM_BYTES)
    (outside / "victim").chmod(0o600)
    return outside


def untouched(outside: Path) -> bool:
    victim = outside / "victim"
    return sorted(p.name for p in outside.iterdir()) == ["victim"] and victim.read_bytes() == VICTIM_BYTES \
        and victim.stat().st_mode & 0o7777 == 0o600


def test_restic_0_14_does_not_write_through_a_symlink_twinned_with_a_directory(repo: Repo, tmp_path: Path) -> None:
    """The first pass makes ``x`` a directory and fills it; the symlink then fails: nothing outside."""
    outside = make_outside(tmp_path)
    snapshot, _tree = repo.forge(dir_twin(outside))
    target = tmp_path / "target"
    restored = repo.restic("restore", snapshot, "--target", str(target))
    assert restored.returncode == 1 and "file exists" in restored.stderr
    assert untouched(outside)
    assert (target / "storage" / "pvc-x" / "x" / "pwned").read_bytes() == b"owned\n"
    assert not (target / "storage" / "pvc-x" / "x").is_symlink()


def test_restic_0_14_writes_through_a_symlink_twinned_with_an_empty_file(repo: Repo, tmp_path: Path) -> None:
    """The danger is real: restic creates the empty file through the symlink it just made, then chmods it there."""
    outside = make_outside(tmp_path)
    snapshot, _tree = repo.forge(empty_file_twin(outside))
    target = tmp_path / "target"
    restored = repo.restic("restore", snapshot, "--target", str(target))
    assert restored.returncode == 0, restored.stderr  # and restic reports success
    victim = outside / "victim"
    assert victim.read_bytes() == b""  # truncated outside the target…
    assert victim.stat().st_mode & 0o7777 == 0o4777  # …and made setuid, world-writable
    assert (outside / "new").read_bytes() == b""  # a new file made outside
    assert os.readlink(target / "storage" / "pvc-x" / "x") == str(victim)


# --- our restore refuses them before restic writes ------------------------------------------------------
def nested_twin(outside: Path) -> list[ForgedNode]:
    """The empty-file twin one directory down (``sub/x``), beside an ordinary file."""
    return [ForgedFile("a", b"1"), ForgedDir("sub", empty_file_twin(outside))]


TWINS = pytest.mark.parametrize("twin", [
    pytest.param(dir_twin, id="dir-twin"), pytest.param(empty_file_twin, id="empty-file-twin"),
    pytest.param(nested_twin, id="nested-empty-file-twin")])


def twin_path(twin: Any) -> str:
    return f"{SOURCE}/sub/x" if twin is nested_twin else f"{SOURCE}/x"


@TWINS
def test_the_listing_refuses_a_snapshot_holding_a_path_twice(repo: Repo, tmp_path: Path, twin: Any) -> None:
    outside = make_outside(tmp_path)
    snapshot, _tree = repo.forge(twin(outside))
    with pytest.raises(IntegrityError, match=rf"holds '{twin_path(twin)}' twice"):
        repo.data.listing(snapshot, time.monotonic() + 60, SOURCE)  # as RepositorySource.expected_tree calls it
    assert untouched(outside)


def test_the_whole_listing_sees_a_nested_twin(repo: Repo, tmp_path: Path) -> None:
    """Without a path restic ls recurses: the parser itself catches a twin at any depth."""
    snapshot, _tree = repo.forge(nested_twin(make_outside(tmp_path)))
    with pytest.raises(IntegrityError, match=rf"holds '{SOURCE}/sub/x' twice"):
        repo.data.listing(snapshot, time.monotonic() + 60)


def volume_entry(snapshot: str, tree: str, roots: Path, **meta: Any) -> DataEntry:
    """A manifest's entry for the forged snapshot's volume (node path below ``roots``)."""
    digest = "0" * 64  # a restic-store volume is proven against its listing and counts, not this digest
    return DataEntry("data/volumes/shop/pvc-x.dir", VOLUME, int(meta.get("content_bytes", 0)), digest,
                     {"node_path": str(roots / "pvc-x"), "tree_sha256": digest, "namespace": "shop", **meta},
                     RESTIC_STORE, snapshot, tree, SOURCE)


def restore_volume(repo: Repo, entry: DataEntry, roots: Path,
                   monkeypatch: pytest.MonkeyPatch) -> tuple[VolumeRestorer, list[dict[str, Any]]]:
    """Our restore of one volume from the repository, as DataRestorer.before_apply runs it (no cluster: the
    archive is never opened, its repository key is patched in; only its directory, the repository's, is used)."""
    monkeypatch.setattr(datasource, "read_repository_key", lambda _archive: repo.password_file.read_bytes())
    settings = HookSettings(volume_roots=(str(roots),))
    targets, problems = preflight([entry], settings)
    assert problems == []
    reports: list[dict[str, Any]] = []
    with RepositorySource(repo.data.directory / "forged.tar.zst") as source:
        assert source.resolve([entry]) == []
        restorer = VolumeRestorer(settings, targets, ZfsBackend(), reports.append)
        restorer.from_repository(source, [entry])
    return restorer, reports


@pytest.mark.parametrize(("children", "files"), [
    pytest.param([ForgedFile("a", b"1"), ForgedFile("b", b"22")], {"a": b"1", "b": b"22"}, id="flat"),
    pytest.param([ForgedFile("a", b"1"), ForgedDir("sub", [ForgedFile("b", b"22")])], {"a": b"1", "sub/b": b"22"},
                 id="nested")])
def test_an_ordinary_forged_volume_is_restored_by_our_restore(repo: Repo, tmp_path: Path, children: list[ForgedNode],
                                                              files: dict[str, bytes],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The control for the refusals below: the same path, with a benign forged snapshot, puts the volume in place."""
    snapshot, tree = repo.forge(children)
    roots = tmp_path / "roots"
    roots.mkdir()
    restorer, reports = restore_volume(repo, volume_entry(snapshot, tree, roots, files=2, content_bytes=3), roots,
                                       monkeypatch)
    assert restorer.failures == []
    assert [r["action"] for r in reports] == ["placed"]
    volume = roots / "pvc-x"
    assert {str(p.relative_to(volume)): p.read_bytes() for p in volume.rglob("*") if p.is_file()} == files


@TWINS
def test_a_volume_restore_refuses_the_twin_before_restic_writes(repo: Repo, tmp_path: Path, twin: Any,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """VolumeRestorer.from_repository with the forged snapshot: the listing refuses it, so neither the tree
    judgement (snaplisting.expected_tree) nor restic restore is reached; nothing outside, nothing left staged."""
    outside = make_outside(tmp_path)
    snapshot, tree = repo.forge(twin(outside))
    roots = tmp_path / "roots"
    roots.mkdir()
    reached: list[str] = []
    monkeypatch.setattr(datasource, "expected_tree", lambda *_args: reached.append("expected_tree"))
    monkeypatch.setattr(RepositorySource, "restore", lambda *_args: reached.append("restore"))
    restorer, reports = restore_volume(repo, volume_entry(snapshot, tree, roots), roots, monkeypatch)
    assert reached == []
    assert len(restorer.failures) == 1 and "twice" in restorer.failures[0]
    assert [r["action"] for r in reports] == ["failed"]
    assert untouched(outside)
    assert list(roots.iterdir()) == []  # no volume, no staging directory left
