"""The push after each verified backup, on a real cluster and a real S3 server (versitygw) plus a restic
repository: pushed by default, shown in the backup's JSON and metrics, recorded for the conformance
controls; ``--no-push`` skips it; a push that fails (wrong credentials, server stopped) leaves the
backup verified, promoted and untouched, and says so with exit 3, its JSON and one error line; a
manual push holding the offsite lock is waited for, as long as a push may take."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from dr_lib.archive.lock import exclusive_lock
from dr_lib.checks.pushstate import PUSH_STATE_NAME, parse_push_state
from dr_lib.config import OffsiteTargetConfig
from dr_lib.errors import ExitCode
from dr_lib.offsite.s3client import make_client
from k3s_dr_testbed.s3.server import S3Server
from tests.integration._metrics_helpers import parse, value
from tests.integration._offsite_env import (
    K3S_DR,
    Run,
    aws_env,
    cli_env,
    k3s_dr,
    keypair,
    new_bucket,
    restic_or_skip,
    s3_server,
    write_config,
)

__all__ = ["aws_env", "s3_server"]
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("aws_env")]


def _local(backups: Path) -> dict[str, str]:
    """Every file and link of the backup directory: content digests and link targets."""
    return {p.name: "->" + str(p.readlink()) if p.is_symlink() else hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(backups.iterdir())}


def _targets(run_json: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["target"]: t for t in run_json["push"]["targets"]}


def _metrics(config: Path) -> dict[Any, float]:
    shown = k3s_dr(config, "metrics")
    assert shown.code == 0, shown.stderr
    return parse(shown.stdout)


def test_backups_push_offsite_and_a_failed_push_keeps_the_backup(s3_server: S3Server, cluster: Any,
                                                                 tmp_path: Path) -> None:
    restic_or_skip()
    identity, recipient = keypair(tmp_path)
    host = tmp_path / "host"
    bucket = new_bucket(s3_server)
    config = write_config(host, endpoint=s3_server.endpoint, bucket=bucket, recipient=recipient,
                          identity=identity, restic_repo=tmp_path / "restic-repo", keep=5)
    backups = host / "backups"

    # 1. A backup to backup.dir pushes to every target: encrypted, read back, verified.
    first = k3s_dr(config, "backup", "--kubeconfig", cluster.kubeconfig, "--json")
    assert first.code == 0, first.stderr
    archive = Path(first.json["archive"]).name
    assert first.json["promoted"] and first.json["push"]["ok"] and first.json["push"]["archive"] == archive
    lab, home = _targets(first.json)["lab"], _targets(first.json)["home"]
    assert (lab["push"]["action"], lab["push"]["encrypted"], lab["push"]["verified"]) == ("pushed", True, True)
    assert lab["remote_good"] == 1 and lab["retention"]["kept"] == [archive]
    assert home["push"]["action"] == "pushed" and home["push"]["details"]["checked"]  # restic check ran
    assert f"k3s-dr push {archive} → lab: pushed k3s-dr/{archive}.age" in first.stderr
    objects = make_client(OffsiteTargetConfig(bucket=bucket, endpoint_url=s3_server.endpoint)).list_objects_v2(
        Bucket=bucket)
    assert {o["Key"] for o in objects.get("Contents", [])} == {f"k3s-dr/{archive}.age",
                                                                f"k3s-dr/{archive}.age.verified.json"}
    pulled = k3s_dr(config, "pull", "--target", "lab", "--dir", tmp_path / "pulled", "--json")
    assert pulled.code == 0, pulled.stderr
    assert pulled.json["identical"] and pulled.json["sha256"] == first.json["sha256"]
    record = parse_push_state((host / "state" / PUSH_STATE_NAME).read_text())
    assert record["lab"].last is not None and record["lab"].last.trigger == "backup"
    assert (record["lab"].last.ok, record["lab"].last.backup_ok, record["lab"].last.encrypted) == (True, True, True)
    shown = _metrics(config)
    assert value(shown, "k3s_dr_offsite_push_last_status", target="lab") == 1
    assert value(shown, "k3s_dr_offsite_remote_copies", target="home") == 1

    # 2. --no-push: the backup alone; nothing new offsite.
    alone = k3s_dr(config, "backup", "--kubeconfig", cluster.kubeconfig, "--no-push", "--json")
    assert alone.code == 0 and alone.json["push"] is None, alone.stderr
    assert "k3s-dr push" not in alone.stderr

    # 3. Wrong credentials: backed up and promoted, not offsite; exit 3, the JSON and one line say why.
    before = _local(backups)
    wrong = k3s_dr(config, "backup", "--kubeconfig", cluster.kubeconfig, "--json",
                   env=cli_env(AWS_SECRET_ACCESS_KEY="definitely-wrong"))
    assert wrong.code == ExitCode.PARTIAL, wrong.stderr
    third = Path(wrong.json["archive"]).name
    assert wrong.json["promoted"] and wrong.json["push"]["ok"] is False
    failed = _targets(wrong.json)
    assert failed["lab"]["ok"] is False and failed["lab"]["exit_code"] == ExitCode.USAGE
    assert "secret key does not match" in failed["lab"]["error"]
    assert failed["home"]["ok"] is True  # the restic repository needs no AWS credentials
    error_lines = [line for line in wrong.stderr.splitlines() if line.startswith("k3s-dr: error:")]
    assert len(error_lines) == 1, wrong.stderr
    assert error_lines[0].startswith(f"k3s-dr: error: archive {third} is verified and promoted, but its offsite "
                                     "push failed: lab: ")
    assert "run `k3s-dr push` once the cause is fixed" in error_lines[0]
    assert "definitely-wrong" not in wrong.stderr + wrong.stdout
    now, rotated = _local(backups), set(wrong.json["deleted"])  # backup.keep 2: the backup's own rotation
    for name, digest in before.items():
        if name.removesuffix(".verified.json") in rotated:
            assert name not in now
        elif not name.startswith(("latest-", "k3s-cluster-")):
            assert now[name] == digest, name  # nothing local changed by the failed push
    assert now["latest-backup.tar.gz"] == f"->{third}"  # promoted despite the failed push
    assert k3s_dr(config, "verify", backups / third).code == 0
    shown = _metrics(config)
    assert value(shown, "k3s_dr_offsite_push_last_status", target="lab") == 0
    assert value(shown, "k3s_dr_offsite_push_last_status", target="home") == 1
    assert value(shown, "k3s_dr_backup_last_status") == 1  # the backup itself succeeded
    record = parse_push_state((host / "state" / PUSH_STATE_NAME).read_text())
    assert record["lab"].last is not None and not record["lab"].last.ok and record["lab"].last.exit_code == 2
    assert record["lab"].last_success is not None and record["lab"].last_success.archive == archive

    # 4. The server stopped: the same, with exit code 7 for the target in the JSON.
    s3_server.stop()
    try:
        down = k3s_dr(config, "backup", "--kubeconfig", cluster.kubeconfig, "--json")
    finally:
        s3_server.start()
    assert down.code == ExitCode.PARTIAL, down.stderr
    assert _targets(down.json)["lab"]["exit_code"] == ExitCode.ENVIRONMENT
    assert "could not be reached" in _targets(down.json)["lab"]["error"]
    fourth = Path(down.json["archive"]).name
    assert _local(backups)["latest-backup.tar.gz"] == f"->{fourth}"
    assert k3s_dr(config, "verify", backups / fourth).code == 0

    # 5. Fixed: the next backup pushes again; the remote holds only good copies.
    again = k3s_dr(config, "backup", "--kubeconfig", cluster.kubeconfig, "--json")
    assert again.code == 0 and again.json["push"]["ok"], again.stderr
    listed = k3s_dr(config, "list", "--remote", "--target", "lab", "--json")
    copies = listed.json["targets"][0]["copies"]
    assert [c["archive"] for c in copies if c["state"] == "good"] == [Path(again.json["archive"]).name, archive]


def _offsite_lock(config_path: Path) -> Path:
    from dr_lib.config import load_config  # noqa: PLC0415
    from dr_lib.jobs.push import lock_path  # noqa: PLC0415

    return lock_path(load_config(config_path)).resolve()


def _start(config: Path, *args: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen([K3S_DR, "--config", str(config), *map(str, args)], env=cli_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(process: subprocess.Popen[str]) -> Run:
    stdout, stderr = process.communicate(timeout=600)
    return Run(process.returncode, stdout, stderr)


def _has_open(pid: int, path: Path) -> bool:
    """The process has ``path`` open: /proc/PID/fd, as the kernel sees it (a waiter polls the lock)."""
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    for fd in fds:
        try:
            if Path(os.readlink(fd)) == path:
                return True
        except OSError:
            continue
    return False


def _observe_waiting(process: subprocess.Popen[str], lock: Path, seconds: float = 300) -> None:
    """Until the backup's push has the offsite lock file open while this test holds the lock: the push
    is waiting for it. Observed, never guessed from a sleep; bounded by a deadline."""
    deadline = time.monotonic() + seconds
    while not _has_open(process.pid, lock):
        assert process.poll() is None, f"the backup ended before its push waited: {_finish(process)}"
        assert time.monotonic() < deadline, f"the backup's push did not reach the lock {lock} in {seconds} s"
        time.sleep(0.05)


def test_the_push_after_a_backup_waits_for_a_manual_push(s3_server: S3Server, cluster: Any, tmp_path: Path) -> None:
    host = tmp_path / "host"
    config = write_config(host, endpoint=s3_server.endpoint, bucket=new_bucket(s3_server), recipient=None,
                          identity=None, keep=5)
    lock = _offsite_lock(config)
    # A manual `k3s-dr push` stands in: this test holds the offsite lock until the push is seen waiting.
    with exclusive_lock(lock, "push offsite"):
        backup = _start(config, "backup", "--kubeconfig", cluster.kubeconfig, "--json")
        _observe_waiting(backup, lock)
        released = time.time()
    run = _finish(backup)
    assert run.code == 0 and run.json["push"]["ok"], run.stderr
    record = parse_push_state((host / "state" / PUSH_STATE_NAME).read_text())
    assert record["lab"].last is not None and record["lab"].last.ok
    assert record["lab"].last.at >= released  # pushed after the manual push let go, not beside it

    # A manual push that outlasts the wait (the targets' timeouts: 2 s here): backed up, not offsite.
    # The lock is held until the backup has ended, whatever the machine's load.
    document = yaml.safe_load(config.read_text())
    document["offsite"]["targets"]["lab"]["timeout"] = "2s"
    config.write_text(yaml.safe_dump(document))
    with exclusive_lock(lock, "push offsite"):
        late_backup = _start(config, "backup", "--kubeconfig", cluster.kubeconfig, "--json")
        _observe_waiting(late_backup, lock)
        late = _finish(late_backup)
    assert late.code == ExitCode.PARTIAL, late.stderr
    assert late.json["promoted"] and late.json["push"]["ok"] is False
    assert "holds the lock" in late.json["push"]["error"] and "(waited 2 s)" in late.json["push"]["error"]
