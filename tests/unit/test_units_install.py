"""install and fix planning and applying, into a temporary root with a *fake* systemctl
(named as such: the real systemd is exercised on the reference host)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from _host_facts import ARCHIVE, LAYOUT, archive_record, healthy, link, with_stat, with_unit

from dr_lib.checks.hostfacts import EXPORTER_UNIT, PathFacts
from dr_lib.config import Config, config_from_text
from dr_lib.host.fix import plan_fix
from dr_lib.host.fsops import Root
from dr_lib.host.install import InstallState, install, read_state
from dr_lib.host.steps import Kind
from dr_lib.host.units import FOREIGN_SUFFIX, render_all
from dr_lib.signing.keyid import pem_key_id

EXE = "/usr/local/bin/k3s-dr"
CFG = "/etc/k3s-dr/config.yaml"
UNITS = Config().units
# The fake host's backup directory as fix reads it: its one archive, verified, holding user objects.
FAKE_ARCHIVES = (archive_record(),)


class FakeSystemctl:
    """Records calls and answers `show` from a table of unit states; enable/disable/start/stop update it."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root  # with a root, daemon-reload loads the unit files found under it
        self.calls: list[tuple[str, ...]] = []
        self.state = {name: {"LoadState": "not-found", "UnitFileState": "", "ActiveState": "inactive"}
                      for name in (UNITS.backup, UNITS.backup_timer, UNITS.auto_restore, EXPORTER_UNIT)}

    def __call__(self, *args: str) -> str:
        if args[0] == "show":
            return "\n".join("\n".join([f"Id={n}", *(f"{k}={v}" for k, v in self.state[n].items()), ""])
                             for n in args[3:])
        self.calls.append(args)
        name = args[-1]
        entry = self.state.get(name, {})
        if args[0] in ("enable", "reenable"):
            entry.update(LoadState="loaded", UnitFileState="enabled")
        if args[0] == "disable":
            entry["UnitFileState"] = "disabled"
        if args[0] in ("start", "restart") or "--now" in args:
            entry["ActiveState"] = "inactive" if args[0] == "disable" else "active"
        if args[0] in ("stop", "reset-failed"):
            entry["ActiveState"] = "inactive"
        if args[0] == "daemon-reload":
            for unit_name, unit in self.state.items():
                on_disk = self.root is None or (self.root / "usr/local/lib/systemd/system" / unit_name).exists()
                unit["LoadState"] = "loaded" if on_disk else "not-found"
                unit["UnitFileState"] = (unit["UnitFileState"] or "disabled") if on_disk else ""
        return ""


def test_install_writes_everything_then_is_idempotent(tmp_path: Path) -> None:
    root, fake = Root(tmp_path), FakeSystemctl()
    first = install(Config(), EXE, CFG, dry_run=False, root=root, run=fake)
    assert first.changed
    assert fake.calls == [("daemon-reload",), ("enable", UNITS.auto_restore), ("enable", "--now", UNITS.backup_timer),
                          ("enable", "--now", EXPORTER_UNIT)]  # last: a port in use must not hold back the rest
    assert "ExecStart=/usr/local/bin/k3s-dr --config /etc/k3s-dr/config.yaml exporter" in (
        tmp_path / "usr/local/lib/systemd/system" / EXPORTER_UNIT).read_text()
    unit = tmp_path / "usr/local/lib/systemd/system" / UNITS.auto_restore
    assert "ConditionPathExists=/var/backups/k3s-cluster/k3s-cluster-snapshot.tar.gz" in unit.read_text()
    assert (tmp_path / "var/backups/k3s-cluster").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "etc/logrotate.d/k3s-dr").is_file() and (tmp_path / CFG.lstrip("/")).is_file()
    assert not [p for p in tmp_path.rglob(".k3s-dr-tmp-*")]  # no temporary file left behind
    fake.calls.clear()
    second = install(Config(), EXE, CFG, dry_run=False, root=root, run=fake)
    assert second.steps == () and fake.calls == []


def test_dry_run_changes_nothing_and_shows_diffs(tmp_path: Path) -> None:
    root, fake = Root(tmp_path), FakeSystemctl()
    install(Config(), EXE, CFG, dry_run=False, root=root, run=fake)
    unit = tmp_path / "usr/local/lib/systemd/system" / UNITS.backup
    unit.write_text(unit.read_text().replace("Nice=10", "Nice=0"))
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    change = install(Config(), EXE, CFG, dry_run=True, root=root, run=fake)
    assert [s.kind for s in change.steps] == [Kind.WRITE, Kind.SYSTEMCTL]
    assert "-Nice=0\n+Nice=10" in change.steps[0].diff
    assert before == {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}


