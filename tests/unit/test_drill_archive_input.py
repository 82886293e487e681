"""The archive of a drill of a real archive: `--archive PATH|latest` and `--from REMOTE[:NAME]` as
hostile input, the drill's private copy (decrypted for .age), and the verification it passes."""

from __future__ import annotations

import os
from pathlib import Path

import pyrage
import pytest

from dr_lib.archive.links import promote
from dr_lib.drill.archive_input import (
    ArchiveInput,
    link_data_repository,
    private_copy,
    pull_args,
    resolve_archive_option,
    split_remote,
    verify_input,
)
from dr_lib.errors import IntegrityError, UsageError
from dr_lib.offsite.crypto import encrypt_file
from tests.unit._archive_factory import CONFIGMAPS, IDENTITY, good_archive

LATEST = "latest-backup.tar.gz"


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    backups = tmp_path / "backups"
    backups.mkdir()
    return good_archive(backups, {CONFIGMAPS: [CONFIGMAPS.obj("settings", data={"a": "1"})]})


def test_a_path_is_resolved_to_the_archive_file(archive: Path, tmp_path: Path) -> None:
    link = tmp_path / "mine.tar.gz"
    link.symlink_to(archive)
    assert resolve_archive_option(str(link), "/unused", LATEST) == archive
    assert resolve_archive_option(str(archive), "/unused", LATEST) == archive


def test_latest_is_the_latest_link_in_backup_dir(archive: Path) -> None:
    promote(archive.parent, archive.name, (LATEST,))
    assert resolve_archive_option("latest", str(archive.parent), LATEST) == archive


@pytest.mark.parametrize(("make", "message"), [
    (lambda d: d / "missing.tar.gz", "no such file"),
    (lambda d: d, "is not a regular file"),
    (lambda d: (os.mkfifo(d / "pipe.tar.gz"), d / "pipe.tar.gz")[1], "is not a regular file"),  # a read never ends
    (lambda d: Path("/dev/zero"), "is not a regular file"),
])
def test_what_is_no_archive_file_is_refused(tmp_path: Path, make: object, message: str) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(UsageError, match=message) as refused:
        resolve_archive_option(str(path), "/unused", LATEST)
    assert "accepted is an archive file" in str(refused.value)


def test_latest_must_exist_and_point_inside_backup_dir(archive: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UsageError, match=r"latest-backup\.tar\.gz does not exist"):
        resolve_archive_option("latest", str(empty), LATEST)
    elsewhere = tmp_path / "planted"
    elsewhere.mkdir()
    (elsewhere / LATEST).symlink_to(archive)  # a link out of backup.dir: not the operator's latest backup
    with pytest.raises(UsageError, match="points outside"):
        resolve_archive_option("latest", str(elsewhere), LATEST)
    (empty / LATEST).symlink_to("/etc/passwd")
    with pytest.raises(UsageError, match="points outside"):
        resolve_archive_option("latest", str(empty), LATEST)


@pytest.mark.parametrize(("value", "parts", "args"), [
    ("lab", ("lab", None), ["pull", "--json", "--target=lab"]),
    ("lab:k3s-dr-20261128T100000Z.tar.gz", ("lab", "k3s-dr-20261128T100000Z.tar.gz"),
     ["pull", "--json", "--target=lab", "--", "k3s-dr-20261128T100000Z.tar.gz"]),
    ("lab:latest", ("lab", "latest"), ["pull", "--json", "--target=lab", "--", "latest"]),
    (":k3s-dr-20261128T100000Z.tar.gz", (None, "k3s-dr-20261128T100000Z.tar.gz"),
     ["pull", "--json", "--", "k3s-dr-20261128T100000Z.tar.gz"]),
    # hostile parts stay values: never pull's --dir or --identity
    ("--dir=/etc", ("--dir=/etc", None), ["pull", "--json", "--target=--dir=/etc"]),
    ("lab:--dir=/etc", ("lab", "--dir=/etc"), ["pull", "--json", "--target=lab", "--", "--dir=/etc"]),
])
def test_from_is_read_as_restore_from_reads_it(value: str, parts: tuple[str | None, str | None],
                                              args: list[str]) -> None:
    assert split_remote(value) == parts
    assert pull_args(value) == args


@pytest.mark.parametrize("value", ["lab:--dir=/etc", "--identity=/tmp/x:--dir=/etc", "lab:k3s-dr-x.tar.gz"])
def test_pull_parses_the_parts_as_target_and_name_only(value: str) -> None:
    """Parsed by the real `k3s-dr pull` command: no part becomes --dir or --identity."""
    from dr_lib.cli.offsite import pull_command  # noqa: PLC0415

    args = pull_args(value)
    params = pull_command.make_context("pull", args[1:]).params
    assert (params["target"], params["name"]) == split_remote(value)
    assert params["directory"] is None and params["identity"] is None and params["as_json"] is True


