"""Debian packages for the reference host, fetched on this machine (the host has no network).

The Debian image is debootstrap's minimal one: its python3 has no ``venv`` module with pip
(Debian ships that as ``python3-venv``), which an operator installs with apt before following the
README. Here apt resolves what that package needs *against the image's own dpkg status* (so it
fetches exactly what the image lacks, at versions that fit each other) and downloads the .deb
files; the image build installs them with ``dpkg -i``.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from dr_lib.errors import DeadlineExceeded, EnvironmentProblem
from k3s_dr_testbed.docker import docker_cli

PACKAGES = ("python3-venv",)  # `python3 -m venv` with pip, as the README's install section needs


def _run(argv: list[str], what: str, deadline: float) -> subprocess.CompletedProcess[bytes]:
    left = deadline - time.monotonic()
    if left <= 0:
        raise DeadlineExceeded(f"no time left to {what}")
    try:
        done = subprocess.run(argv, capture_output=True, timeout=left, check=False)
    except subprocess.TimeoutExpired:
        raise DeadlineExceeded(f"{what} did not finish before the deadline") from None
    if done.returncode != 0:
        raise EnvironmentProblem(f"{what} failed (exit {done.returncode}): "
                                 f"{done.stderr.decode(errors='replace').strip()[-600:]}",
                                 hint="apt-get update (this machine's package lists) and try again")
    return done


def download_for_image(image: str, target: Path, deadline: float) -> list[Path]:
    """The .deb files ``image`` lacks for :data:`PACKAGES`, downloaded into ``target``."""
    if shutil.which("apt-get") is None:
        raise EnvironmentProblem("apt-get is needed to fetch python3-venv for the reference host (a Debian machine)")
    work = target / ".apt"
    (work / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    status = _run([docker_cli(), "run", "--rm", "--entrypoint", "cat", image, "/var/lib/dpkg/status"],
                  f"reading the dpkg status of {image}", deadline)
    (work / "status").write_bytes(status.stdout)
    _run(["apt-get", "-q", "-y", "--no-install-recommends", "-o", f"Dir::State::status={work / 'status'}",
          "-o", f"Dir::Cache::archives={work / 'archives'}", "-o", "Debug::NoLocking=1",
          "-o", "APT::Sandbox::User=root", "install", "--download-only", *PACKAGES],
         f"apt-get download of {', '.join(PACKAGES)}", deadline)
    debs = []
    for deb in sorted((work / "archives").glob("*.deb")):
        debs.append(target / deb.name)
        shutil.move(str(deb), debs[-1])
    shutil.rmtree(work, ignore_errors=True)
    if not debs:
        raise EnvironmentProblem(f"apt resolved nothing to download for {', '.join(PACKAGES)} against {image}")
    return debs
