"""dr_lib.metrics (see its feature's issue)."""
