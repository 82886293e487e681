"""``k3s-dr push | pull | list --remote`` (and ``ls --remote``, its old spelling) as a process: JSON on
stdout, clear errors, exit codes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from dr_lib.archive.links import promote
from dr_lib.errors import ExitCode
from k3s_dr_testbed.s3.server import S3Server
from tests.integration._offsite_env import (
    SECRET_KEY,
    cli_env,
    k3s_dr,
    keypair,
    make_archive,
    new_bucket,
    object_file,
    restic_or_skip,
    s3_server,
    write_config,
)

__all__ = ["s3_server"]


def _files(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "->" + str(p.readlink())
            for p in sorted(directory.iterdir())}


@pytest.fixture
def setup(s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    """(config, identity, the latest archive): a backup dir with two archives and its links."""
    restic_or_skip()
    for name, value in (("AWS_ACCESS_KEY_ID", "K3SDRTESTACCESS"), ("AWS_SECRET_ACCESS_KEY", SECRET_KEY)):
        monkeypatch.setenv(name, value)
    identity, recipient = keypair(tmp_path)
    config = write_config(tmp_path / "host", endpoint=s3_server.endpoint, bucket=new_bucket(s3_server),
                          recipient=recipient, identity=identity, restic_repo=tmp_path / "restic-repo")
    backups = tmp_path / "host" / "backups"
    make_archive(backups, 0)
    latest = make_archive(backups, 1)
    promote(backups, latest.name, ("latest-backup.tar.gz", "k3s-cluster-snapshot.tar.gz"))
    return config, identity, latest


def test_push_ls_pull(setup: tuple[Path, Path, Path], tmp_path: Path) -> None:
    config, _identity, latest = setup
    pushed = k3s_dr(config, "push", "--json")
    assert pushed.code == 0, pushed.stderr
    report = pushed.json
    assert report["archive"] == latest.name and report["ok"]
    by_target = {t["target"]: t for t in report["targets"]}
    assert by_target["lab"]["push"]["encrypted"] and by_target["lab"]["push"]["ref"].endswith(".tar.gz.age")
    assert by_target["home"]["push"]["details"]["checked"]
    assert f"k3s-dr push {latest.name} → lab: pushed" in pushed.stderr
    listed = k3s_dr(config, "list", "--remote", "--json")
    assert listed.code == 0, listed.stderr
    assert {t["target"]: t["good"] for t in listed.json["targets"]} == {"home": 1, "lab": 1}
    for target in ("lab", "home"):
        pulled = k3s_dr(config, "pull", "--target", target, "--dir", tmp_path / f"pulled-{target}", "--json")
        assert pulled.code == 0, pulled.stderr
        assert pulled.json["archive"] == latest.name and pulled.json["identical"] and pulled.json["verified"]
    human = k3s_dr(config, "ls", "--remote", "--target", "lab")
    assert human.code == 0 and latest.name in human.stdout and "good" in human.stdout


def test_failures_have_clear_messages_and_exit_codes(setup: tuple[Path, Path, Path], s3_server: S3Server,
                                                     tmp_path: Path) -> None:
    config, identity, latest = setup
    backups = latest.parent
    before = _files(backups)
    wrong = k3s_dr(config, "push", "--target", "lab", "--json",
                   env=cli_env(AWS_SECRET_ACCESS_KEY="definitely-wrong"))
    assert wrong.code == ExitCode.USAGE, wrong.stderr
    assert "secret key does not match" in wrong.stderr and "definitely-wrong" not in wrong.stderr + wrong.stdout
    assert SECRET_KEY not in wrong.stderr + wrong.stdout
    assert wrong.json["ok"] is False and wrong.json["targets"][0]["exit_code"] == ExitCode.USAGE
    assert _files(backups) == before  # a failed push never touches local archives or links

    down = config.with_name("down.yaml")
    down.write_text(config.read_text().replace(s3_server.endpoint, "http://127.0.0.1:9"))
    unreachable = k3s_dr(down, "push", "--target", "lab")
    assert unreachable.code == ExitCode.ENVIRONMENT and "could not be reached" in unreachable.stderr
    assert _files(backups) == before

    assert k3s_dr(config, "push", "--target", "lab").code == 0
    other, _ = keypair(tmp_path, "other")
    refused = k3s_dr(config, "pull", "--target", "lab", "--identity", other, "--dir", tmp_path / "p1")
    assert refused.code == ExitCode.USAGE and "none of the identities" in refused.stderr
    assert not (tmp_path / "p1" / latest.name).exists()

    bucket = config.read_text().split("bucket: ")[1].split()[0]
    stored = object_file(s3_server, bucket, f"k3s-dr/{latest.name}.age")
    data = bytearray(stored.read_bytes())
    data[100] ^= 0x01
    stored.write_bytes(bytes(data))
    tampered = k3s_dr(config, "pull", "--target", "lab", "--identity", identity, "--dir", tmp_path / "p2")
    assert tampered.code == ExitCode.INTEGRITY and "tampered" in tampered.stderr
    assert not (tmp_path / "p2" / latest.name).exists()

    missing = k3s_dr(config, "pull", "--target", "lab", "k3s-dr-20990101T000000Z.tar.gz")
    assert missing.code == ExitCode.USAGE and "no good copy" in missing.stderr
    unknown = k3s_dr(config, "push", "--target", "nowhere")
    assert unknown.code == ExitCode.USAGE and "accepted is one of home, lab" in unknown.stderr
