"""The real node's dealings with the machine: required tools, processes, the bridge, ctr.

Processes are found again by pid *and* by their command line naming the node's directory,
so a recycled pid is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dr_lib.errors import DeadlineExceeded, EnvironmentProblem
from k3s_dr_testbed.realnode.config import CNI_BIN_DIR, MAX_NETWORKS, NodeNetwork, network_for_index

_POLL = 0.1
_CMDLINE_SECONDS = 2.0


@dataclass(frozen=True)
class Requirement:
    tool: str  # a name on PATH or an absolute path
    package: str  # the Debian package that provides it
    why: str


# Not here: conntrack. kube-proxy needs it, we run none; the kubelet only names iptables' conntrack
# match in the utility chains, which our kubelet config turns off (makeIPTablesUtilChains: false).
REQUIREMENTS = (
    Requirement("containerd", "containerd", "runs the node's containers"),
    Requirement("containerd-shim-runc-v2", "containerd", "supervises each container"),
    Requirement("ctr", "containerd", "imports the locally built images into containerd"),
    Requirement("runc", "runc", "creates the containers"),
    Requirement(str(CNI_BIN_DIR / "bridge"), "containernetworking-plugins", "connects pods to the node's bridge"),
    Requirement(str(CNI_BIN_DIR / "host-local"), "containernetworking-plugins", "gives pods their IP addresses"),
    Requirement(str(CNI_BIN_DIR / "loopback"), "containernetworking-plugins", "brings up lo in each pod"),
    Requirement("ip", "iproute2", "creates and deletes the node's bridge"),
    # no registry can be reached: the pause and Debian images are built here
    Requirement("dockerd", "docker.io", "the Docker engine builds the node's images locally"),
    Requirement("debootstrap", "debootstrap", "builds the Debian image the pods run"),
    Requirement("gcc", "gcc", "compiles the static pause binary (with libc6-dev)"),
)


# Debian puts ip, runc and dockerd in sbin, which a non-login PATH (cron, CI) may lack.
SBIN_DIRS = "/usr/local/sbin:/usr/sbin:/sbin"


def find_tool(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path=SBIN_DIRS)


def tool(name: str) -> str:
    found = find_tool(name)
    if found is None:
        req = next((r for r in REQUIREMENTS if r.tool == name), None)
        package = req.package if req else name
        raise EnvironmentProblem(f"{name} is not installed", hint=f"apt-get install -y {package}")
    return found


def daemon_env() -> dict[str, str]:
    """Our environment with sbin on PATH: containerd's shims look runc up there."""
    env = dict(os.environ)
    env["PATH"] = f"{env.get('PATH', '/usr/bin:/bin')}:{SBIN_DIRS}"
    return env


def missing_requirements(which: Callable[[str], str | None] = find_tool) -> list[Requirement]:
    """Requirements not on this machine (``which`` is replaceable in unit tests)."""
    missing = []
    for req in REQUIREMENTS:
        present = Path(req.tool).is_file() if req.tool.startswith("/") else which(req.tool) is not None
        if not present:
            missing.append(req)
    return missing


def require_tools() -> None:
    missing = missing_requirements()
    if missing:
        packages = sorted({req.package for req in missing})
        names = ", ".join(f"{req.tool} ({req.why})" for req in missing)
        raise EnvironmentProblem(
            f"the real node needs tools that are not installed: {names}",
            hint=f"install the Debian packages: apt-get install -y {' '.join(packages)}",
        )
    if os.geteuid() != 0:
        raise EnvironmentProblem("the real node needs root (containerd, mounts, network namespaces)")


# -- processes ---------------------------------------------------------------------------------------------


def start_process(argv: list[str], log: Path) -> int:
    """Start a daemon in its own session (a Ctrl-C aimed at the caller must not kill it half-way).

    Returns once /proc shows its command line: right after exec it reads empty for a moment,
    and every later check recognises our processes by it.
    """
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=daemon_env(),
        )
    until = time.monotonic() + _CMDLINE_SECONDS
    while cmdline(proc.pid) is None and proc.poll() is None and time.monotonic() < until:
        time.sleep(0.005)
    return proc.pid


def cmdline(pid: int) -> str | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.replace(b"\0", b" ").decode(errors="replace").strip() or None


