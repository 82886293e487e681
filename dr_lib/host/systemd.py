"""``systemctl`` with a deadline, what it says about our units (parsed by dr_lib.checks.units), and
``sd_notify`` for a service started as ``Type=notify``."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping, Sequence

from dr_lib import proc
from dr_lib.checks.units import SHOW_PROPERTIES, HostClock, UnitFacts, parse_units
from dr_lib.errors import EnvironmentProblem, ToolMissing

Systemctl = Callable[..., str]
SYSTEMCTL_SECONDS = 90.0  # `enable --now` of a timer, a daemon-reload on a busy host


def systemctl(*args: str) -> str:
    """Run ``systemctl ARGS``; its stdout, or an EnvironmentProblem quoting its stderr."""
    try:
        done = proc.run(["systemctl", *args], timeout=SYSTEMCTL_SECONDS, check=False)
    except ToolMissing:
        raise ToolMissing("systemctl is not installed: this host does not run systemd") from None
    if done.returncode != 0:
        raise EnvironmentProblem(f"systemctl {' '.join(args)} failed (exit {done.returncode}): "
                                 f"{done.stderr.strip()[-300:] or done.stdout.strip()[-300:]}")
    return done.stdout


def unit_states(run: Systemctl, names: Sequence[str]) -> dict[str, UnitFacts]:
    """States of ``names`` (times are not needed here, so no clock is read)."""
    return parse_units(run("show", "-p", ",".join(SHOW_PROPERTIES), *names), names, HostClock(0.0, 0.0))


def notify(*fields: str, env: Mapping[str, str] | None = None) -> bool:
    """Tell systemd about this service (``READY=1``, ``STATUS=…``); False when not run by systemd.

    The protocol of sd_notify(3), without libsystemd: one datagram to ``$NOTIFY_SOCKET`` (a path,
    or ``@name`` in the abstract namespace). A failure to send is not an error of the service.
    """
    address = (os.environ if env is None else env).get("NOTIFY_SOCKET", "")
    if not address.startswith(("/", "@")):
        return False
    target = "\0" + address[1:] if address.startswith("@") else address
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        try:
            sock.sendto("\n".join(fields).encode(), target)
        except OSError:
            return False
    return True
