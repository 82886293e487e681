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
from dr_lib.checks.hostfacts import LOGROTATE_PATH
from dr_lib.config import Config, duration_seconds

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
    """TimeoutStartSec of the backup service: the backup, plus every push after it (each has its deadline)."""
    offsite = config.offsite
    if not (offsite.push_after_backup and offsite.targets):
        return BACKUP_TIMEOUT
    pushes = sum(duration_seconds(target.timeout) for target in offsite.targets.values())
    return f"{BACKUP_TIMEOUT_SECONDS + pushes}s"


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
        "\n[Install]\n"
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


def unit_path(name: str) -> str:
    return f"{UNIT_DIR}/{name}"


def render_all(config: Config, exe: str, config_path: str) -> tuple[ManagedFile, ...]:
    """Every file install manages, in the order it writes them."""
    units = config.units
    return (
        ManagedFile(config_path, render_config(config), 0o640, keep_existing=True),
        ManagedFile(unit_path(units.backup), render_backup_service(config, exe, config_path), 0o644, is_unit=True),
        ManagedFile(unit_path(units.backup_timer), render_backup_timer(config), 0o644, is_unit=True),
        ManagedFile(unit_path(units.auto_restore), render_auto_restore(config, exe, config_path), 0o644, is_unit=True),
        ManagedFile(LOGROTATE_PATH, render_logrotate(config), 0o644),
    )
