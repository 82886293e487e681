"""The probe on real archives (written by the real writer, verified by the real verifier), run
both in-process and as the command text the suite sends to a host."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from _archive_factory import CONFIGMAPS, DEPLOYMENTS, NAMESPACES, good_archive, tar_header

from dr_lib.archive import verify_archive, write_sidecar
from dr_lib.checks.gather import probe_command
from dr_lib.checks.hostfacts import FileFacts, HostFacts, Layout, file_facts_from_probe
from dr_lib.checks.model import Outcome
from dr_lib.checks.probe import collect
from dr_lib.checks.verdicts import files as v
from dr_lib.checks.waivers import WaiverSet
from dr_lib.config import config_from_text


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    text = f"backup: {{dir: {tmp_path}/backups, k3s_data_dir: {tmp_path}/k3s, log_file: {tmp_path}/k3s-dr.log}}\n"
    return Layout(config_from_text(text, "test"), str(tmp_path / "config.yaml"))


def _backup(layout: Layout) -> Path:
    directory = Path(layout.backup_dir)
    directory.mkdir(mode=0o700)
    content = {NAMESPACES: [NAMESPACES.obj("shop", None)], CONFIGMAPS: [CONFIGMAPS.obj("a", "shop")],
               DEPLOYMENTS: [DEPLOYMENTS.obj("web", "shop")]}
    archive = good_archive(directory, content, datastore=(b"SQLite format 3\0" + b"x" * 100, b"K10abc::server:xyz"))
    write_sidecar(verify_archive(archive), datetime.now(UTC))
    for link in (layout.latest_link, layout.snapshot_link):
        Path(link).symlink_to(archive.name)
    return archive


def _facts(layout: Layout, files: FileFacts) -> HostFacts:
    return HostFacts("local", layout, files, {}, WaiverSet())


def test_probe_sees_a_verified_archive_and_its_contents(layout: Layout) -> None:
    archive = _backup(layout)
    files = file_facts_from_probe(collect(layout.probe_request()))
    assert files.newest_verified == archive.name
    assert files.archives[0].verified and files.archives[0].mode == 0o600
    assert files.stat(layout.snapshot_link).is_link and files.stat(layout.snapshot_link).exists
    facts = _facts(layout, files)
    for verdict in (v.archive_intact, v.latest_link, v.snapshot_link_verified, v.backup_fresh, v.archives_private):
        finding = verdict(facts)
        assert finding.outcome is Outcome.PASS, (verdict.__name__, finding)
    kinds = v.expected_kinds(facts)  # default expectation: namespaces, configmaps, services
    assert kinds.outcome is Outcome.FAIL and kinds.problem.endswith("lacks expected kind(s): services")


def test_probe_notices_bytes_changed_after_verification(layout: Layout) -> None:
    archive = _backup(layout)
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))
    files = file_facts_from_probe(collect(layout.probe_request()))
    assert files.newest_verified is None
    finding = v.archive_intact(_facts(layout, files))
    assert finding.outcome is Outcome.FAIL and "no longer the one recorded" in finding.problem


def test_probe_reports_dangling_link_and_unreadable_log(layout: Layout) -> None:
    _backup(layout)
    Path(layout.snapshot_link).unlink()
    Path(layout.snapshot_link).symlink_to("k3s-dr-19990101T000000Z.tar.gz")
    files = file_facts_from_probe(collect(layout.probe_request()))
    assert files.stat(layout.snapshot_link).dangling
    assert files.log_lines is None and files.log_error is None  # no log file yet


def test_log_tail_drops_the_cut_first_line(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_text("".join(f"line {i}\n" for i in range(1000)))
    data = collect({"log": str(log), "log_bytes": 100})
    assert data["log"]["lines"][-1] == "line 999"
    assert all(line.startswith("line ") and len(line) >= 8 for line in data["log"]["lines"])


def test_the_command_text_runs_with_a_plain_python3(layout: Layout) -> None:
    _backup(layout)
    done = subprocess.run(["sh", "-c", probe_command(layout.probe_request())], capture_output=True, text=True,
                          check=True, env={"PATH": os.environ["PATH"]})
    data = json.loads(done.stdout)
    assert data["newest_verified"] is not None
    assert data["inspected"]["manifest"]["format"] == "k3s-dr-archive"


@pytest.mark.parametrize(("kind", "what"), [(b"L", "GNU long-name"), (b"x", "pax")])
def test_the_probe_refuses_a_huge_extension_header_before_reading_it(layout: Layout, kind: bytes, what: str) -> None:
    """An archive built to hurt: its first header announces a 64 MiB name (tarfile would read it whole)."""
    import gzip  # noqa: PLC0415

    archive = _backup(layout)
    size = 64 * 1024 * 1024
    with gzip.open(archive, "wb") as out:  # the sidecar still claims the archive: the probe inspects it
        out.write(tar_header(b"././@LongLink", size, kind))
        for _ in range(size // (1024 * 1024)):
            out.write(b"\0" * (1024 * 1024))
    inspected = collect(layout.probe_request())["inspected"]
    assert inspected["name"] == archive.name
    assert inspected["problems"] == [f"cannot read the archive: ReadError: a {what} header of {size} bytes; "
                                     f"the limit is {4096 if kind == b'L' else 65536}"]
