"""Synthetic host facts for the pure tests of the controls: a healthy host, and small edits of it.

Named as what it is: a *fake* host, built from values. The real host (systemd in a container)
is exercised by tests/integration/test_reference_host*.py.
"""

from __future__ import annotations

import dataclasses
import time
from types import MappingProxyType
from typing import Any

from dr_lib import __version__
from dr_lib.checks.hostfacts import (
    EXPORTER_UNIT,
    LOGROTATE_PATH,
    ArchiveFacts,
    FileFacts,
    HostFacts,
    Inspection,
    Layout,
    PathFacts,
)
from dr_lib.checks.units import HostClock, PathCondition, UnitFacts
from dr_lib.checks.waivers import WaiverSet
from dr_lib.config import Config

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z
EXE = "/usr/local/bin/k3s-dr"
ARCHIVE = "k3s-dr-20270115T075000Z.tar.gz"
DIGEST = "ab" * 32
LAYOUT = Layout(Config(), "/etc/k3s-dr/config.yaml")
DIR = LAYOUT.backup_dir
# What a healthy k3s-dr exporter answers at metrics.listen (the part DR-METRICS-002 reads).
EXPORTER_BODY = (f"k3s_dr_metrics_collected_timestamp_seconds {NOW - 1}\n"
                 f"k3s_dr_backup_last_success_timestamp_seconds {NOW - 600}\n"
                 'k3s_dr_collection_error{source="state"} 0.0\nk3s_dr_collection_error{source="backup_dir"} 0.0\n'
                 'k3s_dr_collection_error{source="systemd"} 0.0\n'
                 f'k3s_dr_build_info{{version="{__version__}"}} 1.0\n')


