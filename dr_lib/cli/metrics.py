"""``k3s-dr exporter`` (serve the metrics over HTTP) and ``k3s-dr metrics`` (print or write them once)."""

from __future__ import annotations

import click

from dr_lib.cli.common import REPORTER, app, print_json
from dr_lib.jobs.metrics import metric_names, metrics_text, serve_metrics, write_metrics_textfile


@click.command("exporter")
@click.option("--listen", default=None, metavar="HOST:PORT",
              help="Address to serve on, e.g. :9101 or 127.0.0.1:9101 [default: config metrics.listen, 0.0.0.0:9101].")
def exporter(listen: str | None) -> None:
    """Serve the k3s-dr metrics at http://HOST:PORT/metrics, computed at each scrape.

    Backup ages come from the backup directory at scrape time; an unreadable directory or a
    corrupt archive shows as a metric, never as a crash. SIGTERM stops it cleanly. `k3s-dr install`
    runs it as k3s-dr-exporter.service (config units.exporter).
    """
    serve_metrics(app(click.get_current_context()).config, listen, REPORTER)


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
    config = app(click.get_current_context()).config
    if list_names:
        for name in metric_names(config):
            click.echo(name)
        return
    if not write:
        click.echo(metrics_text(config), nl=False)
        return
    written = write_metrics_textfile(config, textfile)
    if as_json:
        print_json(written.to_dict())
    else:
        click.echo(f"wrote {written.samples} samples to {written.path}")


COMMANDS: list[click.Command] = [exporter, metrics]
