"""`k3s-dr drill --archive` and `--from`: the team's own archive, taken with `k3s-dr backup` from a
separately seeded cluster (the shop: other namespaces and kinds than the drill's own application),
restored into a throwaway cluster and verified. It passes with its pods really running on the real
node; it fails, naming the objects, when the target cannot take part of it (the CRD left out of
the archive); a copy pulled from an offsite target (S3, encrypted) drills the same way. RPO is the
archive's age at the drill's start, and the source cluster is never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from dr_lib.archive import read_manifest
from dr_lib.atomic import sha256_file
from dr_lib.cluster.provider import ClusterSpec, start_cluster
from dr_lib.drill.run import DrillSettings, command_env
from dr_lib.drill.timeline import STEP_NAMES
from dr_lib.errors import ExitCode
from dr_lib.kube.client import Kube
from k3s_dr_testbed.s3.server import S3Server
from tests.e2e import _shop
from tests.integration._offsite_env import aws_env, cli_env, keypair, new_bucket, s3_server, write_config

__all__ = ["aws_env", "s3_server"]
K3S_DR = [sys.executable, "-m", "dr_lib"]
DRILL_SECONDS = 600


@dataclass(frozen=True)
class Source:
    kubeconfig: Path
    server: str
    kube_system_uid: str
    full: Path  # k3s-dr backup, as the team's backups are taken
    without_crd: Path  # --all-resources --exclude-kind customresourcedefinitions: the Widgets without their CRD


def _backup(kubeconfig: Path, directory: Path, env: dict[str, str], *extra: str) -> Path:
    done = subprocess.run([*K3S_DR, "backup", "--kubeconfig", str(kubeconfig), "--dir", str(directory),
                           "--no-datastore", "--json", *extra], capture_output=True, text=True, timeout=300, env=env,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return directory / json.loads(done.stdout.strip().splitlines()[-1])["archive"]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Source]:
    work = tmp_path_factory.mktemp("shop")
    cluster = start_cluster("local", ClusterSpec(f"shop-{os.getpid()}", nodes=1, owned_by_process=True))
    try:
        with Kube.from_kubeconfig(cluster.kubeconfig) as kube:
            _shop.seed(kube, os.urandom(3).hex(), str(work / "orders"))
            uid = kube.get("/api/v1/namespaces/kube-system")["metadata"]["uid"]
        env = command_env(DrillSettings(), work)
        full = _backup(cluster.kubeconfig, work / "backups", env)
        without_crd = _backup(cluster.kubeconfig, work / "backups-without-crd", env, "--all-resources",
                              "--exclude-kind", "customresourcedefinitions")
        yield Source(cluster.kubeconfig, cluster.server, uid, full, without_crd)
    finally:
        cluster.stop()


def _snapshot(source: Source) -> dict[str, Any]:
    """Every object of the shop's namespaces and cluster scope with its resourceVersion: a touch shows."""
    seen: dict[str, Any] = {}
    with Kube.from_kubeconfig(source.kubeconfig) as kube:
        seen["namespaces"] = sorted(n["metadata"]["name"] for n in kube.get("/api/v1/namespaces")["items"])
        for rtype, body in _shop.objects("", ""):
            namespace = body["metadata"].get("namespace")
            for item in kube.get(rtype.collection_path(namespace)).get("items") or []:
                meta = item["metadata"]
                seen[f"{rtype.kind} {meta.get('namespace', '')}/{meta['name']}"] = meta["resourceVersion"]
    return seen


