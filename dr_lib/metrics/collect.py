"""From the host's current facts to a prometheus_client registry and its exposition text.

:func:`gather` is the only I/O: the state file, the backup directory, systemd. Each source that
fails is reported (``collection_error{source=…}``) and the rest is still collected, so a scrape
or a textfile never fails as a whole. :func:`build_registry` maps the inputs through the pure
catalogue; values are produced at collection time, so the exporter's ages are fresh per scrape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dr_lib.config import Config, duration_seconds
from dr_lib.errors import DRError
from dr_lib.metrics import backupdir, systemd
from dr_lib.metrics.catalog import COUNTER, Inputs, evaluate
from dr_lib.metrics.records import State
from dr_lib.metrics.statefile import read_state

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics_core import Metric

# prometheus_client is imported where it is used: importing it costs ~50 ms (its exposition
# module pulls in http.server and wsgiref), which every command importing the records paid.

STATE_FILE_NAME = "metrics-state.json"  # beside the auto-restore state and the ledgers, by default


@dataclass(frozen=True)
class MetricsSettings:
    prefix: str
    state_file: Path
    textfile: Path
    listen: str
    backup_dir: Path
    latest_link: str
    backup_timer: str
    auto_restore_unit: str
    rto_target_seconds: float
    rpo_target_seconds: float
    offsite_targets: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config: Config) -> MetricsSettings:
        return cls(
            prefix=config.metrics.prefix,
            state_file=Path(config.metrics.state_file or Path(config.restore.state_dir) / STATE_FILE_NAME),
            textfile=Path(config.metrics.textfile), listen=config.metrics.listen,
            backup_dir=Path(config.backup.dir), latest_link=config.backup.latest_link,
            backup_timer=config.units.backup_timer, auto_restore_unit=config.units.auto_restore,
            rto_target_seconds=float(duration_seconds(config.targets.rto)),
            rpo_target_seconds=float(duration_seconds(config.targets.rpo)),
            offsite_targets=tuple(sorted(config.offsite.targets)),
        )


def gather(settings: MetricsSettings, now: float, now_monotonic: float, *,
           cache: backupdir.ArchiveCache | None = None, with_systemd: bool | None = None,
           state: State | None = None) -> Inputs:
    problem = ""
    if state is None:
        try:
            state = read_state(settings.state_file)
        except DRError as exc:
            state, problem = State(), exc.message
    backups = backupdir.scan(settings.backup_dir, settings.latest_link, cache)
    use_systemd = systemd.systemd_running() if with_systemd is None else with_systemd
    units = None
    if use_systemd:
        units = systemd.query(settings.backup_timer, settings.auto_restore_unit, now, now_monotonic)
    return Inputs(now, state, backups, units, settings.rto_target_seconds, settings.rpo_target_seconds, problem,
                  settings.offsite_targets)


def families(prefix: str, inputs: Inputs) -> Iterator[Metric]:
    """One family per metric that has a value (an unknown value is left out, not invented)."""
    from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily  # noqa: PLC0415

    for spec, values in evaluate(inputs):
        if not values:
            continue
        family_type = CounterMetricFamily if spec.kind == COUNTER else GaugeMetricFamily
        family: Metric = family_type(prefix + spec.suffix, spec.help, labels=list(spec.labels))
        for labels, value in values:
            family.add_metric(list(labels), value)  # type: ignore[attr-defined]
        yield family


class _Collector:
    """prometheus_client's collector protocol: ``collect`` runs at every scrape."""

    def __init__(self, prefix: str, inputs: Callable[[], Inputs]) -> None:
        self._prefix = prefix
        self._inputs = inputs

    def collect(self) -> Iterator[Metric]:
        return families(self._prefix, self._inputs())


def build_registry(prefix: str, inputs: Callable[[], Inputs]) -> CollectorRegistry:
    from prometheus_client import CollectorRegistry  # noqa: PLC0415

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(prefix, inputs))
    return registry


def render(prefix: str, inputs: Inputs) -> str:
    """The exposition text (Prometheus text format 0.0.4) of these inputs."""
    from prometheus_client.exposition import generate_latest  # noqa: PLC0415

    return generate_latest(build_registry(prefix, lambda: inputs)).decode("utf-8")