def test_existing_config_is_kept_and_a_foreign_unit_is_moved_aside(tmp_path: Path) -> None:
    root, fake = Root(tmp_path), FakeSystemctl()
    (tmp_path / "etc/k3s-dr").mkdir(parents=True)
    (tmp_path / CFG.lstrip("/")).write_text("backup: {keep: 7}\n")
    seed_unit = tmp_path / "etc/systemd/system" / UNITS.auto_restore
    seed_unit.parent.mkdir(parents=True)
    seed_unit.write_text("[Service]\nExecStart=/home/mpasqui/k8s/restore-cluster-state.sh\n")
    fake.state[UNITS.auto_restore].update(LoadState="loaded", UnitFileState="enabled")
    change = install(Config(), EXE, CFG, dry_run=False, root=root, run=fake)
    assert (tmp_path / CFG.lstrip("/")).read_text() == "backup: {keep: 7}\n"
    assert not seed_unit.exists()
    kept = seed_unit.with_name(UNITS.auto_restore + FOREIGN_SUFFIX)
    assert "restore-cluster-state.sh" in kept.read_text()
    assert ("reenable", UNITS.auto_restore) in fake.calls  # the enablement links pointed at the old file
    assert any(s.kind is Kind.MOVE_ASIDE for s in change.steps)


def test_mask_is_lifted(tmp_path: Path) -> None:
    root, fake = Root(tmp_path), FakeSystemctl()
    install(Config(), EXE, CFG, dry_run=False, root=root, run=fake)
    mask = tmp_path / "etc/systemd/system" / UNITS.auto_restore
    mask.parent.mkdir(parents=True, exist_ok=True)
    mask.symlink_to("/dev/null")
    fake.calls.clear()
    install(Config(), EXE, CFG, dry_run=False, root=root, run=fake)
    assert fake.calls[0] == ("unmask", UNITS.auto_restore)


def _state(tmp_path: Path) -> InstallState:
    files = render_all(LAYOUT.config, EXE, LAYOUT.config_path)
    return dataclasses.replace(read_state(LAYOUT.config, LAYOUT.config_path, files, Root(tmp_path),
                                          FakeSystemctl()),
                               files={f.path: f.content for f in files},
                               units={n: u for n, u in healthy().units.items()})


def test_fix_plans_nothing_on_a_healthy_host(tmp_path: Path) -> None:
    steps, unfixable = plan_fix(healthy(), EXE, _state(tmp_path), FAKE_ARCHIVES)
    assert steps == [] and unfixable == []


@pytest.mark.parametrize(("name", "facts", "expected"), [
    ("snapshot missing", with_stat(healthy(), PathFacts(LAYOUT.snapshot_link)), [(Kind.RELINK, "DR-LINK-002")]),
    ("latest dangling", with_stat(healthy(), dataclasses.replace(link(LAYOUT.latest_link, "x"), exists=False)),
     [(Kind.RELINK, "DR-LINK-001")]),
    ("restore disabled", with_unit(healthy(), UNITS.auto_restore, unit_file_state="disabled"),
     [(Kind.SYSTEMCTL, "DR-RESTORE-001")]),
    ("not reloaded", with_unit(healthy(), UNITS.backup, need_daemon_reload=True), [(Kind.SYSTEMCTL, "DR-UNIT-001")]),
])
def test_fix_repairs_what_fails(tmp_path: Path, name: str, facts, expected) -> None:
    state = dataclasses.replace(_state(tmp_path), units=dict(facts.units))
    steps, unfixable = plan_fix(facts, EXE, state, FAKE_ARCHIVES)
    assert [(s.kind, s.control) for s in steps] == expected, name
    assert unfixable == []
    if expected[0][0] is Kind.RELINK:
        assert steps[0].args == (ARCHIVE,)


def test_fix_without_a_verified_archive_says_so(tmp_path: Path) -> None:
    facts = with_stat(healthy(), PathFacts(LAYOUT.snapshot_link))
    facts = dataclasses.replace(facts, files=dataclasses.replace(facts.files, newest_verified=None))
    steps, unfixable = plan_fix(facts, EXE, _state(tmp_path), ())
    assert [c for c, _ in unfixable] == ["DR-LINK-002"] and "run a backup first" in unfixable[0][1]
    assert not [s for s in steps if s.kind is Kind.RELINK]


