"""``k3s-dr drill``: a complete restore drill that leaves an auditor-grade report."""

from __future__ import annotations

import os
from pathlib import Path

import click

from dr_lib.cli import metrics_record
from dr_lib.cli.common import app, print_json
from dr_lib.config import duration_seconds
from dr_lib.drill import DESTROY_MODES, PROVIDERS
from dr_lib.errors import DRError, DrillFailed


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
@click.option("--nodes", type=click.IntRange(1, 20), default=2, show_default=True, help="Simulated nodes per cluster.")
@click.option("--wait-timeout", default="5m", show_default=True,
              help="Deadline of `k3s-dr restore --wait` inside the drill.")
@click.option("--kubernetes-version", default=None, metavar="VERSION",
              help="Kubernetes release of the clusters the drill starts (local, k3d): a supported minor (1.37), "
                   "its patch (1.37.2), newest or oldest [default: newest; `k3s-dr cluster versions`].")
@click.pass_context
def drill(  # noqa: PLR0917 - click passes each option as an argument
    ctx: click.Context, as_json: bool, provider: str, real_node: bool, reports: str, destroy: str | None,
    kubeconfig: str | None, nodes: int, wait_timeout: str, kubernetes_version: str | None,
) -> None:
    """Run a restore drill: seed an application, back it up, lose it, restore it, verify it,
    judge RTO and RPO against the targets; write the report to REPORTS/<UTC time>-<id>/."""
    # pytest and the drill machinery load only when a drill runs: every other command starts faster.
    from dr_lib.drill.run import DrillSettings  # noqa: PLC0415
    from dr_lib.drill.runner import run_drill  # noqa: PLC0415
    from dr_lib.drill.verdict import Targets  # noqa: PLC0415

    context = app(ctx)
    config = context.config
    chosen_kubeconfig = (kubeconfig or os.environ.get("KUBECONFIG")) if provider == "kubeconfig" else None
    settings = DrillSettings(
        provider=provider, real_node=real_node,
        destroy=destroy or ("wipe" if provider == "kubeconfig" else "fresh"),
        reports_root=Path(reports), kubeconfig=Path(chosen_kubeconfig) if chosen_kubeconfig else None,
        targets=Targets(duration_seconds(config.targets.rto), duration_seconds(config.targets.rpo)),
        restore_wait_timeout=wait_timeout, nodes=nodes, config_path=context.config_path or config.source,
        kubernetes_version=kubernetes_version,
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
