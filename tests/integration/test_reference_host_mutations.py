"""The mutation table on a real reference host (systemd as PID 1, k3s stand-in, k3s-dr installed,
real backups): each seeded misconfiguration is caught by its intended control and by no other;
``k3s-dr fix`` (run on the host) repairs each fixable one, says what it changed, and a second
run changes nothing; the rest are undone by hand, as an operator would. After each row every
control passes again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from _reference_host import failing, reference_host, sh

from dr_lib.checks.controls import BY_ID
from k3s_dr_testbed.lab.standin import API_PORT, SERVER_DIR

pytestmark = [pytest.mark.docker, pytest.mark.slow]

D = "/var/backups/k3s-cluster"
U = "/usr/local/lib/systemd/system"
RESTORE, BACKUP, TIMER = "k3s-auto-restore.service", "k3s-dr-backup.service", "k3s-dr-backup.timer"
EXPORTER = "k3s-dr-exporter.service"
EXPORTER_DROP_IN = f"/run/systemd/system/{EXPORTER}.d"
NEWEST = f"$(ls -t {D}/k3s-dr-*.tar.gz | head -1)"
NOW = "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
NEW_BACKUP = f"systemctl start {BACKUP}"


def api_calls(*calls: str) -> str:
    """Shell lines that send requests to the stand-in's API server as its admin (python3: the image has no
    curl); each call is ``call(METHOD, PATH, BODY, CONTENT_TYPE)`` in Python. A here-document: what
    follows it goes on the next line, after ``set -e``."""
    return (f"python3 - <<'EOF'\nimport json, ssl, sys, urllib.error, urllib.request\n"
            f"token = open('{SERVER_DIR}/cred/tokens.csv').read().split(',', 1)[0].strip()\n"
            f"context = ssl.create_default_context(cafile='{SERVER_DIR}/tls/server-ca.crt')\n"
            "def call(method, path, body=None, kind='application/json', accept=()):\n"
            f"    request = urllib.request.Request('https://127.0.0.1:{API_PORT}' + path, method=method,\n"
            "        data=None if body is None else json.dumps(body).encode(),\n"
            "        headers={'Authorization': 'Bearer ' + token, 'Content-Type': kind})\n"
            "    try:\n"
            "        urllib.request.urlopen(request, timeout=10, context=context).close()\n"
            "    except urllib.error.HTTPError as exc:\n"
            "        if exc.code not in accept:\n"
            "            sys.exit(f'{method} {path}: {exc.code} {exc.read()[:500]!r}')\n"
            + "".join(f"{c}\n" for c in calls) + "EOF\n")


# A tenant's pod whose annotation hook asks for a timeout past hooks.max_timeout. Annotation hooks
# default to on-error=continue: the backup is promoted without that pod's data (exit 3), and only
# DR-DATA-001 says so. No kubelet runs here: the pod is made Running through its status, all the
# hooks look at before they read its declaration. No controller manager either: the namespace's
# default service account, which admission wants for any pod, is made here (409: it exists).
TENANT_SA = "/api/v1/namespaces/shop/serviceaccounts"
TENANT_POD = "/api/v1/namespaces/shop/pods"
TENANT_HOOKS = {"dump.hook.backup.k3s-dr.io/command": "pg_dumpall", "dump.hook.backup.k3s-dr.io/timeout": "30d"}
ADD_TENANT_POD = api_calls(
    f"call('POST', '{TENANT_SA}', {{'apiVersion': 'v1', 'kind': 'ServiceAccount', 'metadata': {{'name': 'default'}}}}, "
    "accept=(409,))",
    f"call('POST', '{TENANT_POD}', {{'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {{'name': 'tenant-db', "
    f"'annotations': {TENANT_HOOKS!r}}}, 'spec': {{'nodeName': 'gone', 'containers': [{{'name': 'db', "
    "'image': 'local/debian-systemd:bookworm'}]}})",
    f"call('PATCH', '{TENANT_POD}/tenant-db/status', {{'status': {{'phase': 'Running'}}}}, "
    "'application/merge-patch+json')",
)
REMOVE_TENANT_POD = api_calls(f"call('DELETE', '{TENANT_POD}/tenant-db?gracePeriodSeconds=0')",
                              f"call('DELETE', '{TENANT_SA}/default', accept=(404,))")


@dataclass(frozen=True)
class Mutation:
    name: str
    apply: str  # shell, run on the host
    control: str  # the one control that must fail
    undo: str | None = None  # None: `k3s-dr fix` repairs it
    cleanup: str = ""  # leftovers the repair rightly keeps (e.g. a corrupt file it did not create)


MUTATIONS = [
    Mutation("snapshot link missing (seed problem 1)", f"rm {D}/k3s-cluster-snapshot.tar.gz", "DR-LINK-002"),
    Mutation("snapshot link dangling", f"ln -sfn k3s-dr-19990101T000000Z.tar.gz {D}/k3s-cluster-snapshot.tar.gz",
             "DR-LINK-002"),
    Mutation("snapshot link on a corrupt archive",
             f"head -c 2000 {NEWEST} > {D}/k3s-dr-20000101T000000Z.tar.gz && chmod 600 {D}/k3s-dr-2000*.tar.gz && "
             f"ln -sfn k3s-dr-20000101T000000Z.tar.gz {D}/k3s-cluster-snapshot.tar.gz", "DR-LINK-003",
             cleanup=f"rm {D}/k3s-dr-20000101T000000Z.tar.gz"),
    Mutation("snapshot link planted on a verified copy outside the backup directory",
             f"mkdir -p /srv/planted && cp -p {NEWEST} /srv/planted/ && cp -p {NEWEST}.verified.json /srv/planted/ && "
             f"ln -sfn /srv/planted/$(basename {NEWEST}) {D}/k3s-cluster-snapshot.tar.gz", "DR-LINK-003",
             cleanup="rm -r /srv/planted"),
    Mutation("snapshot on a backup without user objects (--allow-shrink)",
             "k3s-dr backup -n kube-system --allow-shrink", "DR-LINK-004", undo=NEW_BACKUP),
    Mutation("latest link missing", f"rm {D}/latest-backup.tar.gz", "DR-LINK-001"),
    Mutation("auto-restore disabled (seed problem 2)", f"systemctl disable {RESTORE}", "DR-RESTORE-001"),
    Mutation("auto-restore masked", f"systemctl mask {RESTORE}", "DR-RESTORE-001"),
    Mutation("ConditionResult=no: the unit waits for another path",
             f"sed -i 's|^ConditionPathExists=.*|ConditionPathExists={D}/k3s-snapshot.tar.gz|' {U}/{RESTORE} && "
             f"systemctl daemon-reload && systemctl start {RESTORE} && "
             f"systemctl show -p ConditionResult {RESTORE} | grep -qx ConditionResult=no", "DR-RESTORE-002"),
    Mutation("ExecStart program missing",
             f"sed -i 's|^ExecStart=[^ ]*|ExecStart=/opt/k3s-dr-gone/bin/k3s-dr|' {U}/{RESTORE} && "
             "systemctl daemon-reload",
             "DR-UNIT-002"),
    Mutation("auto-restore not ordered after k3s",
             f"sed -i '/^After=/d;/^Wants=/d' {U}/{RESTORE} && systemctl daemon-reload", "DR-RESTORE-003"),
    Mutation("seed's restore script in ExecStart (seed problem 3)",
             "printf '#!/bin/sh\\nexit 0\\n' > /usr/local/bin/restore-cluster-state.sh && "
             "chmod +x /usr/local/bin/restore-cluster-state.sh && "
             f"sed -i 's|^ExecStart=.*|ExecStart=/usr/local/bin/restore-cluster-state.sh|' {U}/{RESTORE} && "
             "systemctl daemon-reload", "DR-RESTORE-004", cleanup="rm /usr/local/bin/restore-cluster-state.sh"),
    Mutation("unit changed on disk without daemon-reload", f"echo '# edited by hand' >> {U}/{BACKUP}",
             "DR-UNIT-001"),
    Mutation("backup timer disabled", f"systemctl disable --now {TIMER}", "DR-TIMER-001"),
    Mutation("archive world-readable", f"chmod 644 {D}/k3s-dr-*.tar.gz", "DR-BKP-003"),
    Mutation("backup directory open to all", f"chmod 755 {D}", "DR-BKP-001"),
    Mutation("log rotation removed", "rm /etc/logrotate.d/k3s-dr", "DR-LOG-002"),
    Mutation("stale backup", f"touch -d '-3 hours' {D}/k3s-dr-*.tar.gz", "DR-BKP-004", undo=NEW_BACKUP),
    Mutation("last backup run failed",
             f"mkdir -p /run/systemd/system/{BACKUP}.d && printf '[Service]\\nExecStart=\\nExecStart=/bin/false\\n' "
             f"> /run/systemd/system/{BACKUP}.d/fail.conf && systemctl daemon-reload && "
             f"! systemctl start {BACKUP}; rm -r /run/systemd/system/{BACKUP}.d && systemctl daemon-reload",
             "DR-TIMER-002", undo=NEW_BACKUP),
    Mutation("error line in the log",
             f"echo \"{NOW} k3s-dr backup FAILED exit=6 error='the API server did not answer'\" >> /var/log/k3s-dr.log",
             "DR-LOG-001", undo="sed -i '$d' /var/log/k3s-dr.log"),
    Mutation("too many archives: rotation not running",
             f"for d in 01 02 03 04; do cp -p {NEWEST} {D}/k3s-dr-200001${{d}}T000000Z.tar.gz; done", "DR-BKP-002",
             undo=f"rm {D}/k3s-dr-2000*.tar.gz"),
    Mutation("kinds missing: secrets left out of the scope", "k3s-dr backup --exclude-kind secrets --allow-shrink",
             "DR-ARCH-002", undo=NEW_BACKUP),
    Mutation("datastore snapshot left out", "k3s-dr backup --no-datastore", "DR-ARCH-003", undo=NEW_BACKUP),
    Mutation("a tenant's failing annotation hook: promoted without its data",
             f"set -e\n{ADD_TENANT_POD}code=0; k3s-dr backup || code=$?; test $code -eq 3", "DR-DATA-001",
             undo=f"set -e\n{REMOVE_TENANT_POD}{NEW_BACKUP}"),
    Mutation("server token missing", "mv /var/lib/rancher/k3s/server/token /root/token.saved", "DR-K3S-001",
             undo="mv /root/token.saved /var/lib/rancher/k3s/server/token"),
    Mutation("k3s not started at boot", "systemctl disable k3s.service", "DR-K3S-002",
             undo="systemctl enable k3s.service"),
    Mutation("expired waiver",
             "printf 'waivers:\\n  - id: DR-LOG-002\\n    justification: accepted during the migration\\n"
             "    expires: 2020-01-31\\n' > /etc/k3s-dr/waivers.yaml", "DR-WAIVER-001",
             undo="rm /etc/k3s-dr/waivers.yaml"),
    Mutation("metrics stale",
             "mkdir -p /var/lib/node_exporter/textfile_collector && echo "
             "\"k3s_dr_backup_last_success_timestamp_seconds $(( $(date +%s) - 10800 ))\" "
             "> /var/lib/node_exporter/textfile_collector/k3s_dr.prom", "DR-METRICS-001",
             undo="rm /var/lib/node_exporter/textfile_collector/k3s_dr.prom"),
    Mutation("exporter stopped", f"systemctl stop {EXPORTER}", "DR-METRICS-003"),
    Mutation("exporter disabled and stopped", f"systemctl disable --now {EXPORTER}", "DR-METRICS-003"),
    Mutation("exporter unit missing (installed by an earlier k3s-dr)",
             f"systemctl disable --now {EXPORTER} && rm {U}/{EXPORTER} && systemctl daemon-reload", "DR-METRICS-003"),
    Mutation("exporter listens elsewhere than metrics.listen",
             f"mkdir -p {EXPORTER_DROP_IN} && printf '[Service]\\nEnvironment=K3S_DR_METRICS_LISTEN=127.0.0.1:9199\\n' "
             f"> {EXPORTER_DROP_IN}/listen.conf && systemctl daemon-reload && systemctl restart {EXPORTER}",
             "DR-METRICS-002",
             undo=f"rm -r {EXPORTER_DROP_IN} && systemctl daemon-reload && systemctl restart {EXPORTER}"),
]


@pytest.fixture(scope="module")
def host() -> Iterator[Any]:
    with reference_host("k3sdr-mut") as started:
        yield started


def test_healthy_reference_host_passes_every_control(host: Any) -> None:
    assert failing(host.name) == {}


def test_table_covers_most_controls() -> None:
    assert len(MUTATIONS) >= 15
    assert len({m.control for m in MUTATIONS}) >= 20
    for mutation in MUTATIONS:
        assert (mutation.undo is None) == BY_ID[mutation.control].fixable, mutation.name


def _fix(name: str) -> dict[str, Any]:
    return json.loads(sh(name, "k3s-dr fix --json"))


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.name for m in MUTATIONS])
def test_mutation_is_caught_by_its_control_and_repaired(host: Any, mutation: Mutation) -> None:
    assert failing(host.name) == {}, "the host must be healthy before a row starts"
    try:
        sh(host.name, mutation.apply)
        found = failing(host.name)
        assert set(found) == {mutation.control}, found
        if mutation.undo is None:
            repaired = _fix(host.name)
            assert repaired["changed"] and repaired["remaining"] == [], repaired
            assert any(mutation.control in step.get("control", "") for step in repaired["steps"]), repaired
            assert _fix(host.name)["steps"] == [], "a second fix must change nothing"
        else:
            sh(host.name, mutation.undo)
        sh(host.name, mutation.cleanup or "true")
        assert failing(host.name) == {}
    except BaseException:
        _heal(host.name, mutation)
        raise


def _heal(name: str, mutation: Mutation) -> None:
    """Leave the host usable for the next row even when this one failed."""
    for command in (mutation.undo, mutation.cleanup, "k3s-dr fix"):
        if command:
            sh(name, command, check=False)
