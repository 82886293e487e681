"""Push metrics after real pushes to a real S3 server (versitygw): the textfile written by ``k3s-dr push``
and a running ``k3s-dr exporter`` show, per target, what the push's JSON says; a failed push turns the
status to 0 and keeps the last success's time, bytes and copies."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dr_lib.archive.links import promote
from dr_lib.errors import ExitCode
from k3s_dr_testbed.s3.server import S3Server
from tests.integration._metrics_helpers import Layout, exporter, parse, value
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
LINKS = ("latest-backup.tar.gz", "k3s-cluster-snapshot.tar.gz")


def test_a_push_shows_in_the_textfile_and_the_exporter(s3_server: S3Server, tmp_path: Path) -> None:
    identity, recipient = keypair(tmp_path)
    host = tmp_path / "host"
    config = write_config(host, endpoint=s3_server.endpoint, bucket=new_bucket(s3_server), recipient=recipient,
                          identity=identity, keep=2)
    (host / "textfile").mkdir()
    backups = host / "backups"
    for hours in (0, 1):
        make_archive(backups, hours)
    latest = make_archive(backups, 2)
    promote(backups, latest.name, LINKS)

    started = time.time()
    pushed = k3s_dr(config, "push", "--no-retention", "--json")
    assert pushed.code == 0, pushed.stderr
    assert k3s_dr(config, "push", "--no-retention", make_archive(backups, 3)).code == 0
    promote(backups, make_archive(backups, 4).name, LINKS)
    second = k3s_dr(config, "push", "--json")  # with retention (keep 2): the oldest of 3 copies goes
    assert second.code == 0, second.stderr
    lab = second.json["targets"][0]
    assert lab["remote_good"] == 2 and lab["retention"]["deleted"] == [latest.name]

    textfile = parse((host / "textfile" / "k3s_dr.prom").read_text())
    at = value(textfile, "k3s_dr_offsite_push_last_timestamp_seconds", target="lab")
    assert at is not None and started <= at <= time.time()
    assert value(textfile, "k3s_dr_offsite_push_last_success_timestamp_seconds", target="lab") == at
    assert value(textfile, "k3s_dr_offsite_push_last_status", target="lab") == 1
    assert value(textfile, "k3s_dr_offsite_push_duration_seconds", target="lab") == lab["seconds"]
    assert value(textfile, "k3s_dr_offsite_push_bytes", target="lab") == lab["push"]["bytes_sent"] > 0
    assert value(textfile, "k3s_dr_offsite_remote_copies", target="lab") == 2

    layout = Layout(host, config, backups, host / "state", host / "textfile" / "k3s_dr.prom")
    with exporter(layout) as running:
        served = running.scrape()
        for name in ("k3s_dr_offsite_push_last_timestamp_seconds", "k3s_dr_offsite_push_last_status",
                     "k3s_dr_offsite_push_duration_seconds", "k3s_dr_offsite_push_bytes",
                     "k3s_dr_offsite_remote_copies", "k3s_dr_offsite_push_last_success_timestamp_seconds"):
            assert value(served, name, target="lab") == value(textfile, name, target="lab"), name

        failed = k3s_dr(config, "push", "--json", env=cli_env(AWS_SECRET_ACCESS_KEY="wrong-secret-for-test"))
        assert failed.code == ExitCode.USAGE, failed.stderr
        served = running.scrape()  # computed at each scrape: the failure shows at once
    assert value(served, "k3s_dr_offsite_push_last_status", target="lab") == 0
    failed_at = value(served, "k3s_dr_offsite_push_last_timestamp_seconds", target="lab")
    assert failed_at is not None and failed_at > at
    assert value(served, "k3s_dr_offsite_push_last_success_timestamp_seconds", target="lab") == at
    assert value(served, "k3s_dr_offsite_remote_copies", target="lab") == 2  # still what is offsite
    assert value(parse((host / "textfile" / "k3s_dr.prom").read_text()),
                 "k3s_dr_offsite_push_last_status", target="lab") == 0
