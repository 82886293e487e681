"""Moved to :mod:`dr_lib.errors`. This name is kept only for ``dr_lib/offsite/s3server.py``, a test-bed
module leaving ``dr_lib`` (the test-bed branch points it at ``dr_lib.errors``); delete it then."""

from dr_lib.errors import ToolMissing

__all__ = ["ToolMissing"]
