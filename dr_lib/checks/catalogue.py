"""``docs/checks.md``, rendered from the control table (a unit test keeps the file equal to it).

Regenerate: ``python -m dr_lib.checks.catalogue > docs/checks.md``
"""

from __future__ import annotations

import sys

from dr_lib.checks.controls import CONTROLS
from dr_lib.checks.model import FACT_SOURCES, Control, Fact

INTRO = """\
# Host conformance controls

`k3s-dr check` judges a k3s host against these controls — the seed report's 8 checks and its
post-fix checklist, generalized, plus what its 3 problems teach. Each control has an ID, a
severity, why it matters and the remediation; each is one test (its ID is the test id), shown
in the terminal, in JUnit XML (`<properties>` of each test case) and as columns of the HTML report.

```
k3s-dr check                                                   # this host (as root)
k3s-dr check --hosts docker://h1,ssh://node2 --workers 2 --sudo   # a fleet, one report
k3s-dr check --json                                            # one JSON object on stdout
k3s-dr fix                                                     # repairs the fixable ones
```

**Run it as root** on the host it judges, or with `--sudo` (testinfra runs each command on the
host under sudo): the controls read the private backup directory, the server token and
systemd's state. As another user they fail for want of permission, not for the host's sake.

Every run leaves `reports/checks-<UTC time>/` (`--reports DIR`): `report.html` (self-contained),
`junit.xml`, `checks.json` (every result) and `SHA256SUMS` (`sha256sum -c SHA256SUMS` checks it);
a directory is never reused. `--json` prints one object: `passed`, `failed`, `skipped` (control
results; skipped = n/a or waived, as JUnit counts them), `report_html`, `seconds`, and `hosts`,
`counts`, `report_dir`, `junit_xml`, `json`, `manifest`, `results`. Exit status: 0 when no control
failed; 1 when one failed or a host could not be read; 2 for bad options (`--hosts` takes
testinfra host specs only, none starting with `-`); 7 when the machine lacks something: `--workers`
needs pytest-xdist, in the extra `k3s-dr[checks]`.

Settings (paths, unit names, RPO, expected kinds, log patterns, waivers) are read on the host
under test from its own `/etc/k3s-dr/config.yaml` (`--dr-config` for another path), so the
seed's layout (the defaults) and customized hosts are checked alike. All times (backup age,
log window, waiver expiry) are computed with the host's clock.

How each control is proven on a real host (systemd, k3s stand-in, real backups), with a table
of 31 seeded misconfigurations each caught by exactly one control: `docs/reference-host.md`.
Try it: `k3s-dr lab host up --name demo` then `k3s-dr check --hosts docker://demo`.

Verdicts: **pass**; **fail**; **waived** (failed, but an unexpired waiver accepts it; shown as
`WAIVED`, in JUnit as a skipped xfail with the justification); **n/a** (what the control
judges does not exist on this host, or another control owns the cause — each problem fails
exactly one control).

## The suite as a pytest plugin

k3s-dr registers the pytest plugin `dr_lib.hostcheck.plugin` (entry point `pytest11`), so
pytest itself runs the same suite on an installed host, with pytest's own options:

```
pytest --pyargs dr_lib.hostcheck --hosts=docker://h1 -k DR-LINK     # the suite k3s-dr check runs
pytest tests/checks --hosts=docker://h1,docker://h2 -n 2 --dist loadgroup   # from the repository
```

Its options: `--dr-config PATH`, `--dr-reports DIR` (default `reports`), `--dr-no-reports`,
`--dr-json PATH`, `--dr-signing-key FILE` (signs the report's `SHA256SUMS`: `SHA256SUMS.sig`, checked
by `k3s-dr report verify DIR --verify-key`; `k3s-dr check` passes this machine's `trust.signing_key`);
with testinfra's (`--hosts`, `--sudo`, `--ssh-config` …) and xdist's (`-n`).
With `PYTEST_DISABLE_PLUGIN_AUTOLOAD` set, name the plugins: `-p testinfra.plugin
-p pytest_metadata.plugin -p pytest_html.plugin -p dr_lib.hostcheck.plugin`. In every other
pytest run the plugin adds its `--dr-*` options and nothing else: tests come only from its suite
module (`dr_lib/hostcheck/test_controls.py`), reports only when the command line names the suite
(`--pyargs dr_lib.hostcheck`, a path inside it, or an ini file with `dr_checks = true`, as
`tests/checks/pytest.ini` has).

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


FILE_MAP_INTRO = """\
## File map

Each control is one row of `dr_lib/checks/controls.py` (`Control(…)`: ID, texts, `verdict=`,
`reads=`). Its verdict is a pure function in `dr_lib/checks/verdicts/<area>.py`, of the facts
gathered once per host by `dr_lib/checks/gather.py` and the probe it sends, `dr_lib/checks/probe.py`
(every verdict also reads the host's configuration values). The suite has one test per row
(`dr_lib/hostcheck/test_controls.py`); `k3s-dr fix` (`dr_lib/host/fix.py`) repairs the fixable ones.
A unit test runs every verdict on many fake hosts and holds each row's facts to what it reads.

| Control | Verdict | Facts read |
|---|---|---|
"""


def _source(control: Control) -> str:
    module = control.verdict.__module__
    return f"[`{control.area}.{control.verdict.__name__}`](../{module.replace('.', '/')}.py)"


def _file_map() -> str:
    rows = "\n".join(f"| [{c.id}](#{c.id.lower()}) | {_source(c)} | {', '.join(c.reads)} |" for c in CONTROLS)
    facts = "\n".join(f"| {fact} | {FACT_SOURCES[fact]} |" for fact in Fact)
    return f"{FILE_MAP_INTRO}{rows}\n\n| Fact | What, and how it is gathered |\n|---|---|\n{facts}\n"


def render_markdown() -> str:
    rows = "\n".join(_row(c) for c in CONTROLS)
    sections = "\n".join(_section(c) for c in CONTROLS)
    return f"{INTRO}{rows}\n\nRemediation texts name settings in braces; the suite fills them from the host's " \
           f"configuration.\n\n{_file_map()}\n## Controls\n\n{sections}"


if __name__ == "__main__":
    sys.stdout.write(render_markdown())
