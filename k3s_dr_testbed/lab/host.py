"""A reference host: a container booting systemd as PID 1 with the k3s stand-in, k3s-dr installed
(``k3s-dr install``) and one real backup taken — the same host for operators and for tests.

Containers are started with testcontainers (imported lazily: it fails at import without a
Docker engine) and the flags that work on our machines (``--privileged`` does not). Ryuk, the
reaper, cannot be pulled here: every container is removed by us (:func:`host_down`, or on any
failure while starting). ``docker restart`` of the container is a real boot.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dr_lib.errors import DeadlineExceeded, EnvironmentProblem, UsageError
from k3s_dr_testbed.docker import docker_cli, ensure_engine
from k3s_dr_testbed.lab.image import ensure_host_image, ensure_standin_image
from k3s_dr_testbed.lab.standin import STANDIN_DIR

LAB_LABEL = "org.k3s-dr.lab-host"
# How far a host is set up: "installed" (k3s-dr in its venv, `k3s-dr install`, the app and one backup),
# "package" (k3s-dr in its venv only: nothing installed on the host yet), "bare" (a k3s server without k3s-dr).
STAGES = ("installed", "package", "bare")
_POLL = 0.25
_EXEC_SECONDS = 180.0


@dataclass(frozen=True)
class ReferenceHost:
    name: str
    image: str
    container_id: str
    seconds: float  # from the call to a host ready for use (image check or build included)
    boot_seconds: float = 0.0  # from container start to k3s ready

    @property
    def hosts_spec(self) -> str:
        """What testinfra's ``--hosts`` takes for this host."""
        return f"docker://{self.name}"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "hosts": self.hosts_spec, "image": self.image, "container_id": self.container_id,
                "seconds": round(self.seconds, 2), "boot_seconds": round(self.boot_seconds, 2)}


def exec_in(name: str, command: str, deadline: float | None = None, *, check: bool = True) -> tuple[int, str]:
    """Run a shell command in the host; (exit status, stdout+stderr). Raises on failure when ``check``."""
    limit = (deadline - time.monotonic()) if deadline is not None else _EXEC_SECONDS
    if limit <= 0:
        raise DeadlineExceeded(f"no time left to run in {name}: {command}")
    try:
        done = subprocess.run([docker_cli(), "exec", name, "/bin/sh", "-c", command], capture_output=True,
                              timeout=limit, check=False)
    except subprocess.TimeoutExpired:
        raise DeadlineExceeded(f"{command!r} in {name} did not finish before the deadline") from None
    output = (done.stdout + done.stderr).decode(errors="replace")
    if check and done.returncode != 0:
        raise EnvironmentProblem(f"{command!r} failed in {name} (exit {done.returncode}): {output.strip()[-600:]}")
    return done.returncode, output


def _testcontainers() -> Any:
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")  # its image cannot be pulled here
    try:
        from testcontainers.core.container import DockerContainer  # noqa: PLC0415 - lazily, see above
    except Exception as exc:  # noqa: BLE001 - it raises various errors at import without an engine
        raise EnvironmentProblem(f"testcontainers cannot be used: {type(exc).__name__}: {exc}") from None
    return DockerContainer


def _container(image: str, name: str) -> Any:
    return (
        _testcontainers()(image)
        .with_name(name)
        .with_env("container", "docker")
        .with_volume_mapping("/sys/fs/cgroup", "/sys/fs/cgroup", "rw")
        .with_tmpfs_mount("/run")
        .with_tmpfs_mount("/run/lock")
        .with_tmpfs_mount("/tmp")
        .with_kwargs(cap_add=["SYS_ADMIN"], security_opt=["seccomp=unconfined"], hostname=name,
                     labels={LAB_LABEL: name})
    )


