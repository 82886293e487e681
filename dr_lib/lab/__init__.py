"""dr_lib.lab (see its feature's issue)."""