def test_write_is_atomic_and_keeps_the_mode(tmp_path: Path) -> None:
    root = Root(tmp_path)
    old = os.umask(0o077)
    try:
        root.write_text("/etc/x/y.conf", "hello\n", 0o644)
    finally:
        os.umask(old)
    assert (tmp_path / "etc/x/y.conf").stat().st_mode & 0o777 == 0o644


def _exporter_file(tmp_path: Path) -> Path:
    return tmp_path / "usr/local/lib/systemd/system" / EXPORTER_UNIT


def test_units_exporter_false_removes_the_service_install_wrote(tmp_path: Path) -> None:
    root, fake = Root(tmp_path), FakeSystemctl(tmp_path)
    install(Config(), EXE, CFG, dry_run=False, root=root, run=fake)
    assert fake.state[EXPORTER_UNIT] == {"LoadState": "loaded", "UnitFileState": "enabled", "ActiveState": "active"}
    unwanted = config_from_text("units: {exporter: false}\n", "test")
    fake.calls.clear()
    shown = install(unwanted, EXE, CFG, dry_run=True, root=root, run=fake)
    assert fake.calls == [] and _exporter_file(tmp_path).exists()
    assert [s.describe() for s in shown.steps] == [
        f"systemctl disable {EXPORTER_UNIT}  (units.exporter is false)",
        f"systemctl stop {EXPORTER_UNIT}  (units.exporter is false)",
        f"remove /usr/local/lib/systemd/system/{EXPORTER_UNIT}  (units.exporter is false: written by an earlier "
        "`k3s-dr install`)",
        "systemctl daemon-reload  (unit files changed)"]
    install(unwanted, EXE, CFG, dry_run=False, root=root, run=fake)
    assert fake.calls == [("disable", EXPORTER_UNIT), ("stop", EXPORTER_UNIT), ("daemon-reload",)]
    assert not _exporter_file(tmp_path).exists() and fake.state[EXPORTER_UNIT]["LoadState"] == "not-found"
    fake.calls.clear()
    assert install(unwanted, EXE, CFG, dry_run=False, root=root, run=fake).steps == () and fake.calls == []
    again = install(Config(), EXE, CFG, dry_run=False, root=root, run=fake)  # wanted again: back, and started
    assert fake.calls[-1] == ("enable", "--now", EXPORTER_UNIT) and again.changed


def test_units_exporter_false_leaves_a_unit_k3s_dr_did_not_write(tmp_path: Path) -> None:
    root, fake = Root(tmp_path), FakeSystemctl(tmp_path)
    theirs = _exporter_file(tmp_path)
    theirs.parent.mkdir(parents=True)
    theirs.write_text("[Service]\nExecStart=/usr/bin/their-exporter\n")
    fake.state[EXPORTER_UNIT].update(LoadState="loaded", UnitFileState="enabled", ActiveState="active")
    change = install(config_from_text("units: {exporter: false}\n", "test"), EXE, CFG, dry_run=False, root=root,
                     run=fake)
    assert theirs.read_text() == "[Service]\nExecStart=/usr/bin/their-exporter\n"
    assert not [c for c in fake.calls if EXPORTER_UNIT in c] and EXPORTER_UNIT not in str(change.steps)


def test_a_rewritten_exporter_unit_is_restarted(tmp_path: Path) -> None:
    root, fake = Root(tmp_path), FakeSystemctl(tmp_path)
    install(Config(), EXE, CFG, dry_run=False, root=root, run=fake)
    fake.calls.clear()
    moved = config_from_text("metrics: {listen: '127.0.0.1:9200'}\n", "test")
    install(moved, EXE, CFG, dry_run=False, root=root, run=fake)
    assert fake.calls == [("daemon-reload",), ("restart", EXPORTER_UNIT)]  # it runs until stopped: restart


