"""dr_lib.checks (see its feature's issue)."""
