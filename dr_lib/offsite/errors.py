"""The ways an offsite operation fails, each a DRError with the exit code scripts branch on.

Messages name the target, the bucket or repository and what to do; never a credential.
"""

from __future__ import annotations

from dr_lib.errors import EnvironmentProblem, IntegrityError, UsageError


class RemoteUnreachable(EnvironmentProblem):
    """The server did not answer, or the connection broke (exit 7)."""


class RemoteAuthError(UsageError):
    """The server refused our credentials (exit 2): fix the AWS credentials or the restic password."""


class RemoteMissing(UsageError):
    """The bucket, repository or copy named does not exist (exit 2)."""


class RemoteIntegrityError(IntegrityError):
    """A remote copy differs from what was pushed: tampered, truncated or corrupt (exit 8)."""


class WrongIdentity(UsageError):
    """The age identity given holds no key that opens this archive (exit 2)."""


class ToolMissing(EnvironmentProblem):
    """A program an offsite target needs (restic, versitygw, go) is not installed (exit 7)."""
