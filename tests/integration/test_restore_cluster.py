"""Restore against real API servers: a fresh cluster, a second restore, the damaged original,
dry run, conflict policies, namespace mapping, the lock.

The source cluster gets a workload set covering every default kind (tests/integration/
restore_workloads.py); its archive is restored into a fresh cluster and compared object by
object with ``diff`` (both sides sanitized), pods Ready and claims Bound.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from restore_cli import run_inprocess, run_process, write_config
from restore_snapshot import snapshot
from restore_workloads import create_workloads, wait_settled

from dr_lib.archive import exclusive_lock
from dr_lib.errors import ExitCode
from dr_lib.kube.client import Kube
from dr_lib.kube.discovery import discover
from dr_lib.kube.writing import Writer
from dr_lib.restore.diff import diff_archive
from dr_lib.restore.plan import PlanOptions

pytestmark = [pytest.mark.slow, pytest.mark.compat]


@pytest.fixture(scope="module")
def source(session_cluster_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path]]:
    """A cluster with the workload set, and an archive of it."""
    handle = session_cluster_factory(nodes=2)
    with Kube.from_kubeconfig(handle.kubeconfig) as kube:
        create_workloads(kube)
        wait_settled(kube)
        archive = snapshot(handle.kubeconfig, tmp_path_factory.mktemp("backups"), kube)
    yield handle, archive


@pytest.fixture(scope="module")
def target(session_cluster_factory: Any) -> Any:
    return session_cluster_factory(nodes=2)


@pytest.fixture(scope="module")
def restored(source: tuple[Any, Path], target: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The contract run: ``k3s-dr restore ARCHIVE --kubeconfig K --json --wait`` as a process."""
    _handle, archive = source
    config = write_config(tmp_path_factory.mktemp("restore-config"))
    run = run_process(config, "restore", str(archive), "--kubeconfig", str(target.kubeconfig), "--json", "--wait")
    assert run.code == 0, run.stderr
    return run.json()


def test_restore_into_a_fresh_cluster_reports_the_contract_fields(restored: dict[str, Any]) -> None:
    assert set(restored["counts"]) == {"created", "updated", "unchanged", "skipped", "failed"}
    assert restored["complete"] is True and restored["outcome"] == "complete"
    assert restored["counts"]["failed"] == 0 and restored["counts"]["created"] >= 35
    assert isinstance(restored["seconds"], float) and restored["seconds"] > 0
    ledger = json.loads(Path(restored["ledger"]).read_text())
    assert len(ledger["objects"]) == restored["planned"]
    assert all(o["result"] in ("created", "unchanged") for o in ledger["objects"])
    reasons = {o["reason"] for o in ledger["left_out"]}
    assert any("owned by a controller" in r for r in reasons)
    assert restored["wait"]["ready"] is True and restored["wait"]["watched"] >= 5


def test_every_object_is_back_and_equal_after_sanitizing(source: tuple[Any, Path], target: Any,
                                                         restored: dict[str, Any]) -> None:
    _handle, archive = source
    with Kube.from_kubeconfig(target.kubeconfig) as kube:
        report = diff_archive(archive, Writer(kube), PlanOptions())
    assert report.counts["missing"] == 0, [o for o in report.objects if o.state == "missing"]
    assert report.counts["differs"] == 0, [(o.name, o.differences) for o in report.objects if o.state == "differs"]
    assert report.counts["same"] == restored["planned"]


