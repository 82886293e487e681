"""The boot drill's hands on a reference host: seed user objects, back up, lose the datastore,
reboot and read what the auto-restore unit did (judged by :mod:`k3s_dr_testbed.lab.bootdrill`).

Objects are read straight from the host's API server with a small urllib script run by the
host's python3 (the API server listens on the host's loopback only) — not through k3s-dr, so
the drill checks the restore with other eyes than the code that restored.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dr_lib.clock import utc_now
from dr_lib.config import Config
from dr_lib.errors import DeadlineExceeded, EnvironmentProblem
from k3s_dr_testbed.docker import docker_cli
from k3s_dr_testbed.lab.bootdrill import (
    K3S_PROPERTIES,
    MANAGER_PROPERTIES,
    UNIT_PROPERTIES,
    BootClock,
    BootObservation,
    Decision,
    UnitRun,
    evidence,
    journal_decisions,
    monotonic_seconds,
    parse_show,
    state_decision,
)
from k3s_dr_testbed.lab.host import exec_in, wait_booted
from k3s_dr_testbed.lab.standin import API_PORT, SERVER_DIR

DEFAULTS = Config()  # the reference host runs with the default layout (see standin.HOST_CONFIG)
AUTO_UNIT = DEFAULTS.units.auto_restore
K3S_UNIT = DEFAULTS.units.k3s
STATE_FILE = f"{DEFAULTS.restore.state_dir}/auto-restore.json"
DATASTORE = f"{SERVER_DIR}/db/state.db"
SEED_NAMESPACE = "boot-drill"
_POLL = 0.2
# docker restart's stop timeout. systemd as PID 1 takes SIGTERM as "re-execute", not "shut down"
# (systemd(1)), so any grace only delays the SIGKILL: the shutdown is a power cut either way.
_STOP_GRACE = 0

# Run by the host's python3: "seed N" creates user objects; "inventory" lists every user object
# (namespaces but the built-in ones, and ConfigMaps, Secrets, Services, Deployments in them)
# with a fingerprint of what the user wrote, its uid and resourceVersion, and kube-system's uid.
_API_SCRIPT = r"""
import hashlib, json, secrets, ssl, sys, urllib.error, urllib.request
server, port, mode = sys.argv[1], sys.argv[2], sys.argv[3]
token = open(server + "/cred/tokens.csv").read().split(",", 1)[0].strip()
context = ssl.create_default_context(cafile=server + "/tls/server-ca.crt")
def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request("https://127.0.0.1:" + port + path, data=data, method=method,
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10, context=context) as answer:
        return json.load(answer)
def create(path, obj):
    try:
        call("POST", path, obj)
    except urllib.error.HTTPError as exc:
        if exc.code != 409:
            raise
BUILT_IN = {"default", "kube-system", "kube-public", "kube-node-lease"}
KINDS = (("configmaps", "/api/v1"), ("secrets", "/api/v1"), ("services", "/api/v1"),
         ("deployments", "/apis/apps/v1"))
def written(kind, obj):
    spec = obj.get("spec") or {}
    kept = {"labels": obj["metadata"].get("labels") or {}}
    if kind in ("configmaps", "secrets"):
        kept["data"] = obj.get("data") or {}
    elif kind == "services":
        kept["ports"] = [(p.get("port"), p.get("targetPort")) for p in spec.get("ports") or []]
        kept["selector"] = spec.get("selector")
    elif kind == "deployments":
        kept["replicas"] = spec.get("replicas")
        kept["containers"] = [(c["name"], c["image"]) for c in spec["template"]["spec"]["containers"]]
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()[:16]
def entry(kind, obj):
    meta = obj["metadata"]
    key = kind + "/" + meta.get("namespace", "") + "/" + meta["name"]
    return key, [written(kind, obj), meta["uid"], meta["resourceVersion"]]
