"""A host set up the way the seed report (``/work/shared/seed``) describes it: the scripts k3s-dr replaces.

The report names the scripts (``backup-cluster-state.sh``, ``restore-cluster-state.sh``,
``fix-restore-symlink.sh`` under ``/home/mpasqui/insightlearn_WASM/InsightLearn_WASM/k8s``), quotes the
auto-restore unit (its ``ConditionPathExists`` names a snapshot link nothing creates), the archives
(``k3s-cluster-backup-1.tar.gz``, ``-2.tar.gz``: 19 YAML files of the cluster's kinds, two kept, the
link ``latest-backup.tar.gz``), the log ``/var/log/k3s-backup.log`` and the restore's logic (skip
with more than 5 deployments, once a day). Their text is not in the report: these are faithful
reconstructions from it, run for real (kubectl against the host's API server) so the archives are
what such scripts write.
"""

from __future__ import annotations

import shlex
import subprocess
import time

from dr_lib.backup.scope import SEED_KINDS
from k3s_dr_testbed.docker import docker_cli
from k3s_dr_testbed.lab.host import exec_in

SCRIPTS_DIR = "/home/mpasqui/insightlearn_WASM/InsightLearn_WASM/k8s"
BACKUP_DIR = "/var/backups/k3s-cluster"
KINDS = " ".join(plural if not group else f"{plural}.{group}" for group, plural in SEED_KINDS)

BACKUP_SCRIPT = f"""\
#!/bin/bash
# backup-cluster-state.sh: every kind as kubectl prints it, in a tar.gz; two kept; latest-backup.tar.gz.
set -euo pipefail
export KUBECONFIG="${{KUBECONFIG:-/etc/rancher/k3s/k3s.yaml}}"
BACKUP_DIR="${{BACKUP_DIR:-{BACKUP_DIR}}}"
KUBECTL="${{KUBECTL:-kubectl}}"
LOG="${{LOG:-/var/log/k3s-backup.log}}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/k3s-cluster-state" "$BACKUP_DIR"
for kind in {KINDS}; do
  "$KUBECTL" get "$kind" --all-namespaces -o yaml > "$WORK/k3s-cluster-state/$kind.yaml"
done
if [ -f "$BACKUP_DIR/k3s-cluster-backup-1.tar.gz" ]; then
  mv -f "$BACKUP_DIR/k3s-cluster-backup-1.tar.gz" "$BACKUP_DIR/k3s-cluster-backup-2.tar.gz"
fi
tar -czf "$BACKUP_DIR/k3s-cluster-backup-1.tar.gz" -C "$WORK" k3s-cluster-state
ln -sf "$BACKUP_DIR/k3s-cluster-backup-1.tar.gz" "$BACKUP_DIR/latest-backup.tar.gz"
echo "$(date '+%Y-%m-%d %H:%M:%S') backup completed: $BACKUP_DIR/k3s-cluster-backup-1.tar.gz" >> "$LOG"
"""

RESTORE_SCRIPT = """\
#!/bin/bash
# restore-cluster-state.sh: skipped when more than 5 deployments exist, and at most once a day.
set -euo pipefail
export KUBECONFIG=/etc/rancher/k3s/k3s.yaml
STATE_FILE=/var/lib/k3s-restore-date
DEPLOYMENT_COUNT=$(kubectl get deployments --all-namespaces --no-headers | wc -l)
if [[ $DEPLOYMENT_COUNT -gt 5 ]]; then echo "Cluster appears healthy, skipping restore"; exit 0; fi
RESTORE_DATE=$(date +%Y%m%d)
if [[ -f "$STATE_FILE" && "$(cat "$STATE_FILE")" == "$RESTORE_DATE" ]]; then exit 0; fi
WORK="$(mktemp -d)"
tar -xzf /var/backups/k3s-cluster/k3s-cluster-snapshot.tar.gz -C "$WORK"
kubectl apply -f "$WORK/k3s-cluster-state/" || true
echo "$RESTORE_DATE" > "$STATE_FILE"
"""

FIX_LINK_SCRIPT = f"""\
#!/bin/bash
ln -sf {BACKUP_DIR}/latest-backup.tar.gz {BACKUP_DIR}/k3s-cluster-snapshot.tar.gz
"""

AUTO_RESTORE_UNIT = f"""\
[Unit]
Description=K3s Cluster Auto-Restore Service
After=k3s.service
Wants=k3s.service
ConditionPathExists={BACKUP_DIR}/k3s-cluster-snapshot.tar.gz

[Service]
Type=oneshot
ExecStart={SCRIPTS_DIR}/restore-cluster-state.sh
TimeoutStartSec=600

[Install]
WantedBy=multi-user.target
"""

BACKUP_SERVICE = f"""\
[Unit]
Description=K3s cluster state backup
After=k3s.service

[Service]
Type=oneshot
ExecStart={SCRIPTS_DIR}/backup-cluster-state.sh
"""

BACKUP_TIMER = """\
[Unit]
Description=K3s cluster state backup, hourly

[Timer]
OnCalendar=hourly
Persistent=true

[Install]
WantedBy=timers.target
"""

CRON_FILE = "/etc/cron.d/k3s-backup"
CRON_LINES = f"""\
# the seed's backup, before the timer existed
SHELL=/bin/bash
5 * * * * root {SCRIPTS_DIR}/backup-cluster-state.sh >> /var/log/k3s-backup.log 2>&1
"""

# path → (content, mode): what the seed's operator put on the host.
FILES: dict[str, tuple[str, int]] = {
    f"{SCRIPTS_DIR}/backup-cluster-state.sh": (BACKUP_SCRIPT, 0o755),
    f"{SCRIPTS_DIR}/restore-cluster-state.sh": (RESTORE_SCRIPT, 0o755),
    f"{SCRIPTS_DIR}/fix-restore-symlink.sh": (FIX_LINK_SCRIPT, 0o755),
    "/etc/systemd/system/k3s-auto-restore.service": (AUTO_RESTORE_UNIT, 0o644),
    "/etc/systemd/system/k3s-backup.service": (BACKUP_SERVICE, 0o644),
    "/etc/systemd/system/k3s-backup.timer": (BACKUP_TIMER, 0o644),
    CRON_FILE: (CRON_LINES, 0o644),
}
ENABLE = ("k3s-auto-restore.service", "k3s-backup.timer")  # the report's remediation enabled the unit


def setup_seed_host(name: str, kubectl: str, deadline: float) -> None:
    """On the running host ``name``: kubectl (k3s ships one), the seed's scripts, units, timer and cron
    file, the unit enabled and its snapshot link made as the report's remediation says, and two real
    backups by the seed's script (so both archives exist, rotated as it rotates them)."""
    subprocess.run([docker_cli(), "cp", "-L", kubectl, f"{name}:/usr/local/bin/kubectl"], check=True,
                   capture_output=True, timeout=max(1.0, deadline - time.monotonic()))
    for path, (content, mode) in FILES.items():
        exec_in(name, f"mkdir -p {shlex.quote(path.rsplit('/', 1)[0])} && cat > {shlex.quote(path)} <<'SEED_EOF'\n"
                      f"{content}SEED_EOF\nchmod {mode:o} {shlex.quote(path)}", deadline)
    exec_in(name, f"systemctl daemon-reload && systemctl enable {' '.join(ENABLE)} && systemctl start k3s-backup.timer",
            deadline)
    for _ in range(2):
        exec_in(name, f"{SCRIPTS_DIR}/backup-cluster-state.sh", deadline)
    exec_in(name, f"{SCRIPTS_DIR}/fix-restore-symlink.sh", deadline)
