"""The one door to restic: every restic process k3s-dr starts is built and run here.

A repository is a value (:class:`ResticRepo`: where it is, the file holding its password,
the credentials its backend needs); :func:`restic` runs one restic command against it within a
deadline and returns what happened as a :class:`CommandResult` — callers judge the exit status
and stderr (:func:`failure` reads the common sentences). The password and credentials reach
restic only through its environment, never its argv; no message quotes the environment.

restic 0.14 has no ``--retry-lock``: a command refused because another restic process holds
the repository lock is retried here (``lock_wait`` seconds at most), after ``restic unlock``
removed locks of processes that died (restic only removes stale ones).

The process itself runs through the project's process door (``dr_lib.proc.run``: argv, timeout,
env, stdin stream, stdout sink); what restic's result means is judged here.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from dr_lib import proc
from dr_lib.errors import DeadlineExceeded, DRError, EnvironmentProblem, IntegrityError, LockBusy, UsageError
from dr_lib.proc import CommandResult

LOCK_RETRY_SECONDS = 2.0
Sink = Callable[[bytes], None]


@dataclass(frozen=True)
class ResticRepo:
    """A restic repository as restic is told about it."""

    location: str  # a directory, or s3:…/sftp:… for a remote backend
    password_file: Path
    label: str  # how messages name it, e.g. "data repository /var/backups/k3s-cluster/data"
    env: Mapping[str, str] = field(default_factory=dict)  # backend credentials: never logged or shown
    cache: bool = False  # restic's local cache: a remote repository gains from it, a local one does not
    key_hint: str | None = None  # the key restic tries first (the data repository's fast key: fastkey.py)


def restic_binary() -> str:
    found = shutil.which("restic")
    if found is None:
        raise EnvironmentProblem("restic is not installed: application data and restic offsite targets need it",
                                 hint="apt-get install restic")
    return found


def environment(repo: ResticRepo) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RESTIC_", "AWS_"))}
    env |= dict(repo.env)
    env |= {"RESTIC_REPOSITORY": repo.location, "RESTIC_PASSWORD_FILE": str(repo.password_file), "TZ": "UTC"}
    return env


def argv_for(repo: ResticRepo, args: Sequence[str]) -> list[str]:
    hint = ["--key-hint", repo.key_hint] if repo.key_hint else []
    return [restic_binary(), *([] if repo.cache else ["--no-cache"]), *hint, *args]


# What restic prints when it fails, and what it means here: (text, class, sentence). Rules as data,
# first match wins (damage before the "no such file" that may follow it).
RULES: tuple[tuple[str, type[DRError], str], ...] = (
    ("Resolving password failed", UsageError, "its password file cannot be read"),
    ("wrong password", UsageError, "the password (key file) does not open it"),
    ("ciphertext verification failed", IntegrityError, "its data fails authentication: tampered or damaged"),
    ("Fatal: repository contains errors", IntegrityError, "restic check found errors"),
    ("error for tree", IntegrityError, "restic check found damaged trees"),
    ("invalid data returned", IntegrityError, "a file does not hash to its name: damaged"),
    ("no matching ID found", IntegrityError, "the snapshot named is not there"),
    ("not found in snapshot", IntegrityError, "the path named is not in the snapshot"),
    ("unable to open config file", UsageError, "it does not exist"),
    ("Is there a repository at the following location", UsageError, "it does not exist"),
    ("already locked", LockBusy, "another restic process holds its lock"),
    ("no space left on device", EnvironmentProblem, "the disk is full"),
)


def failure(repo: ResticRepo, result: CommandResult, doing: str) -> DRError:
    """The DRError for a failed restic command: what we did, on which repository, and restic's last words."""
    text = result.stderr
    last = [line.strip()[:200] for line in text.strip().splitlines() if line.strip()][-3:]
    detail = " | ".join(last) or f"exit {result.returncode}, no message"
    for needle, error, sentence in RULES:
        if needle.lower() in text.lower():
            return error(f"{repo.label}: cannot {doing}: {sentence}", hint=f"restic said: {detail}")
    return DRError(f"{repo.label}: cannot {doing} (restic exit {result.returncode})", hint=f"restic said: {detail}")


def _locked(result: CommandResult) -> bool:
    return result.returncode != 0 and "already locked" in result.stderr.lower()


def restic(repo: ResticRepo, args: Sequence[str], *, deadline: float, doing: str, check: bool = True,
           lock_wait: float = 0.0, cwd: Path | None = None, stdin: IO[bytes] | None = None,
           stdout_to: Sink | None = None) -> CommandResult:
    """Run ``restic ARGS`` on ``repo`` before ``deadline`` (monotonic); DRError when it fails and ``check``.

    ``lock_wait``: how long a command refused by another process's lock is retried (stale locks
    of dead processes are removed first). ``stdout_to`` receives stdout chunk by chunk (a dump).
    """
    argv = argv_for(repo, args)
    lock_deadline = min(deadline, time.monotonic() + lock_wait)
    unlocked = False
    while True:
        result = _run_process(argv, deadline=deadline, doing=f"{repo.label}: {doing}", env=environment(repo),
                              cwd=cwd, stdin=stdin, stdout_to=stdout_to)
        if not _locked(result) or time.monotonic() + LOCK_RETRY_SECONDS > lock_deadline or stdin is not None:
            break
        if not unlocked:  # a killed run leaves its lock behind; restic removes only locks whose process is gone
            _run_process(argv_for(repo, ["unlock"]), deadline=deadline, doing=f"{repo.label}: unlock",
                         env=environment(repo))
            unlocked = True
        time.sleep(LOCK_RETRY_SECONDS)
    if check and result.returncode != 0:
        raise failure(repo, result, doing)
    return result


def _run_process(argv: Sequence[str], *, deadline: float, doing: str, env: Mapping[str, str],
                 cwd: Path | None = None, stdin: IO[bytes] | None = None,
                 stdout_to: Sink | None = None) -> CommandResult:
    """One restic process to completion before ``deadline``, through the process door (``dr_lib.proc``).

    Only the environment built here reaches restic (``inherit_env=False``): no RESTIC_*/AWS_* of ours leaks in.
    """
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise DeadlineExceeded(f"{doing}: the deadline passed before restic could start")
    try:
        return proc.run(argv, timeout=remaining, env=env, inherit_env=False, cwd=cwd, stdin=stdin,
                        stdout_to=stdout_to, check=False)
    except DeadlineExceeded:
        raise DeadlineExceeded(f"{doing}: restic did not finish in time (stopped)",
                               hint="raise the timeout, or look at the machine's load and disk") from None


__all__ = ["CommandResult", "ResticRepo", "Sink", "argv_for", "environment", "failure", "restic", "restic_binary"]