def test_restored_details_services_volumes_tokens_custom_resources(target: Any, restored: dict[str, Any]) -> None:
    with Kube.from_kubeconfig(target.kubeconfig) as kube:
        claim = kube.get("/api/v1/namespaces/data/persistentvolumeclaims/db")
        assert claim["status"]["phase"] == "Bound" and claim["spec"]["volumeName"] == "restore-pv"
        ports = kube.get("/api/v1/namespaces/shop/services/web-np")["spec"]["ports"]
        node_ports = {p["port"]: p["nodePort"] for p in ports}
        assert node_ports[80] == 30080 and node_ports[81] > 0  # explicit kept, allocated one allocated anew
        assert kube.get("/api/v1/namespaces/data/services/db")["spec"]["clusterIP"] == "None"
        token = kube.get("/api/v1/namespaces/shop/secrets/builder-token")
        assert token["data"].get("token"), "the token controller fills the restored token secret"
        assert kube.get("/api/v1/namespaces/shop/secrets/registry")["data"]["password"] == \
            base64.b64encode(b"s3cret").decode()
        assert kube.get("/apis/example.com/v1/namespaces/shop/widgets/blue")["spec"] == {"size": 3}
        pods = kube.get("/api/v1/namespaces/shop/pods")["items"]
        ready = [p for p in pods if any(c["type"] == "Ready" and c["status"] == "True"
                                        for c in p["status"].get("conditions", []))]
        assert len(ready) >= 3  # deployment's two, the standalone pod, the daemon set's


