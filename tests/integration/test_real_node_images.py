"""The locally built images (no registry): the pause image and the Debian base the pods run."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from k3s_dr_testbed.docker import (
    DEBIAN_TAG,
    PAUSE_TAG,
    docker_cli,
    ensure_debian_image,
    ensure_engine,
    ensure_pause_image,
    image_id,
    save_image,
)
from tests.skip_rule import unavailable

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def engine() -> str:
    if shutil.which("dockerd") is None and not os.path.exists("/usr/sbin/dockerd"):
        unavailable("no Docker engine: dockerd is not installed (apt-get install docker.io)")
    return ensure_engine(time.monotonic() + 60).cli


def docker(cli: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([cli, *args], capture_output=True, text=True, timeout=timeout, check=False)


def test_pause_image_is_built_once_and_its_process_waits_until_told_to_stop(engine: str) -> None:
    assert ensure_pause_image() == PAUSE_TAG
    built = image_id(PAUSE_TAG, time.monotonic() + 10)
    assert ensure_pause_image() == PAUSE_TAG
    assert image_id(PAUSE_TAG, time.monotonic() + 10) == built  # cached: not rebuilt
    name = f"k3sdr-pause-test-{os.getpid()}"
    started = docker(engine, "run", "-d", "--name", name, "--network", "none", PAUSE_TAG)
    assert started.returncode == 0, started.stderr
    try:
        time.sleep(0.5)
        assert docker(engine, "inspect", "-f", "{{.State.Running}}", name).stdout.strip() == "true"
        assert docker(engine, "stop", "-t", "5", name).returncode == 0
        assert docker(engine, "inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip() == "0"  # SIGTERM: clean exit
    finally:
        docker(engine, "rm", "-f", name)


def test_debian_image_is_cached_and_has_python_and_systemd(engine: str) -> None:
    assert ensure_debian_image() == DEBIAN_TAG  # cold ~100 s the first time on a machine, then cached
    built = image_id(DEBIAN_TAG, time.monotonic() + 10)
    assert ensure_debian_image() == DEBIAN_TAG
    assert image_id(DEBIAN_TAG, time.monotonic() + 10) == built
    ran = docker(engine, "run", "--rm", "--network", "none", DEBIAN_TAG, "sh", "-c",
                 "python3 -c 'print(6*7)' && test -x /lib/systemd/systemd && readlink -f /sbin/init")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == ["42", "/usr/lib/systemd/systemd"]
    cmd = docker(engine, "image", "inspect", "-f", "{{json .Config.Cmd}}", DEBIAN_TAG).stdout.strip()
    assert cmd == '["/sbin/init"]'
    assert cmd == '["/sbin/init"]'


def test_save_image_writes_a_docker_archive_atomically(engine: str, tmp_path: Path) -> None:
    ensure_pause_image()
    target = tmp_path / "pause.tar"
    assert save_image(PAUSE_TAG, target) == target
    assert not [p for p in tmp_path.iterdir() if p.name != "pause.tar"]  # no partial file left
    with tarfile.open(target) as archive:
        assert "manifest.json" in archive.getnames()
    assert docker_cli() == engine
