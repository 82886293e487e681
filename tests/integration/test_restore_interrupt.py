"""A 10,000-object restore killed on purpose, against a real API server: what the ledger on disk says
is what the cluster holds.

The restore runs as the operator runs it (``python -m dr_lib restore … --json``, a process of its
own). The kill comes at a chosen point, not by chance: once the journal names at least ``KILL_AFTER``
objects the process is frozen (SIGSTOP), so nothing moves while the signal is sent, then:

* SIGTERM: the restore stops between writes and exits 130; its final ledger says it was interrupted
  and names every object that exists — the objects in flight finished and were recorded, so the
  cluster holds nothing the ledger does not name (bound 0);
* SIGKILL: the journal on disk names every object applied but at most the applier's window of objects
  started and not yet journaled (bound: ``JOURNAL_WINDOW``, 256); every object it says was created
  exists. The next restore turns that journal into the killed run's final ledger, marked interrupted,
  and completes the restore.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dr_lib.kube.client import Kube
from dr_lib.restore.apply import JOURNAL_WINDOW
from dr_lib.restore.journal import KILLED, SUFFIX, read_journal
from tests.integration._archives import server_metadata, write_objects_archive
from tests.integration.restore_cli import run_process, write_config

pytestmark = pytest.mark.slow

OBJECTS = 10_000
NAMESPACES = 4
KILL_AFTER = 2_000  # objects the journal names before the signal: the restore is well under way, far from done
DEADLINE = 600.0


def _archive(directory: Path, prefix: str) -> tuple[Path, list[str]]:
    """Namespaces and 10,000 ConfigMaps as a LIST returns them, written by the archive writer."""
    names = [f"{prefix}-{n}" for n in range(NAMESPACES)]
    namespaces = [{"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}, **server_metadata(n)},
                   "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}
                  for n, name in enumerate(names)]
    configmaps = [{"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": f"cm-{i:05d}", "namespace": names[i % NAMESPACES], **server_metadata(i)},
                   "data": {"value": f"{i}-" + "x" * 200}} for i in range(OBJECTS)]
    return write_objects_archive(directory, [("namespaces", "Namespace", False, namespaces),
                                             ("configmaps", "ConfigMap", True, configmaps)]), names


def _journal_entries(ledgers: Path) -> int:
    count = 0
    for path in ledgers.glob("restore-*" + SUFFIX):
        for line in path.read_bytes().splitlines():
            try:
                count += len(json.loads(line).get("entries") or [])
            except ValueError:
                break  # a line being written
    return count


def _start_and_freeze(config: Path, archive: Path, kubeconfig: Path, ledgers: Path) -> subprocess.Popen[str]:
    """The restore as a process, frozen (SIGSTOP) once its journal names at least KILL_AFTER objects."""
    process = subprocess.Popen([sys.executable, "-m", "dr_lib", "--config", str(config), "restore", str(archive),
                                "--kubeconfig", str(kubeconfig), "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + DEADLINE
    while _journal_entries(ledgers) < KILL_AFTER:
        if process.poll() is not None:
            _out, err = process.communicate()
            raise AssertionError(f"the restore ended (exit {process.returncode}) before its journal named "
                                 f"{KILL_AFTER} objects: {err[-2000:]}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"the journal did not name {KILL_AFTER} objects within {DEADLINE:.0f} s")
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGSTOP)
    return process


def _live(kube: Kube, namespaces: list[str]) -> set[tuple[str, str, str]]:
    """(resource, namespace, name) of what the restore may have made, as the API server lists it now."""
    found = {("namespaces", "", name) for name in namespaces if kube.request("GET", f"/api/v1/namespaces/{name}").ok}
    for namespace in namespaces:
        for item in kube.get(f"/api/v1/namespaces/{namespace}/configmaps").get("items") or []:
            if item["metadata"]["name"].startswith("cm-"):  # kube-root-ca.crt is the controller's, never restored
                found.add(("configmaps", namespace, item["metadata"]["name"]))
    return found


def _named(objects: list[dict[str, Any]]) -> dict[tuple[str, str, str], str]:
    return {(o["resource"], o["namespace"], o["name"]): o["result"] for o in objects}


@dataclass
class Under:
    """A fresh cluster, an archive of 10,000 objects for it, and a host config whose ledgers go to ``ledgers``."""

    handle: Any
    kube: Kube
    archive: Path
    namespaces: list[str]
    config: Path
    ledgers: Path

    def restore_frozen(self) -> subprocess.Popen[str]:
        return _start_and_freeze(self.config, self.archive, self.handle.kubeconfig, self.ledgers)


@pytest.fixture
def under(cluster_factory: Any, tmp_path: Path) -> Iterator[Under]:
    handle = cluster_factory(nodes=0)
    archive, namespaces = _archive(tmp_path / "backups", "intr")
    with Kube.from_kubeconfig(handle.kubeconfig) as kube:
        yield Under(handle, kube, archive, namespaces, write_config(tmp_path / "host"),
                    tmp_path / "host" / "state" / "ledgers")


def test_sigterm_stops_between_writes_and_the_ledger_names_everything_that_exists(under: Under) -> None:
    ledgers = under.ledgers
    process = under.restore_frozen()
    os.kill(process.pid, signal.SIGTERM)
    os.kill(process.pid, signal.SIGCONT)
    out, err = process.communicate(timeout=DEADLINE)
    assert process.returncode == 130, err[-3000:]
    assert "k3s-dr: error: restore interrupted (SIGTERM stopped the restore between writes)" in err
    [ledger_path] = ledgers.glob("restore-*.json")
    assert not list(ledgers.glob("*" + SUFFIX)), "a finished (interrupted) restore leaves its final ledger only"
    ledger = json.loads(ledger_path.read_text())
    result = json.loads(out.strip().splitlines()[-1])
    assert result["ledger"] == str(ledger_path) and result["complete"] is False and result["outcome"] == "partial"
    assert ledger["interrupted"]["signal"] == "SIGTERM"
    named = _named(ledger["objects"])
    assert KILL_AFTER <= len(named) < OBJECTS + NAMESPACES, "stopped under way, not at the end"
    assert ledger["interrupted"]["not_attempted"] == OBJECTS + NAMESPACES - len(named)
    assert set(named.values()) == {"created"}
    live = _live(under.kube, under.namespaces)
    print(f"SIGTERM after the journal named >= {KILL_AFTER}: ledger names {len(named)}, the cluster holds {len(live)}")
    assert set(named) <= live, "every object the ledger says created exists"
    assert live - set(named) == set(), "bound 0: the objects in flight finished and were recorded"


def test_sigkill_leaves_a_journal_that_the_next_restore_turns_into_its_ledger(under: Under) -> None:
    ledgers = under.ledgers
    process = under.restore_frozen()
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    [journal] = ledgers.glob("*" + SUFFIX)
    assert not list(ledgers.glob("restore-*.json")), "killed: no final ledger was written"
    journaled = read_journal(journal).entries
    named = {(e.resource, e.namespace, e.name): e.result for e in journaled}
    assert KILL_AFTER <= len(named) < OBJECTS + NAMESPACES
    live = _live(under.kube, under.namespaces)
    assert {key for key, result in named.items() if result == "created"} <= live
    unrecorded = live - set(named)
    print(f"SIGKILL after the journal named >= {KILL_AFTER}: journal names {len(named)}, the cluster holds "
          f"{len(live)}, unrecorded {len(unrecorded)} (bound {JOURNAL_WINDOW})")
    assert len(unrecorded) <= JOURNAL_WINDOW, f"{len(unrecorded)} objects exist that the journal does not name"

    again = run_process(under.config, "restore", str(under.archive), "--kubeconfig", str(under.handle.kubeconfig),
                        "--json", timeout=DEADLINE)
    assert again.code == 0, again.stderr[-3000:]
    recovered = json.loads(journal.with_name(journal.name.removesuffix(SUFFIX) + ".json").read_text())
    assert recovered["interrupted"] == {"signal": None, "reason": KILLED, "attempted": len(named),
                                        "not_attempted": OBJECTS + NAMESPACES - len(named)}
    assert _named(recovered["objects"]) == named
    assert not journal.exists()
    second = again.json()
    assert second["complete"] is True
    assert second["counts"]["created"] + second["counts"]["unchanged"] == OBJECTS + NAMESPACES
    assert second["counts"]["created"] == OBJECTS + NAMESPACES - len(live)
    assert len(_live(under.kube, under.namespaces)) == OBJECTS + NAMESPACES
