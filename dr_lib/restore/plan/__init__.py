"""Pure restore planning: archive objects in, ordered and sanitized objects out (no I/O)."""
