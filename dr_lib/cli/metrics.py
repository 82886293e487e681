"""``k3s-dr exporter`` (serve the metrics over HTTP) and ``k3s-dr metrics`` (print or write them once;
``render`` the dashboard and alert rules; ``record-drill`` a drill run elsewhere)."""

from __future__ import annotations

import click

from dr_lib.cli.common import REPORTER, app, print_json
from dr_lib.errors import UsageError
from dr_lib.jobs.metrics import (
    metric_names,
    metrics_text,
    record_drill_evidence_file,
    render_assets,
    serve_metrics,
    write_metrics_textfile,
)


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


@click.group("metrics", invoke_without_command=True)
@click.option("--write", "write", is_flag=True,
              help="Write the node_exporter textfile (atomically) instead of printing the metrics.")
@click.option("--textfile", default=None, type=click.Path(dir_okay=False),
              help="With --write: the file [default: config metrics.textfile]; its directory is created.")
@click.option("--json", "as_json", is_flag=True, help="With --write: print one JSON object about what was written.")
@click.option("--names", "list_names", is_flag=True, help="List every metric name k3s-dr can export, and exit.")
@click.pass_context
def metrics(ctx: click.Context, write: bool, textfile: str | None, as_json: bool, list_names: bool) -> None:
    """Print the metrics once (Prometheus text format), or write them as a node_exporter textfile.

    The same values the exporter serves: the latest backup, restore, auto-restore decision and
    drill (from the state file metrics.state_file) and the backup directory as it is now.
    `k3s-dr metrics render` writes the dashboard and alert rules for metrics.prefix;
    `k3s-dr metrics record-drill` records a drill that ran elsewhere (CI).
    """
    if ctx.invoked_subcommand is not None:
        if write or textfile or as_json or list_names:
            raise UsageError(f"--write, --textfile, --json and --names are options of `k3s-dr metrics` itself, not "
                             f"of `metrics {ctx.invoked_subcommand}`; accepted: k3s-dr metrics "
                             f"{ctx.invoked_subcommand} [ITS OPTIONS]")
        return
    config = app(ctx).config
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


@metrics.command("render")
@click.option("--dir", "directory", required=True, type=click.Path(file_okay=False),
              help="Directory to write dr-dashboard.json, alerts.yml and alerts_test.yml to (created if missing).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: dashboard, alerts, alert_tests (paths).")
@click.pass_context
def render_command(ctx: click.Context, directory: str, as_json: bool) -> None:
    """Write the Grafana dashboard, the Prometheus alert rules and their promtool tests for metrics.prefix.

    Needs the extra k3s-dr[monitoring] (grafana-foundation-sdk). Test the rules with
    `promtool test rules DIR/alerts_test.yml`.
    """
    written = render_assets(app(ctx).config, directory)
    if as_json:
        print_json(written.to_json())
    else:
        for path in written.to_json().values():
            click.echo(f"wrote {path}")


@metrics.command("record-drill")
@click.argument("evidence", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: recorded, drill_id, finished, verdict.")
@click.pass_context
def record_drill_command(ctx: click.Context, evidence: str, as_json: bool) -> None:
    """Record a drill that ran elsewhere (e.g. the CI restore drill) from its EVIDENCE file (evidence.json).

    The host's drill metrics (and so K3sDrDrillTooOld) then follow the CI drills. A drill older
    than the one already recorded is left out (recorded: false).
    """
    recorded = record_drill_evidence_file(app(ctx).config, evidence, REPORTER)
    if as_json:
        print_json(recorded.to_dict())
    else:
        click.echo(f"{'recorded' if recorded.recorded else 'not recorded (a later drill is recorded)'}: drill "
                   f"{recorded.record.drill_id} ({recorded.verdict})")


COMMANDS: list[click.Command] = [exporter, metrics]
