"""``k3s-dr fix``: repair what the conformance controls find and a machine can safely repair.

It reads the host exactly as the suite does (:func:`dr_lib.checks.gather.gather`, run locally),
plans repairs purely (:func:`plan_fix`), applies them, then judges again and reports what is
left for a person (a stale backup, a failed run, a missing token: causes, not symptoms).
Idempotent: on a repaired host it plans nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from dr_lib import proc
from dr_lib.archive import format as fmt
from dr_lib.archive.rotation import ArchiveRecord, newest_with_user_objects
from dr_lib.archive.sidecar import is_verified
from dr_lib.archive.usercount import archive_user_objects
from dr_lib.checks.evaluate import evaluate_all
from dr_lib.checks.gather import gather
from dr_lib.checks.hostfacts import EXPORTER_UNIT, HostFacts, PathFacts
from dr_lib.checks.model import Finding, Outcome
from dr_lib.config import Config
from dr_lib.errors import DeadlineExceeded, UsageError
from dr_lib.host.exporter import EXPORTER_PATH, exporter_steps
from dr_lib.host.fsops import Root
from dr_lib.host.install import (
    HostChange,
    InstallState,
    admin_steps,
    dir_steps,
    enable_steps,
    needs_reload,
    read_state,
    rewrites,
)
from dr_lib.host.steps import Kind, Step, apply_steps, file_steps
from dr_lib.host.systemd import Systemctl, systemctl
from dr_lib.host.units import FOREIGN_SUFFIX, render_all

LOCAL_COMMAND_SECONDS = 120.0
PRIVATE_ARCHIVE = 0o600


def local_runner(command: str) -> tuple[int, str, str]:
    """The gather runner of this host: its protocol is shell text (testinfra's ``host.run`` runs the same)."""
    try:
        done = proc.run(["sh", "-c", command], timeout=LOCAL_COMMAND_SECONDS, check=False)
    except DeadlineExceeded:
        raise DeadlineExceeded(f"reading the host took longer than {LOCAL_COMMAND_SECONDS:.0f}s") from None
    return done.returncode, done.stdout, done.stderr


def _failing(findings: Mapping[str, Outcome], *controls: str) -> str:
    return ", ".join(c for c in controls if findings.get(c) is Outcome.FAIL)


def archive_records(facts: HostFacts) -> tuple[ArchiveRecord, ...]:
    """The backup directory's archives as rotation reads them (:mod:`dr_lib.backup.catalog`): verified when a
    verification record of this very file exists (and a digest the probe computed matches it), user objects by
    the current rules. Reads the archives' records, counting objects only where no record counts them."""
    records = []
    for archive in facts.files.archives:
        created = fmt.archive_time(archive.name)
        if created is None:  # not named like ours: never a link target
            continue
        path = Path(archive.path)
        verified = is_verified(path) and (archive.sha256 is None or archive.verified)
        records.append(ArchiveRecord(archive.name, created, verified, archive_user_objects(path)))
    return tuple(records)


def _no_link_target(archives: Sequence[ArchiveRecord], path: str) -> str:
    newest = next((r for r in sorted(archives, key=lambda r: (r.created, r.name), reverse=True) if r.verified), None)
    if newest is None:
        return f"no verified archive to point {path} at: run a backup first"
    # After a wipe the newest verified archive is a backup of the empty cluster: linked, the next boot would
    # restore nothing and the next backups would be promoted over the last archive that can bring it back.
    return (f"no verified archive holds user objects (the newest, {newest.name}, holds none): {path} left as it "
            "is; verify an archive that holds them (`k3s-dr verify`) or back up once the cluster has them")


def _link_steps(facts: HostFacts, findings: Mapping[str, Outcome],
                archives: Sequence[ArchiveRecord]) -> tuple[list[Step], list[tuple[str, str]]]:
    """Both links onto the archive rotation keeps as the one that can bring the cluster back, as promotion
    leaves them after a wipe: the newest verified archive holding user objects, never merely the newest."""
    good = newest_with_user_objects(archives)
    newest = good.name if good is not None and good.verified else None
    steps: list[Step] = []
    unfixable: list[tuple[str, str]] = []
    for path, controls in ((facts.layout.latest_link, ("DR-LINK-001",)),
                           (facts.layout.snapshot_link, ("DR-LINK-002", "DR-LINK-003"))):
        label = _failing(findings, *controls)
        if not label:
            continue
        if newest is None:
            unfixable.append((label, _no_link_target(archives, path)))
            continue
        st: PathFacts = facts.files.stat(path)
        if st.lexists and not st.is_link:
            steps.append(Step(Kind.MOVE_ASIDE, path, f"a {st.kind}, not a link: kept as {path}{FOREIGN_SUFFIX}",
                              label, args=(FOREIGN_SUFFIX,)))
        was = "missing" if not st.lexists else f"was → {st.target}"
        steps.append(Step(Kind.RELINK, path, f"{was}; newest verified archive holding user objects", label,
                          args=(newest,)))
    return steps, unfixable


def _permission_steps(facts: HostFacts, findings: Mapping[str, Outcome]) -> list[Step]:
    steps = []
    if findings.get("DR-BKP-001") is Outcome.FAIL:
        mode = facts.files.stat(facts.layout.backup_dir)
        steps += dir_steps({facts.layout.backup_dir: 0o700}, {facts.layout.backup_dir: mode.mode if mode.exists
                                                              else None}, "DR-BKP-001")
    if findings.get("DR-BKP-003") is Outcome.FAIL:
        steps += [Step(Kind.CHMOD, a.path, f"mode {a.mode:04o}", "DR-BKP-003", mode=PRIVATE_ARCHIVE)
                  for a in facts.files.archives if a.mode & 0o077]
    return steps


def _labelled_file_steps(config: Config, exe: str, config_path: str, state: InstallState,
                         findings: Mapping[str, Outcome]) -> list[Step]:
    units = config.units
    labels = {
        f"/usr/local/lib/systemd/system/{units.auto_restore}": _failing(
            findings, "DR-RESTORE-002", "DR-RESTORE-003", "DR-RESTORE-004", "DR-UNIT-002", "DR-UNIT-001"),
        f"/usr/local/lib/systemd/system/{units.backup}": _failing(findings, "DR-UNIT-002", "DR-UNIT-001"),
        f"/usr/local/lib/systemd/system/{units.backup_timer}": _failing(findings, "DR-TIMER-001", "DR-UNIT-001"),
        EXPORTER_PATH: _failing(findings, "DR-METRICS-003", "DR-UNIT-002", "DR-UNIT-001"),
        "/etc/logrotate.d/k3s-dr": _failing(findings, "DR-LOG-002"),
    }
    desired = [f for f in render_all(config, exe, config_path) if not f.keep_existing]
    steps = []
    for wanted in desired:
        for step in file_steps([wanted], state.files):
            steps.append(Step(step.kind, step.target, step.reason, labels.get(wanted.path) or "drift",
                              step.content, step.mode, step.args, step.diff))
    return steps


def plan_fix(facts: HostFacts, exe: str, state: InstallState,
             archives: Sequence[ArchiveRecord]) -> tuple[list[Step], list[tuple[str, str]]]:
    """Repairs for the failing fixable controls, in a safe order; and what cannot be repaired here.
    ``archives``: the backup directory's, as :func:`archive_records` reads them (the links' candidates)."""
    config, config_path = facts.layout.config, facts.layout.config_path
    findings = {cid: finding.outcome for cid, finding in evaluate_all(facts).items()}
    steps = _permission_steps(facts, findings)
    steps += _labelled_file_steps(config, exe, config_path, state, findings)
    steps += admin_steps(config, state.admin,
                         _failing(findings, "DR-RESTORE-001", "DR-TIMER-001", "DR-METRICS-003") or "shadowed")
    unit_paths = {f.path for f in render_all(config, exe, config_path) if f.is_unit}
    if needs_reload(steps, state.units, unit_paths):
        steps.append(Step(Kind.SYSTEMCTL, "systemd", "unit files on disk differ from what systemd runs",
                          _failing(findings, "DR-UNIT-001") or "reload", args=("daemon-reload",)))
    relinked = {s.target.rsplit("/", 1)[-1] for s in steps if s.kind is Kind.MOVE_ASIDE}
    steps += enable_steps(config, state.units, relinked, _failing(findings, "DR-RESTORE-001", "DR-TIMER-001"))
    link_steps, unfixable = _link_steps(facts, findings, archives)
    # Last, as in install: an exporter that cannot start must not hold back the repairs above.
    exporter = exporter_steps(config, state.units, rewritten=rewrites(steps, EXPORTER_PATH),
                              relinked=EXPORTER_UNIT in relinked,
                              control=_failing(findings, "DR-METRICS-003", "DR-UNIT-002", "DR-UNIT-001") or "drift")
    return steps + link_steps + exporter, unfixable


def fix(config_path: str, exe: str, *, dry_run: bool, root: Root | None = None,
        run: Systemctl = systemctl) -> HostChange:
    base = root or Root()
    facts = gather(local_runner, "local", config_path)
    if facts.config_problem:  # repairing against default paths could damage another layout
        raise UsageError(f"refusing to fix with an unusable configuration: {facts.config_problem}")
    config = facts.layout.config
    state = read_state(config, config_path, render_all(config, exe, config_path), base, run)
    steps, unfixable = plan_fix(facts, exe, state, archive_records(facts))
    if dry_run:
        return HostChange(tuple(steps), True, tuple(unfixable))
    apply_steps(steps, base, run)
    after = evaluate_all(gather(local_runner, "local", config_path))
    return HostChange(tuple(steps), False, remaining_after(after, unfixable))


def remaining_after(after: Mapping[str, Finding], unfixable: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """The controls still failing after the repairs, each with why fix left it when it knew beforehand."""
    why_not = {cid: why for label, why in unfixable for cid in label.split(", ")}
    return tuple((cid, f"{f.problem}; not repaired: {why_not[cid]}" if cid in why_not else f.problem)
                 for cid, f in after.items() if f.outcome is Outcome.FAIL)
