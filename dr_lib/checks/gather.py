"""Collecting a :class:`HostFacts` through any command runner, in three round trips.

1. the host's config file (``cat``), so every path and unit name is the host's own;
2. ``systemctl show`` of the four units + ``systemctl cat`` of the auto-restore unit;
3. the probe (:mod:`dr_lib.checks.probe`, sent as source to the host's python3), which also
   stats the programs and condition paths the units named in step 2.

The runner is given a shell command and returns (exit status, stdout, stderr): testinfra's
``host.run`` in the suite (local, ssh, docker, ansible), a local subprocess in ``k3s-dr fix``.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from dr_lib.checks.controls import BY_ID
from dr_lib.checks.hostfacts import FileFacts, HostFacts, Layout, file_facts_from_probe
from dr_lib.checks.units import (
    SHOW_PROPERTIES,
    HostClock,
    PathCondition,
    UnitFacts,
    parse_conditions,
    parse_units,
)
from dr_lib.checks.waivers import WaiverSet, parse_waivers
from dr_lib.config import DEFAULT_CONFIG_PATH, Config, config_from_text
from dr_lib.errors import ConfigError, EnvironmentProblem

Runner = Callable[[str], tuple[int, str, str]]
_CAT_MARK = "@@k3s-dr-systemctl-cat@@"
PROBE_SOURCE = (Path(__file__).parent / "probe.py").read_text(encoding="utf-8")


def read_config(run: Runner, path: str, host: str) -> tuple[Layout, str | None, bool]:
    """The host's configuration: (layout, problem or None, whether the file exists)."""
    status, out, err = run(f"cat -- {shlex.quote(path)}")
    if status != 0:
        if "No such file" in err:
            return Layout(Config(), path), None, False
        return Layout(Config(), path), f"cannot read {path} on {host}: {err.strip() or f'exit {status}'}", True
    try:
        return Layout(config_from_text(out, f"{host}:{path}"), path), None, True
    except ConfigError as exc:
        return Layout(Config(), path), str(exc), True


def systemd_command(layout: Layout) -> str:
    names = " ".join(shlex.quote(n) for n in layout.unit_names)
    auto_restore = shlex.quote(layout.config.units.auto_restore)
    return (f"systemctl show -p {','.join(SHOW_PROPERTIES)} {names}; echo {_CAT_MARK}; "
            f"systemctl cat {auto_restore} 2>/dev/null; true")


def probe_command(request: dict[str, object]) -> str:
    return f"python3 -c {shlex.quote(PROBE_SOURCE)} {shlex.quote(json.dumps(request))}"


def _probe(run: Runner, request: dict[str, object], host: str) -> FileFacts:
    status, out, err = run(probe_command(request))
    if status != 0:
        raise EnvironmentProblem(f"the probe failed on {host} (exit {status}): {err.strip()[-400:]}",
                                 hint="the host under test needs python3")
    try:
        return file_facts_from_probe(json.loads(out))
    except (ValueError, KeyError) as exc:
        raise EnvironmentProblem(f"the probe's answer from {host} is not what it writes: {exc}") from None


def _extra_paths(units: Iterable[UnitFacts]) -> list[str]:
    paths: list[str] = []
    for unit in units:
        paths += list(unit.exec_paths)
        paths += [c.path for c in unit.path_conditions]
    return sorted(set(paths))


def gather(run: Runner, host: str, config_path: str = str(DEFAULT_CONFIG_PATH)) -> HostFacts:
    layout, problem, present = read_config(run, config_path, host)
    status, out, err = run(systemd_command(layout))
    show_text, _, cat_text = out.partition(_CAT_MARK)
    if not show_text.strip():
        raise EnvironmentProblem(f"systemctl show answered nothing on {host} (exit {status}): {err.strip()[-300:]}",
                                 hint="the host under test must run systemd")
    # Units are parsed twice: once with a provisional clock to learn which paths to stat, then
    # with the probe's clock (taken on the host) for every time value.
    try:
        provisional = parse_units(show_text, layout.unit_names, HostClock(0.0, 0.0))
    except ValueError as exc:
        raise EnvironmentProblem(f"unexpected systemctl show output on {host}: {exc}") from None
    conditions, others = parse_conditions(cat_text)
    others_hold = _evaluate_conditions(run, others)
    auto_restore = layout.config.units.auto_restore
    provisional[auto_restore] = _with_conditions(provisional[auto_restore], conditions, others, others_hold)
    request = layout.probe_request()
    request["paths"] = sorted({*request["paths"], *_extra_paths(provisional.values())})
    files = _probe(run, request, host)
    units = parse_units(show_text, layout.unit_names, files.clock)
    units[auto_restore] = _with_conditions(units[auto_restore], conditions, others, others_hold)
    waivers_path = layout.config.checks.waivers
    content, error = files.files.get(waivers_path, (None, None))
    if error:
        waivers = WaiverSet(problems=(f"cannot read it: {error}",), source=waivers_path, present=True)
    else:
        waivers = parse_waivers(content, waivers_path, BY_ID, files.host_today)
    return HostFacts(host, layout, files, units, waivers, problem, present)


def _evaluate_conditions(run: Runner, conditions: tuple[str, ...]) -> bool | None:
    """Conditions other than paths, judged by systemd itself (only when a unit has any: rare)."""
    if not conditions:
        return None
    status, _, _ = run("systemd-analyze condition " + " ".join(shlex.quote(c) for c in conditions))
    return {0: True, 1: False}.get(status)


def _with_conditions(unit: UnitFacts, conditions: tuple[PathCondition, ...], others: tuple[str, ...],
                     others_hold: bool | None) -> UnitFacts:
    if not unit.loaded:
        return unit
    return replace(unit, path_conditions=conditions, other_conditions=others, other_conditions_hold=others_hold)
