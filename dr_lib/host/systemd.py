"""``systemctl`` with a deadline, and what it says about our units (parsed by dr_lib.checks.units)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence

from dr_lib.checks.units import SHOW_PROPERTIES, HostClock, UnitFacts, parse_units
from dr_lib.errors import DeadlineExceeded, EnvironmentProblem

Systemctl = Callable[..., str]
SYSTEMCTL_SECONDS = 90.0  # `enable --now` of a timer, a daemon-reload on a busy host


def systemctl(*args: str) -> str:
    """Run ``systemctl ARGS``; its stdout, or an EnvironmentProblem quoting its stderr."""
    try:
        done = subprocess.run(["systemctl", *args], capture_output=True, text=True, timeout=SYSTEMCTL_SECONDS,
                              check=False)
    except FileNotFoundError:
        raise EnvironmentProblem("systemctl is not installed: this host does not run systemd") from None
    except subprocess.TimeoutExpired:
        raise DeadlineExceeded(f"systemctl {' '.join(args)} did not finish in {SYSTEMCTL_SECONDS:.0f}s") from None
    if done.returncode != 0:
        raise EnvironmentProblem(f"systemctl {' '.join(args)} failed (exit {done.returncode}): "
                                 f"{done.stderr.strip()[-300:] or done.stdout.strip()[-300:]}")
    return done.stdout


def unit_states(run: Systemctl, names: Sequence[str]) -> dict[str, UnitFacts]:
    """States of ``names`` (times are not needed here, so no clock is read)."""
    return parse_units(run("show", "-p", ",".join(SHOW_PROPERTIES), *names), names, HostClock(0.0, 0.0))