def _drill(reports: Path, *args: str, config: Path | None = None,
           env: dict[str, str] | None = None) -> tuple[int, dict[str, Any], str]:
    chosen = ["--config", str(config)] if config else []
    argv = [*K3S_DR, *chosen, "drill", "--json", "--reports", str(reports), *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=DRILL_SECONDS, env=env, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON on stdout (exit {done.returncode}); stderr:\n{done.stderr[-3000:]}"
    return done.returncode, json.loads(lines[-1]), done.stderr


def _utc(text: str) -> datetime:
    return datetime.strptime(text.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(UTC)


def test_the_archive_comes_back_on_the_real_node(source: Source, tmp_path: Path) -> None:
    before = _snapshot(source)
    code, result, stderr = _drill(tmp_path, "--archive", str(source.full), "--real-node", "--nodes", "0")
    assert code == 0, stderr[-3000:]
    manifest = read_manifest(source.full)
    assert result["verdict"] == "pass" and result["steps"] == dict.fromkeys(STEP_NAMES, "passed")
    for key in ("verdict", "rto_seconds", "rpo_seconds", "objects", "report_html", "evidence_json", "seconds",
                "archive", "archive_sha256"):
        assert key in result, key
    assert result["archive"] == str(source.full) and result["archive_sha256"] == sha256_file(source.full)
    evidence = json.loads(Path(result["evidence_json"]).read_text())
    counts = evidence["counts"]
    assert result["objects"] == counts["equal"] == counts["expected"] > 0
    assert counts["missing"] == counts["differs"] == counts["unhealthy"] == 0
    restored = {(o["kind"], o["namespace"], o["name"]) for o in evidence["objects"] if o["result"] == "equal"}
    for _rtype, body in _shop.objects("", ""):
        meta = body["metadata"]
        if meta.get("namespace"):
            assert (body["kind"], meta["namespace"], meta["name"]) in restored, body["kind"]
    # RPO: the archive's age when the drill began, to the millisecond the evidence records
    age = (_utc(evidence["started"]) - manifest.created_at).total_seconds()
    assert abs(result["rpo_seconds"] - age) < 1.0, (result["rpo_seconds"], age)
    archive = evidence["archive"]
    assert archive["name"] == source.full.name and archive["sha256"] == result["archive_sha256"]
    assert archive["created"] == manifest.created_at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert archive["source_cluster"] == {"server": source.server, "kubernetes_version": manifest.cluster
                                         .kubernetes_version, "kube_system_uid": source.kube_system_uid}
    assert "signer" in archive
    assert evidence["kubernetes_versions"]["source"] == manifest.cluster.kubernetes_version
    assert evidence["kubernetes_versions"]["target"].startswith("v1.")
    assert evidence["kind"] == "archive" and evidence["definitions"]["rpo"].startswith("seconds from the archive")
    # the start line names the archive; the team's own archive on real kubelets: neither synthetic nor
    # "not production", no simulated node; only the data and datastore it does not hold limit the pass
    assert f"provider local, archive {source.full.name}, real node; report in" in stderr
    assert result["scope_limits"] == ["no-volume-data", "no-datastore"] and result["scope"] == "limited"
    assert evidence["verdict_summary"] == result["verdict_summary"] == "pass (limited scope)"
    assert "the archive holds no application data" in evidence["scope"]["limits"][0]["what"]
    scope = evidence["coverage"]
    assert {(n["step"], n["what"]) for n in scope["not_applicable"]} >= {
        ("source", "seeding an application"), ("backup", "taking a backup with k3s-dr backup"),
        ("destroy", "losing the source cluster")}
    assert scope["source_cluster_touched"] is False
    assert scope["simulated_nodes"] is False
    storefront = [p for p in scope["pods"]["target"] if p["name"].startswith("storefront-")]
    assert [(p["node"], p["phase"], p["ready"]) for p in storefront] == [("localhost", "Running", True)]
    assert evidence["identity"]["archive_source_cluster"].startswith(source.server)
    assert _shop.SECRET_VALUE not in "".join(p.read_text(errors="replace") for p in Path(result["report_dir"])
                                             .iterdir())
    assert _snapshot(source) == before, "the archive's source cluster was touched"


def test_a_target_that_cannot_take_part_fails_naming_the_objects(source: Source, tmp_path: Path) -> None:
    before = _snapshot(source)
    env = {**os.environ, "K3S_DR_BACKUP_DIR": str(source.without_crd.parent)}
    code, result, stderr = _drill(tmp_path, "--archive", "latest", env=env)
    assert code == ExitCode.FAILURE, stderr[-3000:]
    assert result["archive"] == str(source.without_crd)
    assert result["verdict"] == "fail" and result["failed_step"] == "restore"
    reason = result["reasons"][0]
    assert "the target cannot take 3 objects of the archive" in reason
    for widget in _shop.WIDGETS:
        assert f"Widget shop/{widget}" in reason, reason
    assert "no CRD in the archive defines them" in reason
    assert _snapshot(source) == before


@pytest.mark.usefixtures("aws_env")
def test_a_copy_pulled_from_offsite_is_drilled(source: Source, s3_server: S3Server, tmp_path: Path) -> None:
    identity, recipient = keypair(tmp_path)
    bucket = new_bucket(s3_server)
    host = write_config(tmp_path / "host", endpoint=s3_server.endpoint, bucket=bucket, recipient=recipient,
                        identity=identity)
    pushed = subprocess.run([*K3S_DR, "--config", str(host), "push", str(source.full), "--target", "lab", "--json",
                             "--no-retention"], capture_output=True, text=True, timeout=300, env=cli_env(),
                            check=False)
    assert pushed.returncode == 0, pushed.stderr[-3000:]
    # The drill runs elsewhere: its own config and an empty backup.dir, the same target and identity.
    runner = write_config(tmp_path / "runner", endpoint=s3_server.endpoint, bucket=bucket, recipient=recipient,
                          identity=identity)
    code, result, stderr = _drill(tmp_path / "reports", "--from", f"lab:{source.full.name}", config=runner,
                                  env=cli_env())
    assert code == 0, stderr[-3000:]
    pulled = Path(yaml.safe_load(runner.read_text())["backup"]["dir"]) / source.full.name
    assert result["archive"] == str(pulled) and pulled.is_file()
    assert result["archive_sha256"] == sha256_file(source.full) == sha256_file(pulled)
    evidence = json.loads(Path(result["evidence_json"]).read_text())
    assert evidence["archive"]["obtained"].startswith("pulled from offsite target lab")
    assert evidence["archive"]["pull"]["encrypted"] is True and evidence["archive"]["pull"]["verified"] is True
    assert "pull" in {p["phase"] for p in evidence["timeline"]["phases"] if p["step"] == "source"}
    assert f"archive from offsite lab:{source.full.name}" in stderr
    assert result["rpo_seconds"] > 0 and result["objects"] > 0


def test_the_source_cluster_itself_is_refused_as_the_target(source: Source, tmp_path: Path) -> None:
    before = _snapshot(source)
    code, result, stderr = _drill(tmp_path, "--archive", str(source.full), "--cluster", "kubeconfig",
                                  "--kubeconfig", str(source.kubeconfig))
    assert code == ExitCode.FAILURE, stderr[-3000:]
    assert result["failed_step"] == "destroy" and result["steps"]["restore"] == "skipped"
    assert f"is the archive's source cluster (kube-system uid {source.kube_system_uid})" in result["reasons"][0]
    assert _snapshot(source) == before


def test_an_existing_cluster_takes_the_archive_and_is_left_as_it_was(source: Source, tmp_path: Path) -> None:
    target = start_cluster("local", ClusterSpec(f"shop-target-{os.getpid()}", nodes=1, owned_by_process=True))
    try:
        with Kube.from_kubeconfig(target.kubeconfig) as kube:
            def state() -> dict[str, list[str]]:
                return {path: sorted(i["metadata"]["name"] for i in kube.get(path)["items"])
                        for path in ("/api/v1/namespaces", "/api/v1/persistentvolumes",
                                     "/apis/rbac.authorization.k8s.io/v1/clusterroles",
                                     "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
                                     "/apis/apiextensions.k8s.io/v1/customresourcedefinitions")}

            before = state()
            code, result, stderr = _drill(tmp_path, "--archive", str(source.full), "--cluster", "kubeconfig",
                                          "--kubeconfig", str(target.kubeconfig))
            assert code == 0, stderr[-3000:]
            assert result["verdict"] == "pass" and result["objects"] > 0
            assert state() == before, "the drill takes away what it restored, and only that"
    finally:
        target.stop()


def test_the_archives_volume_data_comes_back_and_is_checked(tmp_path: Path) -> None:
    """A shop on the real node whose volume k3s-dr copies: its disk lost, the archive drill puts the
    data back under the volume's node path and proves it (tree sha256), the pod runs on it, and the
    drill takes it away again. Where that path is in use, the drill keeps what is there and says so."""
    orders = tmp_path / "orders"
    orders.mkdir()
    (orders / "orders.json").write_text(json.dumps({"orders": list(range(100))}))
    (orders / "2026").mkdir()
    (orders / "2026" / "invoice-1.pdf").write_bytes(os.urandom(20_000))
    source = start_cluster("local", ClusterSpec(f"shop-data-{os.getpid()}", nodes=0, real_node=True,
                                                owned_by_process=True))
    try:
        with Kube.from_kubeconfig(source.kubeconfig) as kube:
            _shop.seed(kube, os.urandom(3).hex(), str(orders), volume_backup=True, timeout=240)
        # the volume lies below this machine's storage roots (data.volume_roots), for the backup and the drill
        roots = {"K3S_DR_DATA_VOLUME_ROOTS": str(tmp_path)}
        archive = _backup(source.kubeconfig, tmp_path / "backups",
                          {**command_env(DrillSettings(), tmp_path / "work"), **roots})
    finally:
        source.stop()  # the disaster: the cluster and its node's disk are gone
    shutil.rmtree(orders)
    manifest = read_manifest(archive)
    assert [entry.kind for entry in manifest.data] == ["volume"]
    assert manifest.stored_data, "format 2: the volume's copy is in the data repository beside the archive"
    repository = archive.parent / "data"
    before = sorted((p.relative_to(repository), p.stat().st_mtime_ns) for p in repository.rglob("*"))
    drill_env = {**os.environ, **roots}
    code, result, stderr = _drill(tmp_path / "reports", "--archive", str(archive), "--real-node", "--nodes", "0",
                                  env=drill_env)
    assert code == 0, stderr[-3000:]
    evidence = json.loads(Path(result["evidence_json"]).read_text())
    checks = evidence["archive"]["data_checks"]
    assert [(c["kind"], c["ok"]) for c in checks] == [("volume", True)], checks
    assert checks[0]["detail"] == f"placed at {orders}, tree sha256 matches"
    assert evidence["coverage"]["application_data"]["checked"] is True
    assert result["scope_limits"] == ["no-datastore"], "its volume data was checked: that limit is lifted"
    storefront = [p for p in evidence["coverage"]["pods"]["target"] if p["name"].startswith("storefront-")]
    assert [(p["node"], p["phase"], p["ready"]) for p in storefront] == [("localhost", "Running", True)]
    assert not orders.exists(), "the drill leaves this machine's disk as it found it"
    assert sorted((p.relative_to(repository), p.stat().st_mtime_ns) for p in repository.rglob("*")) == before, \
        "the drill only reads the operator's data repository (no lock, no write)"

    # The same path in use on this machine (the source's node still has it): kept, never replaced.
    orders.mkdir()
    (orders / "live.db").write_bytes(b"production data")
    code, result, stderr = _drill(tmp_path / "reports", "--archive", str(archive), "--real-node", "--nodes", "0",
                                  env=drill_env)
    assert code == ExitCode.FAILURE, stderr[-3000:]
    assert result["failed_step"] == "verify"
    assert f"kept-existing at {orders}, tree sha256 not verified" in result["reasons"][0]
    assert [p.name for p in orders.iterdir()] == ["live.db"] and (orders / "live.db").read_bytes() == b"production data"
    assert [p.name for p in tmp_path.iterdir() if "k3s-dr-replaced" in p.name] == []