def wait_booted(name: str, deadline: float) -> str:
    """Until systemd reports the system running (or degraded: some unit failed; the checks say which)."""
    state = "unknown"
    while time.monotonic() < deadline:
        _, out = exec_in(name, "systemctl is-system-running", deadline, check=False)
        state = out.strip().splitlines()[-1] if out.strip() else "unknown"
        if state in ("running", "degraded"):
            return state
        time.sleep(_POLL)
    raise DeadlineExceeded(f"{name} did not finish booting before the deadline (systemd says {state!r})")


def wait_k3s(name: str, deadline: float) -> None:
    """k3s.service is active only once the API server answered /readyz (its ExecStartPost)."""
    while time.monotonic() < deadline:
        _, out = exec_in(name, "systemctl is-active k3s.service", deadline, check=False)
        state = out.strip()
        if state == "active":
            return
        if state == "failed":
            _, log = exec_in(name, "journalctl -u k3s.service -n 20 --no-pager", deadline, check=False)
            raise EnvironmentProblem(f"the k3s stand-in failed to start in {name}: {log.strip()[-800:]}")
        time.sleep(_POLL)
    raise DeadlineExceeded(f"the k3s stand-in in {name} was not ready before the deadline")


def prepare(name: str, deadline: float) -> None:
    """Seed the app, install k3s-dr, take one backup through its own unit (a real run)."""
    exec_in(name, f"{STANDIN_DIR}/seed-app", deadline)
    exec_in(name, "k3s-dr install", deadline)
    code, out = exec_in(name, "systemctl start k3s-dr-backup.service", deadline, check=False)
    if code != 0:
        _, log = exec_in(name, "journalctl -u k3s-dr-backup.service -n 30 --no-pager", deadline, check=False)
        raise EnvironmentProblem(f"the first backup failed in {name}: {out.strip()} {log.strip()[-800:]}")


def host_up(name: str, bin_dir: Path, deadline: float, *, stage: str = "installed") -> ReferenceHost:
    """Start a reference host named ``name`` set up as far as ``stage`` (:data:`STAGES`); on any failure
    nothing is left behind."""
    started = time.monotonic()
    ensure_engine(deadline)
    if stage not in STAGES:
        raise UsageError(f"unknown reference host stage {stage!r}; accepted: {', '.join(STAGES)}")
    if _exists(name):
        raise UsageError(f"a container named {name!r} already exists", hint=f"k3s-dr lab host down --name {name}")
    image = ensure_standin_image(bin_dir, deadline) if stage == "bare" else ensure_host_image(bin_dir, deadline)
    container = _container(image, name)
    try:
        begun = time.monotonic()
        container.start()
        wait_booted(name, deadline)
        wait_k3s(name, deadline)
        booted = time.monotonic() - begun
        if stage == "installed":
            prepare(name, deadline)
    except BaseException:
        host_down(name)
        raise
    wrapped = container.get_wrapped_container()
    return ReferenceHost(name, image, str(wrapped.id), time.monotonic() - started, booted)


def _exists(name: str) -> bool:
    done = subprocess.run([docker_cli(), "container", "inspect", name], capture_output=True, timeout=30, check=False)
    return done.returncode == 0


def host_down(name: str) -> bool:
    """Remove the host's container (with its anonymous volumes); False when there was none."""
    if not _exists(name):
        return False
    done = subprocess.run([docker_cli(), "rm", "-f", "-v", name], capture_output=True, timeout=60, check=False)
    if done.returncode != 0:
        raise EnvironmentProblem(f"cannot remove {name}: {done.stderr.decode(errors='replace').strip()}")
    return True


def restart(name: str, deadline: float) -> None:
    """A real boot: the container restarts, systemd runs every enabled unit again."""
    left = deadline - time.monotonic()
    done = subprocess.run([docker_cli(), "restart", "-t", "10", name], capture_output=True, timeout=max(1.0, left),
                          check=False)
    if done.returncode != 0:
        raise EnvironmentProblem(f"docker restart {name} failed: {done.stderr.decode(errors='replace').strip()}")
    wait_booted(name, deadline)
    wait_k3s(name, deadline)
