"""The auto-restore job (``restore --auto``, run at boot by ``k3s-dr-auto-restore.service``).

Wait for the API server, decide from what the cluster lost (at most once per boot, unless
forced), restore when the decision says so, record the decision (and the restore) in the
metrics. It ends like a restore when it restored, and successfully when it decided not to.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dr_lib.clock import utc_now
from dr_lib.config import Config
from dr_lib.errors import DRError, EnvironmentProblem, SnapshotRefused
from dr_lib.jobs import record
from dr_lib.jobs.report import Reporter
from dr_lib.jobs.restore import AppData, RestoreOptions, outcome_json, prepare, restore_exit
from dr_lib.jobs.restore_options import resolve_kubeconfig
from dr_lib.kube.client import Kube
from dr_lib.restore.auto import boot_identity
from dr_lib.restore.auto_runner import AutoOutcome, run_auto

BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")
INIT_STAT_FILE = Path("/proc/1/stat")  # init's start time: see restore.auto.boot_identity


@dataclass(frozen=True)
class AutoRestoreOptions:
    restore: RestoreOptions  # what a restore, once decided, restores (never a dry run)
    boot_id: str | None = None  # default: read from /proc
    force: bool = False  # restore whatever the cluster looks like


def boot_id(option: str | None) -> str:
    if option:
        return option
    try:
        kernel = BOOT_ID_FILE.read_text(encoding="ascii")
    except OSError as exc:
        raise EnvironmentProblem(f"cannot read the boot id from {BOOT_ID_FILE}: {exc.strerror}",
                                 hint="pass --boot-id") from None
    try:
        init_stat: str | None = INIT_STAT_FILE.read_text(encoding="utf-8", errors="replace")
    except OSError:
        init_stat = None  # /proc mounted with hidepid: the kernel's boot id alone
    return boot_identity(kernel, init_stat)


@dataclass(frozen=True)
class AutoRestoreResult:
    auto: AutoOutcome
    data: AppData | None  # None: --no-data

    def to_dict(self) -> dict[str, Any]:
        summary: dict[str, Any] = {"auto": self.auto.to_dict()}
        if self.auto.restore is not None:
            summary.update(outcome_json(self.auto.restore))
            summary.update({} if self.data is None else self.data.to_dict())
        return summary

    @property
    def exit_error(self) -> DRError | None:
        restored = self.auto.restore
        return None if restored is None else restore_exit(restored.ledger, restored.ledger_path, self.data)


def auto_restore(config: Config, options: AutoRestoreOptions, reporter: Reporter) -> AutoRestoreResult:
    request, restorer = prepare(config, options.restore, reporter, auto=True)
    kubeconfig = resolve_kubeconfig(config, options.restore.kubeconfig)
    with Kube.from_kubeconfig(kubeconfig, pool_size=request.workers) as kube:
        try:
            outcome = run_auto(request, kube, boot_id=boot_id(options.boot_id),
                               state_dir=Path(config.restore.state_dir), threshold=config.restore.auto_loss_threshold,
                               force=options.force, now=utc_now())
        except SnapshotRefused as exc:  # not trusted, or failed verification: a decision of its own
            record.auto_restore_refused(config, exc, reporter)
            raise
    record.auto_restore_done(config, outcome, reporter)
    return AutoRestoreResult(outcome, AppData.of(restorer))
