"""`k3s-dr drill --json` as an operator runs it: a process, one JSON object on stdout, progress on stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

DRILL_SECONDS = 600


def run_drill_cli(reports: Path, *extra: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any], str]:
    done = subprocess.run([sys.executable, "-m", "dr_lib", "drill", "--json", "--reports", str(reports), *extra],
                          capture_output=True, text=True, timeout=DRILL_SECONDS, env=env, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON on stdout (exit {done.returncode}); stderr:\n{done.stderr[-3000:]}"
    return done.returncode, json.loads(lines[-1]), done.stderr