def iso(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


def unit(name: str, **changes: Any) -> UnitFacts:
    base = UnitFacts(
        name=name, load_state="loaded", active_state="inactive", sub_state="dead", unit_file_state="static",
        result="success", exec_main_status=0, exec_main_start=NOW - 600, condition_result="yes",
        condition_time=NOW - 600, need_daemon_reload=False, fragment_path=f"/usr/local/lib/systemd/system/{name}",
        drop_ins=(), exec_paths=(), exec_argv=(), after=(), wants=(), timer_intervals=(), calendars=(),
        last_trigger=None,
    )
    return dataclasses.replace(base, **changes)


def healthy_units() -> dict[str, UnitFacts]:
    units = LAYOUT.config.units
    return {
        units.k3s: unit(units.k3s, unit_file_state="enabled", active_state="active", sub_state="running"),
        units.backup: unit(units.backup, exec_paths=(EXE,), exec_argv=((EXE, "--config", LAYOUT.config_path,
                                                                        "backup"),)),
        units.backup_timer: unit(units.backup_timer, unit_file_state="enabled", active_state="active",
                                 sub_state="waiting", timer_intervals=(("OnBoot", 3600.0), ("OnUnitActive", 3600.0)),
                                 last_trigger=NOW - 600),
        units.auto_restore: unit(units.auto_restore, unit_file_state="enabled", condition_result="no",
                                 condition_time=None, exec_paths=(EXE,),
                                 exec_argv=((EXE, "--config", LAYOUT.config_path, "restore", "--auto"),),
                                 after=("basic.target", units.k3s), wants=(units.k3s,),
                                 path_conditions=(PathCondition(LAYOUT.snapshot_link),)),
        EXPORTER_UNIT: unit(EXPORTER_UNIT, unit_file_state="enabled", active_state="active", sub_state="running",
                            exec_paths=(EXE,), exec_argv=((EXE, "--config", LAYOUT.config_path, "exporter"),),
                            exec_main_start=NOW - 3600),
    }


def path(p: str, **changes: Any) -> PathFacts:
    return PathFacts(p, **{"lexists": True, "exists": True, "kind": "file", "mode": 0o600, "uid": 0,
                           "resolved": p, "size": 100, "mtime": NOW - 600, **changes})


def link(p: str, target: str) -> PathFacts:
    return path(p, is_link=True, target=target, resolved=f"{DIR}/{target}", lmtime=NOW - 600)


def healthy_stats() -> dict[str, PathFacts]:
    return {
        DIR: path(DIR, kind="dir", mode=0o700),
        LAYOUT.latest_link: link(LAYOUT.latest_link, ARCHIVE),
        LAYOUT.snapshot_link: link(LAYOUT.snapshot_link, ARCHIVE),
        LAYOUT.token: path(LAYOUT.token),
        LAYOUT.sqlite_db: path(LAYOUT.sqlite_db),
        LAYOUT.server_dir: path(LAYOUT.server_dir, kind="dir", mode=0o700),
        LAYOUT.etcd_dir: PathFacts(LAYOUT.etcd_dir),
        EXE: path(EXE, mode=0o755, executable=True),
    }


def manifest(kinds: tuple[tuple[str, str], ...] = (("", "namespaces"), ("", "configmaps"), ("", "services")),
             datastore: bool = True, data: tuple[str, ...] = (), data_failures: tuple[str, ...] = ()) -> dict[str, Any]:
    files = [{"path": f"resources/{p}{'.' + g if g else ''}.yaml", "group": g, "version": "v1", "plural": p,
              "kind": p.title(), "namespaced": p != "namespaces", "objects": 2, "bytes": 10, "sha256": "cd" * 32}
             for g, p in kinds]
    store = {"kind": "sqlite", "path": "datastore/state.db", "token_path": "datastore/token", "sha256": "ef" * 32,
             "bytes": 4096, "token_sha256": "12" * 32, "token_bytes": 100} if datastore else None
    extra: dict[str, Any] = {}
    if data:  # application data members, as the backup lists them
        extra["data"] = [{"path": member, "kind": "hook-dump", "bytes": 10, "sha256": "ab" * 32, "meta": {}}
                         for member in data]
    if data_failures:
        extra["data_failures"] = list(data_failures)
    return {"format": "k3s-dr-archive", "format_version": 1, "files": files, "objects": 2 * len(files),
            "datastore": store, **extra}


def members_for(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {f["path"]: {"sha256": f["sha256"], "bytes": f["bytes"]} for f in data["files"]}
    if data["datastore"]:
        found["datastore/state.db"] = {"sha256": data["datastore"]["sha256"], "bytes": 4096}
        found["datastore/token"] = {"sha256": data["datastore"]["token_sha256"], "bytes": 100}
    found.update({d["path"]: {"sha256": d["sha256"], "bytes": d["bytes"]} for d in data.get("data", [])})
    return found


def archive(name: str = ARCHIVE, **changes: Any) -> ArchiveFacts:
    sidecar = {"archive": name, "sha256": DIGEST, "bytes": 60000, "user_objects": 28, "user_objects_rules": 2}
    base = ArchiveFacts(name, f"{DIR}/{name}", f"{DIR}/{name}", 0o600, 60000, NOW - 600, sidecar, DIGEST)
    return dataclasses.replace(base, **changes)


def healthy() -> HostFacts:
    data = manifest()
    files = FileFacts(
        clock=HostClock(NOW, 5000.0, 0),
        stats=MappingProxyType(healthy_stats()),
        archives=(archive(),),
        newest_verified=ARCHIVE,
        inspected=Inspection(ARCHIVE, data, MappingProxyType(members_for(data)), ()),
        files=MappingProxyType({LOGROTATE_PATH: (f"{LAYOUT.config.backup.log_file} {{\n}}\n", None)}),
        log_lines=(f"{iso(NOW - 600)} k3s-dr backup ok archive={ARCHIVE} objects=6",),
        scrape=MappingProxyType({"status": 200, "body": EXPORTER_BODY, "error": None}),
    )
    return HostFacts("fake://healthy", LAYOUT, files, MappingProxyType(healthy_units()),
                     WaiverSet(source=LAYOUT.config.checks.waivers))


def with_files(facts: HostFacts, **changes: Any) -> HostFacts:
    return dataclasses.replace(facts, files=dataclasses.replace(facts.files, **changes))


def with_stat(facts: HostFacts, entry: PathFacts) -> HostFacts:
    stats = dict(facts.files.stats)
    stats[entry.path] = entry
    return with_files(facts, stats=MappingProxyType(stats))


def with_unit(facts: HostFacts, name: str, **changes: Any) -> HostFacts:
    units = dict(facts.units)
    units[name] = dataclasses.replace(units[name], **changes)
    return dataclasses.replace(facts, units=MappingProxyType(units))


def with_file_content(facts: HostFacts, path_: str, content: str | None) -> HostFacts:
    files = dict(facts.files.files)
    files[path_] = (content, None)
    return with_files(facts, files=MappingProxyType(files))
