"""``k3s-dr lab``: sandboxes to try k3s-dr in, the same ones the tests use.

``k3s-dr lab host up --name NAME --json`` starts a reference host (systemd as PID 1 in a
container, a k3s stand-in as k3s.service, k3s-dr installed, one backup taken);
``pytest tests/checks --hosts=docker://NAME`` checks it; ``k3s-dr lab host down --name NAME``
removes it.
"""

from __future__ import annotations

import time

import click

from dr_lib.cli.common import print_json
from dr_lib.cluster.binaries import locate_binaries
from dr_lib.lab.host import host_down, host_up

UP_SECONDS = 900.0  # a cold first run also builds the Debian base image (~1.5 min) and the host image


@click.group("lab")
def lab() -> None:
    """Sandboxes to try k3s-dr in (containers on the local Docker engine)."""


@lab.group("host")
def host() -> None:
    """Reference hosts: systemd, a k3s stand-in and k3s-dr installed, in a container."""


@host.command("up")
@click.option("--name", required=True, help="Container name (then: pytest tests/checks --hosts=docker://NAME).")
@click.option("--timeout", "timeout", type=float, default=UP_SECONDS, show_default=True,
              help="Seconds allowed, image builds included.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def up(name: str, timeout: float, as_json: bool) -> None:
    """Start a reference host: installed, its units enabled, one backup taken."""
    started = host_up(name, locate_binaries(), time.monotonic() + timeout)
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


COMMANDS: list[click.Command] = [lab]
