"""``k3s-dr exporter`` (serve the metrics over HTTP) and ``k3s-dr metrics`` (print or write them once)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from dr_lib.cli.common import app, print_json
from dr_lib.host.systemd import notify
from dr_lib.metrics import MetricsSettings, gather, render, write_textfile
from dr_lib.metrics.catalog import names
from dr_lib.metrics.exporter import bind, serve


@click.command("exporter")
@click.option("--listen", default=None, metavar="HOST:PORT",
              help="Address to serve on, e.g. :9101 or 127.0.0.1:9101 [default: config metrics.listen, 0.0.0.0:9101].")
def exporter(listen: str | None) -> None:
    """Serve the k3s-dr metrics at http://HOST:PORT/metrics, computed at each scrape.

    Backup ages come from the backup directory at scrape time; an unreadable directory or a
    corrupt archive shows as a metric, never as a crash. SIGTERM stops it cleanly. `k3s-dr install`
    runs it as k3s-dr-exporter.service (config units.exporter).
    """
    settings = MetricsSettings.from_config(app(click.get_current_context()).config)
    address = listen or settings.listen
    server = bind(settings, address)
    host, port = server.socket.getsockname()[:2]
    click.echo(f"k3s-dr exporter: serving http://{address}/metrics (bound {host}:{port}; prefix "
               f"{settings.prefix}, backup dir {settings.backup_dir})", err=True)
    sys.stderr.flush()
    notify("READY=1", f"STATUS=serving http://{address}/metrics")  # Type=notify: started means listening
    serve(server)
    click.echo("k3s-dr exporter: stopped", err=True)


@click.command("metrics")
@click.option("--write", "write", is_flag=True,
              help="Write the node_exporter textfile (atomically) instead of printing the metrics.")
@click.option("--textfile", default=None, type=click.Path(dir_okay=False),
              help="With --write: the file [default: config metrics.textfile]; its directory is created.")
@click.option("--json", "as_json", is_flag=True, help="With --write: print one JSON object about what was written.")
@click.option("--names", "list_names", is_flag=True, help="List every metric name k3s-dr can export, and exit.")
def metrics(write: bool, textfile: str | None, as_json: bool, list_names: bool) -> None:
    """Print the metrics once (Prometheus text format), or write them as a node_exporter textfile.

    The same values the exporter serves: the latest backup, restore, auto-restore decision and
    drill (from the state file metrics.state_file) and the backup directory as it is now.
    """
    settings = MetricsSettings.from_config(app(click.get_current_context()).config)
    if list_names:
        for name in names(settings.prefix):
            click.echo(name)
        return
    started = time.monotonic()
    if not write:
        click.echo(render(settings.prefix, gather(settings, time.time(), time.monotonic())), nl=False)
        return
    path, text = write_textfile(settings, time.time(), time.monotonic(),
                                path=Path(textfile) if textfile else None, make_parents=True)
    samples = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
    if as_json:
        print_json({"textfile": str(path), "samples": samples, "seconds": round(time.monotonic() - started, 3)})
    else:
        click.echo(f"wrote {samples} samples to {path}")


COMMANDS: list[click.Command] = [exporter, metrics]
