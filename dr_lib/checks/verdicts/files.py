"""Verdicts on what lies in the backup directory and the k3s server directory (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from dr_lib.checks.hostfacts import ArchiveFacts, HostFacts, PathFacts
from dr_lib.checks.model import Finding, failed, not_applicable, passed

ARCHIVE_FORMAT = "k3s-dr-archive"
ARCHIVE_FORMAT_VERSIONS = (1, 2)  # 2: the archive references data in the data repository
SIGNATURE_MEMBER = "manifest.json.sig"  # the manifest's signature: beside it, never listed in it (DR-TRUST-001)
MANIFEST_MEMBER = "manifest.json"
PRIVATE_BITS = 0o077  # group and others
MAX_FAILURE_SHOWN = 400  # of one recorded failure, in a finding (the archive's text: bounded)
# How k3s-dr names archives (dr_lib.archive.format.ARCHIVE_NAME; the checks stay apart from dr_lib.archive).
ARCHIVE_NAME = re.compile(r"^k3s-dr-\d{8}T\d{6}Z\.tar\.gz$")


def mode(value: int) -> str:
    return f"{value:04o}"


def age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    return f"{seconds // 86400}d{(seconds % 86400) // 3600}h"


def describe_archive(archive: ArchiveFacts, now: float) -> str:
    state = "verified" if archive.verified else "changed since verified" if archive.claims_verified else "unverified"
    return f"{archive.name} ({state}, {archive.size} bytes, {age(now - archive.mtime)} old)"


def backup_dir_private(facts: HostFacts) -> Finding:
    where = facts.layout.backup_dir
    st = facts.files.stat(where)
    if not st.exists:
        return failed(f"backup directory {where} does not exist", f"{where}: missing")
    if st.kind != "dir":
        return failed(f"{where} is not a directory", f"{where}: {st.kind}")
    evidence = f"{where}: directory, mode {mode(st.mode)}, owner uid {st.uid}"
    if st.mode & PRIVATE_BITS:
        return failed(f"mode {mode(st.mode)} lets group or others into the directory of the archives", evidence)
    return passed(evidence)


def archives_within_retention(facts: HostFacts) -> Finding:
    backup = facts.layout.config.backup
    # Rotation keeps, beyond the tiers, the newest verified archive (newer unpromoted ones may exist) and the
    # newest archive holding user objects (after a wipe, the one that can bring the cluster back): two extra.
    limit = backup.keep + backup.keep_daily + backup.keep_weekly + 2
    archives = facts.files.archives
    names = ", ".join(a.name for a in archives[:4]) + (" …" if len(archives) > 4 else "")
    evidence = (f"{len(archives)} archive(s) matching {facts.layout.config.checks.archive_glob} in "
                f"{facts.layout.backup_dir}: {names or 'none'}; retention allows up to {limit}")
    if not archives:
        return failed("no archive at all: there is nothing to restore", evidence)
    if len(archives) > limit:
        return failed(f"{len(archives)} archives, more than retention keeps ({limit}): rotation is not running",
                      evidence)
    return passed(evidence)


def archives_private(facts: HostFacts) -> Finding:
    archives = facts.files.archives
    if not archives:
        return not_applicable("no archives to judge: see DR-BKP-002")
    loose = [f"{a.name} mode {mode(a.mode)}" for a in archives if a.mode & PRIVATE_BITS]
    evidence = ", ".join(f"{a.name} {mode(a.mode)}" for a in archives)
    if loose:
        return failed(f"readable by group or others: {', '.join(loose)}", evidence)
    return passed(evidence)


def newest_verified(facts: HostFacts) -> ArchiveFacts | None:
    return facts.files.archive_named(facts.files.newest_verified)


def backup_fresh(facts: HostFacts) -> Finding:
    rpo = facts.layout.rpo_seconds
    newest = newest_verified(facts)
    if newest is None:
        count = len(facts.files.archives)
        return failed("no verified archive: nothing meets the RPO", f"{count} archive(s), none verified")
    elapsed = facts.files.clock.now - newest.mtime
    evidence = f"newest verified archive {newest.name} is {age(elapsed)} old (host clock); RPO {age(rpo)}"
    if elapsed > rpo:
        return failed(f"the newest verified backup is {age(elapsed)} old, older than the RPO of {age(rpo)}", evidence)
    return passed(evidence)


def _link_target(facts: HostFacts, st: PathFacts) -> tuple[ArchiveFacts | None, str]:
    archive = facts.files.archive_at(st.resolved)
    shown = f"{st.path} → {st.target}" + (f" (= {st.resolved})" if st.resolved and st.target != st.resolved else "")
    return archive, shown


def _verified_target(facts: HostFacts, st: PathFacts, label: str) -> Finding:
    archive, shown = _link_target(facts, st)
    if archive is None:
        return failed(f"the {label} resolves to {st.resolved}, which is not an archive "
                      f"({facts.layout.config.checks.archive_glob}) in {facts.layout.backup_dir}", shown)
    evidence = f"{shown}: {describe_archive(archive, facts.files.clock.now)}"
    if not archive.verified:
        why = "its content changed after verification" if archive.claims_verified else "it was never verified"
        return failed(f"the {label} points at {archive.name}, but {why}", evidence)
    newest = facts.files.newest_verified
    if newest and newest != archive.name:
        evidence += f"; a newer verified archive exists: {newest} (not promoted?)"
    return passed(evidence)


def latest_link(facts: HostFacts) -> Finding:
    st = facts.files.stat(facts.layout.latest_link)
    if not st.lexists:
        return failed(f"{st.path} does not exist", f"{st.path}: missing")
    if not st.is_link:
        return failed(f"{st.path} is a {st.kind}, not a link", f"{st.path}: {st.kind}")
    if st.dangling:
        return failed(f"{st.path} is dangling (→ {st.target})", f"{st.path} → {st.target}: missing target")
    return _verified_target(facts, st, "latest link")


def snapshot_link_present(facts: HostFacts) -> Finding:
    st = facts.files.stat(facts.layout.snapshot_link)
    if not st.lexists:
        return failed(f"{st.path} does not exist: the auto-restore condition can never hold",
                      f"{st.path}: missing")
    if st.dangling:
        return failed(f"{st.path} is dangling (→ {st.target}): the auto-restore condition cannot hold",
                      f"{st.path} → {st.target}: missing target")
    return passed(f"{st.path} → {st.target or '(a regular file)'} exists")


def _auto_restore_refusal(archive: ArchiveFacts) -> str | None:
    """What ``restore --auto`` (dr_lib.restore.trust) refuses in an archive of the backup directory, beyond a
    changed digest (judged with the latest link's rules): a name not ours, a record of another file."""
    if ARCHIVE_NAME.match(archive.name) is None:
        return f"{archive.name} is not named like a k3s-dr archive (k3s-dr-<UTC>.tar.gz)"
    sidecar = archive.sidecar if isinstance(archive.sidecar, Mapping) else {}
    if "archive" in sidecar and sidecar["archive"] != archive.name:
        return f"its verification record is for {str(sidecar['archive'])[:80]!r}, not {archive.name}"
    if "bytes" in sidecar and sidecar["bytes"] != archive.size:
        return f"it is {archive.size} bytes, its verification record says {sidecar['bytes']}: it changed since"
    return None


def snapshot_link_verified(facts: HostFacts) -> Finding:
    """What auto-restore will accept at boot: the same rules as ``dr_lib.restore.trust``, judged beforehand."""
    st = facts.files.stat(facts.layout.snapshot_link)
    if not st.exists:
        return not_applicable("the snapshot link is missing or dangling: see DR-LINK-002")
    archive, shown = _link_target(facts, st)
    if archive is None:
        return failed(f"the snapshot link resolves to {st.resolved}, which is not an archive "
                      f"({facts.layout.config.checks.archive_glob}) in {facts.layout.backup_dir}: auto-restore "
                      "refuses a target outside the backup directory", shown)
    refusal = _auto_restore_refusal(archive)
    if refusal is not None:
        return failed(f"the snapshot link points at {archive.name}, which auto-restore refuses: {refusal}",
                      f"{shown}: {describe_archive(archive, facts.files.clock.now)}")
    return _verified_target(facts, st, "snapshot link")


def _manifest_problems(manifest: Mapping[str, Any], members: Mapping[str, Mapping[str, Any]]) -> list[str]:
    problems: list[str] = []
    if manifest.get("format") != ARCHIVE_FORMAT or manifest.get("format_version") not in ARCHIVE_FORMAT_VERSIONS:
        problems.append(f"format {manifest.get('format')!r} v{manifest.get('format_version')!r} is not "
                        f"{ARCHIVE_FORMAT} v{' or v'.join(map(str, ARCHIVE_FORMAT_VERSIONS))}")
    listed: dict[str, Any] = {}
    for entry in manifest.get("files") or []:
        listed[str(entry.get("path"))] = entry.get("sha256")
    datastore = manifest.get("datastore")
    if isinstance(datastore, Mapping):
        listed[str(datastore.get("path"))] = datastore.get("sha256")
        if datastore.get("token_path"):
            listed[str(datastore["token_path"])] = datastore.get("token_sha256")
    repository = manifest.get("data_repository")
    if isinstance(repository, Mapping):  # its key travels as a member
        listed[str(repository.get("key_path"))] = repository.get("key_sha256")
    for entry in manifest.get("data") or []:
        if isinstance(entry, Mapping) and entry.get("store", "archive") == "archive":  # else: a snapshot
            listed[str(entry.get("path"))] = entry.get("sha256")
    for path, sha in listed.items():
        member = members.get(path)
        if member is None:
            problems.append(f"{path} is listed in the manifest but missing")
        elif sha is not None and member.get("sha256") != sha:
            problems.append(f"{path}: sha256 {str(member.get('sha256'))[:12]}… ≠ manifest {str(sha)[:12]}…")
    problems += [f"{name} is not listed in the manifest" for name in members
                 if name not in listed and name != SIGNATURE_MEMBER]
    counted = sum(int(e.get("objects") or 0) for e in manifest.get("files") or [])
    if manifest.get("objects") != counted:
        problems.append(f"manifest says {manifest.get('objects')} objects, its files add up to {counted}")
    return problems


def archive_intact(facts: HostFacts) -> Finding:
    inspected = facts.files.inspected
    if inspected is None:
        return failed("no archive has ever been verified (no sidecar)",
                      f"{len(facts.files.archives)} archive(s), none verified")
    archive = facts.files.archive_named(inspected.name)
    problems = list(inspected.problems)
    if archive is not None and not archive.verified:
        problems.append(f"its sha256 is no longer the one recorded at verification ({archive.name}.verified.json)")
    if inspected.manifest is None:
        problems.append("it has no readable manifest.json")
    else:
        problems += _manifest_problems(inspected.manifest, inspected.members)
    evidence = (f"{inspected.name}: {len(inspected.members)} member(s) checked against the manifest"
                + (f", {inspected.manifest.get('objects')} objects" if inspected.manifest else ""))
    if problems:
        return failed(f"{inspected.name}: " + "; ".join(problems[:5]), evidence)
    return passed(evidence)


def _kinds(manifest: Mapping[str, Any]) -> set[str]:
    kinds = set()
    for entry in manifest.get("files") or []:
        group, plural = entry.get("group") or "", entry.get("plural") or ""
        kinds.add(plural if not group else f"{plural}.{group}")
    return kinds


def expected_kinds(facts: HostFacts) -> Finding:
    inspected = facts.files.inspected
    if inspected is None or inspected.manifest is None:
        return not_applicable("no readable manifest to judge: see DR-ARCH-001")
    present = _kinds(inspected.manifest)
    expected = facts.layout.expected_kinds
    missing = [k for k in expected if k not in present]
    evidence = f"{inspected.name} holds {len(present)} kind(s); expected: {', '.join(expected)}"
    if missing:
        return failed(f"{inspected.name} lacks expected kind(s): {', '.join(missing)}", evidence)
    return passed(evidence)


def application_data_complete(facts: HostFacts) -> Finding:
    inspected = facts.files.inspected
    if inspected is None or inspected.manifest is None:
        return not_applicable("no readable manifest to judge: see DR-ARCH-001")
    members = inspected.manifest.get("data") or []
    failures = inspected.manifest.get("data_failures") or []
    if not isinstance(failures, list):
        failures = [f"data_failures is a {type(failures).__name__}, not a list: cannot tell what is missing"]
    evidence = (f"{inspected.name}: {len(members) if isinstance(members, list) else '?'} application data "
                f"member(s), {len(failures)} failure(s) recorded")
    if failures:
        more = f" (+{len(failures) - 1} more)" if len(failures) > 1 else ""
        return failed(f"{inspected.name} was promoted without some application data: "
                      f"{str(failures[0])[:MAX_FAILURE_SHOWN]}{more}", evidence)
    return passed(evidence)


def _runs_k3s_server(facts: HostFacts) -> bool:
    return facts.files.stat(facts.layout.sqlite_db).exists or facts.files.stat(facts.layout.etcd_dir).exists


def datastore_with_token(facts: HostFacts) -> Finding:
    if not _runs_k3s_server(facts):
        return not_applicable(f"no k3s server datastore on this host ({facts.layout.sqlite_db}, "
                              f"{facts.layout.etcd_dir} absent)")
    inspected = facts.files.inspected
    if inspected is None or inspected.manifest is None:
        return not_applicable("no readable manifest to judge: see DR-ARCH-001")
    datastore = inspected.manifest.get("datastore")
    if not isinstance(datastore, Mapping):
        return failed(f"{inspected.name} has no datastore snapshot although this host runs a k3s server",
                      f"{inspected.name}: datastore null")
    token_path = datastore.get("token_path")
    member = inspected.members.get(str(token_path)) if token_path else None
    evidence = f"{inspected.name}: datastore {datastore.get('kind')} {datastore.get('path')}, token {token_path}"
    if member is None or not member.get("bytes"):
        return failed(f"{inspected.name} holds a {datastore.get('kind')} snapshot without the server token",
                      evidence)
    return passed(evidence)


def server_token(facts: HostFacts) -> Finding:
    if not facts.files.stat(facts.layout.server_dir).exists:
        return not_applicable(f"no k3s server on this host ({facts.layout.server_dir} absent)")
    st = facts.files.stat(facts.layout.token)
    if not st.exists:
        return failed(f"{st.path} is missing: datastore backups cannot be restored without it", f"{st.path}: missing")
    evidence = f"{st.path}: {st.kind}, {st.size} bytes, mode {mode(st.mode)}"
    if st.kind != "file" or st.size == 0:
        return failed(f"{st.path} is empty or not a file", evidence)
    if st.mode & PRIVATE_BITS:
        return failed(f"{st.path} is readable by group or others (mode {mode(st.mode)})", evidence)
    return passed(evidence)
