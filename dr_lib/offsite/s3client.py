"""The one door to boto3: a client for a configured target, and its failures as DRErrors.

Credentials come from the usual AWS sources (environment, ``~/.aws`` files and profiles,
instance or container roles) through boto3's own chain; k3s-dr never reads, stores or prints
them. Error messages carry the server's error *code* and our own sentence, never the
server's text (which may echo request details).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from dr_lib.config import OffsiteTargetConfig
from dr_lib.errors import DRError, RemoteAuthError, RemoteIntegrityError, RemoteMissing, RemoteUnreachable

# Codes an S3 server answers for credentials it does not accept (AWS, MinIO, Ceph, versitygw).
AUTH_CODES = {
    "InvalidAccessKeyId": "the access key is unknown to the server",
    "SignatureDoesNotMatch": "the secret key does not match the access key",
    "AccessDenied": "the credentials may not do this",
    "InvalidToken": "the session token is invalid",
    "ExpiredToken": "the session token expired",
    "403": "the server refused the credentials",
    "XAdminUserNotFound": "the access key is unknown to the server",  # versitygw's word for it
}
MISSING_CODES = {"NoSuchBucket", "NoSuchKey", "404", "NotFound", "NoSuchUpload"}
INTEGRITY_CODES = {"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch", "InvalidPart"}
_UNREACHABLE = (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectionClosedError,
                botocore.exceptions.ConnectTimeoutError, botocore.exceptions.ReadTimeoutError,
                botocore.exceptions.ResponseStreamingError, botocore.exceptions.HTTPClientError,
                botocore.exceptions.IncompleteReadError, ConnectionError)


def make_client(target: OffsiteTargetConfig) -> Any:
    """A boto3 S3 client for ``target`` (path-style addressing for custom endpoints)."""
    session = boto3.session.Session(profile_name=target.profile or None)
    config = botocore.config.Config(
        connect_timeout=5, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"},
        s3={"addressing_style": "path"} if target.endpoint_url else {}, signature_version="s3v4",
    )
    region = target.region or (None if session.region_name else "us-east-1")
    return session.client("s3", endpoint_url=target.endpoint_url or None, region_name=region, config=config)


def error_code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "")) or str(
        exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))


def translate(exc: BaseException, *, target: str, where: str, doing: str) -> DRError | None:
    """The DRError for a boto3 failure, or None when ``exc`` is not one we know."""
    prefix = f"offsite target {target!r} ({where}): {doing}"
    if isinstance(exc, botocore.exceptions.NoCredentialsError | botocore.exceptions.PartialCredentialsError):
        return RemoteAuthError(f"{prefix}: no AWS credentials found",
                               hint="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, or a role")
    if isinstance(exc, botocore.exceptions.FlexibleChecksumError | botocore.exceptions.ChecksumError):
        return RemoteIntegrityError(f"{prefix}: the data does not match the checksum the server stored with it: "
                                    "tampered or corrupt", hint="pull an older copy, or check the object's versions")
    if isinstance(exc, botocore.exceptions.ClientError):
        code = error_code(exc)
        if code in AUTH_CODES:
            return RemoteAuthError(f"{prefix}: {AUTH_CODES[code]} ({code})",
                                   hint="check the AWS credentials (environment, ~/.aws, offsite profile)")
        if code in MISSING_CODES:
            return RemoteMissing(f"{prefix}: not found ({code})",
                                 hint="create the bucket, or fix offsite bucket/prefix/endpoint_url")
        if code in INTEGRITY_CODES:
            return RemoteIntegrityError(f"{prefix}: the server rejected the data's checksum ({code})")
        return RemoteUnreachable(f"{prefix}: the server answered {code or 'an error'}")
    if isinstance(exc, _UNREACHABLE):
        return RemoteUnreachable(f"{prefix}: the server could not be reached or the connection broke "
                                 f"({type(exc).__name__})", hint="is the endpoint up and reachable?")
    if isinstance(exc, botocore.exceptions.BotoCoreError):
        return RemoteUnreachable(f"{prefix}: {type(exc).__name__}")
    return None


@contextmanager
def s3_errors(*, target: str, where: str, doing: str) -> Iterator[None]:
    """Turn boto3's exceptions inside the block into our DRErrors (others pass through)."""
    try:
        yield
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, ConnectionError) as exc:
        translated = translate(exc, target=target, where=where, doing=doing)
        if translated is None:
            raise
        raise translated from None
