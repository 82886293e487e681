"""k3s-dr: disaster recovery for k3s clusters (backup, verified archives, restore, drills)."""

__version__ = "0.1.0"
