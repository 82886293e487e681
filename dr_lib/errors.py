"""The one error hierarchy of k3s-dr.

Every error the tool raises on purpose is a :class:`DRError`. Each class carries the
process exit code that the CLI maps it to (in one place: ``dr_lib.cli.main``), so scripts
and systemd units can tell *why* a run failed without parsing text. Messages name the value,
what is wrong with it and what is accepted; they never contain secrets.

Every exception class of ``dr_lib`` lives here: the general ones first, then those of one
area (processes, offsite, hooks, backup, the drill), then the one internal signal of the
Kubernetes transport. None derives from ``ValueError`` or ``AssertionError``: an ``except
ValueError`` meant for a parse error must never swallow one of ours by accident.
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


# What each exit status means, for every command's --help (dr_lib.cli.params.exit_codes_epilog) and the
# docs: one row per code, the same order as ExitCode.
EXIT_CODES: tuple[tuple[int, str], ...] = (
    (ExitCode.OK, "ok (diff: no differences)"),
    (ExitCode.FAILURE, "failed (diff: objects differ or are missing; check: a control failed)"),
    (ExitCode.USAGE, "bad input: options, configuration, an archive that is not acceptable"),
    (ExitCode.PARTIAL, "partial: some objects failed (see the ledger)"),
    (ExitCode.NOT_PROMOTED, "backup kept but not promoted (the shrink guard)"),
    (ExitCode.BUSY, "another run holds the lock"),
    (ExitCode.CLUSTER, "the cluster is unreachable or refused the request"),
    (ExitCode.ENVIRONMENT, "environment: a missing tool, extra, port or disk"),
    (ExitCode.INTEGRITY, "integrity: an archive or report failed verification"),
    (ExitCode.TIMEOUT, "a deadline passed"),
    (ExitCode.INTERRUPTED, "interrupted (Ctrl-C)"),
)


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


class ExtraMissing(EnvironmentProblem):
    """An optional dependency is not installed (exit 7): one line saying who needs what, ending with the
    command that installs the extra which brings it, ``pip install 'k3s-dr[EXTRA]'``."""

    def __init__(self, message: str, *, extra: str) -> None:
        super().__init__(f"{message}: pip install 'k3s-dr[{extra}]'")
        self.extra = extra


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


class SnapshotRefused(IntegrityError):
    """Auto-restore refused the snapshot link's target: not an archive k3s-dr wrote and verified in backup.dir."""


class MalformedSignature(IntegrityError):
    """A signature document (``manifest.json.sig``, ``SHA256SUMS.sig``) that cannot be one of ours; says why."""


class UnreadableEvidence(IntegrityError):
    """A report file (drill evidence, check results, a seal) that cannot be taken as evidence; says why."""


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


# --- processes (dr_lib.proc) ------------------------------------------------------------------


class ToolMissing(EnvironmentProblem):
    """A program we run is not installed: restic, zfs, systemctl, k3s, chromium (exit 7)."""


class CommandFailed(EnvironmentProblem):
    """A program we ran exited non-zero (exit 7): its status and the tail of its stderr, never its environment."""

    def __init__(self, message: str, *, returncode: int, stderr: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.returncode = returncode
        self.stderr = stderr


# --- offsite (messages name the target, the bucket or repository; never a credential) ---------


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


# --- application data: hooks and volumes ------------------------------------------------------


class HookSpecError(UsageError):
    """A hook or volume declaration is wrong (exit 2): names the pod, the key, the value and what is accepted."""


class HookFailed(DRError):
    """A hook with on-error=fail failed: the backup stops and nothing is promoted."""


class VolumeError(DRError):
    """A volume cannot be copied or put back: the message says which and why."""


class OutsideRoots(IntegrityError):
    """A volume's target is not a place restores may write (exit 8): the message names the path and why."""


class VolumeContentRefused(IntegrityError):
    """The volume's data holds something a volume may not hold (exit 8): the message names the entry and why."""


class VolumeRefused(VolumeContentRefused):
    """The volume is not put in place (exit 8): the message says why (digest, hostile entry, existing data)."""


class DumpCapped(DRError):
    """A dump hook's stdout reached its cap (``hooks.max_dump_size``). Raised inside the exec's reader to
    stop the stream; never leaves :mod:`dr_lib.hooks.runner`, which reports it as the hook's failure."""


# --- backup and the Kubernetes API ------------------------------------------------------------


class ResourceGone(ClusterError):
    """The server does not serve this resource (404): a CRD removed, a kind it does not know."""


class Cancelled(DRError):
    """Another kind's export failed; this one stopped early (its error is the one reported)."""


# --- the restore drill --------------------------------------------------------------------------


class StepFailed(DRError):
    """A drill step's check did not hold: the drill failed here, for the reason given.

    Not an ``AssertionError``: pytest reports any exception of a test's call phase as a failure
    with the same ``E   <class>: <message>`` line, and the drill records ``str(exc)`` either way.
    """


class StepSkipped(DRError):
    """A drill step could not run because a step it needs did not succeed (the test is skipped)."""


class DrillFailed(DRError):
    """The drill ran and its verdict is fail (the report says where and why)."""


# --- an internal signal -----------------------------------------------------------------------


class Unanswered(OSError):
    """dr_lib.kube's transports: the server gave no HTTP answer (refused, reset, timed out, TLS failed).

    Never leaves dr_lib.kube (the client turns it into :class:`ClusterUnreachable`). An
    ``OSError`` on purpose: the writer's retry code handles it exactly like a socket error.
    """

    def __init__(self, message: str, *, tls: bool = False) -> None:
        super().__init__(message)
        self.tls = tls
