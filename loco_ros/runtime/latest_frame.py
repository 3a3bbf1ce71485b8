"""A one-slot mailbox: the worker always takes the newest frame, older ones are counted."""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestFrameSlot(Generic[T]):
    """Holds at most one pending item; a new put replaces (and counts) the waiting one."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._item: T | None = None
        self._closed = False
        self.replaced = 0

    def put(self, item: T) -> bool:
        """Store ``item``; returns True when it replaced one that was never taken."""
        with self._condition:
            replaced = self._item is not None
            self.replaced += int(replaced)
            self._item = item
            self._condition.notify()
            return replaced

    def take(self, timeout_s: float | None = None) -> T | None:
        """The pending item (and empty the slot), or None after the timeout or close()."""
        with self._condition:
            self._condition.wait_for(lambda: self._item is not None or self._closed, timeout_s)
            item, self._item = self._item, None
            return item

    def close(self) -> None:
        """Wake and release any waiting taker; the slot stays usable after reopen()."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()

    def reopen(self) -> None:
        """Accept takers again after close()."""
        with self._condition:
            self._closed = False
            self._item = None
