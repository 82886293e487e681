"""Fake database tools for the preset tests: programs on a private PATH that replay outputs and record their calls.

Each fake is a small Python program written under the real tool's name (``sqlcmd``,
``mongodump``, …) into a temporary ``bin`` directory placed first on PATH; the preset's script
runs in a real ``/bin/sh`` with the real coreutils, sed, grep, sort and comm. A fake finds the
first step of its plan whose ``when`` regex matches its joined argv, records the call (argv,
the environment variables a preset may set, stdin) and replays the step: stdout, stderr, exit
code, and optionally a file written where an environment variable points (SQL Server writes
its ``.bak`` itself). Recorded real outputs come from ``fixtures/presets/*.txt``: a header of
``#`` lines citing where each was recorded, then ``--- output`` and the output itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dr_lib.hooks.presets import PRESETS, preset_command, with_census

FIXTURES = Path(__file__).parent / "fixtures" / "presets"
TOOLS = ("pg_dump", "pg_restore", "psql", "mariadb-dump", "mariadb", "sqlcmd", "mongodump", "mongorestore",
         "mongosh", "redis-cli", "redis-server", "sqlite3")
_RECORDED_ENV = ("K3S_DR_", "SQLCMD", "MONGO", "MYSQL", "PG", "DB_", "REDIS", "SQLITE", "MSSQL")

_FAKE = """#!{python}
# FAKE {tool}: a stand-in for tests only, never a database tool. Records argv, environment and stdin; replays its plan.
import json, os, re, sys
args = sys.argv[1:]
root = os.environ["FAKE_TOOLS_DIR"]
with open(os.path.join(root, "plan.json")) as handle:
    steps = json.load(handle).get("{tool}", [])
step = next((s for s in steps if re.search(s["when"], " ".join(args), re.S)), {{}})
data = sys.stdin.buffer.read()
env = {{k: v for k, v in os.environ.items() if k.startswith({prefixes!r})}}
with open(os.path.join(root, "calls.jsonl"), "a") as log:
    log.write(json.dumps({{"tool": "{tool}", "argv": args, "env": env, "stdin": data.hex()}}) + "\\n")
if step.get("write_env"):
    with open(os.environ[step["write_env"]], "wb") as out:
        out.write(bytes.fromhex(step["write"]))
if step.get("write_last_arg"):
    with open(args[-1], "wb") as out:
        out.write(bytes.fromhex(step["write"]))
sys.stdout.buffer.write(bytes.fromhex(step.get("stdout", "")))
sys.stderr.buffer.write(bytes.fromhex(step.get("stderr", "")))
sys.exit(step.get("exit", 0))
"""


def recorded(name: str) -> bytes:
    """The output part of a fixture (everything after the ``--- output`` line)."""
    text = (FIXTURES / name).read_bytes()
    marker = b"\n--- output\n"
    assert marker in text and text.startswith(b"# "), f"{name}: a cited header, then '--- output'"
    return text.split(marker, 1)[1]


@dataclass(frozen=True)
class Step:
    when: str = ""  # regex over the joined argv; "" matches every call
    stdout: bytes = b""
    stderr: bytes = b""
    exit: int = 0
    write_env: str | None = None  # write ``write`` to the file this environment variable names
    write_last_arg: bool = False  # write ``write`` to the file named by the last argument (redis-cli --rdb F)
    write: bytes = b""

    def to_json(self) -> dict[str, Any]:
        return {"when": self.when, "stdout": self.stdout.hex(), "stderr": self.stderr.hex(), "exit": self.exit,
                "write_env": self.write_env, "write_last_arg": self.write_last_arg, "write": self.write.hex()}


@dataclass(frozen=True)
class Call:
    tool: str
    argv: list[str]
    env: dict[str, str]
    stdin: bytes


@dataclass
class FakeTools:
    root: Path
    plans: dict[str, list[Step]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        (self.root / "bin").mkdir(parents=True, exist_ok=True)
        (self.root / "tmp").mkdir(exist_ok=True)
        for tool in TOOLS:
            fake = self.root / "bin" / tool
            fake.write_text(_FAKE.format(python=sys.executable, tool=tool, prefixes=_RECORDED_ENV))
            fake.chmod(0o755)
        self._write_plan()

    def plan(self, tool: str, *steps: Step) -> None:
        self.plans[tool] = list(steps)
        self._write_plan()

    def _write_plan(self) -> None:
        (self.root / "plan.json").write_text(json.dumps({t: [s.to_json() for s in steps]
                                                         for t, steps in self.plans.items()}))

    def run(self, preset: str, phase: str, params: Mapping[str, str] | None = None,
            env: Mapping[str, str] | None = None, stdin: bytes = b"",
            census: Mapping[str, Any] | None = None) -> subprocess.CompletedProcess[bytes]:
        """The preset's command for ``phase`` in a real /bin/sh with only the fakes and the base system on PATH."""
        command = preset_command(PRESETS[preset], phase, dict(params or {}))
        assert command is not None and command[:2] == ("/bin/sh", "-c")
        command = with_census(command, preset, census)
        full_env = {"PATH": f"{self.root / 'bin'}:/usr/bin:/bin", "FAKE_TOOLS_DIR": str(self.root),
                    "TMPDIR": str(self.root / "tmp"), **(env or {})}
        return subprocess.run(list(command), input=stdin, capture_output=True, env=full_env, timeout=60, check=False)

    def calls(self, tool: str | None = None) -> list[Call]:
        log = self.root / "calls.jsonl"
        if not log.exists():
            return []
        calls = [json.loads(line) for line in log.read_text().splitlines()]
        return [Call(c["tool"], c["argv"], c["env"], bytes.fromhex(c["stdin"])) for c in calls
                if tool is None or c["tool"] == tool]

    def forget(self) -> None:
        (self.root / "calls.jsonl").unlink(missing_ok=True)

    def leftovers(self) -> list[Path]:
        """Files the scripts left in their TMPDIR (each must clean up after itself)."""
        return sorted((self.root / "tmp").iterdir())
