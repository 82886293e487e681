"""Reading what a Go binary says about its own build (``go version -m``): pure parsing
plus the one call, so the binaries cache can tell whether an existing binary is the one
it would build."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from k3s_dr_testbed.clusters.spec import ToolMissing


@dataclass(frozen=True)
class GoBuildInfo:
    path: str = ""  # the main package
    main_module: str = ""
    main_version: str = ""
    deps: dict[str, str] = field(default_factory=dict)  # module -> version (after replacements)
    settings: dict[str, str] = field(default_factory=dict)  # "-trimpath" -> "true", "CGO_ENABLED" -> "1"


def parse_build_info(text: str) -> GoBuildInfo:
    path = main_module = main_version = ""
    deps: dict[str, str] = {}
    settings: dict[str, str] = {}
    for line in text.splitlines():
        fields = line.strip().split("\t")
        if len(fields) < 2:
            continue
        kind = fields[0]
        if kind == "path":
            path = fields[1]
        elif kind == "mod" and len(fields) >= 3:
            main_module, main_version = fields[1], fields[2]
        elif kind == "dep" and len(fields) >= 3:
            deps[fields[1]] = fields[2]
        elif kind == "=>" and len(fields) >= 3 and deps:
            # A replacement line follows its dep: the replacement's version is what was built.
            last = next(reversed(deps))
            deps[last] = fields[2]
        elif kind == "build" and "=" in fields[1]:
            key, _, value = fields[1].partition("=")
            settings[key] = value
    return GoBuildInfo(path, main_module, main_version, deps, settings)


def go_binary() -> str:
    found = shutil.which("go")
    if found is None:
        raise ToolMissing(
            "the Go toolchain ('go') is not on PATH: it builds the cluster binaries",
            hint="install Go >= 1.24 (https://go.dev/dl/) and run `k3s-dr cluster build` again")
    return found


def read_build_info(binary: Path) -> GoBuildInfo | None:
    """The binary's build info, or None if it has none (not a Go binary, unreadable)."""
    try:
        result = subprocess.run([go_binary(), "version", "-m", str(binary)], capture_output=True, text=True,
                                timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    return parse_build_info(result.stdout)
