"""What ``k3s-dr install`` puts on a host, rendered from the configuration (pure: text in, text out).

Units go to ``/usr/local/lib/systemd/system`` (where locally installed software puts them), not
``/etc/systemd/system``: that directory stays the administrator's, for drop-ins and for
``systemctl mask``, which cannot mask a unit whose file already lives there.
"""

from __future__ import annotations

import dataclasses
import shlex
from dataclasses import dataclass

import yaml

from dr_lib import __version__
from dr_lib.checks.hostfacts import EXPORTER_UNIT, LOGROTATE_PATH
from dr_lib.config import Config, duration_seconds
from dr_lib.host.sandbox import TMPFILES_PATH, Role, render_sandbox, render_tmpfiles

UNIT_DIR = "/usr/local/lib/systemd/system"
ADMIN_UNIT_DIR = "/etc/systemd/system"
MANAGED_MARKER = "# Managed by k3s-dr"
FOREIGN_SUFFIX = ".pre-k3s-dr"  # not a unit suffix: systemd ignores the kept copy
BACKUP_TIMEOUT = "30min"
BACKUP_TIMEOUT_SECONDS = 30 * 60
RESTORE_TIMEOUT_MARGIN = 300  # seconds on top of restore.wait_timeout for verify and apply


@dataclass(frozen=True)
class ManagedFile:
    path: str
    content: str
    mode: int
    is_unit: bool = False
    keep_existing: bool = False  # the operator's file wins (the config file): write only when absent


def _header(what: str, local_changes: str = "go in a drop-in: systemctl edit <unit>") -> str:
    return (f"{MANAGED_MARKER} {__version__} ({what}). Do not edit: `k3s-dr install` rewrites it and\n"
            f"# `k3s-dr fix` restores it. Local changes {local_changes}.\n")


def _command(exe: str, config_path: str, *args: str) -> str:
    return " ".join(shlex.quote(part) for part in (exe, "--config", config_path, *args))


def backup_timeout(config: Config) -> str:
    """TimeoutStartSec of the backup service: the backup, plus its push after it (each target has its
    deadline), plus as long again waiting for a manual push that holds the offsite lock."""
    offsite = config.offsite
    if not (offsite.push_after_backup and offsite.targets):
        return BACKUP_TIMEOUT
    pushes = sum(duration_seconds(target.timeout) for target in offsite.targets.values())
    return f"{BACKUP_TIMEOUT_SECONDS + 2 * pushes}s"


def render_backup_service(config: Config, exe: str, config_path: str) -> str:
    k3s = config.units.k3s
    return (
        _header("backup service")
        + "[Unit]\n"
        "Description=k3s-dr: back up the k3s cluster (API objects and datastore snapshot with its token)\n"
        f"After={k3s}\n"
        "\n[Service]\n"
        "Type=oneshot\n"
        f"ExecStart={_command(exe, config_path, 'backup')}\n"
        f"TimeoutStartSec={backup_timeout(config)}\n"
        "Nice=10\n"
        "IOSchedulingClass=best-effort\n"
        "IOSchedulingPriority=7\n"
        "UMask=0077\n"
        + render_sandbox(config, Role.BACKUP)
    )


