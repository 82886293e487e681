"""dr_lib.restore."""