def test_the_private_copy_is_identical_and_only_the_drills(archive: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    copy = private_copy(archive, work, None)
    assert copy.read_bytes() == archive.read_bytes() and copy.parent == work / "archive"
    assert copy.stat().st_mode & 0o777 == 0o600 and copy.parent.stat().st_mode & 0o777 == 0o700
    verified = verify_input(copy)
    assert verified.objects == 1
    facts = ArchiveInput("given", archive, copy, verified, "the file given").to_json()
    assert facts["name"] == archive.name and facts["sha256"] == verified.sha256 and facts["signer"] is None
    assert facts["source_cluster"] == IDENTITY.to_dict() and facts["created"] == "2026-11-28T10:00:00.000Z"


def test_the_copy_never_follows_a_link_planted_after_resolution(archive: Path, tmp_path: Path) -> None:
    planted = tmp_path / "swapped.tar.gz"
    planted.symlink_to(archive)
    with pytest.raises(UsageError, match="cannot be opened as a file"):
        private_copy(planted, tmp_path / "work", None)
    with pytest.raises(UsageError, match="is not a regular file"):
        private_copy(Path("/dev/null"), tmp_path / "work2", None)


def test_an_encrypted_archive_is_decrypted_into_the_copy(archive: Path, tmp_path: Path) -> None:
    identity = pyrage.x25519.Identity.generate()
    key = tmp_path / "identity.txt"
    key.write_text(f"{identity}\n")
    sealed = archive.with_name(archive.name + ".age")
    encrypt_file(archive, sealed, [identity.to_public()])
    with pytest.raises(UsageError, match="is encrypted: an age identity is needed"):
        private_copy(sealed, tmp_path / "work", None)
    copy = private_copy(sealed, tmp_path / "work2", key)
    assert copy.name == archive.name and copy.read_bytes() == archive.read_bytes()


def test_a_damaged_copy_fails_verification(archive: Path, tmp_path: Path) -> None:
    copy = private_copy(archive, tmp_path / "work", None)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(IntegrityError):
        verify_input(copy)


def test_with_verify_keys_the_drill_takes_only_an_archive_signed_by_one(tmp_path: Path) -> None:
    """The drill of a real archive checks signatures as restore does (trust.verify_keys)."""
    from dr_lib.signing.keys import generate_keypair, load_signing_key  # noqa: PLC0415

    ours, theirs = generate_keypair(tmp_path / "ours"), generate_keypair(tmp_path / "theirs")
    content = {CONFIGMAPS: [CONFIGMAPS.obj("settings", data={"a": "1"})]}
    (tmp_path / "signed").mkdir()
    (tmp_path / "unsigned").mkdir()
    signed = good_archive(tmp_path / "signed", content, signer=load_signing_key(ours.signing_key))
    unsigned = good_archive(tmp_path / "unsigned", content)
    verified = verify_input(signed, [ours.verify_key])
    assert verified.signature.valid and verified.signature.key_id == ours.key_id
    with pytest.raises(IntegrityError, match="not signed"):
        verify_input(unsigned, [ours.verify_key])
    with pytest.raises(IntegrityError):
        verify_input(signed, [theirs.verify_key])
    assert verify_input(unsigned).signature.state == "missing"  # no keys configured: reported, not refused


def _repository(directory: Path) -> Path:
    """A stand-in for a restic repository (named as such): only its config file, what ``exists()`` looks for."""
    (directory / "data").mkdir(parents=True)
    (directory / "data" / "config").write_bytes(b"fake restic config")
    return directory / "data"


def test_the_restore_of_the_copy_reads_the_data_repository_beside_the_archive(archive: Path, tmp_path: Path) -> None:
    from dr_lib.datarepo.repository import DataRepository  # noqa: PLC0415

    repository = _repository(archive.parent)
    copy = private_copy(archive, tmp_path / "work", None)
    assert link_data_repository(archive, copy, referenced=False) is None
    assert not (copy.parent / "data").exists(), "no link where the archive references no repository data"
    link = link_data_repository(archive, copy, referenced=True)
    assert link == copy.parent / "data" and link.resolve() == repository.resolve()
    assert DataRepository(copy.parent).exists()  # where the restore of the copy looks (the copy's directory)
    assert (repository / "config").read_bytes() == b"fake restic config"


def test_a_linked_backup_data_directory_is_linked_resolved(archive: Path, tmp_path: Path) -> None:
    elsewhere = _repository(tmp_path / "elsewhere")
    (archive.parent / "data").symlink_to(elsewhere)
    copy = private_copy(archive, tmp_path / "work", None)
    link = link_data_repository(archive, copy, referenced=True)
    assert link is not None and os.readlink(link) == str(elsewhere.resolve())


def test_referenced_data_without_a_repository_is_refused_naming_it(archive: Path, tmp_path: Path) -> None:
    copy = private_copy(archive, tmp_path / "work", None)
    with pytest.raises(IntegrityError, match=f"{archive.parent / 'data'} is none"):
        link_data_repository(archive, copy, referenced=True)
    (archive.parent / "data").mkdir()  # a directory that is no repository (no config)
    with pytest.raises(IntegrityError, match="references application data"):
        link_data_repository(archive, copy, referenced=True)


def test_a_copy_named_data_is_never_replaced_by_the_link(archive: Path, tmp_path: Path) -> None:
    """`data.age` beside a repository decrypts to a copy named `data`: the link is refused, the copy kept."""
    _repository(archive.parent)
    planted = tmp_path / "work" / "archive" / "data"
    planted.parent.mkdir(parents=True)
    planted.write_bytes(b"the copy")
    with pytest.raises(UsageError, match="cannot link its data repository"):
        link_data_repository(archive.with_name("data.age"), planted, referenced=True)
    assert planted.read_bytes() == b"the copy"