def render_backup_timer(config: Config) -> str:
    interval = duration_seconds(config.backup.interval)
    accuracy = max(1, min(60, interval // 10))
    return (
        _header("backup timer")
        + "[Unit]\n"
        f"Description=k3s-dr: back up every {config.backup.interval} (RPO {config.targets.rpo})\n"
        "\n[Timer]\n"
        # After a boot the unit has not run yet, so OnUnitActiveSec alone would never fire again.
        f"OnBootSec={interval}s\n"
        f"OnUnitActiveSec={interval}s\n"
        f"AccuracySec={accuracy}s\n"
        f"Unit={config.units.backup}\n"
        "\n[Install]\n"
        "WantedBy=timers.target\n"
    )


def render_auto_restore(config: Config, exe: str, config_path: str) -> str:
    k3s = config.units.k3s
    link = f"{config.backup.dir.rstrip('/')}/{config.backup.snapshot_link}"
    timeout = duration_seconds(config.restore.wait_timeout) + RESTORE_TIMEOUT_MARGIN
    return (
        _header("auto-restore at boot")
        + "[Unit]\n"
        "Description=k3s-dr: restore the cluster at boot when it has lost its state\n"
        f"After={k3s}\n"
        f"Wants={k3s}\n"
        f"ConditionPathExists={link}\n"
        "\n[Service]\n"
        "Type=oneshot\n"
        f"ExecStart={_command(exe, config_path, 'restore', '--auto')}\n"
        f"TimeoutStartSec={timeout}s\n"
        "UMask=0077\n"
        + render_sandbox(config, Role.AUTO_RESTORE)
        + "\n[Install]\n"
        "WantedBy=multi-user.target\n"
    )


# The exporter answers the network and only reads: backups, its state file, systemd. Each line
# takes away something it never needs (`systemd-analyze security` rates the unit 2.3, "OK").
EXPORTER_SANDBOX: tuple[tuple[str, str], ...] = (
    ("ProtectSystem=strict", "the whole file system read-only: it writes nothing"),
    ("PrivateTmp=yes", "no shared /tmp"),
    ("PrivateDevices=yes", "no device nodes"),
    ("NoNewPrivileges=yes", "nothing it runs (systemctl) gains privileges"),
    ("CapabilityBoundingSet=CAP_NET_BIND_SERVICE CAP_DAC_READ_SEARCH",
     "root (systemd's private socket, for `systemctl show`) with two capabilities only: a port below 1024 if "
     "metrics.listen asks for one, and reading the backups whoever owns them"),
    ("ProtectKernelTunables=yes", "kernel settings read-only"),
    ("ProtectKernelModules=yes", "no module loading"),
    ("ProtectKernelLogs=yes", "no kernel log"),
    ("ProtectControlGroups=yes", "cgroups read-only"),
    ("ProtectClock=yes", "cannot set the clock the ages are computed from"),
    ("ProtectHostname=yes", "cannot change the host name"),
    ("ProtectProc=invisible", "sees only its own processes"),
    ("RestrictNamespaces=yes", "no new namespaces"),
    ("RestrictRealtime=yes", "no realtime scheduling"),
    ("RestrictSUIDSGID=yes", "cannot create set-uid files"),
    ("LockPersonality=yes", "no execution domain changes"),
    ("MemoryDenyWriteExecute=yes", "no writable code: CPython and prometheus_client need none"),
    ("SystemCallArchitectures=native", "no foreign system call ABIs"),
    ("SystemCallFilter=@system-service", "the system calls of an ordinary service"),
    ("SystemCallErrorNumber=EPERM", "others fail instead of killing it"),
    ("RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6", "HTTP, and systemd's socket for `systemctl show`"),
    ("UMask=0077", "private files, should it ever write one"),
)


def render_exporter(config: Config, exe: str, config_path: str) -> str:
    return (
        _header("metrics exporter")
        + "[Unit]\n"
        f"Description=k3s-dr: serve the backup, restore and drill metrics on {config.metrics.listen}\n"
        "After=network.target\n"
        # No start limit: a taken port is retried every RestartSec until it is free, however many
        # starts an operator's restarts added (by default 5 starts in 10 s would stop it for good).
        "StartLimitIntervalSec=0\n"
        "\n[Service]\n"
        # notify: started means listening, so `systemctl start` (and install, fix) return only
        # then, and a port in use fails the start instead of a later scrape.
        "Type=notify\n"
        f"ExecStart={_command(exe, config_path, 'exporter')}\n"
        "Restart=on-failure\n"
        "RestartSec=5s\n"
        + "".join(f"{line}\n" for line, _why in EXPORTER_SANDBOX)
        + "\n[Install]\n"
        "WantedBy=multi-user.target\n"
    )


def render_logrotate(config: Config) -> str:
    return (
        _header("log rotation", "go in another file of /etc/logrotate.d")
        + f"{config.backup.log_file} {{\n"
        "    weekly\n"
        "    rotate 8\n"
        "    maxsize 50M\n"
        "    missingok\n"
        "    notifempty\n"
        "    compress\n"
        "    delaycompress\n"
        # k3s-dr processes are short-lived and reopen the log on every run; copytruncate also
        # covers a long-running exporter without a signal to reopen.
        "    copytruncate\n"
        "}\n"
    )


def render_config(config: Config) -> str:
    """The effective configuration as YAML, every key spelled out (written only if none exists)."""
    values = dataclasses.asdict(config)
    values.pop("source", None)
    values["checks"]["expected_kinds"] = list(values["checks"]["expected_kinds"])
    body = yaml.safe_dump(values, sort_keys=False, default_flow_style=False)
    return (f"# k3s-dr configuration, written by `k3s-dr install` {__version__} because none existed.\n"
            "# Edit freely: install never overwrites it. A bad value is reported with what is accepted.\n"
            + body)


def render_tmpfiles_conf(config: Config) -> str:
    return _header("the lock directory at boot", "go in another file of /etc/tmpfiles.d") + render_tmpfiles(config)


def unit_path(name: str) -> str:
    return f"{UNIT_DIR}/{name}"


def render_all(config: Config, exe: str, config_path: str) -> tuple[ManagedFile, ...]:
    """Every file install manages, in the order it writes them (the exporter's unit when units.exporter)."""
    units = config.units
    exporter = (ManagedFile(unit_path(EXPORTER_UNIT), render_exporter(config, exe, config_path), 0o644, is_unit=True),)
    return (
        ManagedFile(config_path, render_config(config), 0o640, keep_existing=True),
        ManagedFile(unit_path(units.backup), render_backup_service(config, exe, config_path), 0o644, is_unit=True),
        ManagedFile(unit_path(units.backup_timer), render_backup_timer(config), 0o644, is_unit=True),
        ManagedFile(unit_path(units.auto_restore), render_auto_restore(config, exe, config_path), 0o644, is_unit=True),
        *(exporter if units.exporter else ()),
        ManagedFile(LOGROTATE_PATH, render_logrotate(config), 0o644),
        ManagedFile(TMPFILES_PATH, render_tmpfiles_conf(config), 0o644),
        # The sandboxed backup unit may append to the log but not create it in /var/log.
        ManagedFile(config.backup.log_file, "", 0o640, keep_existing=True),
    )
