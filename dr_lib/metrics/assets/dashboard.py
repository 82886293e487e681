"""The "Disaster Recovery & Backups" Grafana dashboard, built with Grafana's foundation SDK
(``grafana-foundation-sdk``, the extra ``k3s-dr[monitoring]``) from the panel table in :mod:`.panels`.

The SDK's typed builders produce the dashboard model Grafana's schema describes; only ``render``
and ``install`` need it, so the exporter's host does not: importing this module without the
package raises one line naming the extra.
"""

from __future__ import annotations

import json
import typing
from typing import TYPE_CHECKING, Any

from dr_lib.errors import ExtraMissing
from dr_lib.metrics.assets.options import AssetOptions
from dr_lib.metrics.assets.panels import BARGAUGE, STAT, TIMESERIES, PanelSpec, dashboard_rows, instance_query

if TYPE_CHECKING:
    from grafana_foundation_sdk.cog.builder import Builder
    from grafana_foundation_sdk.models.dashboard import Panel

TITLE = "Disaster Recovery & Backups"
UID = "k3s-dr-overview"
EXTRA = "monitoring"
DATASOURCE_UID = "${datasource}"


def sdk_missing() -> ExtraMissing:
    return ExtraMissing("rendering the dashboard needs grafana-foundation-sdk, which is not installed", extra=EXTRA)


def _require_sdk() -> None:
    try:
        import grafana_foundation_sdk  # noqa: F401, PLC0415
    except ImportError:
        raise sdk_missing() from None


def _color_at(spec: PanelSpec, value: float) -> str:
    """The threshold colour a value takes: a 1/0 mapping shows the colour its threshold gives it."""
    colour = spec.thresholds[0][0]
    for step_colour, start in spec.thresholds:
        if start is None or value >= start:
            colour = step_colour
    return colour


def _panel(spec: PanelSpec, panel_id: int) -> Builder[Panel]:
    from grafana_foundation_sdk.builders import (  # noqa: PLC0415
        bargauge,
        prometheus,
        stat,
        timeseries,
    )
    from grafana_foundation_sdk.builders import common as common_builders  # noqa: PLC0415
    from grafana_foundation_sdk.builders import dashboard as builders  # noqa: PLC0415
    from grafana_foundation_sdk.models import common  # noqa: PLC0415
    from grafana_foundation_sdk.models import dashboard as models  # noqa: PLC0415

    kinds: dict[str, Any] = {STAT: stat.Panel, TIMESERIES: timeseries.Panel, BARGAUGE: bargauge.Panel}
    panel = kinds[spec.kind]()
    datasource = models.DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)
    panel = (panel.id(panel_id).title(spec.title).description(spec.description).datasource(datasource)
             .height(spec.height).span(spec.width).unit(spec.unit)
             .thresholds(builders.ThresholdsConfig().mode(models.ThresholdsMode.ABSOLUTE).steps(
                 [models.Threshold(value=start, color=colour) for colour, start in spec.thresholds])))
    for ref, query in zip("ABCDEFGH", spec.queries, strict=False):
        target = prometheus.Dataquery().expr(query.expr).legend_format(query.legend).ref_id(ref).datasource(datasource)
        panel = panel.with_target(target if spec.kind == TIMESERIES else target.instant())
    if spec.no_value:
        panel = panel.no_value(spec.no_value)
    if spec.texts:
        options = {str(value): models.ValueMappingResult(text=text, color=_color_at(spec, value), index=index)
                   for index, (value, text) in enumerate(zip((1, 0), spec.texts, strict=True))}
        panel = panel.mappings([models.ValueMap(options=options)])
    if spec.kind in (STAT, BARGAUGE):
        panel = panel.reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    if spec.kind == STAT:
        panel = panel.color_mode(common.BigValueColorMode.BACKGROUND).graph_mode(common.BigValueGraphMode.NONE)
    if spec.kind == TIMESERIES:
        panel = panel.line_width(1).fill_opacity(10).show_points(common.VisibilityMode.AUTO)
    if spec.kind == BARGAUGE:
        panel = (panel.display_mode(common.BarGaugeDisplayMode.GRADIENT)
                 .orientation(common.VizOrientation.HORIZONTAL))
    return typing.cast("Builder[Panel]", panel)


