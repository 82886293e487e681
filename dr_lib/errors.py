"""The one error hierarchy of k3s-dr.

Every error the tool raises on purpose is a :class:`DRError`. Each class carries the
process exit code that the CLI maps it to (in one place: ``dr_lib.cli.main``), so scripts
and systemd units can tell *why* a run failed without parsing text. Messages name the value,
what is wrong with it and what is accepted; they never contain secrets.
"""

from __future__ import annotations


class ExitCode:
    """Process exit codes. Stable: operators and CI scripts branch on them."""

    OK = 0
    FAILURE = 1  # an operation ran and did not succeed (e.g. a restore with failed objects)
    USAGE = 2  # bad input: arguments, configuration, an archive that is not acceptable
    PARTIAL = 3  # an operation completed only in part (restore ledger with failures)
    NOT_PROMOTED = 4  # a backup was written but not promoted (shrink guard)
    BUSY = 5  # another run holds the lock
    CLUSTER = 6  # the Kubernetes API server is unreachable, refuses us, or misbehaves
    ENVIRONMENT = 7  # a tool, binary, port, engine or file the machine must provide is missing
    INTEGRITY = 8  # an archive failed verification (checksum, structure, hostile content)
    TIMEOUT = 9  # a deadline passed while waiting
    INTERRUPTED = 130  # Ctrl-C, or SIGTERM stopping a restore between writes


class DRError(Exception):
    """Base of every error k3s-dr raises deliberately."""

    exit_code: int = ExitCode.FAILURE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message} ({self.hint})"


class UsageError(DRError):
    """Bad arguments or input values."""

    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    """A configuration value is invalid: names the key, the value and what is accepted."""

    def __init__(self, key: str, value: object, accepted: str, *, source: str | None = None) -> None:
        where = f" in {source}" if source else ""
        super().__init__(f"config key {key!r}{where} has value {value!r}: accepted is {accepted}")
        self.key = key
        self.value = value
        self.accepted = accepted


class EnvironmentProblem(DRError):
    """Something the machine must provide is missing or unusable (a binary, a port, Docker)."""

    exit_code = ExitCode.ENVIRONMENT


class ClusterError(DRError):
    """The Kubernetes API server could not be reached or refused the request."""

    exit_code = ExitCode.CLUSTER


class ClusterUnreachable(ClusterError):
    """No answer from the API server at all."""


class ClusterAuthError(ClusterError):
    """The API server answered 401/403 to our credentials."""


class IntegrityError(DRError):
    """An archive failed verification; nothing from it may be trusted or applied."""

    exit_code = ExitCode.INTEGRITY


class LockBusy(DRError):
    """Another backup or restore holds the lock."""

    exit_code = ExitCode.BUSY


class DeadlineExceeded(DRError):
    """A wait passed its deadline."""

    exit_code = ExitCode.TIMEOUT


class NotPromoted(DRError):
    """A backup was written and kept, but the links were deliberately not moved to it."""

    exit_code = ExitCode.NOT_PROMOTED


class PartialFailure(DRError):
    """An operation finished, but some of its items failed (see its ledger)."""

    exit_code = ExitCode.PARTIAL


class Interrupted(DRError):
    """SIGTERM or SIGINT stopped an operation between its writes; what it did is recorded (its ledger)."""

    exit_code = ExitCode.INTERRUPTED


class ChecksFailed(DRError):
    """The host checks ran and at least one control failed or could not be judged (the report says which)."""

    exit_code = ExitCode.FAILURE
