"""Controls judged on this machine as the conformance suite judges a host, without systemd: the host's
config read with ``cat``, the probe sent as source to python3 and its JSON parsed (testinfra's local
backend), then the controls' own verdicts. Enough for every control that reads files only."""

from __future__ import annotations

import json
from pathlib import Path

import testinfra

from dr_lib.checks.evaluate import evaluate
from dr_lib.checks.gather import probe_command, read_config
from dr_lib.checks.hostfacts import HostFacts, file_facts_from_probe
from dr_lib.checks.model import Finding
from dr_lib.checks.waivers import WaiverSet


def judge_locally(config: Path, control_ids: tuple[str, ...]) -> dict[str, Finding]:
    host = testinfra.get_host("local://")

    def run(command: str) -> tuple[int, str, str]:
        result = host.run(command)
        return result.rc, result.stdout, result.stderr

    layout, problem, present = read_config(run, str(config), "local")
    assert problem is None and present, problem
    status, out, err = run(probe_command(layout.probe_request()))
    assert status == 0, err
    facts = HostFacts("local://", layout, file_facts_from_probe(json.loads(out)), {},
                      WaiverSet(source=layout.config.checks.waivers))
    return {control_id: evaluate(control_id, facts) for control_id in control_ids}
