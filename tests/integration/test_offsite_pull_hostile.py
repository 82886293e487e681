"""A hostile bucket against a real S3 server (versitygw): the record of a copy rewritten between the listing
and the fetch (a path out of the directory, an absolute path, another copy's name), a plaintext copy where
copies are encrypted, a forged copy where copies are signed. Each pull is refused and writes nothing: every
file under the test's directory is listed before and after."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from dr_lib.errors import IntegrityError, RemoteIntegrityError
from dr_lib.offsite.model import RECORD_SUFFIX
from dr_lib.offsite.pull import choose_copy, pull, pull_copy
from dr_lib.offsite.push import push_archive
from dr_lib.offsite.targets import open_target
from dr_lib.signing.keys import generate_keypair, load_signing_key
from dr_lib.signing.policy import SignaturePolicy
from k3s_dr_testbed.s3.server import S3Server
from tests.integration._offsite_env import BASE, aws_env, keypair, make_archive, new_bucket, s3_offsite, s3_server
from tests.unit._archive_factory import CONFIGMAPS, forge, good_archive

__all__ = ["aws_env", "s3_server"]
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("aws_env")]


def every_file(root: Path) -> set[str]:
    return {str(Path(d, f).relative_to(root)) for d, _, files in os.walk(root) for f in files} | {
        str(Path(d).relative_to(root)) for d, _, _ in os.walk(root)}


@pytest.mark.parametrize("rewritten", ["../escape.tar.gz", "../../escape.tar.gz", "/tmp/k3s-dr-escape.tar.gz",
                                       "sub/escape.tar.gz", "k3s-dr-20261128T050000Z.tar.gz"])
def test_a_record_rewritten_between_list_and_fetch_writes_nothing(s3_server: S3Server, tmp_path: Path,
                                                                 rewritten: str) -> None:
    archive = make_archive(tmp_path / "source")
    make_archive(tmp_path / "source", hours=5)  # another good copy whose name a record could borrow
    offsite = s3_offsite(s3_server, new_bucket(s3_server))
    for path in sorted((tmp_path / "source").glob("k3s-dr-*.tar.gz")):
        assert not push_archive(path, offsite, "lab", now=BASE).failures
    target = open_target("lab", offsite)
    copy = choose_copy(target.list_copies(time.monotonic() + 60), archive.name, "lab")  # the listing: all good
    assert copy.good and copy.record is not None and copy.record.copy == archive.name
    # Now the bucket changes under the pull: its record names another file (same size, same sha256).
    client = target.client  # type: ignore[attr-defined]
    bucket = offsite.targets["lab"].bucket
    record = json.loads(client.get_object(Bucket=bucket, Key=copy.ref + RECORD_SUFFIX)["Body"].read())
    client.put_object(Bucket=bucket, Key=copy.ref + RECORD_SUFFIX, Body=json.dumps({**record, "copy": rewritten}))
    home = tmp_path / "home" / "backups"
    home.mkdir(parents=True)
    before = every_file(tmp_path)
    with pytest.raises(RemoteIntegrityError, match="changed since it was listed") as caught:
        pull_copy(target, copy, home, None, timeout=60, now=BASE)
    assert "nothing written" in str(caught.value)
    assert every_file(tmp_path) == before
    assert not Path("/tmp/k3s-dr-escape.tar.gz").exists() and not (tmp_path / "home" / "escape.tar.gz").exists()


def test_a_plaintext_copy_is_refused_where_copies_are_encrypted(s3_server: S3Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "source")
    bucket = new_bucket(s3_server)
    assert not push_archive(archive, s3_offsite(s3_server, bucket), "lab", now=BASE).failures  # encrypt: off
    identity, recipient = keypair(tmp_path)
    encrypted = s3_offsite(s3_server, bucket, recipients=(recipient,), identity=identity)  # encrypt: auto
    home = tmp_path / "home"
    home.mkdir()
    before = every_file(tmp_path)
    with pytest.raises(IntegrityError, match=r"is not encrypted, and offsite\.encrypt is 'auto': refused"):
        pull(encrypted, "lab", None, home, identity, now=BASE)
    assert every_file(tmp_path) == before
    assert pull(s3_offsite(s3_server, bucket), "lab", None, home, None, now=BASE).action == "fetched"  # off: taken


def test_a_forged_copy_is_refused_and_a_signed_one_pulled(s3_server: S3Server, tmp_path: Path) -> None:
    key = load_signing_key(generate_keypair(tmp_path / "keys").signing_key)
    trust = SignaturePolicy((key.verify_key(),))
    source = tmp_path / "source"
    source.mkdir()
    signed = good_archive(source, {CONFIGMAPS: [CONFIGMAPS.obj("a", data={"k": "v"})]}, signer=key)
    forged = forge(signed, source / "k3s-dr-20261128T110000Z.tar.gz")
    offsite = s3_offsite(s3_server, new_bucket(s3_server))
    for path in (signed, forged):  # whoever can write the bucket pushes (or uploads) what they like
        assert not push_archive(path, offsite, "lab", now=BASE).failures
    home = tmp_path / "home"
    home.mkdir()
    before = every_file(tmp_path)
    with pytest.raises(IntegrityError, match="does not match the signed bytes"):
        pull(offsite, "lab", forged.name, home, None, now=BASE, trust=trust)
    assert every_file(tmp_path) == before
    pulled = pull(offsite, "lab", signed.name, home, None, now=BASE, trust=trust)
    assert pulled.path.read_bytes() == signed.read_bytes()  # the signature member survived, byte for byte
