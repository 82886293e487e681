"""``k3s-dr install``: units, config file, log rotation, directories; enabled (the exporter also
started); idempotent.

Planning is pure (:func:`plan_install` from an :class:`InstallState`); reading the state and
applying the steps are the only I/O. A second run finds nothing to change.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dr_lib.checks.hostfacts import EXPORTER_UNIT
from dr_lib.checks.units import UnitFacts
from dr_lib.config import DEFAULT_KEYS_DIR, Config
from dr_lib.errors import UsageError
from dr_lib.host.exporter import EXPORTER_PATH, exporter_steps, removal_steps
from dr_lib.host.fsops import Root
from dr_lib.host.sandbox import created_directories
from dr_lib.host.steps import Kind, Step, apply_steps, file_steps
from dr_lib.host.systemd import Systemctl, systemctl, unit_states
from dr_lib.host.units import ADMIN_UNIT_DIR, FOREIGN_SUFFIX, ManagedFile, render_all
from dr_lib.signing.keyid import pem_key_id
from dr_lib.signing.keys import SIGNING_KEY_NAME, VERIFY_KEY_NAME
from dr_lib.signing.policy import AUTO

MASK = "mask"
FOREIGN = "foreign"


@dataclass(frozen=True)
class InstallState:
    files: Mapping[str, str | None]  # current content of each file install manages
    admin: Mapping[str, str | None]  # what /etc/systemd/system/<unit> is: None, MASK or FOREIGN
    units: Mapping[str, UnitFacts]
    dirs: Mapping[str, int | None]  # current mode of each directory, None when missing
    signing_key: bool = True  # the key pair trust.signing_key "auto" names exists (or another key is configured)


@dataclass(frozen=True)
class HostChange:
    """The result of install or fix: the steps, and whether they were only shown."""

    steps: tuple[Step, ...]
    dry_run: bool
    remaining: tuple[tuple[str, str], ...] = ()  # (control, problem) left after a fix
    notes: tuple[str, ...] = ()  # what the operator must do that install cannot (copy the verify key offsite)

    @property
    def changed(self) -> bool:
        return bool(self.steps) and not self.dry_run


def directories(config: Config, config_path: str) -> dict[str, int]:
    return {
        config.backup.dir: 0o700,  # archives hold Secrets and the server token
        config.restore.state_dir: 0o700,
        posixpath.dirname(config_path): 0o755,
        **created_directories(config),  # the sandboxed units cannot create the lock directory themselves
    }


def dir_steps(wanted: Mapping[str, int], current: Mapping[str, int | None], control: str = "") -> list[Step]:
    steps = []
    for path, mode in wanted.items():
        now = current.get(path)
        if now is None:
            steps.append(Step(Kind.MKDIR, path, "missing", control, mode=mode))
        elif now != mode:
            steps.append(Step(Kind.CHMOD, path, f"mode {now:04o}, wanted {mode:04o}", control, mode=mode))
    return steps


def managed_units(config: Config) -> list[str]:
    """The units install writes with this configuration."""
    units = config.units
    return [units.backup, units.backup_timer, units.auto_restore, *([EXPORTER_UNIT] if units.exporter else [])]


def admin_steps(config: Config, admin: Mapping[str, str | None], control: str = "") -> list[Step]:
    """Free /etc/systemd/system/<unit> so our unit is the one systemd loads."""
    steps = []
    for name in managed_units(config):
        path = f"{ADMIN_UNIT_DIR}/{name}"
        if admin.get(name) == MASK:
            steps.append(Step(Kind.SYSTEMCTL, name, "masked", control, args=("unmask", name)))
        elif admin.get(name) == FOREIGN:
            steps.append(Step(Kind.MOVE_ASIDE, path, f"shadows our unit: kept as {path}{FOREIGN_SUFFIX}", control,
                              args=(FOREIGN_SUFFIX,)))
    return steps


def enable_steps(config: Config, units: Mapping[str, UnitFacts], relinked: set[str], control: str = "") -> list[Step]:
    steps = []
    restore = units.get(config.units.auto_restore)
    name = config.units.auto_restore
    if name in relinked:
        steps.append(Step(Kind.SYSTEMCTL, name, "re-enable for the new unit file", control, args=("reenable", name)))
    elif restore is None or restore.unit_file_state != "enabled":
        state = restore.unit_file_state if restore else "absent"
        steps.append(Step(Kind.SYSTEMCTL, name, f"{state or 'not installed'}: must run at boot", control,
                          args=("enable", name)))
    timer = units.get(config.units.backup_timer)
    name = config.units.backup_timer
    if name in relinked:
        steps.append(Step(Kind.SYSTEMCTL, name, "re-enable for the new unit file", control,
                          args=("reenable", "--now", name)))
    elif timer is None or timer.unit_file_state != "enabled":
        state = timer.unit_file_state if timer else "absent"
        steps.append(Step(Kind.SYSTEMCTL, name, f"{state or 'not installed'}: must schedule backups", control,
                          args=("enable", "--now", name)))
    elif timer.active_state != "active":
        steps.append(Step(Kind.SYSTEMCTL, name, f"{timer.active_state}: must be waiting", control,
                          args=("start", name)))
    return steps


def needs_reload(steps: list[Step], units: Mapping[str, UnitFacts], unit_paths: set[str]) -> bool:
    touched = any(s.target in unit_paths or s.kind in (Kind.MOVE_ASIDE, Kind.REMOVE) for s in steps)
    return touched or any(u.need_daemon_reload for u in units.values())


def rewrites(steps: list[Step], path: str) -> bool:
    return any(s.kind is Kind.WRITE and s.target == path for s in steps)


def plan_install(config: Config, exe: str, config_path: str, state: InstallState,
                 extra: tuple[ManagedFile, ...] = ()) -> list[Step]:
    """``extra``: files rendered above this layer (the monitoring assets, metrics.*_dir), managed like the rest."""
    desired = render_all(config, exe, config_path) + extra
    unit_paths = {f.path for f in desired if f.is_unit}
    steps = dir_steps(directories(config, config_path), state.dirs)
    steps += file_steps(desired, state.files)
    steps += removal_steps(config, state.files, state.units)
    moved = admin_steps(config, state.admin)
    steps += moved
    if needs_reload(steps, state.units, unit_paths):
        steps.append(Step(Kind.SYSTEMCTL, "systemd", "unit files changed", args=("daemon-reload",)))
    relinked = {s.target.rsplit("/", 1)[-1] for s in moved if s.kind is Kind.MOVE_ASIDE}
    steps += enable_steps(config, state.units, relinked)
    steps += key_steps(state)
    # Last: a port in use fails this start, after everything recovery depends on is in place.
    steps += exporter_steps(config, state.units, rewritten=rewrites(steps, EXPORTER_PATH),
                            relinked=EXPORTER_UNIT in relinked)
    return steps


def key_steps(state: InstallState) -> list[Step]:
    """The signing key pair, when trust.signing_key is auto and none exists: signed and checked by default."""
    if state.signing_key:
        return []
    return [Step(Kind.KEYGEN, DEFAULT_KEYS_DIR, "no signing key: archives and reports would be unsigned, and "
                 "restores could not tell a forged archive from ours")]


def install_notes(config: Config, root: Root) -> tuple[str, ...]:
    """What install cannot do itself, said once it ran: keys offsite, recipients missing (pure but the key id)."""
    notes: list[str] = []
    verify = root(f"{DEFAULT_KEYS_DIR}/{VERIFY_KEY_NAME}")
    key_id = pem_key_id(verify.read_text(encoding="ascii", errors="replace")) if verify.is_file() else None
    if config.trust.signing_key == AUTO and key_id is not None:
        notes.append(f"copy the verify key {DEFAULT_KEYS_DIR}/{VERIFY_KEY_NAME} (key {key_id}) offsite and to every "
                     "host that may restore these archives: without it a restore on a new host cannot check them "
                     "(trust.verify_keys there, or --verify-key)")
    if not config.trust.verify_keys:
        notes.append("trust.verify_keys is empty: restores, pulls and the auto-restore do not check signatures")
    offsite = config.offsite
    recipients = offsite.recipients.split(",") if isinstance(offsite.recipients, str) else offsite.recipients
    if offsite.targets and offsite.encrypt != "off" and not any(r.strip() for r in recipients):
        notes.append("offsite targets are configured but offsite.recipients is empty: pushes are refused (plaintext "
                     "copies only with offsite.encrypt: off); add an age recipient (`age-keygen -y IDENTITY`)")
    return tuple(notes)


def _admin_entry(root: Root, name: str) -> str | None:
    path = root(f"{ADMIN_UNIT_DIR}/{name}")
    if not path.is_symlink() and not path.exists():
        return None
    if path.is_symlink() and str(path.readlink()) == "/dev/null":
        return MASK
    return FOREIGN


def _mode(root: Root, path: str) -> int | None:
    try:
        return root(path).stat().st_mode & 0o7777
    except FileNotFoundError:
        return None


def read_state(config: Config, config_path: str, files: tuple[ManagedFile, ...], root: Root,
               run: Systemctl) -> InstallState:
    names = managed_units(config)
    paths = {f.path for f in files} | {EXPORTER_PATH}  # also when unwanted: one install wrote may be removed
    return InstallState(
        files={path: root.read_text(path) for path in sorted(paths)},
        admin={name: _admin_entry(root, name) for name in names},
        units=unit_states(run, [*names, *([] if EXPORTER_UNIT in names else [EXPORTER_UNIT])]),
        dirs={path: _mode(root, path) for path in directories(config, config_path)},
        signing_key=config.trust.signing_key != AUTO or root(f"{DEFAULT_KEYS_DIR}/{SIGNING_KEY_NAME}").exists(),
    )


def default_exe() -> str:
    """The k3s-dr program the units should run: this one, as installed."""
    argv0 = Path(sys.argv[0])
    if argv0.name == "k3s-dr" and argv0.is_absolute() and os.access(argv0, os.X_OK):
        return str(argv0)
    found = shutil.which("k3s-dr")
    if found is None:
        raise UsageError("cannot tell where the k3s-dr program is installed", hint="pass --exec /path/to/k3s-dr")
    return str(Path(found).absolute())


def install(config: Config, exe: str, config_path: str, *, dry_run: bool, root: Root | None = None,
            run: Systemctl = systemctl, extra: tuple[ManagedFile, ...] = ()) -> HostChange:
    base = root or Root()
    files = render_all(config, exe, config_path) + extra
    steps = plan_install(config, exe, config_path, read_state(config, config_path, files, base, run), extra)
    if not dry_run:
        apply_steps(steps, base, run)
    return HostChange(tuple(steps), dry_run, notes=install_notes(config, base))
