"""Running ``k3s-dr`` from restore tests: in-process (fast, for many cases) or as a process (the contract)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dr_lib.cli.main import main


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        lines = [line for line in self.stdout.splitlines() if line.startswith("{")]
        assert lines, f"no JSON on stdout (exit {self.code}): {self.stdout!r} {self.stderr[-2000:]!r}"
        value: dict[str, Any] = json.loads(lines[-1])
        return value


def write_config(directory: Path, backup_dir: Path | None = None) -> Path:
    """A config whose every path is inside ``directory`` (state, lock, backups)."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "config.yaml"
    config.write_text(
        f"backup:\n  dir: {backup_dir or directory / 'backups'}\n  lock_file: {directory / 'lock' / 'k3s-dr.lock'}\n"
        f"restore:\n  state_dir: {directory / 'state'}\n  wait_timeout: 90s\n", encoding="utf-8")
    return config


def run_inprocess(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> Run:
    capsys.readouterr()
    code = main(["--config", str(config), *args])
    out = capsys.readouterr()
    return Run(code, out.out, out.err)


def run_process(config: Path, *args: str, timeout: float = 300.0) -> Run:
    result = subprocess.run([sys.executable, "-m", "dr_lib", "--config", str(config), *args],
                            capture_output=True, text=True, timeout=timeout, check=False)
    return Run(result.returncode, result.stdout, result.stderr)
