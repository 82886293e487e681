"""Pure rotation rules: they live in :mod:`dr_lib.archive.rotation`, shared with offsite retention."""

from dr_lib.archive.rotation import ArchiveRecord, Decision, RotationPlan, RotationPolicy, plan_rotation

__all__ = ["ArchiveRecord", "Decision", "RotationPlan", "RotationPolicy", "plan_rotation"]
