"""dr_lib.offsite (see its feature's issue)."""
