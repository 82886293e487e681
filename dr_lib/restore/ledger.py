"""The restore ledger: one entry per object with its result and reason, as a value.

The ledger is what an operator and an auditor read after a restore: what was created,
updated, found unchanged, skipped (and how it differed) or failed (and the API server's own
words why), plus every object the plan left out and the rule that did. It decides the exit
status: complete, partial or failed. A restore stopped by a signal (or killed, and recovered
from its journal: ``journal.py``) also says so under ``interrupted``; it is never complete.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from dr_lib.restore.plan import LeftOut

CREATED = "created"
UPDATED = "updated"
UNCHANGED = "unchanged"
SKIPPED = "skipped"
FAILED = "failed"
RESULTS = (CREATED, UPDATED, UNCHANGED, SKIPPED, FAILED)
MAX_DIFFERENCES_KEPT = 20


@dataclass(frozen=True)
class Entry:
    tier: str
    resource: str
    kind: str
    namespace: str
    name: str
    result: str
    reason: str = ""
    differences: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    @classmethod
    def from_dict(cls, data: Any) -> Entry:
        """The inverse of :meth:`to_dict` (a journal line); ValueError for anything else."""
        keys = ("tier", "resource", "kind", "namespace", "name", "result")
        if not isinstance(data, dict) or any(key not in data for key in keys):
            raise ValueError(f"a ledger entry is a JSON object with {', '.join(keys)}: got {str(data)[:200]}")
        tier, resource, kind, namespace, name, result = (str(data[key]) for key in keys)
        if result not in RESULTS:
            raise ValueError(f"a ledger entry's result is {result!r}: expected one of {', '.join(RESULTS)}")
        differences = data.get("differences") or []
        return cls(tier, resource, kind, namespace, name, result, str(data.get("reason", "")),
                   tuple(str(d) for d in differences) if isinstance(differences, list) else ())

    def to_dict(self) -> dict[str, Any]:
        value: dict[str, Any] = {"tier": self.tier, "resource": self.resource, "kind": self.kind,
                                 "namespace": self.namespace, "name": self.name, "result": self.result,
                                 "reason": self.reason}
        if self.differences:
            value["differences"] = list(self.differences[:MAX_DIFFERENCES_KEPT])
        return value


@dataclass
class Ledger:
    archive: str
    dry_run: bool
    policy: str
    started: str  # UTC ISO 8601
    entries: list[Entry] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)
    seconds: float = 0.0
    archive_sha256: str = ""
    wait: dict[str, Any] | None = None
    # Set when a signal stopped the restore (or it was killed and its journal recovered): how, and what was
    # not attempted. The ledger's other fields keep their meaning: ``objects`` is what was applied.
    interrupted: dict[str, Any] | None = None

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(entry.result for entry in self.entries)
        return {result: counted.get(result, 0) for result in RESULTS}

    @property
    def complete(self) -> bool:
        waited_ok = self.wait is None or bool(self.wait.get("ready"))
        return self.counts[FAILED] == 0 and waited_ok and self.interrupted is None

    @property
    def outcome(self) -> str:
        """complete | partial | failed."""
        counts = self.counts
        if self.complete:
            return "complete"
        if counts[FAILED] and counts[FAILED] == len(self.entries):
            return "failed"
        return "partial"

    def failures(self) -> list[Entry]:
        return [entry for entry in self.entries if entry.result == FAILED]

    def to_dict(self) -> dict[str, Any]:
        return {
            "archive": self.archive, "archive_sha256": self.archive_sha256, "dry_run": self.dry_run,
            "policy": self.policy, "started": self.started, "seconds": round(self.seconds, 3),
            "counts": self.counts, "complete": self.complete, "outcome": self.outcome,
            "objects": [entry.to_dict() for entry in self.entries],
            "left_out": [{"resource": item.key.resource, "kind": item.kind, "namespace": item.key.namespace,
                          "name": item.key.name, "reason": item.reason} for item in self.left_out],
            "wait": self.wait, **({} if self.interrupted is None else {"interrupted": self.interrupted}),
        }


def summary_rows(ledger: Ledger) -> list[tuple[str, ...]]:
    """Rows of the terminal table: per kind, how many objects ended in each result."""
    per_kind: dict[str, Counter[str]] = {}
    for entry in ledger.entries:
        per_kind.setdefault(entry.resource, Counter())[entry.result] += 1
    rows: list[tuple[str, ...]] = [("KIND", *(r.upper() for r in RESULTS))]
    for resource in sorted(per_kind):
        rows.append((resource, *(str(per_kind[resource].get(r, 0)) for r in RESULTS)))
    rows.append(("TOTAL", *(str(ledger.counts[r]) for r in RESULTS)))
    return rows


def detail_rows(ledger: Ledger, *, include_created: bool = False) -> list[tuple[str, ...]]:
    """One row per object worth a look (everything but plain creations, unless asked)."""
    rows: list[tuple[str, ...]] = [("RESULT", "KIND", "OBJECT", "REASON")]
    for entry in ledger.entries:
        if entry.result == CREATED and not include_created:
            continue
        rows.append((entry.result, entry.resource, entry.where, entry.reason))
    return rows


def format_table(rows: list[tuple[str, ...]], max_width: int = 100) -> list[str]:
    widths = [min(max(len(row[i]) for row in rows), max_width) for i in range(len(rows[0]))]
    return ["  ".join(cell[:max_width].ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
