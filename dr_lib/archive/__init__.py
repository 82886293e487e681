"""dr_lib.archive."""