@pytest.mark.parametrize(("state", "expected"), [
    ({"ActiveState": "inactive"}, [("start", EXPORTER_UNIT)]),
    ({"ActiveState": "failed"}, [("start", EXPORTER_UNIT)]),
    ({"ActiveState": "activating"}, [("restart", EXPORTER_UNIT)]),  # waiting to restart after a failure
    ({"UnitFileState": "disabled"}, [("enable", EXPORTER_UNIT)]),  # disabled but running: only enable
    ({"UnitFileState": "disabled", "ActiveState": "inactive"}, [("enable", "--now", EXPORTER_UNIT)]),
])
def test_install_brings_the_exporter_back_to_enabled_and_running(tmp_path: Path, state, expected) -> None:
    root, fake = Root(tmp_path), FakeSystemctl(tmp_path)
    install(Config(), EXE, CFG, dry_run=False, root=root, run=fake)
    fake.state[EXPORTER_UNIT].update(state)
    fake.calls.clear()
    install(Config(), EXE, CFG, dry_run=False, root=root, run=fake)
    assert fake.calls == expected


@pytest.mark.parametrize(("name", "changes", "expected"), [
    ("stopped", {"active_state": "inactive", "sub_state": "dead"}, [(Kind.SYSTEMCTL, ("start", EXPORTER_UNIT))]),
    ("disabled and stopped", {"unit_file_state": "disabled", "active_state": "inactive"},
     [(Kind.SYSTEMCTL, ("enable", "--now", EXPORTER_UNIT))]),
])
def test_fix_starts_the_exporter(tmp_path: Path, name: str, changes, expected) -> None:
    facts = with_unit(healthy(), EXPORTER_UNIT, **changes)
    state = dataclasses.replace(_state(tmp_path), units=dict(facts.units))
    steps, unfixable = plan_fix(facts, EXE, state, FAKE_ARCHIVES)
    assert [(s.kind, s.args) for s in steps] == expected, name
    assert {s.control for s in steps} == {"DR-METRICS-003"} and unfixable == []


def test_fix_installs_a_missing_exporter_unit(tmp_path: Path) -> None:
    facts = with_unit(healthy(), EXPORTER_UNIT, load_state="not-found", unit_file_state="", active_state="inactive",
                      exec_paths=())
    files = dict(_state(tmp_path).files)
    files[f"/usr/local/lib/systemd/system/{EXPORTER_UNIT}"] = None
    state = dataclasses.replace(_state(tmp_path), files=files, units=dict(facts.units))
    steps, _ = plan_fix(facts, EXE, state, FAKE_ARCHIVES)
    assert [(s.kind, s.control) for s in steps] == [(Kind.WRITE, "DR-METRICS-003"), (Kind.SYSTEMCTL, "reload"),
                                                    (Kind.SYSTEMCTL, "DR-METRICS-003")]
    assert steps[-1].args == ("enable", "--now", EXPORTER_UNIT)


def test_install_makes_the_signing_key_pair_once_and_says_to_copy_the_verify_key(tmp_path: Path) -> None:
    root, fake = Root(tmp_path), FakeSystemctl()
    dry = install(Config(), EXE, CFG, dry_run=True, root=root, run=fake)
    assert [s.target for s in dry.steps if s.kind is Kind.KEYGEN] == ["/etc/k3s-dr/keys"]
    assert not (tmp_path / "etc/k3s-dr/keys").exists()  # a dry run makes no key
    first = install(Config(), EXE, CFG, dry_run=False, root=root, run=fake)
    keys = tmp_path / "etc/k3s-dr/keys"
    assert keys.stat().st_mode & 0o777 == 0o700 and (keys / "signing-key.pem").stat().st_mode & 0o777 == 0o600
    key_id = pem_key_id((keys / "verify-key.pem").read_text())
    assert any(f"/etc/k3s-dr/keys/verify-key.pem (key {key_id}) offsite" in note for note in first.notes)
    signing = (keys / "signing-key.pem").read_bytes()
    again = install(Config(), EXE, CFG, dry_run=False, root=root, run=fake)
    assert again.steps == () and (keys / "signing-key.pem").read_bytes() == signing  # never replaced
    # the configuration written "because none existed" names the pair as auto: signed and checked by default
    written = config_from_text((tmp_path / CFG.lstrip("/")).read_text(), "written")
    assert written.trust.signing_key == "auto" and written.trust.verify_keys == ("auto",)


def test_install_makes_no_key_when_another_is_configured_and_names_missing_recipients(tmp_path: Path) -> None:
    config = config_from_text("trust: {signing_key: /srv/keys/mine.pem}\n"
                              "offsite: {targets: {office: {bucket: dr-copies}}}\n", "test")
    change = install(config, EXE, CFG, dry_run=True, root=Root(tmp_path), run=FakeSystemctl())
    assert not [s for s in change.steps if s.kind is Kind.KEYGEN]
    assert any("offsite.recipients is empty: pushes are refused" in note for note in change.notes)
