"""The host conformance suite: one test per control of :data:`dr_lib.checks.controls.CONTROLS`, the
control ID as its test id (``-k DR-LINK-002``), on each host of testinfra's ``--hosts``.

The plugin (:mod:`dr_lib.hostcheck.plugin`) parametrizes ``dr_control`` from the table and
gathers ``dr_facts`` once per host; the test judges the control and concludes it: pass, fail,
skip (n/a) or xfail (waived). Run it with ``k3s-dr check``, ``pytest --pyargs dr_lib.hostcheck``
or, in the repository, ``pytest tests/checks``.
"""

from __future__ import annotations

import pytest

from dr_lib.checks.evaluate import judge
from dr_lib.checks.hostfacts import HostFacts
from dr_lib.checks.model import Control
from dr_lib.hostcheck.plugin import conclude


def test_control(dr_control: Control, dr_facts: HostFacts, request: pytest.FixtureRequest) -> None:
    conclude(request.node, judge(dr_control, dr_facts))
