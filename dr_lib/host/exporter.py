"""The metrics exporter's service, as install and fix plan it (pure): enabled and running the unit
file on disk when ``units.exporter`` is true; stopped and removed (only if k3s-dr wrote it) when false.

Unlike the oneshot backup and restore units, the exporter runs until stopped, so a unit file
install rewrites (a new version, a new ``metrics.listen``) takes effect only by a restart.
"""

from __future__ import annotations

from collections.abc import Mapping

from dr_lib.checks.hostfacts import EXPORTER_UNIT
from dr_lib.checks.units import UnitFacts
from dr_lib.config import Config
from dr_lib.host.steps import Kind, Step
from dr_lib.host.units import MANAGED_MARKER, unit_path

EXPORTER_PATH = unit_path(EXPORTER_UNIT)
_STOPPED = ("inactive", "failed")


def _systemctl(reason: str, control: str, *args: str) -> Step:
    return Step(Kind.SYSTEMCTL, EXPORTER_UNIT, reason, control, args=(*args, EXPORTER_UNIT))


def exporter_steps(config: Config, units: Mapping[str, UnitFacts], *, rewritten: bool, relinked: bool,
                   control: str = "") -> list[Step]:
    """Enable and start the exporter's unit; restart it when its unit file was just rewritten."""
    if not config.units.exporter:
        return []
    unit = units.get(EXPORTER_UNIT)
    file_state = (unit.unit_file_state if unit else "") or "not installed"
    active_state = unit.active_state if unit else "inactive"
    serve = f"must serve the metrics on {config.metrics.listen}"
    if not relinked and file_state != "enabled" and active_state in _STOPPED:
        return [_systemctl(f"{file_state}, {active_state}: {serve}", control, "enable", "--now")]
    steps = []
    if relinked:
        steps.append(_systemctl("re-enable for the new unit file", control, "reenable"))
    elif file_state != "enabled":
        steps.append(_systemctl(f"{file_state}: must start at boot", control, "enable"))
    if active_state in _STOPPED:
        steps.append(_systemctl(f"{active_state}: {serve}", control, "start"))
    elif active_state != "active":  # activating (a restart pending after a failure), deactivating
        steps.append(_systemctl(f"{active_state}: {serve}", control, "restart"))
    elif rewritten or relinked:
        steps.append(_systemctl("runs the unit file it was started with: restart for the new one", control,
                                "restart"))
    return steps


def removal_steps(config: Config, files: Mapping[str, str | None], units: Mapping[str, UnitFacts]) -> list[Step]:
    """``units.exporter: false``: stop, disable and delete the unit an earlier install wrote.

    A file without k3s-dr's marker at that path is someone else's: left alone.
    """
    content = files.get(EXPORTER_PATH)
    if config.units.exporter or content is None or MANAGED_MARKER not in content:
        return []
    reason = "units.exporter is false"
    unit = units.get(EXPORTER_UNIT)
    steps = []
    if unit is not None and unit.unit_file_state == "enabled":
        steps.append(_systemctl(reason, "", "disable"))
    if unit is not None and unit.active_state == "failed":
        steps.append(_systemctl(f"{reason}; forget its failure", "", "reset-failed"))
    elif unit is not None and unit.active_state not in _STOPPED:
        steps.append(_systemctl(reason, "", "stop"))
    steps.append(Step(Kind.REMOVE, EXPORTER_PATH, f"{reason}: written by an earlier `k3s-dr install`"))
    return steps
