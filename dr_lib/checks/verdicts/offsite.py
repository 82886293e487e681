"""DR-OFFSITE-001..003: offsite copies current and verified, encrypted where required, kept as configured.

Pure verdicts over the host's own configuration (``offsite.targets``), its local archives and the
record every push leaves on it (:mod:`dr_lib.checks.pushstate`, read by the probe). The remote is
never contacted: the suite holds no credentials. Each control is n/a where no offsite target is
configured; per target, a problem belongs to one control: a missing or failed push is
DR-OFFSITE-001's, so the other two are n/a for that target until a push has succeeded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from dr_lib.checks.hostfacts import HostFacts
from dr_lib.checks.model import Finding, Outcome, failed, not_applicable, passed
from dr_lib.checks.pushstate import PushAttempt, TargetPushes, parse_push_state
from dr_lib.checks.verdicts.files import age
from dr_lib.config import OffsiteTargetConfig, duration_seconds
from dr_lib.errors import ExitCode

PARTIAL_EXIT = ExitCode.PARTIAL  # a backup run that backed up and promoted, but whose push failed, exits with it


@dataclass(frozen=True)
class PushFacts:
    targets: Mapping[str, TargetPushes]
    problem: str | None = None  # the record exists but cannot be read


def push_facts(facts: HostFacts) -> PushFacts:
    path = facts.layout.push_state
    content, error = facts.files.files.get(path, (None, None))
    if error:
        return PushFacts({}, f"cannot read the push record {path}: {error}")
    if content is None:
        return PushFacts({})
    try:
        return PushFacts(parse_push_state(content))
    except (ValueError, TypeError) as exc:
        return PushFacts({}, f"the push record {path} is unreadable: {exc}")


TargetVerdict = Callable[[str, OffsiteTargetConfig, TargetPushes, HostFacts], Finding]


def _per_target(facts: HostFacts, judge: TargetVerdict, *, record_problem_fails: bool = False) -> Finding:
    targets = facts.layout.config.offsite.targets
    if not targets:
        return not_applicable("no offsite target is configured (offsite.targets)")
    record = push_facts(facts)
    if record.problem:
        if record_problem_fails:
            return failed(record.problem, facts.layout.push_state)
        return not_applicable(f"{record.problem}: see DR-OFFSITE-001")
    findings = [judge(name, targets[name], record.targets.get(name, TargetPushes()), facts) for name in sorted(targets)]
    evidence = "; ".join(f.evidence for f in findings)
    problems = [f.problem for f in findings if f.outcome is Outcome.FAIL]
    if problems:
        return failed("; ".join(problems), evidence)
    if all(f.outcome is Outcome.NOT_APPLICABLE for f in findings):
        return not_applicable(evidence)
    return passed(evidence)


def _when(attempt: PushAttempt, now: float) -> str:
    return f"{age(now - attempt.at)} ago, by {'a backup run' if attempt.trigger == 'backup' else 'k3s-dr push'}"


def _current(name: str, config: OffsiteTargetConfig, pushes: TargetPushes, facts: HostFacts) -> Finding:
    now, newest = facts.files.clock.now, facts.files.newest_verified
    last = pushes.last
    if last is None:
        if newest is None:
            return not_applicable(f"{name}: nothing to push yet (no verified archive: DR-BKP-002)")
        return failed(f"{name}: never pushed, while {newest} is verified", f"{name}: no push recorded")
    if not last.ok:
        return failed(f"{name}: the last push ({_when(last, now)}) failed: {last.error}",
                      f"{name}: last push of {last.archive} failed (exit {last.exit_code})")
    success = last  # the last attempt succeeded: it is the last success
    if not success.verified:
        return failed(f"{name}: the last copy ({success.archive}) was not verified after the upload",
                      f"{name}: {success.archive} {success.action}, unverified")
    limit = duration_seconds(config.max_age)
    behind = newest is not None and success.archive < newest  # archive names sort by their time
    evidence = (f"{name}: {success.archive} {success.action} and verified {_when(success, now)}"
                + (f"; {newest} not yet offsite" if behind else ""))
    if behind and now - success.at > limit:
        return failed(f"{name}: {newest} is not offsite and no push succeeded for {age(now - success.at)} "
                      f"(max_age {config.max_age})", evidence)
    return passed(evidence)


def _encryption_required(facts: HostFacts) -> str | None:
    """Why the configuration requires encrypted copies, or None when it does not."""
    offsite = facts.layout.config.offsite
    if offsite.encrypt == "off":
        return None
    return f"offsite.encrypt is {offsite.encrypt} (plaintext copies only with offsite.encrypt: off)"


def _encrypted(name: str, config: OffsiteTargetConfig, pushes: TargetPushes, facts: HostFacts) -> Finding:
    why = _encryption_required(facts) or ""
    success = pushes.last_success
    if success is None:
        return not_applicable(f"{name}: no successful push yet (DR-OFFSITE-001)")
    how = "restic's repository key" if success.type == "restic" else "age"
    if not success.encrypted:
        return failed(f"{name}: the last copy pushed ({success.archive}, {_when(success, facts.files.clock.now)}) "
                      f"is not encrypted, though {why}", f"{name}: {success.ref or success.archive} in clear text")
    return passed(f"{name}: {success.ref or success.archive} encrypted with {how}")


def _retention(name: str, config: OffsiteTargetConfig, pushes: TargetPushes, facts: HostFacts) -> Finding:
    success = pushes.last_success
    if success is None:
        return not_applicable(f"{name}: no successful push yet (DR-OFFSITE-001)")
    bound = config.keep + config.keep_daily + config.keep_weekly
    rules = f"keep {config.keep}, keep_daily {config.keep_daily}, keep_weekly {config.keep_weekly}"
    if success.retention == "failed":
        return failed(f"{name}: remote retention failed at the last push: {success.retention_error}",
                      f"{name}: retention failed {_when(success, facts.files.clock.now)}")
    if success.remote_good is None:
        return not_applicable(f"{name}: the last push did not count the remote copies")
    evidence = (f"{name}: {success.remote_good} good copies after the last push (retention {success.retention}); "
                f"the rules keep at most {bound} ({rules})")
    if success.remote_good > bound:
        skipped = "; that push skipped retention (--no-retention)" if success.retention == "skipped" else ""
        return failed(f"{name} holds {success.remote_good} good copies, more than its retention keeps "
                      f"({bound}: {rules}){skipped}", evidence)
    return passed(evidence)


def offsite_current(facts: HostFacts) -> Finding:
    return _per_target(facts, _current, record_problem_fails=True)


def offsite_encrypted(facts: HostFacts) -> Finding:
    mode = facts.layout.config.offsite.encrypt
    if facts.layout.config.offsite.targets and _encryption_required(facts) is None:
        return not_applicable(f"the configuration does not require encrypted copies (offsite.encrypt: {mode})")
    return _per_target(facts, _encrypted)


def offsite_retention(facts: HostFacts) -> Finding:
    return _per_target(facts, _retention)


def push_failed_in_run(facts: HostFacts, started: float | None) -> bool:
    """Whether the backup run that started at ``started`` backed up fine and only its push failed
    (its exit status 3 is then DR-OFFSITE-001's problem, not DR-TIMER-002's)."""
    if started is None or not facts.layout.config.offsite.targets:
        return False
    record = push_facts(facts)
    attempts = [t.last for t in record.targets.values() if t.last is not None]
    return any(a.trigger == "backup" and not a.ok and a.backup_ok and a.at >= started for a in attempts)
