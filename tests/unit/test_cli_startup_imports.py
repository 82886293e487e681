"""What a command loads before it does anything: the CLI loads command modules lazily, and the
jobs import heavy features only when they run them (a backup records its metrics, and pushes,
only after the backup; a drill loads pytest only when it runs). Each case runs in a fresh
interpreter and lists what got imported."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import json, sys
from dr_lib.cli.main import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""

HEAVY = ("kubernetes", "pytest", "prometheus_client", "boto3", "testcontainers", "testinfra")


def _loaded(*args: str) -> set[str]:
    run = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120,
                         check=False)
    result = json.loads(run.stdout.splitlines()[-1])
    assert result["code"] == 0, run.stderr
    return set(result["modules"])


def _tops(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


@pytest.mark.parametrize(("args", "not_loaded"), [
    (["--version"], ("dr_lib.jobs", "dr_lib.backup", "dr_lib.restore", "orjson")),
    (["backup", "--help"], ("dr_lib.metrics", "dr_lib.offsite", "dr_lib.jobs.push", "dr_lib.drill.runner",
                            "dr_lib.restore")),
    (["restore", "--help"], ("dr_lib.metrics", "dr_lib.backup.run", "dr_lib.drill.runner", "dr_lib.offsite", "pyrage",
                             "dr_lib.restore.auto_runner", "dr_lib.restore.datastore")),
    (["drill", "--help"], ("dr_lib.drill.runner", "dr_lib.drill.run", "dr_lib.metrics")),
    (["push", "--help"], ("dr_lib.metrics", "dr_lib.backup.run")),
])
def test_a_command_starts_without_what_it_does_not_need_yet(args: list[str], not_loaded: tuple[str, ...]) -> None:
    loaded = _loaded(*args)
    assert not _tops(loaded) & set(HEAVY), sorted(_tops(loaded) & set(HEAVY))
    early = sorted(m for m in loaded if any(m == name or m.startswith(name + ".") for name in not_loaded))
    assert not early, early