def build_dashboard(options: AssetOptions) -> dict[str, Any]:
    """The dashboard as Grafana's JSON model (a plain dict)."""
    _require_sdk()
    from grafana_foundation_sdk.builders import dashboard as builders  # noqa: PLC0415
    from grafana_foundation_sdk.cog.encoder import JSONEncoder  # noqa: PLC0415
    from grafana_foundation_sdk.models import dashboard as models  # noqa: PLC0415

    datasource = models.DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)
    board = (
        builders.Dashboard(TITLE).uid(UID).tags(["k3s-dr", "backup", "disaster-recovery"])
        .description("k3s-dr: backups, restores, the auto-restore unit, offsite copies and restore drills (RTO/RPO). "
                     f"Metrics {options.prefix}* from `k3s-dr exporter` (job {options.job!r}) or node_exporter's "
                     "textfile collector. Rendered by `k3s-dr metrics render`: edit its source, not this JSON.")
        .editable().timezone("utc").time("now-7d", "now").refresh("1m").tooltip(models.DashboardCursorSync.CROSSHAIR)
        .with_variable(builders.DatasourceVariable("datasource").label("Prometheus").type("prometheus"))
        .with_variable(builders.QueryVariable("instance").label("Host").datasource(datasource)
                       .query(instance_query(options.prefix)).refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
                       .sort(models.VariableSort.ALPHABETICAL_ASC).multi(True).include_all(True))
        .link(builders.DashboardLink("Runbook").type(models.DashboardLinkType.LINK).url(options.runbook_url)
              .icon("doc").tooltip("docs/runbook.md: what to do for each alert").target_blank(True))
    )
    if options.reports_url:
        board = board.link(builders.DashboardLink("Drill reports").type(models.DashboardLinkType.LINK)
                           .url(options.reports_url).icon("info").tooltip("The restore drills' reports")
                           .target_blank(True))
    panel_id = 0
    for row in dashboard_rows(options.prefix, options.job):
        panel_id += 1
        board = board.with_row(builders.Row(row.title).id(panel_id))
        for spec in row.panels:
            panel_id += 1
            board = board.with_panel(_panel(spec, panel_id))
    document: dict[str, Any] = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    return document


def dashboard_json(options: AssetOptions) -> str:
    return json.dumps(build_dashboard(options), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def validate_with_sdk(document: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The document read through the SDK's typed models (its panel and query plugins registered) and
    written again, with what did not type: a panel whose options or a query the SDK could only keep
    as an untyped bag. A field the schema does not know is lost on the way, so a caller compares."""
    _require_sdk()
    from grafana_foundation_sdk.cog.encoder import JSONEncoder  # noqa: PLC0415
    from grafana_foundation_sdk.cog.plugins import register_default_plugins  # noqa: PLC0415
    from grafana_foundation_sdk.cog.runtime import UnknownDataquery  # noqa: PLC0415
    from grafana_foundation_sdk.models.dashboard import Dashboard, Panel  # noqa: PLC0415

    register_default_plugins()
    model = Dashboard.from_json(document)
    problems = []
    for panel in model.panels or []:
        if not isinstance(panel, Panel):
            continue  # a row
        if isinstance(panel.options, dict):
            problems.append(f"panel {panel.title!r}: options of type {panel.type_val!r} are not the SDK's")
        problems += [f"panel {panel.title!r}: query {getattr(t, 'ref_id', '?')} is not a Prometheus query"
                     for t in panel.targets or [] if isinstance(t, UnknownDataquery)]
    again: dict[str, Any] = json.loads(json.dumps(model, cls=JSONEncoder))
    return again, problems
