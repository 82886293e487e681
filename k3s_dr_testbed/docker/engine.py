"""Finding and starting the Docker engine, and the few image operations the project needs.

Nothing here pulls: no image registry can be reached on our machines, every image is built
locally (see :mod:`k3s_dr_testbed.docker.images`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from dr_lib.atomic import fsync_dir
from dr_lib.errors import DeadlineExceeded, EnvironmentProblem
from k3s_dr_testbed.docker import filelock
from k3s_dr_testbed.docker._proc import log_tail, run, seconds_left

ENGINE_PACKAGE = "docker.io"  # Debian package with dockerd, containerd and runc
CACHE_DIR = Path.home() / ".cache" / "k3s-dr"
DOCKERD_LOG = CACHE_DIR / "dockerd.log"
_ENGINE_LOCK = CACHE_DIR / "locks" / "dockerd.lock"
_INFO_POLL_SECONDS = 0.5
DOCKERD_CANDIDATES = ("/usr/sbin/dockerd", "/usr/bin/dockerd")  # sbin may be off PATH
_INFO_CALL_SECONDS = 10.0


@dataclass(frozen=True)
class Engine:
    """A Docker engine that answered ``docker info``."""

    cli: str  # the docker client used for every call
    server_version: str
    started_by_us: bool


def docker_cli() -> str:
    """The Docker client: Debian's (it matches Debian's dockerd), else whatever is on PATH."""
    for candidate in ("/usr/bin/docker", shutil.which("docker")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise EnvironmentProblem(
        "the docker client is not installed",
        hint=f"install the Debian package {ENGINE_PACKAGE}: apt-get install -y {ENGINE_PACKAGE}",
    )


def _server_version(cli: str) -> str | None:
    try:
        done = subprocess.run(
            [cli, "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            timeout=_INFO_CALL_SECONDS,
            check=False,
        )
    except (subprocess.TimeoutExpired, OSError):
        return None
    version = done.stdout.decode(errors="replace").strip()
    return version if done.returncode == 0 and version else None


def _dockerd() -> str:
    found = shutil.which("dockerd") or next((c for c in DOCKERD_CANDIDATES if Path(c).is_file()), None)
    if found is None:
        raise EnvironmentProblem(
            "no Docker engine: `docker info` fails and dockerd is not installed",
            hint=f"install the Debian package {ENGINE_PACKAGE}: apt-get install -y {ENGINE_PACKAGE}",
        )
    if os.geteuid() != 0:
        raise EnvironmentProblem(f"the Docker engine is not running and only root can start {found}")
    return found


def _start_dockerd(dockerd: str) -> None:
    DOCKERD_LOG.parent.mkdir(parents=True, exist_ok=True)
    with DOCKERD_LOG.open("ab") as log:
        # Its own session: the engine outlives this process and a Ctrl-C aimed at the test run.
        subprocess.Popen(
            [dockerd],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def ensure_engine(deadline: float) -> Engine:
    """Return a running engine, starting dockerd in the background if none answers.

    ``deadline`` is a ``time.monotonic()`` value. The engine is a machine service: it is left
    running for later calls and other clusters.
    """
    cli = docker_cli()
    version = _server_version(cli)
    if version:
        return Engine(cli, version, started_by_us=False)
    dockerd = _dockerd()
    with filelock.held(_ENGINE_LOCK, deadline, "starting the Docker engine"):
        version = _server_version(cli)  # another process may have started it while we waited
        if version:
            return Engine(cli, version, started_by_us=False)
        _start_dockerd(dockerd)
        while time.monotonic() < deadline:
            version = _server_version(cli)
            if version:
                return Engine(cli, version, started_by_us=True)
            time.sleep(_INFO_POLL_SECONDS)
    raise DeadlineExceeded(
        f"dockerd did not answer `docker info` before the deadline; its log says: {log_tail(DOCKERD_LOG)}"
    )


def image_id(tag: str, deadline: float) -> str | None:
    """The local image's ID, or None when the engine has no such image."""
    cli = docker_cli()
    try:
        done = subprocess.run(
            [cli, "image", "inspect", "--format", "{{.Id}}", tag],
            capture_output=True,
            timeout=seconds_left(deadline, f"inspecting image {tag}"),
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise DeadlineExceeded(f"docker image inspect {tag} did not answer before the deadline") from exc
    if done.returncode != 0:
        return None
    return done.stdout.decode().strip() or None


def image_label(tag: str, label: str, deadline: float) -> str | None:
    out = run(
        [docker_cli(), "image", "inspect", "--format", f'{{{{index .Config.Labels "{label}"}}}}', tag],
        deadline,
        f"reading label {label} of image {tag}",
    ).strip()
    return None if out in ("", "<no value>") else out


def save_image(tag: str | list[str], path: Path, deadline: float | None = None) -> Path:
    """``docker save`` one image (or several sharing layers) to ``path`` atomically."""
    tags = [tag] if isinstance(tag, str) else list(tag)
    limit = deadline if deadline is not None else time.monotonic() + 300
    ensure_engine(limit)
    for one in tags:
        if image_id(one, limit) is None:
            raise EnvironmentProblem(f"image {one} is not in the local Docker engine; build it first")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        run([docker_cli(), "save", "-o", str(partial), *tags], limit, f"saving image {', '.join(tags)}")
        with partial.open("rb") as written:
            os.fsync(written.fileno())
        partial.replace(path)
        fsync_dir(path.parent)
    finally:
        partial.unlink(missing_ok=True)
    return path


def tag_image(source: str, target: str, deadline: float) -> None:
    run([docker_cli(), "tag", source, target], deadline, f"tagging {source} as {target}")
