"""dr_lib.hooks (see its feature's issue)."""
