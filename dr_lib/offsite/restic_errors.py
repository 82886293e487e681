"""restic's failures, read from its stderr, as our DRErrors; and the credentials it needs."""

from __future__ import annotations

from dr_lib.config import OffsiteTargetConfig
from dr_lib.errors import (
    DRError,
    LockBusy,
    RemoteAuthError,
    RemoteIntegrityError,
    RemoteMissing,
    RemoteUnreachable,
    UsageError,
)

# (text restic prints, the error class, our sentence): first match wins, so damage is named before
# the "no such file" that follows it when restic fails to restore a file. Rules as data.
RULES: tuple[tuple[str, type[DRError], str], ...] = (
    ("Resolving password failed", UsageError, "the restic password_file cannot be read"),
    ("ciphertext verification failed", RemoteIntegrityError, "repository data fails authentication: tampered"),
    ("Fatal: repository contains errors", RemoteIntegrityError, "restic check found errors in the repository"),
    ("error for tree", RemoteIntegrityError, "restic check found damaged trees"),
    ("wrong password", RemoteAuthError, "the repository password is wrong (restic password_file)"),
    ("InvalidAccessKeyId", RemoteAuthError, "the S3 server does not know the access key"),
    ("SignatureDoesNotMatch", RemoteAuthError, "the S3 secret key does not match the access key"),
    ("Access Denied", RemoteAuthError, "the S3 server refused the credentials"),
    ("AccessDenied", RemoteAuthError, "the S3 server refused the credentials"),
    ("Is there a repository at the following location", RemoteMissing, "the repository does not exist"),
    ("unable to open config file", RemoteMissing, "the repository does not exist"),
    ("repository does not exist", RemoteMissing, "the repository does not exist"),
    ("NoSuchBucket", RemoteMissing, "the bucket does not exist"),
    ("no such file or directory", RemoteMissing, "the repository does not exist"),
    ("already locked", LockBusy, "another restic process holds the repository lock"),
    ("connection refused", RemoteUnreachable, "the repository's server refused the connection"),
    ("no such host", RemoteUnreachable, "the repository's host name does not resolve"),
    ("i/o timeout", RemoteUnreachable, "the repository's server did not answer"),
    ("connection reset", RemoteUnreachable, "the connection to the repository broke"),
    ("EOF", RemoteUnreachable, "the connection to the repository broke"),
)


def classify(stderr: str, *, target: str, where: str, doing: str) -> DRError:
    last = [line for line in stderr.strip().splitlines() if line.strip()][-3:]
    detail = " | ".join(line.strip()[:200] for line in last)
    for needle, error, sentence in RULES:
        if needle.lower() in stderr.lower():
            return error(f"offsite target {target!r} ({where}): {doing}: {sentence}", hint=f"restic said: {detail}")
    return DRError(f"offsite target {target!r} ({where}): {doing} failed", hint=f"restic said: {detail}")


def credentials_env(config: OffsiteTargetConfig) -> dict[str, str]:
    """AWS credentials for an ``s3:`` repository, resolved the usual way (profile, env, files, roles)."""
    if not config.repository.startswith("s3:"):
        return {}
    return aws_env(config)


def aws_env(config: OffsiteTargetConfig) -> dict[str, str]:
    """The target's AWS credentials and region as restic's S3 backend reads them (its environment)."""
    try:
        import boto3  # noqa: PLC0415 - only S3 repositories need it
    except ModuleNotFoundError as exc:
        from dr_lib.offsite.targets import s3_extra_missing  # noqa: PLC0415 - the one S3 extra line

        raise s3_extra_missing(exc, f"restic repository {config.repository!r}'s AWS credentials") from None

    session = boto3.session.Session(profile_name=config.profile or None)
    found = session.get_credentials()
    if found is None:
        return {}
    frozen = found.get_frozen_credentials()
    env = {"AWS_ACCESS_KEY_ID": frozen.access_key, "AWS_SECRET_ACCESS_KEY": frozen.secret_key}
    if frozen.token:
        env["AWS_SESSION_TOKEN"] = frozen.token
    region = config.region or session.region_name
    if region:
        env["AWS_DEFAULT_REGION"] = region
    return env
