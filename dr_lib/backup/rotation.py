"""Pure rotation: which archives to keep (no I/O, time passed in)."""
