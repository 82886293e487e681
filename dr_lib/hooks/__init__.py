"""Application data: database dumps through hooks run in pods, and persistent-volume copies.

``DataCollector`` (backup) and ``DataRestorer`` (restore) are handed to the backup and restore
runs as callbacks by the jobs (``dr_lib.jobs.backup``, ``dr_lib.jobs.restore``: hooks, backup and
restore are sibling features that do not import each other). Declarations: pod annotations or
config rules (spec.py); presets for common databases (presets/); volume copies (pvdata.py,
zfs.py). See docs/hooks.md.
"""

from dr_lib.errors import HookFailed
from dr_lib.hooks.collect import DataCollector
from dr_lib.hooks.restoredata import DataRestorer
from dr_lib.hooks.settings import HookSettings

__all__ = ["DataCollector", "DataRestorer", "HookFailed", "HookSettings"]
