"""The sandbox of the backup and auto-restore units, as data: what each may write, and what is taken away.

Both run as root (they read the server token, write archives and restore volumes whoever owns
them), so the sandbox is what keeps a bug or a hostile input inside what the unit needs:
``ProtectSystem=strict`` makes the whole file system read-only and ``ReadWritePaths=`` opens
exactly the paths in :data:`WRITABLE`, each with the reason. Every path is listed with ``-``
(systemd skips it when it does not exist) so a missing directory is reported by k3s-dr's own error
naming it, not by a unit that fails to set up its namespace.

The lock directory (``/run/k3s-dr`` by default) lives on a tmpfs: ``install`` creates it and a
tmpfiles.d line creates it again at every boot, because the sandboxed units cannot create it in a
read-only ``/run``. Not ``RuntimeDirectory=``: systemd removes that directory when its unit stops,
while another run may hold the lock in it. The log file and a local restic repository (empty, for the
first push's ``restic init``) are created by ``install`` for the same reason. ``docs/security.md``
shows the table rendered for the default configuration (a test keeps the two equal).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from dr_lib.config import Config

TMPFILES_PATH = "/usr/local/lib/tmpfiles.d/k3s-dr.conf"
CACHE_DIR = "/var/cache/k3s-dr"  # CacheDirectory=k3s-dr: restic's cache (root's home is read-only)


class Role(StrEnum):
    BACKUP = "backup"
    AUTO_RESTORE = "auto-restore"


BOTH = (Role.BACKUP, Role.AUTO_RESTORE)


@dataclass(frozen=True)
class Writable:
    """One path a unit may write, and why."""

    roles: tuple[Role, ...]
    paths: Callable[[Config], tuple[str, ...]]
    why: str


def _metrics_state_dir(config: Config) -> tuple[str, ...]:
    state_file = config.metrics.state_file
    return (posixpath.dirname(state_file),) if state_file else ()


def _local_restic_repositories(config: Config) -> tuple[str, ...]:
    return tuple(sorted(t.repository.rstrip("/") for t in config.offsite.targets.values()
                        if t.type == "restic" and t.repository.startswith("/") and t.repository.rstrip("/")))


def lock_dir(config: Config) -> str:
    return posixpath.dirname(config.backup.lock_file)


WRITABLE: tuple[Writable, ...] = (
    Writable((Role.BACKUP,), lambda c: (c.backup.dir,),
             "the archives, their sidecars and links, a run's spool, offsite staging and the data repository"),
    Writable(BOTH, lambda c: (c.restore.state_dir,),
             "ledgers, the auto-restore decisions, the metrics state, the offsite push record"),
    Writable(BOTH, lambda c: (lock_dir(c),),
             "the lock every run that writes archives or the cluster holds (created at boot by tmpfiles.d)"),
    Writable((Role.BACKUP,), lambda c: (c.backup.log_file,), "one line per backup run (created by install)"),
    Writable(BOTH, lambda c: (posixpath.dirname(c.metrics.textfile),),
             "the metrics textfile, written only where node_exporter's collector directory exists"),
    Writable(BOTH, _metrics_state_dir, "the metrics state, when metrics.state_file puts it elsewhere"),
    Writable((Role.BACKUP,), _local_restic_repositories,
             "a local restic repository an offsite push writes (install creates it empty; the first push fills it)"),
    Writable((Role.AUTO_RESTORE,), lambda c: (f"{c.backup.k3s_data_dir.rstrip('/')}/storage",),
             "volume data restored into k3s's local-path directories"),
)


def writable_paths(config: Config, role: Role) -> tuple[tuple[str, str], ...]:
    """(path, why) for ``role`` in table order, each path once (the first reason wins)."""
    found: dict[str, str] = {}
    for row in WRITABLE:
        if role in row.roles:
            for path in row.paths(config):
                found.setdefault(path.rstrip("/") or "/", row.why)
    return tuple(found.items())


def _uses_zfs(config: Config) -> bool:
    return config.hooks.volume_backend == "zfs"


@dataclass(frozen=True)
class Setting:
    """One hardening line: its text for a role and configuration ("" leaves it out), and why."""

    render: Callable[[Config, Role], str]
    why: str


def _fixed(line: str) -> Callable[[Config, Role], str]:
    return lambda _config, _role: line


# What each unit needs beyond reading as root: the backup reads volumes and the token whoever owns them;
# a restore also writes volume data back with its owners and modes. ZFS needs its ioctls (CAP_SYS_ADMIN).
_CAPABILITIES = {
    Role.BACKUP: ("CAP_DAC_READ_SEARCH",),
    Role.AUTO_RESTORE: ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID"),
}


def _capabilities(config: Config, role: Role) -> str:
    names = _CAPABILITIES[role] + (("CAP_SYS_ADMIN",) if _uses_zfs(config) else ())
    return "CapabilityBoundingSet=" + " ".join(names)


SETTINGS: tuple[Setting, ...] = (
    Setting(_fixed("ProtectSystem=strict"), "the whole file system read-only but for ReadWritePaths="),
    Setting(_fixed("PrivateTmp=yes"), "its own /tmp (TLS material of a run, dumps being restored)"),
    Setting(_fixed("NoNewPrivileges=yes"), "nothing it runs (restic, zfs) gains privileges"),
    Setting(_fixed("ProtectHome=read-only"), "kubeconfigs, AWS profiles and passwords under /root are read, never "
            "written"),
    Setting(lambda c, _r: "" if _uses_zfs(c) else "PrivateDevices=yes", "no device nodes (kept with the zfs backend: "
            "/dev/zfs)"),
    Setting(_capabilities, "root with the capabilities of its file work only"),
    Setting(_fixed("ProtectKernelTunables=yes"), "kernel settings read-only"),
    Setting(_fixed("ProtectKernelModules=yes"), "no module loading"),
    Setting(_fixed("ProtectKernelLogs=yes"), "no kernel log"),
    Setting(_fixed("ProtectControlGroups=yes"), "cgroups read-only"),
    Setting(_fixed("ProtectClock=yes"), "cannot set the clock archive names and ages come from"),
    Setting(_fixed("ProtectHostname=yes"), "cannot change the host name"),
    Setting(_fixed("ProtectProc=invisible"), "sees only root's processes (the auto-restore reads init's start time)"),
    Setting(_fixed("PrivateMounts=yes"), "its mounts stay its own"),
    Setting(_fixed("RestrictNamespaces=yes"), "no new namespaces"),
    Setting(_fixed("RestrictRealtime=yes"), "no realtime scheduling"),
    Setting(_fixed("RestrictSUIDSGID=yes"), "never creates set-uid or set-gid files, restored volumes included"),
    Setting(_fixed("LockPersonality=yes"), "no execution domain changes"),
    Setting(_fixed("MemoryDenyWriteExecute=yes"), "no writable code: CPython, restic and the extensions need none"),
    Setting(_fixed("SystemCallArchitectures=native"), "no foreign system call ABIs"),
    Setting(_fixed("SystemCallFilter=@system-service"), "the system calls of an ordinary service"),
    Setting(_fixed("SystemCallErrorNumber=EPERM"), "others fail instead of killing it"),
    Setting(_fixed("RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"), "the API server, S3, pods' exec streams"),
    Setting(_fixed("CacheDirectory=k3s-dr"), f"restic's cache (offsite targets, the data repository) in {CACHE_DIR}, "
            "created by systemd: root's home is read-only"),
    Setting(_fixed(f"Environment=XDG_CACHE_HOME={CACHE_DIR}"), "where restic looks for its cache"),
)


def render_sandbox(config: Config, role: Role) -> str:
    """The unit lines: ReadWritePaths= (one line, ``-`` paths) and the hardening settings."""
    paths = " ".join(f"-{path}" for path, _why in writable_paths(config, role))
    lines = [f"ReadWritePaths={paths}"]
    lines += [line for line in (s.render(config, role) for s in SETTINGS) if line]
    return "".join(f"{line}\n" for line in lines)


def render_tmpfiles(config: Config) -> str:
    """tmpfiles.d(5): the lock directory, created at every boot before the units run."""
    return f"d {lock_dir(config)} 0700 root root -\n"


def created_directories(config: Config) -> dict[str, int]:
    """Directories install creates for the sandbox (a unit cannot create them itself): the lock directory, and
    each local restic repository — ``restic init`` fills an empty directory, but the first push cannot create
    one in a read-only ``/srv`` (a missing ``-`` path is left out of the unit's namespace)."""
    return {lock_dir(config): 0o700, **dict.fromkeys(_local_restic_repositories(config), 0o700)}


def writable_table(config: Config) -> str:
    """The Markdown table docs/security.md shows: every path each unit may write, and why."""
    rows = ["| unit | may write | why |", "| --- | --- | --- |"]
    units = {Role.BACKUP: config.units.backup, Role.AUTO_RESTORE: config.units.auto_restore}
    for role, unit in units.items():
        rows += [f"| `{unit}` | `{path}` | {why} |" for path, why in writable_paths(config, role)]
    return "\n".join(rows) + "\n"
