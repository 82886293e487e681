"""The metrics jobs: ``k3s-dr exporter`` (serve until stopped), ``k3s-dr metrics`` (once; ``render`` the
dashboard and alert rules; ``record-drill`` a drill run elsewhere)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dr_lib.config import Config
from dr_lib.host.systemd import notify
from dr_lib.jobs.report import Reporter, warn_each
from dr_lib.metrics import MetricsSettings, gather, record_drill_evidence, render, write_textfile
from dr_lib.metrics.catalog import names
from dr_lib.metrics.evidence import evidence_record
from dr_lib.metrics.exporter import bind, serve

if TYPE_CHECKING:
    from dr_lib.metrics import DrillRecord
    from dr_lib.metrics.assets.render import RenderedAssets


def serve_metrics(config: Config, listen: str | None, reporter: Reporter) -> None:
    """Bind (an unusable address fails here), tell systemd it is ready, serve until SIGTERM."""
    settings = MetricsSettings.from_config(config)
    address = listen or settings.listen
    server = bind(settings, address)
    host, port = server.socket.getsockname()[:2]
    reporter.note(f"k3s-dr exporter: serving http://{address}/metrics (bound {host}:{port}; prefix "
                  f"{settings.prefix}, backup dir {settings.backup_dir})")
    notify("READY=1", f"STATUS=serving http://{address}/metrics")  # Type=notify: started means listening
    serve(server)
    reporter.note("k3s-dr exporter: stopped")


def metric_names(config: Config) -> list[str]:
    return names(MetricsSettings.from_config(config).prefix)


def metrics_text(config: Config) -> str:
    """The metrics in the Prometheus text format, as the exporter would serve them now."""
    settings = MetricsSettings.from_config(config)
    return render(settings.prefix, gather(settings, time.time(), time.monotonic()))


@dataclass(frozen=True)
class Textfile:
    path: Path
    samples: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"textfile": str(self.path), "samples": self.samples, "seconds": round(self.seconds, 3)}


def write_metrics_textfile(config: Config, textfile: str | None) -> Textfile:
    """The node_exporter textfile, written atomically (its directory created)."""
    settings = MetricsSettings.from_config(config)
    started = time.monotonic()
    path, text = write_textfile(settings, time.time(), time.monotonic(),
                                path=Path(textfile) if textfile else None, make_parents=True)
    samples = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
    return Textfile(path, samples, time.monotonic() - started)


def render_assets(config: Config, directory: str) -> RenderedAssets:
    """The Grafana dashboard, the alert rules and their promtool tests for metrics.prefix, into ``directory``."""
    from dr_lib.metrics.assets import AssetOptions, write_assets  # noqa: PLC0415 - the SDK is imported only here

    return write_assets(AssetOptions.from_config(config), Path(directory))


@dataclass(frozen=True)
class DrillRecorded:
    record: DrillRecord
    recorded: bool  # False: a later drill is recorded already

    @property
    def verdict(self) -> str:
        return "pass" if self.record.passed else "fail"

    def to_dict(self) -> dict[str, Any]:
        return {"recorded": self.recorded, "drill_id": self.record.drill_id, "finished": self.record.at,
                "verdict": self.verdict}


def record_drill_evidence_file(config: Config, evidence: str, reporter: Reporter) -> DrillRecorded:
    """Record a drill that ran elsewhere (the CI restore drill) from its evidence.json."""
    record = evidence_record(Path(evidence), time.time())
    recorded, warnings = record_drill_evidence(config, record)
    warn_each(reporter, warnings)
    return DrillRecorded(record, recorded)
