"""Loopback ports: choosing free ones, checking one, seeing what listens.

Ports are chosen at random below the kernel's ephemeral range (32768+), so a port we picked
is not handed out a moment later to some outgoing connection; callers also pass the ports
other clusters have recorded, so two clusters starting at once do not pick the same ones.
"""

from __future__ import annotations

import errno
import random
import socket
from collections.abc import Callable, Iterable
from pathlib import Path

from dr_lib.errors import EnvironmentProblem

LOOPBACK = "127.0.0.1"
PORT_RANGE = (20000, 32000)
_TCP_LISTEN = "0A"


def is_port_free(port: int, host: str = LOOPBACK) -> bool:
    """True if a listener could bind ``host:port`` now (with SO_REUSEADDR, as Go's servers do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def choose_ports(
    count: int,
    *,
    avoid: Iterable[int] = (),
    is_free: Callable[[int], bool] = is_port_free,
    rng: random.Random | None = None,
    port_range: tuple[int, int] = PORT_RANGE,
    attempts: int = 500,
) -> list[int]:
    """``count`` distinct ports in ``port_range`` that are free and not in ``avoid``."""
    chooser = rng or random.Random()  # noqa: S311 - spreading ports, not secrecy
    taken = set(avoid)
    chosen: list[int] = []
    for _ in range(attempts):
        if len(chosen) == count:
            break
        port = chooser.randint(*port_range)
        if port in taken:
            continue
        taken.add(port)
        if is_free(port):
            chosen.append(port)
    if len(chosen) < count:
        raise EnvironmentProblem(
            f"found only {len(chosen)} of {count} free loopback ports in {port_range[0]}-{port_range[1]}"
            f" after {attempts} tries")
    return chosen


def require_free(port: int, what: str) -> None:
    if not is_port_free(port):
        raise EnvironmentProblem(f"port {LOOPBACK}:{port} for {what} is taken by another process",
                                 hint="choose another port or stop what listens there")


def parse_listening(proc_net_tcp: str) -> set[int]:
    """Local ports in LISTEN state from the text of /proc/net/tcp or /proc/net/tcp6."""
    ports: set[int] = set()
    for line in proc_net_tcp.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 3 and fields[3] == _TCP_LISTEN:
            ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def listening_ports() -> set[int]:
    """Every TCP port something on this machine's network namespace listens on."""
    ports: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if path.exists():
            ports |= parse_listening(path.read_text())
    return ports
