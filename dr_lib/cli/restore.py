"""`k3s-dr` commands of this group (filled in by its feature)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
