"""docs/runbook.md: its k3s-dr commands exist with these options (fast check; the e2e test runs them)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from dr_lib.cli.main import load_command
from dr_lib.drill.runbook import k3s_dr_invocations, script

RUNBOOK = Path(__file__).resolve().parents[2] / "docs" / "runbook.md"
STAGES = ("Prepare", "Declare", "Decide", "Pick the archive", "Verify", "Restore", "Check", "Report")
# Tools an operator has on any k3s host besides k3s-dr (coreutils, bash and its builtins), each with why:
# nothing to install mid-incident.
ALLOWED = {
    "k3s-dr": "the tool itself", "date": "coreutils", "echo": "bash", "tee": "coreutils",
    "readlink": "coreutils", "sha256sum": "coreutils", "cat": "coreutils", "mkdir": "coreutils",
    "rm": "coreutils: the old seal before sealing again", "set": "bash", "export": "bash", "cd": "bash",
    "printf": "bash: the incident's variables, quoted", "[": "bash", ".": "bash: resuming reads the variables",
    "systemctl": "systemd: stopping and starting the backup timer (only where it is active)",
    "python3": "k3s-dr runs on it: reads the pull's JSON",
}
_KEYWORDS = {"if", "then", "else", "elif", "fi", "do", "done", "!", "{", "}", "while", "until"}


def _split_substitutions(text: str) -> tuple[str, list[str]]:
    """``text`` with each outermost ``$( … )`` (also within double quotes) replaced by a plain word, and
    the commands inside them (each again split the same way)."""
    outer, inner, i = [], [], 0
    while (start := text.find("$(", i)) != -1:
        depth, j, quote = 1, start + 2, ""
        while j < len(text) and depth:
            char = text[j]
            if quote:
                quote = "" if char == quote else quote
            elif char == "'":
                quote = char
            elif char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
            j += 1
        outer.append(text[i:start] + "SUBSTITUTED")
        inner.append(text[start + 2:j - 1])
        i = j
    return "".join(outer) + text[i:], inner


def command_words(script_text: str) -> set[str]:
    """The first word of every simple command of a bash script, the functions it defines left out."""
    words: set[str] = set()
    defined: set[str] = set()
    pending = [script_text]
    while pending:
        text, inner = _split_substitutions(pending.pop())
        pending += inner
        for line in text.replace("$?", "0").splitlines():
            tokens = list(shlex.shlex(line, posix=True, punctuation_chars=True))
            at_start, skip_to_do, after_redirect = True, False, False
            for index, token in enumerate(tokens):
                if skip_to_do:
                    skip_to_do = token != "do"
                elif after_redirect:
                    after_redirect = False
                elif (set(token) <= set("<>&") and ">" in token) or token == "<":
                    after_redirect = True
                elif set(token) <= set(";&|()") or (at_start and token in _KEYWORDS):
                    at_start = True
                elif token == "for" and at_start:
                    skip_to_do = True
                elif at_start and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", token):
                    continue  # an assignment before a command
                elif at_start:
                    if tokens[index + 1:index + 2] == ["()"]:
                        defined.add(token)
                    words.add(token)
                    at_start = False
    return words - defined


def test_runbook_has_the_planned_stages_in_order() -> None:
    headings = re.findall(r"^## \d+\. (.+)$", RUNBOOK.read_text(), re.MULTILINE)
    positions = [next(i for i, h in enumerate(headings) if h.startswith(stage)) for stage in STAGES]
    assert positions == sorted(positions)


def test_runbook_uses_only_tools_every_host_has() -> None:
    words = command_words(script(RUNBOOK.read_text()))
    assert "k3s-dr" in words and "python3" in words, "the reader sees commands inside $( ) too"
    assert words <= set(ALLOWED), words - set(ALLOWED)


def test_the_command_reader_finds_commands_where_bash_runs_them() -> None:
    block = ('x=1 curl a | grep b && if [ -f "$(wget -O- "$(id -u)")" ]; then f() { :; }; f; fi > out\n'
             'for n in a b; do jq .; done')
    assert command_words(block) == {"curl", "grep", "[", "wget", "id", ":", "jq"}


def test_every_k3s_dr_command_parses_with_the_real_cli(tmp_path: Path) -> None:
    placeholders = {"$ARCHIVE": tmp_path / "a.tar.gz", "$KUBECONFIG": tmp_path / "kubeconfig",
                    "$BACKUP_DIR": tmp_path / "backups", "$OFFSITE_TARGET": tmp_path / "office"}
    for path in placeholders.values():
        path.touch() if path.suffix or path.name == "kubeconfig" else path.mkdir()
    invocations = k3s_dr_invocations(RUNBOOK.read_text())
    assert {args[0] for args in invocations} == {"pull", "list", "verify", "restore", "diff"}
    for args in invocations:
        command = load_command(args[0])
        concrete = [str(placeholders.get(arg, arg)) for arg in args[1:]]
        try:
            command.make_context(args[0], concrete)
        except click.ClickException as exc:
            pytest.fail(f"`k3s-dr {' '.join(args)}` does not parse: {exc.format_message()}")
