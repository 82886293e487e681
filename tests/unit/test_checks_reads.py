"""Each control row names the facts its verdict reads (``Control.reads``, shown in docs/checks.md's
file map). Proven here: every verdict runs on many fake hosts (healthy, each seeded problem of the
pure mutation table, the offsite hosts) through a recorder of what it touches; what it touches is
exactly what its row declares."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from _host_facts import LAYOUT, NOW, healthy, with_unit
from test_checks_signatures import signed_host
from test_checks_verdicts import MUTATIONS
from test_offsite_checks import attempt, offsite_host, with_lab

from dr_lib.checks.controls import CONTROLS
from dr_lib.checks.hostfacts import HostFacts
from dr_lib.checks.model import Control
from dr_lib.checks.model import Fact as F
from dr_lib.checks.units import PathCondition

VERIFY_PEM = ("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n"
              "-----END PUBLIC KEY-----\n")  # an Ed25519 verify key (RFC 8032 test vector 1's public key)

# Every field and method of HostFacts and FileFacts a verdict may touch, and the fact it is.
HOST_FIELDS: Mapping[str, F | None] = {
    "host": None, "layout": None, "extra": None,  # the name, and the configuration's values every verdict reads
    "files": None,  # FileFacts: recorded field by field below
    "config_problem": F.CONFIG, "config_present": F.CONFIG, "units": F.UNITS, "unit": F.UNITS,
    "waivers": F.WAIVERS,
}
FILE_FIELDS: Mapping[str, F | None] = {
    "clock": F.CLOCK, "host_today": F.CLOCK, "stats": F.PATHS, "stat": F.PATHS, "archives": F.ARCHIVES,
    "archive_at": F.ARCHIVES, "archive_named": F.ARCHIVES, "newest_verified": F.ARCHIVES, "inspected": F.CONTENTS,
    "files": F.FILES, "content": F.FILES, "log_lines": F.LOG, "log_error": F.LOG, "scrape": F.SCRAPE,
}


class Recording:
    """A stand-in for HostFacts (or its FileFacts) that notes which facts are read."""

    def __init__(self, target: Any, fields: Mapping[str, F | None], seen: set[F]) -> None:
        self._target, self._fields, self._seen = target, fields, seen

    def __getattr__(self, name: str) -> Any:
        if name not in self._fields:  # a new field: say which fact it is above
            raise AssertionError(f"{type(self._target).__name__}.{name} is not mapped to a Fact")
        fact = self._fields[name]
        if fact is not None:
            self._seen.add(fact)
        value = getattr(self._target, name)
        if self._fields is HOST_FIELDS and name == "files":
            return Recording(value, FILE_FIELDS, self._seen)
        return value


def hosts() -> list[HostFacts]:
    units = LAYOUT.config.units
    push_failed = attempt(ok=False, at=NOW - 500, error="could not be reached", backup_ok=True)
    found = [
        healthy(), offsite_host(), with_lab(None)(offsite_host()),
        # exit 3 of a backup run whose push failed (DR-TIMER-002 then reads the push record)
        with_unit(with_lab(push_failed)(offsite_host()), units.backup, result="exit-code", exec_main_status=3,
                  exec_main_start=NOW - 600),
        # another path the auto-restore unit waits for (DR-RESTORE-002 then stats it)
        with_unit(healthy(), units.auto_restore, path_conditions=(
            PathCondition(LAYOUT.snapshot_link), PathCondition("/etc/k3s-dr/restore-allowed"))),
        # a verify key configured (DR-TRUST-001 then reads the snapshot's record)
        signed_host(VERIFY_PEM, {"state": "valid", "key_id": "ab" * 8}),
    ]
    return found + [mutate(healthy()) for _, mutate, _ in MUTATIONS]


def reads(item: Control) -> set[F]:
    seen: set[F] = set()
    for facts in hosts():
        item.verdict(Recording(facts, HOST_FIELDS, seen))  # type: ignore[arg-type]
    return seen


@pytest.mark.parametrize("item", CONTROLS, ids=[c.id for c in CONTROLS])
def test_each_row_declares_what_its_verdict_reads(item: Control) -> None:
    assert sorted(reads(item)) == sorted(item.reads), item.verdict.__name__
