"""A restore plan's bodies in a spool file: memory holds 16 bytes per object, not the object.

The file is anonymous (``tempfile.TemporaryFile``: O_TMPFILE, or else a random name created
O_EXCL with mode 0600 and unlinked at once): no path to it exists for anyone to open, swap or
read, wherever the temporary directory is, and it is gone when the plan is, or when the process
ends, however it ends. It holds the archive's sanitized objects, Secrets included, as the
archive itself does. Written by the planner's one thread; read with ``pread`` (no shared file
position) by the applier's many.
"""

from __future__ import annotations

import os
import tempfile
import threading
from array import array

from dr_lib.archive.fsutil import os_problem
from dr_lib.errors import EnvironmentProblem


class SpooledBodies:
    """A :class:`~dr_lib.restore.plan.bodies.BodyStore` in an anonymous temporary file."""

    def __init__(self) -> None:
        self._where = tempfile.gettempdir()
        try:
            self._file = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the plan that holds it
        except OSError as exc:
            raise os_problem(exc, "create the restore plan's spool file in", self._where) from None
        self._offsets = array("q")
        self._sizes = array("q")
        self._end = 0  # bytes written (some perhaps still in the file object's buffer)
        self._flushed = 0  # bytes pread can see
        self._lock = threading.Lock()

    def add(self, data: bytes) -> int:
        try:
            self._file.write(data)
        except OSError as exc:
            raise os_problem(exc, "write the restore plan's spool file in", self._where) from None
        self._offsets.append(self._end)
        self._sizes.append(len(data))
        self._end += len(data)
        return len(self._offsets) - 1

    def get(self, handle: int) -> bytes:
        offset, size = self._offsets[handle], self._sizes[handle]
        if offset + size > self._flushed:
            with self._lock:
                self._file.flush()
                self._flushed = self._end
        data = os.pread(self._file.fileno(), size, offset)
        if len(data) != size:
            raise EnvironmentProblem(f"the restore plan's spool file in {self._where} lost data: "
                                     f"{len(data)} of {size} bytes at {offset}")
        return data
