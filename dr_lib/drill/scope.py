"""What a drill did not cover, as rules with reasons: the scope limits an auditor must read
before the verdict. Any limit that applies makes a passing verdict read "pass (limited scope)".

Pure: facts in (what the drill observed and how it ran), limits out. The facts come from
observation where there is one (the target cluster's nodes as the API server lists them), and
from the drill's settings otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

SYNTHETIC = "synthetic"
ARCHIVE = "archive"


@dataclass(frozen=True)
class ScopeFacts:
    kind: str  # synthetic: the drill seeded its own application | archive: a given backup
    nodes_observed: bool  # the target's nodes were listed (verify ran)
    simulated_nodes: tuple[str, ...]  # names of kwok nodes (observed, or the provider's when not observed)
    real_nodes: tuple[str, ...]
    simulated_workloads: tuple[str, ...]  # workloads whose pods sat on simulated nodes
    volume_data_checked: bool  # data written before the backup was read back after the restore
    datastore_backed_up: bool  # an archive drill: the archive holds the datastore snapshot
    production_source: bool  # an archive drill's source is the team's own backup (docs/drill.md, "Scope")
    data_not_checked: tuple[str, ...] = ()  # an archive drill: why (part of) its data was not checked


@dataclass(frozen=True)
class Limit:
    id: str
    what: str  # what was not covered, with the drill's own detail
    why: str  # why an auditor should care
    cover: str  # what covers it instead

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "what": self.what, "why": self.why, "covered_by": self.cover}


def _simulated(f: ScopeFacts) -> str:
    seen = "" if f.nodes_observed else " (the provider's nodes; the drill ended before it could list them)"
    pods = f"; pods of {', '.join(f.simulated_workloads)} ran there" if f.simulated_workloads else ""
    real = f"; real node(s): {', '.join(f.real_nodes)}" if f.real_nodes else "; no real node"
    return f"simulated nodes (kwok): {', '.join(f.simulated_nodes)}{seen}{pods}{real}"


@dataclass(frozen=True)
class Rule:
    id: str
    applies: Callable[[ScopeFacts], bool]
    what: Callable[[ScopeFacts], str]
    why: str
    cover: str = field(default="")


def _no_data(f: ScopeFacts) -> str:
    if f.kind == ARCHIVE:
        why = "; ".join(f.data_not_checked) or "the archive's data members were not all restored and read back"
        return f"no volume data: the archive's application data was not checked — {why}"
    return "no volume data: no application data was written before the backup and read back after the restore"


def _no_datastore(f: ScopeFacts) -> str:
    if f.kind == ARCHIVE:
        return "no datastore: the archive holds no k3s datastore snapshot and token (taken with --no-datastore)"
    return "no datastore: the backup left out the k3s datastore and its token (--no-datastore)"


RULES: tuple[Rule, ...] = (
    Rule("synthetic-application", lambda f: f.kind == SYNTHETIC,
         lambda f: "synthetic application: the drill restored an application it seeded itself, not your backup",
         "it proves the tool restores, not that your own archives restore",
         "a drill of your own archive (k3s-dr drill --archive PATH|latest, or --from REMOTE[:NAME])"),
    Rule("simulated-nodes", lambda f: bool(f.simulated_nodes), _simulated,
         "kwok reports pods Running and Ready without starting a container: no image was pulled and no "
         "process ran on these nodes",
         "k3s-dr drill --real-node (the database runs for real), or a drill on real kubelets (k3d)"),
    Rule("no-volume-data", lambda f: not f.volume_data_checked, _no_data,
         "objects coming back says nothing about the data on their volumes",
         "k3s-dr drill --real-node (rows written to the database before the backup are read back; an archive's "
         "volume copies and dumps are restored and checked there)"),
    Rule("no-datastore", lambda f: not f.datastore_backed_up, _no_datastore,
         "a node that loses its datastore recovers from the datastore snapshot, which this drill did not restore",
         "the boot drill (k3s-dr lab host drill): the datastore lost, the host rebooted, the auto-restore judged"),
    Rule("not-production", lambda f: not f.production_source,
         lambda f: "not production: source and target were throwaway clusters made for the drill",
         "production's size, versions, add-ons and admission rules were not part of the test",
         "a drill of a production archive into a staging cluster (k3s-dr drill --archive or --from)"),
)


def limits(facts: ScopeFacts) -> list[Limit]:
    return [Limit(rule.id, rule.what(facts), rule.why, rule.cover) for rule in RULES if rule.applies(facts)]


def verdict_text(verdict: str, found: Sequence[Limit]) -> str:
    """The verdict as the report reads it: a pass with any limit is a "pass (limited scope)"."""
    return f"{verdict} (limited scope)" if verdict == "pass" and found else verdict


def scope_json(found: Sequence[Limit]) -> dict[str, Any]:
    return {"limited": bool(found), "limits": [limit.to_json() for limit in found]}
