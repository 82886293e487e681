"""The synthetic drill's data checks on the real node: the database really ran before and after,
and the rows written before the backup came back (docs/hooks.md)."""

from __future__ import annotations

import contextlib
import sqlite3
import time

from dr_lib.clock import utc_now
from dr_lib.cluster.provider import real_node
from dr_lib.drill.app import DATA_NS
from dr_lib.drill.run import DrillRun
from dr_lib.errors import StepFailed
from dr_lib.hooks.datacheck import DataTarget, read_back, write_rows
from dr_lib.kube.client import Kube

# The real node's database (drill app.py): rows written before the backup must come back (docs/hooks.md).
DRILL_DATABASE = DataTarget(DATA_NS, "db-0", "db", "/var/lib/insightlearn/app.db", f"StatefulSet {DATA_NS}/db")


def write_before_backup(run: DrillRun) -> None:
    with Kube.from_kubeconfig(run.source.kubeconfig) as kube:
        run.data_checks = [write_rows(kube, DRILL_DATABASE, run.drill_id)]


def check_data(run: DrillRun) -> None:
    """The rows written before the backup, read back in the restored pod (``data_checks``)."""
    t0, m0 = utc_now(), time.monotonic()
    with Kube.from_kubeconfig(run.target.kubeconfig) as kube:
        for check in run.data_checks:
            read_back(kube, check, run.drill_id)
    run.attach("verify", "data-checks.json", "json", [check.to_json() for check in run.data_checks])
    bad = [check for check in run.data_checks if not check.ok]
    run.phase("verify", "data-checks", t0, m0, f"{len(run.data_checks) - len(bad)}/{len(run.data_checks)} ok")
    if bad:
        raise StepFailed(f"data check of {bad[0].target.workload} failed: {bad[0].reason}")


def check_real_database(run: DrillRun) -> None:
    """With the real node the database really ran, before and after: its pod is Ready on the real
    node, and its SQLite file on the volume holds a row per start — the source's and the
    restored one's — so the restored database found the data the lost cluster wrote."""
    t0, m0 = utc_now(), time.monotonic()
    with Kube.from_kubeconfig(run.target.kubeconfig) as kube:
        pod = kube.get(f"/api/v1/namespaces/{DATA_NS}/pods/db-0")
    node = pod.get("spec", {}).get("nodeName")
    ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                for c in pod.get("status", {}).get("conditions") or [])
    expected = real_node().node_name
    if node != expected or not ready:
        raise StepFailed(f"the database pod db-0 is on node {node!r}, Ready={ready}: expected Ready on the real "
                         f"node {expected!r}")
    database = run.work_dir / "volumes" / run.drill_id / "db" / "app.db"
    try:
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
            starts = int(db.execute("select count(*) from boots").fetchone()[0])
    except sqlite3.Error as exc:
        raise StepFailed(f"cannot read the database on its volume ({database}): {exc}") from None
    run.phase("verify", "real-database", t0, m0, f"db-0 Ready on {node}; {starts} starts recorded on its volume")
    if starts < 2:
        raise StepFailed(f"the database volume records {starts} start(s): the restored database did not find the "
                         "data the source wrote")
