"""Hooks cannot hold the cluster's backup hostage: real pods on the real node, hooks through the exec API,
the real CLI.

* A failing annotation hook in one namespace: the backup of the whole cluster is still promoted, exits 3,
  and names the failure in its JSON, in the metrics (textfile) and in the conformance control
  DR-DATA-001 (judged by the suite's own probe on this machine) — while the good pod's dump is kept.
* ``hooks.annotation_namespaces``: annotations elsewhere are ignored and reported; the backup is whole.
* A dump past ``hooks.max_dump_size`` is stopped and its hook's processes killed; a timeout above
  ``hooks.max_timeout`` is refused; each costs only its own pod's data.

Needs root and the real node's Debian packages (each skip names what is missing).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from _backup_helpers import cli, isolated_env
from _hooks_apps import create, namespace, sh, sleeper_pod, wait_ready
from _real_node import skip_unless_real_node
from prometheus_client.parser import text_string_to_metric_families

from dr_lib.archive.access import iter_archive_objects, read_manifest
from dr_lib.checks.model import Finding, Outcome
from dr_lib.kube.client import Kube
from tests.integration._host_controls import judge_locally

pytestmark = [pytest.mark.real_node, pytest.mark.slow]

GOOD = {"dump.hook.backup.k3s-dr.io/command": "printf 'good data\\n'", "hook.k3s-dr.io/name": "notes"}
BAD = {"dump.hook.backup.k3s-dr.io/command": "echo 'cannot reach the database' >&2; exit 4"}


@pytest.fixture(scope="module")
def source(pytestconfig: pytest.Config, session_cluster_factory: Any) -> Iterator[Any]:
    skip_unless_real_node(pytestconfig)
    handle = session_cluster_factory(nodes=0, real_node=True, name=f"hhs{os.getpid()}")
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def kube(source: Any) -> Iterator[Kube]:
    with Kube.from_kubeconfig(source.kubeconfig) as client:
        good = sleeper_pod("hh-good", "app-0", GOOD)
        bad = sleeper_pod("hh-bad", "db-0", BAD)
        for ns, pod in (("hh-good", good), ("hh-bad", bad)):
            create(client, namespace(ns))
            create(client, pod)
        for ns, pod in (("hh-good", "app-0"), ("hh-bad", "db-0")):
            wait_ready(client, ns, pod)
        yield client


def host(tmp_path: Path, **hooks: Any) -> tuple[Path, dict[str, str]]:
    """This machine as a host: its config (backups, state, metrics textfile under tmp_path) and the CLI's env."""
    (tmp_path / "metrics").mkdir()
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "backup": {"dir": str(tmp_path / "backups")}, "restore": {"state_dir": str(tmp_path / "state")},
        "metrics": {"textfile": str(tmp_path / "metrics" / "k3s_dr.prom")}, "hooks": hooks}))
    return config, isolated_env(tmp_path)


def samples(textfile: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(textfile.read_text()) for s in family.samples}


def control(config: Path, control_id: str) -> Finding:
    return judge_locally(config, (control_id,))[control_id]


def test_a_failing_annotation_hook_in_one_namespace_does_not_stop_the_clusters_backup(
        source: Any, kube: Kube, tmp_path: Path) -> None:
    config, env = host(tmp_path)
    run = cli("backup", "--kubeconfig", source.kubeconfig, "--json", env=env, timeout=300)
    assert run.code == 3, run.stderr  # partial
    result = run.json
    assert result["promoted"] is True and result["partial"] is True
    archive = Path(result["archive"])
    assert set(result["links"].values()) == {archive.name}
    failure = ("dump hook of pod hh-bad/db-0 failed: exit code 4; stderr: cannot reach the database "
               "(on-error=continue: left out, backup partial)")
    assert result["data"]["failures"] == [failure]
    assert "lacks application data" in run.stderr and "hh-bad/db-0" in run.stderr
    manifest = read_manifest(archive)
    assert [entry.path for entry in manifest.data] == ["data/hooks/hh-good/app-0/notes.dump"]
    assert manifest.data_failures == (failure,)
    backed_up = {obj["metadata"]["name"] for entry, obj in iter_archive_objects(archive) if entry.kind == "Namespace"}
    assert {"kube-system", "hh-good", "hh-bad"} <= backed_up  # the whole cluster, the failing namespace included

    metrics = samples(tmp_path / "metrics" / "k3s_dr.prom")
    assert metrics[("k3s_dr_backup_data_failures", ())] == 1
    assert metrics[("k3s_dr_backup_data_pod_failures", (("namespace", "hh-bad"), ("pod", "db-0")))] == 1
    assert metrics[("k3s_dr_backup_last_status", ())] == 1  # promoted: only the data series say what is missing

    finding = control(config, "DR-DATA-001")
    assert finding.outcome is Outcome.FAIL
    assert finding.problem == f"{archive.name} was promoted without some application data: {failure}"
    assert control(config, "DR-ARCH-001").outcome is Outcome.PASS  # the archive itself is whole


