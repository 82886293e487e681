"""A drill's data check: rows written before the backup must be read back after the restore.

The drill's database (SQLite in a pod, on a claim whose volume k3s-dr copies) gets a table of
marker rows unique to the drill; after the restore the same query runs in the restored pod.
The check records both sides — count and a sha256 over the rows in order — and ``ok``. Runs
through the exec API with Python's own sqlite3 module (the drill image has no sqlite3 shell).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from dr_lib.errors import ClusterError
from dr_lib.kube.client import Kube
from dr_lib.kube.exec import exec_in_pod

TABLE = "k3s_dr_drill_rows"
_TIMEOUT = 60.0
# argv: database path, drill id, rows to write (0: only read). Prints {"rows", "sha256", "first", "last"}.
_SCRIPT = """
import hashlib, json, sqlite3, sys
path, drill, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
db = sqlite3.connect(path, timeout=30)
if count:
    db.execute('create table if not exists %s (id integer primary key, drill text, value text)' % TABLE)
    db.executemany('insert into %s (drill, value) values (?, ?)' % TABLE,
                   [(drill, hashlib.sha256(('%s-%d' % (drill, i)).encode()).hexdigest()) for i in range(count)])
    db.commit()
try:
    rows = db.execute('select id, drill, value from %s where drill = ? order by id' % TABLE, (drill,)).fetchall()
except sqlite3.OperationalError:
    rows = []
digest = hashlib.sha256(json.dumps(rows).encode()).hexdigest()
print(json.dumps({"rows": len(rows), "sha256": digest, "first": rows[0][2][:12] if rows else None,
                  "last": rows[-1][2][:12] if rows else None}))
""".replace("TABLE", repr(TABLE))


@dataclass(frozen=True)
class DataTarget:
    """Where a drill's database lives: which pod, container and file, and how its data travels."""

    namespace: str
    pod: str
    container: str
    database: str
    workload: str  # "StatefulSet insightlearn-data/db"
    via: str = "volume copy (backup.k3s-dr.io/volumes)"


@dataclass
class DataCheck:
    target: DataTarget
    written: dict[str, Any] = field(default_factory=dict)
    read_back: dict[str, Any] | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return (self.read_back is not None and not self.reason and self.written.get("rows", 0) > 0
                and self.read_back.get("rows") == self.written.get("rows")
                and self.read_back.get("sha256") == self.written.get("sha256"))

    def to_json(self) -> dict[str, Any]:
        return {"workload": self.target.workload, "pod": f"{self.target.namespace}/{self.target.pod}",
                "database": self.target.database, "via": self.target.via, "written": self.written,
                "read_back": self.read_back, "ok": self.ok, "reason": self.reason or None}


def _run(kube: Kube, target: DataTarget, drill_id: str, rows: int) -> dict[str, Any]:
    result = exec_in_pod(kube, target.namespace, target.pod, target.container,
                         ["python3", "-c", _SCRIPT, target.database, drill_id, str(rows)], timeout=_TIMEOUT)
    if not result.ok:
        raise ClusterError(f"data check in pod {target.namespace}/{target.pod}: exit {result.exit_code}, "
                           f"{result.failure or result.stderr.decode('utf-8', 'replace')[-300:]}")
    try:
        value: dict[str, Any] = json.loads(result.stdout.decode())
    except ValueError:
        raise ClusterError(f"data check in pod {target.namespace}/{target.pod} printed no JSON") from None
    return value


def write_rows(kube: Kube, target: DataTarget, drill_id: str, rows: int = 100) -> DataCheck:
    """Before the backup: write ``rows`` marker rows and record what is there."""
    return DataCheck(target, written=_run(kube, target, drill_id, rows))


def read_back(kube: Kube, check: DataCheck, drill_id: str) -> DataCheck:
    """After the restore: read the marker rows in the restored pod; the reason says what differs."""
    try:
        check.read_back = _run(kube, check.target, drill_id, 0)
    except ClusterError as exc:
        check.reason = str(exc)
        return check
    if not check.ok:
        check.reason = (f"wrote {check.written.get('rows')} rows (sha256 {str(check.written.get('sha256'))[:12]}…), "
                        f"read back {check.read_back.get('rows')} (sha256 {str(check.read_back.get('sha256'))[:12]}…)")
    return check
