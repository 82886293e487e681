"""What every command shares: the application context, JSON output, config loading."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import click

from dr_lib.config import Config, load_config


@dataclass
class AppContext:
    config_path: str | None = None
    debug: bool = False
    _config: Config | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config


def app(ctx: click.Context) -> AppContext:
    obj = ctx.find_root().obj
    if not isinstance(obj, AppContext):  # invoked without the root group (tests)
        obj = AppContext()
        ctx.find_root().obj = obj
    return obj


def print_json(value: Any) -> None:
    """One JSON object on stdout: the machine-readable result of a command."""
    click.echo(json.dumps(value, sort_keys=True, default=str))
