"""Archives of a live cluster for restore tests, made the way an operator makes them: ``k3s-dr backup``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from dr_lib.kube.client import Kube


def snapshot(kubeconfig: Path, directory: Path, _kube: Kube | None = None) -> Path:
    """``k3s-dr backup --all-resources`` of the cluster into ``directory``: every listable kind."""
    directory.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [sys.executable, "-m", "dr_lib", "backup", "--kubeconfig", str(kubeconfig), "--dir", str(directory),
         "--all-resources", "--no-datastore", "--json"], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise AssertionError(f"k3s-dr backup failed ({result.returncode}): {result.stderr}")
    return Path(json.loads(result.stdout.strip().splitlines()[-1])["archive"])
