"""Prometheus metrics of k3s-dr: what backups, restores, auto-restore and drills did, and how
fresh it is — a node_exporter textfile written after every run, and ``k3s-dr exporter``.

The CLI records each run (``record_backup`` …) with the small records of
:mod:`dr_lib.metrics.records`; the metric table is :mod:`dr_lib.metrics.catalog`.
"""

from dr_lib.metrics.collect import MetricsSettings, gather, render
from dr_lib.metrics.record import (
    record_auto_restore,
    record_backup,
    record_drill,
    record_drill_evidence,
    record_pushes,
    record_restore,
    write_textfile,
)
from dr_lib.metrics.records import BackupRecord, DecisionRecord, DrillRecord, PushRecord, RestoreRecord, State

__all__ = [
    "BackupRecord",
    "DecisionRecord",
    "DrillRecord",
    "MetricsSettings",
    "PushRecord",
    "RestoreRecord",
    "State",
    "gather",
    "record_auto_restore",
    "record_backup",
    "record_drill",
    "record_drill_evidence",
    "record_pushes",
    "record_restore",
    "render",
    "write_textfile",
]