def is_ours(pid: int, marker: str) -> bool:
    """Alive, not a zombie, and its command line names ``marker`` (our node's directory)."""
    line = cmdline(pid)
    if line is None or marker not in line:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def stop_process(pid: int, marker: str, grace: float) -> bool:
    """SIGTERM, wait ``grace`` seconds, then SIGKILL. True if it was running."""
    if not is_ours(pid, marker):
        return False
    os.kill(pid, signal.SIGTERM)
    until = time.monotonic() + grace
    while time.monotonic() < until:
        _reap(pid)
        if not is_ours(pid, marker):
            return True
        time.sleep(_POLL)
    os.kill(pid, signal.SIGKILL)
    until = time.monotonic() + 5
    while time.monotonic() < until and is_ours(pid, marker):
        _reap(pid)
        time.sleep(_POLL)
    return True


def pids_naming(marker: str) -> list[int]:
    """Every live process whose command line names ``marker`` (shims name our socket path)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid() and is_ours(int(entry.name), marker):
            found.append(int(entry.name))
    return found


# -- the bridge --------------------------------------------------------------------------------------------


def _ip(args: list[str], deadline: float) -> subprocess.CompletedProcess[str]:
    left = deadline - time.monotonic()
    if left <= 0:
        raise DeadlineExceeded(f"deadline passed before: ip {' '.join(args)}")
    return subprocess.run([tool("ip"), *args], capture_output=True, text=True, timeout=left, check=False)


def link_exists(name: str, deadline: float) -> bool:
    return _ip(["link", "show", "dev", name], deadline).returncode == 0


def _subnet_routed(subnet: str, deadline: float) -> bool:
    """True when a route for the subnet or a part of it exists (another network already uses it)."""
    return bool(_ip(["-4", "route", "show", "root", subnet], deadline).stdout.strip())


def claim_network(deadline: float) -> NodeNetwork:
    """Create the first free bridge k3sdr<i>: `ip link add` is atomic, so two nodes never share one."""
    for index in range(MAX_NETWORKS):
        network = network_for_index(index)
        if link_exists(network.bridge, deadline) or _subnet_routed(network.subnet, deadline):
            continue
        done = _ip(["link", "add", "name", network.bridge, "type", "bridge"], deadline)
        if done.returncode == 0:
            return network
        if "File exists" not in done.stderr:
            raise EnvironmentProblem(f"cannot create bridge {network.bridge}: {done.stderr.strip()}")
    raise EnvironmentProblem(
        f"all {MAX_NETWORKS} real-node bridges k3sdr0..k3sdr{MAX_NETWORKS - 1} are taken",
        hint="stop other clusters with a real node, or delete stale bridges: ip link del k3sdrN",
    )


def delete_link(name: str, deadline: float) -> str | None:
    """Delete a link; None when it is gone (or was never there), else the reason it stayed."""
    if not link_exists(name, deadline):
        return None
    done = _ip(["link", "del", "dev", name], deadline)
    if done.returncode != 0 and link_exists(name, deadline):
        return f"{name}: {done.stderr.strip()}"
    return None


# -- containerd through ctr --------------------------------------------------------------------------------


def ctr(socket: Path, args: list[str], deadline: float, what: str) -> str:
    left = deadline - time.monotonic()
    if left <= 0:
        raise DeadlineExceeded(f"deadline passed before: {what}")
    try:
        done = subprocess.run(
            [tool("ctr"), "--address", str(socket), "--namespace", "k8s.io", *args],
            capture_output=True,
            text=True,
            timeout=left,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise DeadlineExceeded(f"{what}: ctr did not finish before the deadline") from exc
    if done.returncode != 0:
        raise EnvironmentProblem(f"{what} failed: {done.stderr.strip()[-400:]}")
    return done.stdout


def wait_for_socket(socket: Path, pid: int, marker: str, log: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        if not is_ours(pid, marker):
            raise EnvironmentProblem(f"containerd exited at start; its log {log} says: {log_tail(log)}")
        if socket.exists():
            with contextlib.suppress(EnvironmentProblem):
                ctr(socket, ["version"], min(deadline, time.monotonic() + 5), "asking containerd its version")
                return
        time.sleep(_POLL)
    raise DeadlineExceeded(f"containerd did not answer on {socket} before the deadline; log: {log_tail(log)}")


def log_tail(log: Path, lines: int = 4) -> str:
    try:
        text = log.read_bytes()[-4096:].decode(errors="replace")
    except OSError:
        return "(no log)"
    return " | ".join(line for line in text.strip().splitlines()[-lines:])
