"""What a job tells the operator while it runs, and how its result says the run ends.

Jobs never print: only the CLI imports click. They hand warnings and progress lines to a
:class:`Reporter` the caller supplies (the CLI's writes them to stderr at once, in order with the
job's other output); :class:`Collected` keeps them for callers without a terminal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from dr_lib.errors import DRError


class Reporter(Protocol):
    def warn(self, message: str) -> None:
        """Something went wrong that does not fail the job (e.g. metrics not recorded)."""

    def note(self, line: str) -> None:
        """A line of progress or of record (e.g. the backup's log line, a push per target)."""


@dataclass
class Collected:
    """A reporter that keeps what it is told."""

    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def note(self, line: str) -> None:
        self.notes.append(line)


class Finished(Protocol):
    """A job's result: how the run ends once the result is shown."""

    @property
    def exit_error(self) -> DRError | None: ...


def warn_each(reporter: Reporter, warnings: Iterable[str]) -> None:
    for warning in warnings:
        reporter.warn(warning)
