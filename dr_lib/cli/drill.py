"""``k3s-dr drill``: a complete restore drill that leaves an auditor-grade report."""

from __future__ import annotations

import click

from dr_lib.cli.common import REPORTER, app, finish, gather, print_json
from dr_lib.cli.params import DURATION, kubeconfig_option
from dr_lib.jobs.drill import DESTROY_MODES, PROVIDERS, DrillOptions
from dr_lib.jobs.drill import drill as drill_job


@click.command("drill")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the verdict and report paths.")
@click.option("--cluster", "provider", type=click.Choice(PROVIDERS), default="local", show_default=True,
              help="Where the drill runs: the embedded local cluster, k3d (Docker), or an existing cluster.")
@click.option("--real-node", is_flag=True, help="Run the database for real on a real node (kubelet + containerd).")
@click.option("--reports", "reports", type=click.Path(file_okay=False), default="reports", show_default=True,
              help="Directory under which the report directory <UTC time>-<id>/ is created.")
@click.option("--destroy", type=click.Choice(DESTROY_MODES), default=None,
              help="fresh: restore into a new empty cluster (default); wipe: delete the drill's namespaces in "
                   "place (the only mode for --cluster kubeconfig).")
@kubeconfig_option("The existing cluster of --cluster kubeconfig")
@click.option("--nodes", type=click.IntRange(0, 20), default=2, show_default=True,
              help="Simulated nodes per cluster (0 with --real-node: the real node alone).")
@click.option("--wait-timeout", type=DURATION, default="5m", show_default=True,
              help="Deadline of `k3s-dr restore --wait` inside the drill: 90s, 5m, 1h30m; a plain number is seconds.")
@click.option("--test-disable-sanitizer", "test_disable_sanitizer", multiple=True, hidden=True,
              help="TEST-ONLY: the drill's restore skips this resource's sanitizer (a deliberately broken drill; "
                   "recorded in the evidence and the report).")
@click.option("--archive", "archive", default=None, metavar="PATH|latest",
              help="Drill a real archive instead of the synthetic application: restore it into a throwaway cluster "
                   "and verify it (latest: the latest link in backup.dir).")
@click.option("--from", "from_remote", default=None, metavar="REMOTE[:NAME]",
              help="Drill a copy pulled from offsite target REMOTE (its newest good copy, or NAME), as restore --from "
                   "pulls it.")
@click.option("--kubernetes-version", default=None, metavar="VERSION",
              help="Kubernetes release of the clusters the drill starts (local, k3d): a supported minor (1.37), "
                   "its patch (1.37.2), newest or oldest [default: newest; `k3s-dr cluster versions`].")
@click.option("--ticket", default=None, help="Change or incident ticket the drill answers (shown in the report).")
@click.option("--reviewer", default=None, help="Who reviews the report (shown in the report).")
@gather(options=DrillOptions)
def drill(ctx: click.Context, options: DrillOptions, as_json: bool) -> None:
    """Run a restore drill: seed an application, back it up, lose it, restore it, verify it,
    judge RTO and RPO against the targets; write the report to REPORTS/<UTC time>-<id>/.
    With --archive or --from: restore that archive into a throwaway cluster and verify it."""
    context = app(ctx)
    result = drill_job(context.config, options, REPORTER, config_path=context.config_path)
    if as_json:
        print_json(result.to_dict())
    else:
        click.echo(f"{result.outcome.verdict.upper()}: report {result.outcome.report_dir / 'report.html'}")
    finish(result)


COMMANDS: list[click.Command] = [drill]
