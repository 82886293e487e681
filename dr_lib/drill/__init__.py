"""Restore drills: seed an application, back it up, lose it, restore it, verify it, judge RTO/RPO.

Kept import-light on purpose: the CLI reads these choices at start-up, and every `k3s-dr`
command starts faster when pytest and the drill machinery load only for `k3s-dr drill`.
"""

from dr_lib.cluster.provider import PROVIDERS

DESTROY_MODES = ("fresh", "wipe")

__all__ = ["DESTROY_MODES", "PROVIDERS"]