if mode == "seed":
    ns, count = sys.argv[4], int(sys.argv[5])
    labels = {"app": "boot-drill"}
    create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    for i in range(count):
        create("/api/v1/namespaces/" + ns + "/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "settings-%02d" % i, "labels": labels},
            "data": {"index": str(i), "nonce": secrets.token_hex(8)}})
    create("/api/v1/namespaces/" + ns + "/secrets", {"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "api-key", "labels": labels}, "stringData": {"key": secrets.token_hex(16)}})
    sys.exit(0)
objects = {}
user_ns = []
for item in call("GET", "/api/v1/namespaces")["items"]:
    if item["metadata"]["name"] not in BUILT_IN:
        user_ns.append(item["metadata"]["name"])
        key, value = entry("namespaces", item)
        objects[key] = value
for kind, prefix in KINDS:
    for item in call("GET", prefix + "/" + kind)["items"]:
        if item["metadata"].get("namespace") in user_ns and item["metadata"]["name"] != "kube-root-ca.crt":
            key, value = entry(kind, item)
            objects[key] = value
uid = call("GET", "/api/v1/namespaces/kube-system")["metadata"]["uid"]
print(json.dumps({"cluster_uid": uid, "objects": objects}))
"""


@dataclass(frozen=True)
class Inventory:
    """The user objects in the host's API server: key → (fingerprint, uid, resourceVersion)."""

    cluster_uid: str
    objects: dict[str, tuple[str, str, str]]

    def fingerprints(self) -> dict[str, str]:
        return {key: value[0] for key, value in self.objects.items()}

    def holds(self, expected: Inventory) -> bool:
        """Every expected object present with what the user wrote (uids may be new)."""
        mine = self.fingerprints()
        return all(mine.get(key) == print_ for key, print_ in expected.fingerprints().items())

    def identical(self, before: Inventory) -> bool:
        """The very same objects: nothing deleted, recreated or rewritten."""
        return self.cluster_uid == before.cluster_uid and self.objects == before.objects


def _api(name: str, deadline: float, *args: str, check: bool = True) -> tuple[int, str]:
    argv = " ".join(shlex.quote(a) for a in (SERVER_DIR, str(API_PORT), *args))
    return exec_in(name, f"python3 - {argv} <<'EOF'\n{_API_SCRIPT}\nEOF", deadline, check=check)


def seed_objects(name: str, deadline: float, count: int = 20) -> None:
    """A namespace of ConfigMaps and a Secret, beside the app the host was seeded with."""
    _api(name, deadline, "seed", SEED_NAMESPACE, str(count))


def read_inventory(name: str, deadline: float) -> Inventory | None:
    """The user objects, or None while the API server does not answer."""
    code, out = _api(name, deadline, "inventory", check=False)
    if code != 0:
        return None
    data = json.loads(out.strip().splitlines()[-1])
    return Inventory(data["cluster_uid"], {k: (v[0], v[1], v[2]) for k, v in data["objects"].items()})


def take_backup(name: str, deadline: float) -> dict[str, Any]:
    """``k3s-dr backup --json`` on the host; its result (promoted: the snapshot link moved to it)."""
    _, out = exec_in(name, "k3s-dr backup --json", deadline)
    document = next((line for line in out.splitlines() if line.startswith("{")), "")  # stderr has its log line
    result: dict[str, Any] = json.loads(document or "{}")
    return result


def lose_datastore(name: str, deadline: float) -> None:
    """The disaster: k3s's SQLite datastore gone (disk wiped, file corrupted and moved away); k3s
    starts again on a new, empty one — a new cluster identity, none of the user's objects."""
    files = " ".join(shlex.quote(DATASTORE + suffix) for suffix in ("", "-wal", "-shm"))
    exec_in(name, f"systemctl stop {K3S_UNIT} && rm -f {files} && systemctl start {K3S_UNIT}", deadline)


def _show(name: str, deadline: float, properties: tuple[str, ...], unit: str = "") -> dict[str, str]:
    _, out = exec_in(name, f"systemctl show -p {','.join(properties)} {unit}".rstrip(), deadline)
    return parse_show(out)


def _unit_done_this_boot(name: str, deadline: float) -> bool:
    init = monotonic_seconds(_show(name, deadline, MANAGER_PROPERTIES).get("UserspaceTimestampMonotonic"))
    unit = UnitRun.from_show(_show(name, deadline, UNIT_PROPERTIES, AUTO_UNIT))
    checked = unit.condition_at is not None and init is not None and unit.condition_at >= init
    return checked and unit.active_state in ("inactive", "failed")


def _restart(name: str, deadline: float) -> None:
    left = deadline - time.monotonic()
    if left <= 0:
        raise DeadlineExceeded(f"no time left to restart {name}")
    try:
        done = subprocess.run([docker_cli(), "restart", "-t", str(_STOP_GRACE), name], capture_output=True,
                              timeout=left, check=False)
    except subprocess.TimeoutExpired:
        raise DeadlineExceeded(f"docker restart {name} did not finish before the deadline") from None
    if done.returncode != 0:
        raise EnvironmentProblem(f"docker restart {name} failed: {done.stderr.decode(errors='replace').strip()}")


def _wait_objects(name: str, expected: Inventory, deadline: float) -> tuple[Inventory | None, float | None]:
    """Poll the API server from the first moment it answers until every expected object is back,
    or the auto-restore unit finished this boot without bringing them back."""
    latest: Inventory | None = None
    while time.monotonic() < deadline:
        latest = read_inventory(name, deadline)
        if latest is not None and latest.holds(expected):
            return latest, time.monotonic()
        if latest is not None and _unit_done_this_boot(name, deadline):
            return read_inventory(name, deadline), None
        time.sleep(_POLL)
    return latest, None


def _unit_record(name: str, deadline: float) -> tuple[UnitRun, tuple[Decision, ...], Decision | None, str]:
    """The unit's last run: systemd's view, its journal lines' decisions, the state file's newest."""
    unit = UnitRun.from_show(_show(name, deadline, UNIT_PROPERTIES, AUTO_UNIT))
    journal = ""
    if unit.invocation_id:  # this run's lines only: the container keeps the kernel's boot id across boots
        _, journal = exec_in(name, f"journalctl --no-pager -o cat _SYSTEMD_INVOCATION_ID={unit.invocation_id}",
                             deadline, check=False)
    _, state_text = exec_in(name, f"cat {STATE_FILE}", deadline, check=False)
    try:
        decision, boot_id = state_decision(json.loads(state_text))
    except ValueError:
        decision, boot_id = None, ""
    return unit, journal_decisions(journal), decision, boot_id


def boot(name: str, expected: Inventory, deadline: float, *, label: str, expect_restore: bool) -> BootObservation:
    """``docker restart`` (a real boot) and everything the auto-restore unit did during it."""
    before = read_inventory(name, deadline)
    called = time.monotonic()
    _restart(name, deadline)
    after, seen = _wait_objects(name, expected, deadline)
    wait_booted(name, deadline)  # systemd is running once every start job, the oneshot unit's too, is done
    manager = _show(name, deadline, MANAGER_PROPERTIES)
    k3s = _show(name, deadline, K3S_PROPERTIES, K3S_UNIT)
    clock = BootClock(called, monotonic_seconds(manager.get("UserspaceTimestampMonotonic")),
                      monotonic_seconds(manager.get("FinishTimestampMonotonic")),
                      monotonic_seconds(k3s.get("ActiveEnterTimestampMonotonic")), seen)
    unit, journal, decision, boot_id = _unit_record(name, deadline)
    final = read_inventory(name, deadline) or after
    unchanged = None  # only meaningful when no restore was due
    if not expect_restore and before is not None and final is not None:
        unchanged = final.identical(before)
    return BootObservation(label, expect_restore, clock, unit, journal, decision, boot_id,
                           final is not None and final.holds(expected), unchanged)


def _lose(name: str, deadline: float) -> None:
    lose_datastore(name, deadline)
    left = read_inventory(name, deadline)
    if left is None or left.objects:
        raise EnvironmentProblem(f"the drill's loss did not empty the cluster on {name}: "
                                 f"{'no API server' if left is None else sorted(left.objects)[:5]}")


def run_boot_drill(name: str, deadline: float, progress: Callable[[str], None] = lambda _line: None,
                   *, seed_count: int = 20) -> dict[str, Any]:
    """The whole boot drill on the running reference host ``name``; its evidence document."""
    started = utc_now()
    seed_objects(name, deadline, seed_count)
    expected = read_inventory(name, deadline)
    if expected is None:
        raise EnvironmentProblem(f"the API server of {name} does not answer", hint=f"docker exec {name} "
                                 f"journalctl -u {K3S_UNIT}")
    backup = take_backup(name, deadline)
    if not backup.get("promoted"):
        raise EnvironmentProblem(f"the drill's backup was not promoted: {backup.get('not_promoted_reason')}")
    progress(f"backup {backup['archive']} promoted; {len(expected.objects)} user objects")
    boots: list[BootObservation] = []
    for label, lose_first, expect_restore in BOOTS:
        if lose_first:
            _lose(name, deadline)
            progress("datastore lost: k3s runs on an empty one")
        observed = boot(name, expected, deadline, label=label, expect_restore=expect_restore)
        boots.append(observed)
        said = observed.journal[0].reason if len(observed.journal) == 1 else "no single decision logged"
        progress(f"{label}: {said}")
    return evidence({"name": name, "hosts": f"docker://{name}"}, backup, boots, started=iso(started),
                    finished=iso(utc_now()), user_objects=len(expected.objects))


# (label, lose the datastore first, a restore expected)
BOOTS: tuple[tuple[str, bool, bool], ...] = (
    ("boot after the loss", True, True),
    ("boot again, nothing lost", False, False),
    ("boot after a second loss, same day", True, True),
)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