def test_annotations_outside_the_allow_list_are_ignored_and_reported(source: Any, kube: Kube,
                                                                     tmp_path: Path) -> None:
    config, env = host(tmp_path, annotation_namespaces=["hh-good"])
    run = cli("backup", "--kubeconfig", source.kubeconfig, "--json", env=env, timeout=300)
    assert run.code == 0, run.stderr
    data = run.json["data"]
    assert data["failures"] == [] and data["partial"] is False
    assert data["ignored"] == ["pod hh-bad/db-0: hook annotations ignored: namespace 'hh-bad' is not in "
                               "hooks.annotation_namespaces (hh-good)"]
    assert "hook annotations ignored" in run.stderr
    assert [entry.path for entry in read_manifest(Path(run.json["archive"])).data] == [
        "data/hooks/hh-good/app-0/notes.dump"]
    assert samples(tmp_path / "metrics" / "k3s_dr.prom")[("k3s_dr_backup_data_failures", ())] == 0
    assert control(config, "DR-DATA-001").outcome is Outcome.PASS


def test_a_dump_past_its_cap_is_stopped_and_a_timeout_past_the_ceiling_refused(source: Any, kube: Kube,
                                                                               tmp_path: Path) -> None:
    create(kube, namespace("hh-limits"))
    create(kube, sleeper_pod("hh-limits", "big-0", {
        "dump.hook.backup.k3s-dr.io/command": "head -c 5000000 /dev/zero; sleep 300"}))
    create(kube, sleeper_pod("hh-limits", "slow-0", {**GOOD, "dump.hook.backup.k3s-dr.io/timeout": "3h"}))
    create(kube, sleeper_pod("hh-limits", "fine-0", GOOD))
    for pod in ("big-0", "slow-0", "fine-0"):
        wait_ready(kube, "hh-limits", pod)
    _config, env = host(tmp_path, max_dump_size="1Mi", max_timeout="2h")
    run = cli("backup", "--kubeconfig", source.kubeconfig, "-n", "hh-limits", "--json", env=env, timeout=300)
    assert run.code == 3, run.stderr
    failures = sorted(run.json["data"]["failures"])
    assert failures == [
        "dump hook of pod hh-limits/big-0 failed: its dump passed the cap of 1 MiB "
        "(hooks.max_dump_size) and was stopped; the hook's processes were killed (on-error=continue: left out, "
        "backup partial)",
        "pod hh-limits/slow-0: annotation dump.hook.backup.k3s-dr.io/timeout is '3h', longer than the ceiling "
        "hooks.max_timeout (7200 s): accepted is a duration up to that (on-error=continue: left out, backup partial)",
    ]
    assert [entry.path for entry in read_manifest(Path(run.json["archive"])).data] == [
        "data/hooks/hh-limits/fine-0/notes.dump"]
    processes = sh(kube, "hh-limits", "big-0", "main", "ps -eo stat=,args=").stdout.decode()
    assert not [line for line in processes.splitlines() if "sleep 300" in line and not line.startswith("Z")]
    assert not list((tmp_path / "backups").glob(".k3s-dr-tmp-*")), "the stopped dump's spool is gone"
