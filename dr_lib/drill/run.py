"""One drill's settings and its state as the steps fill it in.

:class:`DrillRun` is the context every step takes: what was started (clusters, the work
directory), what was measured (the timeline), what each step produced (backup, restore,
verification) and the extras the report attaches to each step. :meth:`DrillRun.execute` runs a
step: it refuses to run one whose prerequisites failed (saying which), times it, and records
how it ended — the same record whether pytest or anything else drives the drill.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from dr_lib.clock import utc_now
from dr_lib.cluster.kubeconfig import named_images
from dr_lib.cluster.provider import kubernetes_release, real_node
from dr_lib.config import parse_duration
from dr_lib.drill import DESTROY_MODES, PROVIDERS
from dr_lib.drill.app import image_users
from dr_lib.drill.commands import CommandRun
from dr_lib.drill.images import ROLES
from dr_lib.drill.timeline import FAILED, PASSED, SKIPPED, Phase, StepOutcome, Timeline
from dr_lib.drill.trigger import field_problem
from dr_lib.drill.verdict import Targets
from dr_lib.drill.verify import Verification
from dr_lib.errors import StepSkipped, UsageError
from dr_lib.hooks.confine import DEFAULT_VOLUME_ROOTS
from dr_lib.jsontypes import JSONObject

# Test-only switch that sabotages the drill's restore on purpose (passed on as restore's hidden flag);
# a report made with it says so. A drill's option, never an environment variable a production restore reads.
TEST_DISABLE_SANITIZER = "test_disable_sanitizer"

# step → the steps that must have *run* (passed, or failed after doing their work) before it.
NEEDS_PASSED: dict[str, tuple[str, ...]] = {
    "source": (), "backup": ("source",), "destroy": ("backup",), "restore": ("destroy",),
    "verify": ("destroy",), "judge": (),
}
# verify also needs the restore to have been attempted: a verification of nothing proves nothing.
NEEDS_RUN: dict[str, tuple[str, ...]] = {"verify": ("restore",)}


@dataclass(frozen=True)
class DrillSettings:
    provider: str = "local"
    real_node: bool = False
    destroy: str = "fresh"
    reports_root: Path = Path("reports")
    kubeconfig: Path | None = None  # the cluster of the kubeconfig provider
    targets: Targets = field(default_factory=lambda: Targets(900, 3600))
    restore_wait_timeout: str = "5m"
    nodes: int = 2
    k3s_image: str | None = None  # the k3d provider's rancher/k3s image
    kubernetes_version: str | None = None  # the release of the clusters it starts (None: the test bed's newest)
    config_path: str | None = None
    step_timeout_seconds: float = 300.0
    keep_work_dir: bool = False
    images: Mapping[str, str] = field(default_factory=dict)  # config drill.images: role → image (kubeconfig)
    # A drill of a real archive (docs/drill.md, "Drill of a real archive"): a file (the CLI resolved
    # `latest`), or a copy pulled from an offsite target, REMOTE[:NAME]; its age file for .age archives.
    archive: Path | None = None
    from_remote: str | None = None
    identity_file: Path | None = None
    # Who asked and who reviews (report fields), and the schedule the drill's RPO is set against.
    ticket: str | None = None
    reviewer: str | None = None
    backup_interval_seconds: int | None = None  # config backup.interval
    volume_roots: tuple[str, ...] = DEFAULT_VOLUME_ROOTS  # config data.volume_roots: where restores put volumes
    signing_key: Path | None = None  # signs the report's SHA256SUMS (config trust.signing_key, a CI identity)
    verify_keys: tuple[Path, ...] = ()  # an archive drill's input must be signed by one (config trust.verify_keys)
    test_disable_sanitizers: tuple[str, ...] = ()  # TEST-ONLY: resources whose sanitizer the restore skips

    def test_options(self) -> dict[str, str]:
        """The TEST-ONLY switches in force, as the evidence and the report show them."""
        if not self.test_disable_sanitizers:
            return {}
        return {TEST_DISABLE_SANITIZER: ",".join(self.test_disable_sanitizers)}

    def restore_test_flags(self) -> list[str]:
        """What the drill adds to the ``k3s-dr restore`` commands it runs for the switches in force."""
        return [flag for name in self.test_disable_sanitizers for flag in ("--test-disable-sanitizer", name)]

    @property
    def of_archive(self) -> bool:
        return self.archive is not None or self.from_remote is not None

    @property
    def subject(self) -> str:
        """What the drill restores, for its start line: the archive of an archive drill, else the destroy mode."""
        if self.archive is not None:
            return f"archive {self.archive.name}"
        if self.from_remote is not None:
            return f"archive from offsite {self.from_remote}"
        return f"destroy {self.destroy}"

    def check(self) -> DrillSettings:
        if self.provider not in PROVIDERS:
            raise UsageError(f"cluster provider {self.provider!r} is not known: accepted is {', '.join(PROVIDERS)}")
        if self.destroy not in DESTROY_MODES:
            raise UsageError(f"destroy mode {self.destroy!r} is not known: accepted is {', '.join(DESTROY_MODES)}")
        if self.archive is not None and self.from_remote is not None:
            raise UsageError("a drill got both --archive and --from: accepted is one of them")
        if self.nodes < 1 and not self.real_node and self.provider == "local":
            raise UsageError(f"--nodes {self.nodes} leaves the cluster without a node: accepted is --nodes 1 or more, "
                             "or --nodes 0 with --real-node")
        if self.provider == "kubeconfig" and self.destroy == "fresh" and not self.of_archive:
            raise UsageError("a drill on --cluster kubeconfig cannot make a fresh target cluster: "
                             "accepted is --destroy wipe (it deletes only the drill's own namespaces)")
        try:
            parse_duration(self.restore_wait_timeout)
        except ValueError:
            raise UsageError(f"wait timeout {self.restore_wait_timeout!r} is not valid: accepted is a duration "
                             "such as 90s, 5m") from None
        if self.provider == "kubeconfig" and self.kubernetes_version is not None:
            raise UsageError(f"--kubernetes-version {self.kubernetes_version} applies to the clusters a drill "
                             "starts: accepted with --cluster local or k3d, not with an existing cluster")
        kubernetes_release(self.provider, self.kubernetes_version)  # refused here, not as a failed drill
        if self.provider == "kubeconfig" and self.kubeconfig is None:
            raise UsageError("--cluster kubeconfig needs --kubeconfig PATH (or $KUBECONFIG)")
        if self.real_node:
            real_node()  # the test bed's node: without its extra, refused here naming the extra
        if self.provider == "kubeconfig" and not self.of_archive:
            # Up front, before anything starts: which pods would have no image (raises naming them).
            named_images(tuple(ROLES), self.images, image_users())
        for name, value in (("--ticket", self.ticket), ("--reviewer", self.reviewer)):
            problem = field_problem(name, value)
            if problem is not None:
                raise UsageError(problem)
        return self


Progress = Callable[[str], None]


def _quiet(_line: str) -> None:
    return None


@dataclass
class BackupRecord:
    archive: Path
    sha256: str
    bytes: int
    created: datetime
    objects: int
    kinds: int
    command: CommandRun
    result: dict[str, Any]


@dataclass
class RestoreRecord:
    commands: list[CommandRun] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)
    ledger: Any = None

    @property
    def complete(self) -> bool:
        return bool(self.result.get("complete"))


@dataclass
class DrillRun:
    settings: DrillSettings
    drill_id: str
    report_dir: Path
    work_dir: Path
    timeline: Timeline
    env: dict[str, str]
    progress: Progress = _quiet
    identity: dict[str, str] = field(default_factory=dict)
    source: Any = None  # ClusterHandle
    target: Any = None  # ClusterHandle
    seeded: list[JSONObject] = field(default_factory=list)
    backup: BackupRecord | None = None
    restore: RestoreRecord | None = None
    verification: Verification | None = None
    extras: dict[str, list[tuple[str, str, Any]]] = field(default_factory=dict)  # step → (name, format, content)
    test_options: dict[str, str] = field(default_factory=dict)
    secret_values: set[str] = field(default_factory=set)  # every secret value seen, for the report scrubber
    data_checks: list[Any] = field(default_factory=list)  # dr_lib.hooks.datacheck.DataCheck, real node only
    # What the scope of the drill was (dr_lib.drill.facts writes it to the evidence): the images and how
    # each cluster got them, where pods ran, the archive of an archive drill, what did not apply and why.
    images: Any = None  # dr_lib.cluster.provider.ImageSet
    image_loads: list[Any] = field(default_factory=list)  # ImageLoad per cluster
    pods: dict[str, list[Any]] = field(default_factory=dict)  # "source" | "target" → dr_lib.drill.pods.PodFact
    archive: Any = None  # dr_lib.drill.archive_input.ArchiveInput of an archive drill
    inapplicable: list[tuple[str, str, str]] = field(default_factory=list)  # (step, what, why)
    _cleanups: list[tuple[str, Callable[[], None]]] = field(default_factory=list)

    @property
    def started(self) -> datetime:
        return self.timeline.started

    def phase(self, step: str, name: str, started: datetime, started_mono: float, detail: str = "") -> Phase:
        recorded = Phase(step, name, started, time.monotonic() - started_mono, detail)
        self.timeline.add_phase(recorded)
        self.progress(f"      {name}: {recorded.seconds:.1f} s{f' — {detail}' if detail else ''}")
        return recorded

    def not_applicable(self, step: str, what: str, why: str) -> None:
        """Part of a step that does not apply to this drill: recorded with the reason, never silently left out."""
        self.inapplicable.append((step, what, why))
        self.progress(f"      {what}: not applicable — {why}")

    def attach(self, step: str, name: str, fmt: str, content: Any) -> None:
        """An extra for the report row of ``step``: fmt is json, text or html (already redacted)."""
        self.extras.setdefault(step, []).append((name, fmt, content))

    def on_cleanup(self, what: str, action: Callable[[], None]) -> None:
        self._cleanups.append((what, action))

    def _blocker(self, name: str) -> str | None:
        for needed in NEEDS_PASSED[name]:
            if self.timeline.status(needed) != PASSED:
                return f"not run: step {needed} {self.timeline.status(needed) or 'did not run'}"
        for needed in NEEDS_RUN.get(name, ()):
            if self.timeline.status(needed) not in (PASSED, FAILED):
                return f"not run: step {needed} did not run"
        return None

    def execute(self, name: str, step: Callable[[DrillRun], None]) -> None:
        started, started_mono = utc_now(), time.monotonic()
        blocker = self._blocker(name)
        if blocker is not None:
            self.timeline.add_step(StepOutcome(name, SKIPPED, started, 0.0, blocker))
            self.progress(f"  {name}: skipped ({blocker})")
            raise StepSkipped(blocker)
        self.progress(f"  {name} …")
        try:
            step(self)
        except BaseException as exc:
            message = str(exc) or type(exc).__name__
            self.timeline.add_step(StepOutcome(name, FAILED, started, time.monotonic() - started_mono, message))
            self.progress(f"  {name}: FAILED after {time.monotonic() - started_mono:.1f} s — {message[:300]}")
            raise
        seconds = time.monotonic() - started_mono
        self.timeline.add_step(StepOutcome(name, PASSED, started, seconds))
        self.progress(f"  {name}: ok ({seconds:.1f} s)")

    def close(self) -> list[str]:
        """Undo what the drill started, newest first; returns the problems (never raises)."""
        problems: list[str] = []
        while self._cleanups:
            what, action = self._cleanups.pop()
            try:
                action()
            except Exception as exc:  # noqa: BLE001 - every cleanup must get its turn
                problems.append(f"{what}: {type(exc).__name__}: {exc}")
        if not self.settings.keep_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)
        return problems


def new_work_dir() -> Path:
    """Private scratch space: the archive in it holds Secrets, so 0700 and removed at the end."""
    return Path(tempfile.mkdtemp(prefix="k3s-dr-drill-"))


def drill_volume_roots(settings: DrillSettings, work_dir: Path) -> tuple[str, ...]:
    """The one list of roots a drill's restore puts volumes below and its cleanup removes them from.
    The synthetic drill's volumes live in its work directory (steps.source seeds them there). An archive
    drill's volumes go back to the node paths the archive names, where the real node's pods mount them:
    only below the drill's configured ``data.volume_roots`` (checked by :func:`dr_lib.hooks.confine.locate`)."""
    return settings.volume_roots if settings.of_archive else (str(work_dir / "volumes"),)


