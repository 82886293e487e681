"""DR-OFFSITE-001..003 judged on this machine after real pushes to a real S3 server (versitygw).

The facts are gathered as the suite gathers them (testinfra's local backend; the host's config read
with ``cat``; the probe sent as source to python3 and its JSON parsed), and judged by the controls'
verdicts. This machine runs no systemd, which the whole suite's gathering needs, so only the probe's
round trip is made: it is all the offsite controls read. Then the failures, each made for real:
never pushed, a failed push, a stale push, encryption required but the copy in clear text, more
copies on the remote than retention keeps.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from dr_lib.archive.links import promote
from dr_lib.checks.model import Finding, Outcome
from k3s_dr_testbed.s3.server import S3Server
from tests.integration._host_controls import judge_locally
from tests.integration._offsite_env import (
    aws_env,
    cli_env,
    k3s_dr,
    keypair,
    make_archive,
    new_bucket,
    s3_server,
    write_config,
)

__all__ = ["aws_env", "s3_server"]
pytestmark = pytest.mark.usefixtures("aws_env")
OFFSITE = ("DR-OFFSITE-001", "DR-OFFSITE-002", "DR-OFFSITE-003")
LINKS = ("latest-backup.tar.gz", "k3s-cluster-snapshot.tar.gz")


def judge(config: Path) -> dict[str, Finding]:
    """The offsite controls on this machine, with the host's own config at ``config``."""
    return judge_locally(config, OFFSITE)


def outcomes(findings: dict[str, Finding]) -> dict[str, str]:
    return {control_id: finding.outcome.value for control_id, finding in findings.items()}


def edited(config: Path, name: str, change: dict[str, object], target: dict[str, object] | None = None) -> Path:
    """A copy of the host's config with ``offsite`` (and its target ``lab``) changed; same paths, same record."""
    data = yaml.safe_load(config.read_text())
    data["offsite"].update(change)
    data["offsite"]["targets"]["lab"].update(target or {})
    path = config.with_name(name)
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def host(s3_server: S3Server, tmp_path: Path) -> Path:
    """A host with two verified archives, encryption required, target lab keeping 2 copies."""
    identity, recipient = keypair(tmp_path)
    config = write_config(tmp_path / "host", endpoint=s3_server.endpoint, bucket=new_bucket(s3_server),
                          recipient=recipient, identity=identity, keep=2)
    backups = tmp_path / "host" / "backups"
    make_archive(backups, 0)
    promote(backups, make_archive(backups, 1).name, LINKS)
    return config


def newer_archive(config: Path, hours: float) -> Path:
    backups = config.parent / "backups"
    latest = make_archive(backups, hours)
    promote(backups, latest.name, LINKS)
    return latest


def test_never_pushed_then_pushed(host: Path) -> None:
    before = judge(host)
    assert outcomes(before) == {"DR-OFFSITE-001": "fail", "DR-OFFSITE-002": "n/a", "DR-OFFSITE-003": "n/a"}
    assert "lab: never pushed" in before["DR-OFFSITE-001"].problem
    assert k3s_dr(host, "push").code == 0
    after = judge(host)
    assert outcomes(after) == dict.fromkeys(OFFSITE, "pass"), after
    assert "and verified" in after["DR-OFFSITE-001"].evidence and "by k3s-dr push" in after["DR-OFFSITE-001"].evidence
    assert "encrypted with age" in after["DR-OFFSITE-002"].evidence
    assert "lab: 1 good copies" in after["DR-OFFSITE-003"].evidence


def test_a_failed_push_fails_offsite_001_only(host: Path) -> None:
    assert k3s_dr(host, "push").code == 0
    failed = k3s_dr(host, "push", "--target", "lab", env=cli_env(AWS_SECRET_ACCESS_KEY="not-the-secret-key"))
    assert failed.code != 0
    findings = judge(host)
    assert outcomes(findings) == {"DR-OFFSITE-001": "fail", "DR-OFFSITE-002": "pass", "DR-OFFSITE-003": "pass"}
    assert "lab: the last push" in findings["DR-OFFSITE-001"].problem
    assert "secret key does not match" in findings["DR-OFFSITE-001"].problem
    assert "not-the-secret-key" not in str(findings)


def test_a_stale_push_fails_once_newer_backups_waited_too_long(host: Path) -> None:
    assert k3s_dr(host, "push").code == 0
    impatient = edited(host, "impatient.yaml", {}, {"max_age": "1s"})
    newer_archive(host, 2)
    time.sleep(1.5)
    assert judge(host)["DR-OFFSITE-001"].outcome is Outcome.PASS  # max_age 2h: a newer archive may wait
    stale = judge(impatient)["DR-OFFSITE-001"]
    assert stale.outcome is Outcome.FAIL and "is not offsite and no push succeeded for" in stale.problem
    assert k3s_dr(impatient, "push").code == 0
    assert judge(impatient)["DR-OFFSITE-001"].outcome is Outcome.PASS


def test_encryption_required_but_the_copy_in_clear_text(host: Path) -> None:
    plain = edited(host, "plain.yaml", {"encrypt": "off", "recipients": []})
    assert judge(plain)["DR-OFFSITE-002"].outcome is Outcome.NOT_APPLICABLE  # not required: nothing to judge
    assert k3s_dr(plain, "push").code == 0  # pushed in clear text, while encryption was off
    findings = judge(host)  # the policy now requires it
    assert outcomes(findings) == {"DR-OFFSITE-001": "pass", "DR-OFFSITE-002": "fail", "DR-OFFSITE-003": "pass"}
    assert "is not encrypted, though offsite.encrypt is required" in findings["DR-OFFSITE-002"].problem
    newer_archive(host, 2)
    assert k3s_dr(host, "push").code == 0  # the next backup goes encrypted
    assert judge(host)["DR-OFFSITE-002"].outcome is Outcome.PASS


def test_more_remote_copies_than_retention_keeps(host: Path) -> None:
    for hours in (2, 3, 4):
        newer_archive(host, hours)
        assert k3s_dr(host, "push", "--no-retention").code == 0
    findings = judge(host)
    assert outcomes(findings) == {"DR-OFFSITE-001": "pass", "DR-OFFSITE-002": "pass", "DR-OFFSITE-003": "fail"}
    assert "lab holds 3 good copies, more than its retention keeps (2: keep 2, keep_daily 0, keep_weekly 0)" \
        in findings["DR-OFFSITE-003"].problem
    assert k3s_dr(host, "push").code == 0  # retention applied: back to 2
    assert judge(host)["DR-OFFSITE-003"].outcome is Outcome.PASS
    listed = k3s_dr(host, "list", "--remote", "--json")
    assert listed.json["targets"][0]["good"] == 2
