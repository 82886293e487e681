"""The metrics jobs: ``k3s-dr exporter`` (serve until stopped) and ``k3s-dr metrics`` (once)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dr_lib.config import Config
from dr_lib.host.systemd import notify
from dr_lib.jobs.report import Reporter
from dr_lib.metrics import MetricsSettings, gather, render, write_textfile
from dr_lib.metrics.catalog import names
from dr_lib.metrics.exporter import bind, serve


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