def command_env(settings: DrillSettings, work_dir: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of the drill's ``k3s-dr`` commands: the operator's, with every path the
    commands write redirected into the drill's work directory (never the host's backups, lock or log)."""
    env = dict(os.environ if base is None else base)
    env.update({
        "K3S_DR_BACKUP_DIR": str(work_dir / "backups"),
        "K3S_DR_BACKUP_LOCK_FILE": str(work_dir / "k3s-dr.lock"),
        "K3S_DR_BACKUP_LOG_FILE": str(work_dir / "k3s-dr.log"),
        "K3S_DR_RESTORE_STATE_DIR": str(work_dir / "state"),
        "K3S_DR_METRICS_STATE_FILE": str(work_dir / "state" / "metrics-state.json"),
        "K3S_DR_METRICS_TEXTFILE": str(work_dir / "metrics" / "k3s_dr.prom"),  # no such dir: not written
        # The only roots the drill's restore may put volumes below (and its cleanup remove from).
        "K3S_DR_DATA_VOLUME_ROOTS": ",".join(drill_volume_roots(settings, work_dir)),
        # The drill's throwaway backups must never reach the operator's offsite targets (nor their retention).
        "K3S_DR_OFFSITE_PUSH_AFTER_BACKUP": "false",
        # A drill's restore never moves a directory of this machine aside: a volume path in use keeps its data.
        "K3S_DR_HOOKS_RESTORE_VOLUMES": "keep-existing",
    })
    if settings.config_path:
        env["K3S_DR_CONFIG"] = settings.config_path
    return env
