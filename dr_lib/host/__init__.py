"""dr_lib.host (see its feature's issue)."""
