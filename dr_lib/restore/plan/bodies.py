"""Where a plan keeps its objects' bodies: encoded once, in a store, decoded only when asked.

A plan of 100,000 objects kept as Python dicts held ~560 MB. A planned object now keeps its
identity (type, namespace, name) and a handle; its body is the wire form the applier sends
(encoded once at planning, as the applier encoded it before), kept by a :class:`BodyStore`:
:class:`MemoryBodies` here (small plans, tests), a private spool file for a restore
(``dr_lib.restore.spool``), where memory then holds a few bytes per object.
"""

from __future__ import annotations

from typing import Protocol


class BodyStore(Protocol):
    def add(self, data: bytes) -> int:
        """Keep ``data``; the handle to :meth:`get` it back with. Called from one thread (planning)."""
        ...

    def get(self, handle: int) -> bytes:
        """What :meth:`add` kept under ``handle``. Safe from several threads (the applier's)."""
        ...


class MemoryBodies:
    """Bodies in a list: for plans small enough to hold."""

    def __init__(self) -> None:
        self._items: list[bytes] = []

    def add(self, data: bytes) -> int:
        self._items.append(data)
        return len(self._items) - 1

    def get(self, handle: int) -> bytes:
        return self._items[handle]
