"""``k3s-dr drill``: a complete restore drill that leaves an auditor-grade report."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import click

from dr_lib.cli import metrics_record
from dr_lib.cli.common import app, print_json
from dr_lib.config import duration_seconds
from dr_lib.drill import DESTROY_MODES, PROVIDERS
from dr_lib.errors import DRError, DrillFailed, UsageError


def _progress(line: str) -> None:
    click.echo(line, err=True)


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
@click.option("--kubeconfig", type=click.Path(dir_okay=False), default=None,
              help="The existing cluster of --cluster kubeconfig [default: $KUBECONFIG].")
@click.option("--nodes", type=click.IntRange(0, 20), default=2, show_default=True,
              help="Simulated nodes per cluster (0 with --real-node: the real node alone).")
@click.option("--wait-timeout", default="5m", show_default=True,
              help="Deadline of `k3s-dr restore --wait` inside the drill.")
@click.option("--archive", "archive", default=None, metavar="PATH|latest",
              help="Drill a real archive instead of the synthetic application: restore it into a throwaway cluster "
                   "and verify it (latest: the latest link in backup.dir).")
@click.option("--from", "from_remote", default=None, metavar="REMOTE[:NAME]",
              help="Drill a copy pulled from offsite target REMOTE (its newest good copy, or NAME), as restore --from "
                   "pulls it.")
@click.pass_context
def drill(  # noqa: PLR0917 - click passes each option as an argument
    ctx: click.Context, as_json: bool, provider: str, real_node: bool, reports: str, destroy: str | None,
    kubeconfig: str | None, nodes: int, wait_timeout: str, archive: str | None, from_remote: str | None,
) -> None:
    """Run a restore drill: seed an application, back it up, lose it, restore it, verify it,
    judge RTO and RPO against the targets; write the report to REPORTS/<UTC time>-<id>/.
    With --archive or --from: restore that archive into a throwaway cluster and verify it."""
    # pytest and the drill machinery load only when a drill runs: every other command starts faster.
    from dr_lib.drill.archive_input import resolve_archive_option  # noqa: PLC0415
    from dr_lib.drill.run import DrillSettings  # noqa: PLC0415
    from dr_lib.drill.runner import run_drill  # noqa: PLC0415
    from dr_lib.drill.verdict import Targets  # noqa: PLC0415

    context = app(ctx)
    config = context.config
    chosen_kubeconfig = (kubeconfig or os.environ.get("KUBECONFIG")) if provider == "kubeconfig" else None
    if destroy and (archive or from_remote):
        raise UsageError("--destroy does not apply to a drill of a real archive (its source cluster is never "
                         "touched): accepted is --archive or --from without --destroy")
    settings = DrillSettings(
        provider=provider, real_node=real_node,
        destroy=destroy or ("wipe" if provider == "kubeconfig" else "fresh"),
        reports_root=Path(reports), kubeconfig=Path(chosen_kubeconfig) if chosen_kubeconfig else None,
        targets=Targets(duration_seconds(config.targets.rto), duration_seconds(config.targets.rpo)),
        restore_wait_timeout=wait_timeout, nodes=nodes, config_path=context.config_path or config.source,
        images=dataclasses.asdict(config.drill.images),
        archive=resolve_archive_option(archive, config.backup.dir, config.backup.latest_link) if archive else None,
        from_remote=from_remote, identity_file=Path(config.offsite.identity_file),
    ).check()
    try:
        outcome = run_drill(settings, _progress)
    except DRError as exc:
        metrics_record.drill_failed(config, exc)
        raise
    metrics_record.drill_done(config, outcome)
    if as_json:
        print_json(outcome.to_json())
    else:
        click.echo(f"{outcome.verdict.upper()}: report {outcome.report_dir / 'report.html'}")
    if not outcome.passed:
        raise DrillFailed(f"drill {outcome.drill_id} failed at step {outcome.failed_step}: "
                          f"{'; '.join(outcome.reasons)[:500]} (report: {outcome.report_dir})")


COMMANDS: list[click.Command] = [drill]
