"""The one skip every real-node test shares: it names what this machine lacks (in CI: a failure)."""

from __future__ import annotations

import os

import pytest

from k3s_dr_testbed.realnode.host import missing_requirements
from tests.skip_rule import unavailable


def skip_unless_real_node(config: pytest.Config) -> None:
    if config.getoption("--cluster") != "local":
        pytest.skip("the real node runs only with --cluster=local")
    if os.geteuid() != 0:
        unavailable("the real node needs root (containerd, mounts, network namespaces)")
    missing = missing_requirements()
    if missing:
        unavailable("the real node needs: " + ", ".join(f"{m.tool} (apt-get install {m.package})" for m in missing))
