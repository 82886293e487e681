"""The DR runbook's commands, read from docs/runbook.md, so tests run exactly what it says. Pure."""

from __future__ import annotations

import re
import shlex

_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)
_SEPARATORS = {"|", "||", "&&", ";", ">", ">>", "<", "2>", "2>&1"}


def command_blocks(markdown: str) -> list[str]:
    """Every ```bash block, in document order."""
    return [match.group(1) for match in _BLOCK.finditer(markdown)]


def script(markdown: str) -> str:
    """The blocks as one script: a runbook is run top to bottom in one shell."""
    return "\n".join(command_blocks(markdown))


def k3s_dr_invocations(markdown: str) -> list[list[str]]:
    """Each ``k3s-dr …`` command of the blocks as its argument list (up to a pipe or redirection)."""
    found: list[list[str]] = []
    for block in command_blocks(markdown):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            for start, word in enumerate(words):
                if word != "k3s-dr":
                    continue
                args: list[str] = []
                for arg in words[start + 1:]:
                    if arg in _SEPARATORS:
                        break
                    args.append(arg)
                found.append(args)
    return found
