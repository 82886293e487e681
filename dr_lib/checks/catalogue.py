"""``docs/checks.md``, rendered from the control table (a unit test keeps the file equal to it).

Regenerate: ``python -m dr_lib.checks.catalogue > docs/checks.md``
"""

from __future__ import annotations

import sys

from dr_lib.checks.controls import CONTROLS
from dr_lib.checks.model import Control

INTRO = """\
# Host conformance controls

`pytest tests/checks` judges a k3s host against these controls — the seed report's 8 checks
and its post-fix checklist, generalized, plus what its 3 problems teach. Each control has an
ID, a severity, why it matters and the remediation; the suite shows them in the terminal, in
JUnit XML (`<properties>` of each test case) and as columns of the pytest-html report.

```
pytest tests/checks                                            # this host
pytest tests/checks --hosts=docker://h1,ssh://node2 -n 2 --dist loadgroup \\
       --junitxml=reports/checks.xml --html=reports/checks.html --self-contained-html \\
       --dr-json=reports/checks.json                           # a fleet, one report
k3s-dr fix                                                     # repairs the fixable ones
```

Settings (paths, unit names, RPO, expected kinds, log patterns, waivers) are read on the host
under test from its own `/etc/k3s-dr/config.yaml` (`--dr-config` for another path), so the
seed's layout (the defaults) and customized hosts are checked alike. All times (backup age,
log window, waiver expiry) are computed with the host's clock.

How each control is proven on a real host (systemd, k3s stand-in, real backups), with a table
of 31 seeded misconfigurations each caught by exactly one control: `docs/reference-host.md`.
Try it: `k3s-dr lab host up --name demo` then `pytest tests/checks --hosts=docker://demo`.

Verdicts: **pass**; **fail**; **waived** (failed, but an unexpired waiver accepts it; shown as
`WAIVED`, in JUnit as a skipped xfail with the justification); **n/a** (what the control
judges does not exist on this host, or another control owns the cause — each problem fails
exactly one control).

## Waivers

`checks.waivers` (default `/etc/k3s-dr/waivers.yaml`) on the host:

```yaml
waivers:
  - id: DR-METRICS-001
    justification: "no node_exporter on edge nodes yet; OPS-142"
    expires: 2026-03-31        # last day it holds; at most 366 days ahead
    owner: ops@example.com     # optional
```

An expired waiver no longer waives anything and fails DR-WAIVER-001, as does an unknown
control ID, a missing justification or a malformed file.

## Catalogue

| ID | Severity | Title | `k3s-dr fix` | Covers |
|---|---|---|---|---|
"""


def _row(control: Control) -> str:
    return (f"| [{control.id}](#{control.id.lower()}) | {control.severity} | {control.title} | "
            f"{'yes' if control.fixable else 'no'} | {control.covers or ''} |")


def _section(control: Control) -> str:
    return (f"### {control.id}\n\n**{control.title}** — severity *{control.severity}*"
            f"{', repaired by `k3s-dr fix`' if control.fixable else ''}.\n\n"
            f"Why it matters: {control.why}\n\nRemediation: {control.remediation}\n")


def render_markdown() -> str:
    rows = "\n".join(_row(c) for c in CONTROLS)
    sections = "\n".join(_section(c) for c in CONTROLS)
    return f"{INTRO}{rows}\n\nRemediation texts name settings in braces; the suite fills them from the host's " \
           f"configuration.\n\n## Controls\n\n{sections}"


if __name__ == "__main__":
    sys.stdout.write(render_markdown())
