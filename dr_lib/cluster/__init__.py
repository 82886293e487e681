"""dr_lib.cluster."""
