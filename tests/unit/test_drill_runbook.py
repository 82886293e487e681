"""docs/runbook.md: its k3s-dr commands exist with these options (fast check; the e2e test runs them)."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from dr_lib.cli.main import load_command
from dr_lib.drill.runbook import command_blocks, k3s_dr_invocations

RUNBOOK = Path(__file__).resolve().parents[2] / "docs" / "runbook.md"
STAGES = ("Declare", "Pick the archive", "Verify", "Restore", "Check", "Report")
# Tools an operator has on any k3s host (coreutils, bash) besides k3s-dr: nothing to install mid-incident.
ALLOWED = {"k3s-dr", "date", "echo", "tee", "readlink", "sha256sum", "cat", "mkdir", "set", "export", "cd"}


def test_runbook_has_the_planned_stages_in_order() -> None:
    headings = re.findall(r"^## \d+\. (.+)$", RUNBOOK.read_text(), re.MULTILINE)
    positions = [next(i for i, h in enumerate(headings) if h.startswith(stage)) for stage in STAGES]
    assert positions == sorted(positions)


def test_runbook_uses_only_tools_every_host_has() -> None:
    words = set()
    for block in command_blocks(RUNBOOK.read_text()):
        for command in re.split(r"\||&&|\(|\$\(|;|\n", block):
            parts = command.strip().split()
            if parts and "=" not in parts[0] and not parts[0].startswith((">", '"', "$", ")")):
                words.add(parts[0])
    assert words <= ALLOWED, words - ALLOWED


def test_every_k3s_dr_command_parses_with_the_real_cli(tmp_path: Path) -> None:
    placeholders = {"$ARCHIVE": tmp_path / "a.tar.gz", "$KUBECONFIG": tmp_path / "kubeconfig",
                    "$BACKUP_DIR": tmp_path / "backups"}
    for path in placeholders.values():
        path.touch() if path.suffix or path.name == "kubeconfig" else path.mkdir()
    invocations = k3s_dr_invocations(RUNBOOK.read_text())
    assert {args[0] for args in invocations} == {"list", "verify", "restore", "diff"}
    for args in invocations:
        command = load_command(args[0])
        concrete = [str(placeholders.get(arg, arg)) for arg in args[1:]]
        try:
            command.make_context(args[0], concrete)
        except click.ClickException as exc:
            pytest.fail(f"`k3s-dr {' '.join(args)}` does not parse: {exc.format_message()}")
