"""dr_lib.drill (see its feature's issue)."""
