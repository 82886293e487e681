"""``k3s-dr lab``: sandboxes to try k3s-dr in, the same ones the tests use.

``k3s-dr lab host up --name NAME --json`` starts a reference host (systemd as PID 1 in a
container, a k3s stand-in as k3s.service, k3s-dr installed, one backup taken);
``pytest tests/checks --hosts=docker://NAME`` checks it; ``k3s-dr lab host drill --name NAME``
runs the boot drill on it; ``k3s-dr lab host down --name NAME`` removes it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from dr_lib.archive.fsutil import atomic_write
from dr_lib.cli.common import print_json
from dr_lib.cli.params import DURATION
from dr_lib.config import parse_duration
from dr_lib.errors import DRError
from k3s_dr_testbed.clusters.binaries import locate_binaries
from k3s_dr_testbed.lab.bootdrill_host import run_boot_drill
from k3s_dr_testbed.lab.host import host_down, host_up

UP_TIMEOUT = "15m"  # a cold first run also builds the Debian base image (~1.5 min) and the host image


@click.group("lab")
def lab() -> None:
    """Sandboxes to try k3s-dr in (containers on the local Docker engine)."""


@lab.group("host")
def host() -> None:
    """Reference hosts: systemd, a k3s stand-in and k3s-dr installed, in a container."""


@host.command("up")
@click.option("--name", required=True, help="Container name (then: pytest tests/checks --hosts=docker://NAME).")
@click.option("--timeout", "timeout", type=DURATION, default=UP_TIMEOUT, show_default=True,
              help="Time allowed, image builds included: 15m, 900s; a plain number is seconds.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def up(name: str, timeout: str, as_json: bool) -> None:
    """Start a reference host: installed, its units enabled, one backup taken."""
    started = host_up(name, locate_binaries(), time.monotonic() + parse_duration(timeout))
    if as_json:
        print_json(started.as_dict())
    else:
        click.echo(f"{name} is up in {started.seconds:.1f}s (image {started.image})")
        click.echo(f"  check it:   pytest tests/checks --hosts={started.hosts_spec}")
        click.echo(f"  get a shell: docker exec -it {name} bash")
        click.echo(f"  remove it:  k3s-dr lab host down --name {name}")


@host.command("down")
@click.option("--name", required=True, help="Container name given to `up`.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def down(name: str, as_json: bool) -> None:
    """Remove a reference host (its container and volumes)."""
    removed = host_down(name)
    if as_json:
        print_json({"name": name, "removed": removed})
    else:
        click.echo(f"{name} removed" if removed else f"{name}: no such host (nothing to do)")


@host.command("drill")
@click.option("--name", required=True, help="A reference host started with `up` (it is rebooted three times).")
@click.option("--timeout", "timeout", type=DURATION, default="10m", show_default=True,
              help="Time allowed: 10m, 600s; a plain number is seconds.")
@click.option("--evidence", "evidence_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the evidence JSON to this file.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (the evidence).")
def drill(name: str, timeout: str, evidence_path: str | None, as_json: bool) -> None:
    """The boot drill: lose the datastore, reboot, see the auto-restore bring the objects back;
    reboot again (no restore); lose it again the same day (restore again). docs/boot-drill.md"""
    result = run_boot_drill(name, time.monotonic() + parse_duration(timeout),
                            lambda line: click.echo(f"k3s-dr: {line}", err=True))
    if evidence_path:
        atomic_write(Path(evidence_path), (json.dumps(result, indent=2) + "\n").encode())
    if as_json:
        print_json(result)
    else:
        for boot in result["boots"]:
            rto = "" if boot["boot_rto_seconds"] is None else f", restored {boot['boot_rto_seconds']} s after boot"
            click.echo(f"{boot['verdict'].upper():4}  {boot['label']}: boot {boot['boot_seconds']} s{rto} — "
                       f"{(boot['decision'] or {}).get('reason')}")
        click.echo(f"boot drill: {result['verdict']}")
    if result["verdict"] != "pass":
        raise DRError("boot drill failed: " + "; ".join(result["reasons"])[:1500])


COMMANDS: list[click.Command] = [lab]