def _as_served(kube: Kube, ledger_path: str) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Every object the ledger lists, as the API server serves it now."""
    types = {resource.name: resource.type for resource in discover(kube).resources}
    return {(entry["resource"], entry["namespace"], entry["name"]):
            kube.get(types[entry["resource"]].object_path(entry["name"], entry["namespace"] or None))
            for entry in json.loads(Path(ledger_path).read_text())["objects"]}


def _without_status(body: dict[str, Any]) -> dict[str, Any]:
    """The object less what controllers write through the status subresource (a quota's usage, say),
    and less the resourceVersion that such a write moves: what a restore could have written."""
    metadata = {k: v for k, v in body["metadata"].items() if k not in ("resourceVersion", "managedFields")}
    metadata["managedFields"] = [m for m in body["metadata"].get("managedFields", [])
                                 if m.get("subresource") != "status"]
    return {**{k: v for k, v in body.items() if k != "status"}, "metadata": metadata}


def test_a_second_restore_changes_nothing(source: tuple[Any, Path], target: Any, restored: dict[str, Any],
                                          tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Judged on the API server, not by the tool's own counts: every restored object keeps its uid
    (nothing deleted and created again) and its resourceVersion (nothing written), but where a
    controller wrote its status meanwhile: then everything but the status is as it was."""
    _handle, archive = source
    with Kube.from_kubeconfig(target.kubeconfig) as kube:
        before = _as_served(kube, restored["ledger"])
        run = run_inprocess(capsys, write_config(tmp_path), "restore", str(archive), "--kubeconfig",
                            str(target.kubeconfig), "--json")
        assert run.code == 0, run.stderr
        after = _as_served(kube, restored["ledger"])
    assert len(before) == restored["planned"] and set(after) == set(before)
    recreated = [key for key in before if before[key]["metadata"]["uid"] != after[key]["metadata"]["uid"]]
    assert recreated == []
    moved = [key for key in before
             if before[key]["metadata"]["resourceVersion"] != after[key]["metadata"]["resourceVersion"]]
    written = [key for key in moved if _without_status(before[key]) != _without_status(after[key])]
    assert written == [], f"the second restore wrote {written}"
    counts = run.json()["counts"]
    assert counts == {"created": 0, "updated": 0, "unchanged": restored["planned"], "skipped": 0, "failed": 0}


def test_dry_run_validates_everything_and_changes_nothing(source: tuple[Any, Path], cluster: Any, kube: Kube,
                                                          tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _handle, archive = source
    before = {ns["metadata"]["name"] for ns in kube.get("/api/v1/namespaces")["items"]}
    run = run_inprocess(capsys, write_config(tmp_path), "restore", str(archive), "--kubeconfig",
                        str(cluster.kubeconfig), "--json", "--dry-run")
    assert run.code == 0, run.stderr
    result = run.json()
    assert result["dry_run"] is True and result["complete"] is True and result["counts"]["created"] >= 30
    assert {ns["metadata"]["name"] for ns in kube.get("/api/v1/namespaces")["items"]} == before
    assert kube.request("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com").status \
        == 404
    ledger = json.loads(Path(result["ledger"]).read_text())
    skipped = [o for o in ledger["objects"] if o["result"] == "skipped"]
    assert {o["resource"] for o in skipped} <= {"widgets.example.com", "pods"}  # need objects this restore creates


def test_dry_run_reports_the_api_servers_own_errors(source: tuple[Any, Path], target: Any, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Restoring shop into a new namespace would collide on the explicit nodePort: the server says so."""
    _handle, archive = source
    run = run_inprocess(capsys, write_config(tmp_path), "restore", str(archive), "--kubeconfig",
                        str(target.kubeconfig), "--json", "--dry-run", "-n", "shop",
                        "--namespace-mapping", "shop:shop-dry")
    assert run.code == ExitCode.PARTIAL
    assert run.json()["failed"] == [
        'services shop-dry/web-np: 422 Invalid: Service "web-np" is invalid: spec.ports[0].nodePort: '
        "Invalid value: 30080: provided port is already allocated"]


def test_conflict_policies(source: tuple[Any, Path], target: Any, restored: dict[str, Any], tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    _handle, archive = source
    path = "/api/v1/namespaces/shop/configmaps/settings"
    args = ("restore", str(archive), "--kubeconfig", str(target.kubeconfig), "--json", "--kind", "configmap",
            "-n", "shop")
    config = write_config(tmp_path)
    with Kube.from_kubeconfig(target.kubeconfig) as kube:
        kube.request("PATCH", path, body={"data": {"mode": "debug"}}, content_type="application/merge-patch+json")
        skipped = run_inprocess(capsys, config, *args)
        assert skipped.code == 0 and skipped.json()["counts"]["skipped"] == 1
        entry = _ledger_entry(skipped.json(), "settings")
        assert entry["differences"] == ["data.mode: 'prod' → 'debug'"]
        assert kube.get(path)["data"] == {"mode": "debug"}  # skip leaves it alone

        updated = run_inprocess(capsys, config, *args, "--policy", "update")
        assert updated.code == 0 and updated.json()["counts"]["updated"] == 1
        assert kube.get(path)["data"] == {"mode": "prod"}

        kube.request("DELETE", path)
        kube.request("POST", "/api/v1/namespaces/shop/configmaps", body={
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "immutable": True,
            "data": {"mode": "frozen"}})
        refused = run_inprocess(capsys, config, *args, "--policy", "update")
        assert refused.code == ExitCode.PARTIAL  # the config map failed; its namespace was fine
        assert "immutable" in _ledger_entry(refused.json(), "settings")["reason"]

        recreated = run_inprocess(capsys, config, *args, "--policy", "recreate")
        assert recreated.code == 0 and recreated.json()["counts"]["updated"] == 1
        assert "deleted and created again" in _ledger_entry(recreated.json(), "settings")["reason"]
        live = kube.get(path)
        assert live["data"] == {"mode": "prod"} and "immutable" not in live

        kube.request("PATCH", "/api/v1/namespaces/shop", body={"metadata": {"labels": {"team": "b"}}},
                     content_type="application/merge-patch+json")
        namespace = run_inprocess(capsys, config, "restore", str(archive), "--kubeconfig", str(target.kubeconfig),
                                  "--json", "--kind", "namespace", "-n", "shop", "--policy", "recreate")
        assert namespace.code == 0 and namespace.json()["counts"]["updated"] == 1
        assert "not recreated" in _ledger_entry(namespace.json(), "shop")["reason"]
        assert kube.get("/api/v1/namespaces/shop")["metadata"]["labels"]["team"] == "a"
        assert kube.get(path)["data"] == {"mode": "prod"}  # the namespace's content was not deleted


def _ledger_entry(result: dict[str, Any], name: str) -> dict[str, Any]:
    ledger = json.loads(Path(result["ledger"]).read_text())
    return next(o for o in ledger["objects"] if o["name"] == name)


def test_namespace_mapping_restores_a_copy_and_one_failure_does_not_stop_the_rest(
        source: tuple[Any, Path], target: Any, restored: dict[str, Any], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    _handle, archive = source
    run = run_inprocess(capsys, write_config(tmp_path), "restore", str(archive), "--kubeconfig",
                        str(target.kubeconfig), "--json", "-n", "shop", "--namespace-mapping", "shop:shop-copy")
    assert run.code == ExitCode.PARTIAL  # the explicit nodePort 30080 is taken by shop/web-np
    result = run.json()
    assert result["counts"]["failed"] == 1 and "provided port is already allocated" in result["failed"][0]
    with Kube.from_kubeconfig(target.kubeconfig) as kube:
        assert kube.get("/api/v1/namespaces/shop-copy/configmaps/settings")["data"] == {"mode": "prod"}
        binding = kube.get("/apis/rbac.authorization.k8s.io/v1/namespaces/shop-copy/rolebindings/builder-cm")
        assert binding["subjects"][0]["namespace"] == "shop-copy"
        assert kube.get("/apis/example.com/v1/namespaces/shop-copy/widgets/blue")["spec"] == {"size": 3}
        assert kube.request("GET", "/api/v1/namespaces/data/configmaps").ok  # cluster-scoped left out by -n
    ledger = json.loads(Path(result["ledger"]).read_text())
    assert not [o for o in ledger["objects"] if o["resource"] == "persistentvolumes"]


def test_a_held_lock_refuses_the_restore(source: tuple[Any, Path], target: Any, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    _handle, archive = source
    config = write_config(tmp_path)
    with exclusive_lock(tmp_path / "lock" / "k3s-dr.lock", "back up (test)"):
        run = run_inprocess(capsys, config, "restore", str(archive), "--kubeconfig", str(target.kubeconfig))
    assert run.code == ExitCode.BUSY
    assert "holds the lock" in run.stderr


def test_restore_into_the_damaged_original_brings_back_only_what_was_lost(
        source: tuple[Any, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    handle, archive = source
    with Kube.from_kubeconfig(handle.kubeconfig) as kube:
        kube.request("DELETE", "/api/v1/namespaces/shop")
        kube.request("DELETE", "/apis/rbac.authorization.k8s.io/v1/clusterroles/restore-reader")
        # No --wait here: kwok marks this (older) cluster's pods NotReady after its node heartbeats
        # lapse; readiness after restore is proven on the fresh cluster above.
        run = run_inprocess(capsys, write_config(tmp_path), "restore", str(archive), "--kubeconfig",
                            str(handle.kubeconfig), "--json")
        assert run.code == 0, run.stderr
        ledger = json.loads(Path(run.json()["ledger"]).read_text())
        created = {(o["resource"], o["namespace"], o["name"]) for o in ledger["objects"] if o["result"] == "created"}
        others = [o for o in ledger["objects"] if o["result"] != "created"]
        assert ("namespaces", "", "shop") in created
        assert ("clusterroles.rbac.authorization.k8s.io", "", "restore-reader") in created
        assert all(ns == "shop" for resource, ns, _name in created
                   if resource not in ("namespaces", "clusterroles.rbac.authorization.k8s.io"))
        assert all(o["result"] == "unchanged" for o in others), [o for o in others if o["result"] != "unchanged"]
        assert {o["namespace"] for o in others if o["namespace"]} >= {"data"}
        report = diff_archive(archive, Writer(kube), PlanOptions())
        assert report.counts["missing"] == 0 and report.counts["differs"] == 0


def test_diff_command_exit_status_and_json(source: tuple[Any, Path], target: Any, cluster: Any,
                                           restored: dict[str, Any], tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    _handle, archive = source
    config = write_config(tmp_path)
    same = run_inprocess(capsys, config, "diff", str(archive), "--kubeconfig", str(target.kubeconfig), "--json",
                         "--exclude-namespace", "shop")  # the policy tests above changed shop/settings
    assert same.code == 0, same.stdout
    assert same.json()["counts"]["missing"] == 0 and same.json()["counts"]["differs"] == 0
    missing = run_inprocess(capsys, config, "diff", str(archive), "--kubeconfig", str(cluster.kubeconfig), "--json")
    assert missing.code == 1
    report = missing.json()
    assert report["counts"]["missing"] >= 30
    assert {"resource": "namespaces", "kind": "Namespace", "namespace": "", "name": "shop", "state": "missing",
            "differences": []} in report["objects"]
    text = run_inprocess(capsys, config, "diff", str(archive), "--kubeconfig", str(cluster.kubeconfig))
    assert text.code == 1 and "missing" in text.stdout.splitlines()[1]
