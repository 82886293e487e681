"""The host jobs: ``install`` (units, config, log rotation) and ``fix`` (repair what the checks find)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dr_lib.checks.controls import BY_ID
from dr_lib.config import CONFIG_ENV, DEFAULT_CONFIG_PATH, Config
from dr_lib.errors import DRError, PartialFailure, UsageError
from dr_lib.host.fix import fix
from dr_lib.host.install import HostChange, default_exe, install
from dr_lib.host.programtrust import trusted_program
from dr_lib.host.units import ManagedFile
from dr_lib.jobs.migrate import Migration, migrate_host, seed_findings, undo_migration


@dataclass(frozen=True)
class HostOptions:
    dry_run: bool = False  # show the changes (with diffs), change nothing
    exe: str | None = None  # the k3s-dr program the units run; default: this one


@dataclass(frozen=True)
class InstallOptions(HostOptions):
    """install's options: fix's, and the migration from the seed's scripts (fix has no --migrate)."""

    migrate: bool = False  # take the seed's scripts out of service first (dr_lib.host.migrate)
    undo: bool = False  # with migrate: put back what the newest migration changed, and nothing else


def config_file(chosen: str | None) -> str:
    """The configuration file the units name: --config, $K3S_DR_CONFIG or the default, absolute."""
    return str(Path(chosen or os.environ.get(CONFIG_ENV) or str(DEFAULT_CONFIG_PATH)).absolute())


def fixable(control: str) -> bool:
    return control in BY_ID and BY_ID[control].fixable


@dataclass(frozen=True)
class HostResult:
    change: HostChange
    config_path: str
    exe: str | None = None  # install: the program the units run (fix names it only in the units)
    migration: Migration | None = None  # --migrate, --migrate --undo
    seed_found: tuple[str, ...] = ()  # the seed's scripts still in service (install without --migrate)

    @property
    def notices(self) -> list[str]:
        if not self.seed_found:
            return []
        return [f"the seed's scripts are still in service: {'; '.join(self.seed_found)}. They back up every hour "
                "beside k3s-dr and repoint latest-backup.tar.gz: run `k3s-dr install --migrate` to disable them "
                "and keep them aside (reversible: `k3s-dr install --migrate --undo`)"]

    def to_dict(self) -> dict[str, Any]:
        change = self.change
        return {
            "dry_run": change.dry_run,
            "changed": change.changed,
            "steps": [s.as_json() for s in change.steps],
            "remaining": [{"control": cid, "problem": problem, "fixable": fixable(cid)}
                          for cid, problem in change.remaining],
            "config": self.config_path, "notes": list(change.notes),
            **({} if self.exe is None else {"exec": self.exe}),
            **({} if self.migration is None else {"migration": self.migration.to_dict()}),
            "seed_found": list(self.seed_found),
        }

    @property
    def exit_error(self) -> DRError | None:
        """A fix that left fixable controls failing is partial (exit 3); a dry run changes nothing."""
        unfixed = [cid for cid, _ in self.change.remaining if fixable(cid)]
        if unfixed and not self.change.dry_run:
            return PartialFailure(f"fix could not repair: {', '.join(unfixed)}")
        return None


def monitoring_files(config: Config) -> tuple[ManagedFile, ...]:
    """The rendered rules and dashboard where metrics.*_dir ask for them (none by default)."""
    if not (config.metrics.prometheus_rules_dir or config.metrics.grafana_dashboards_dir):
        return ()
    from dr_lib.metrics.assets.node import node_files  # noqa: PLC0415 - the SDK is imported only when asked for

    return tuple(ManagedFile(path, text, 0o644) for path, text in node_files(config))


def install_host(config: Config, options: InstallOptions, chosen_config: str | None) -> HostResult:
    config_path = config_file(chosen_config)
    if options.undo:
        if not options.migrate:
            raise UsageError("--undo undoes a migration: use it as `k3s-dr install --migrate --undo`")
        return HostResult(HostChange((), options.dry_run), config_path,
                          migration=undo_migration(config, dry_run=options.dry_run))
    program = trusted_program(options.exe or default_exe())  # the units run it as root: root's alone, links resolved
    findings = seed_findings()
    migration = migrate_host(config, findings, dry_run=options.dry_run) if options.migrate else None
    change = install(config, program, config_path, dry_run=options.dry_run, extra=monitoring_files(config))
    still = () if migration is not None else tuple(findings.describe())
    return HostResult(change, config_path, program, migration, still)


def fix_host(options: HostOptions, chosen_config: str | None) -> HostResult:
    config_path = config_file(chosen_config)
    program = trusted_program(options.exe or default_exe())
    return HostResult(fix(config_path, program, dry_run=options.dry_run), config_path)
