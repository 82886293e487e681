"""Pure restore planning: archive objects in, ordered and sanitized objects out (no I/O)."""

from dr_lib.restore.plan.compare import Difference, compare_objects
from dr_lib.restore.plan.context import build_context
from dr_lib.restore.plan.model import (
    ArchiveContext,
    ArchiveType,
    LeftOut,
    ObjectKey,
    Plan,
    PlannedObject,
    PlanOptions,
    Tier,
    TypeRef,
)
from dr_lib.restore.plan.planner import build_plan
from dr_lib.restore.plan.sanitize import sanitize

__all__ = [
    "ArchiveContext",
    "ArchiveType",
    "Difference",
    "LeftOut",
    "ObjectKey",
    "Plan",
    "PlanOptions",
    "PlannedObject",
    "Tier",
    "TypeRef",
    "build_context",
    "build_plan",
    "compare_objects",
    "sanitize",
]
