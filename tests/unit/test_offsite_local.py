"""What a push sends: a local archive proven unchanged since its verification; S3 errors as DRErrors."""

from __future__ import annotations

from pathlib import Path

import botocore.exceptions
import pytest

from dr_lib.archive.access import verify_archive
from dr_lib.archive.sidecar import write_sidecar
from dr_lib.clock import utc_now
from dr_lib.errors import (
    ExitCode,
    IntegrityError,
    RemoteAuthError,
    RemoteIntegrityError,
    RemoteMissing,
    RemoteUnreachable,
    UsageError,
)
from dr_lib.offsite.push import local_archive
from dr_lib.offsite.s3client import translate
from tests.unit._archive_factory import CONFIGMAPS, good_archive


def test_verified_archive_is_taken_from_its_sidecar_and_checked(tmp_path: Path) -> None:
    archive = good_archive(tmp_path, {CONFIGMAPS: [CONFIGMAPS.obj("a"), CONFIGMAPS.obj("b")]})
    write_sidecar(verify_archive(archive), utc_now())
    link = tmp_path / "latest-backup.tar.gz"
    link.symlink_to(archive.name)
    local = local_archive(link)
    assert (local.path, local.objects, local.bytes) == (archive, 2, archive.stat().st_size)
    data = bytearray(archive.read_bytes())
    data[-30] ^= 0x01
    archive.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="changed after it was verified"):
        local_archive(link)


def test_unverified_archive_is_verified_first(tmp_path: Path) -> None:
    archive = good_archive(tmp_path, {CONFIGMAPS: [CONFIGMAPS.obj("a")]})
    assert local_archive(archive).objects == 1
    archive.write_bytes(archive.read_bytes()[:-40])
    with pytest.raises(IntegrityError):
        local_archive(archive)
    with pytest.raises(UsageError, match="not an archive"):
        local_archive(tmp_path / "notes.txt")


def _client_error(code: str, status: int) -> botocore.exceptions.ClientError:
    """A fake boto3 error response (pure mapping test)."""
    return botocore.exceptions.ClientError({"Error": {"Code": code, "Message": "server text"},
                                            "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObject")


@pytest.mark.parametrize(("error", "expected", "code"), [
    (_client_error("SignatureDoesNotMatch", 403), RemoteAuthError, ExitCode.USAGE),
    (_client_error("403", 403), RemoteAuthError, ExitCode.USAGE),
    (_client_error("NoSuchBucket", 404), RemoteMissing, ExitCode.USAGE),
    (_client_error("BadDigest", 400), RemoteIntegrityError, ExitCode.INTEGRITY),
    (_client_error("SlowDown", 503), RemoteUnreachable, ExitCode.ENVIRONMENT),
    (botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), RemoteUnreachable,
     ExitCode.ENVIRONMENT),
    (botocore.exceptions.NoCredentialsError(), RemoteAuthError, ExitCode.USAGE),
])
def test_s3_failures_map_to_our_errors(error: Exception, expected: type[Exception], code: int) -> None:
    found = translate(error, target="office", where="s3://b/p/", doing="upload x")
    assert type(found) is expected and found is not None and found.exit_code == code
    assert "server text" not in str(found) and "offsite target 'office' (s3://b/p/): upload x" in str(found)
