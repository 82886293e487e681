"""dr_lib.backup."""
