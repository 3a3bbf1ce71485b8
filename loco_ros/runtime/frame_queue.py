"""The frames waiting for the worker: a bounded FIFO whose oldest frame gives way, counted.

Capacity 1 is a one-slot mailbox: the worker always takes the newest frame, so latency never
builds up (live cameras). A larger capacity lets a replay keep every frame while the worker
catches up, as long as it never falls ``capacity`` frames behind.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class FrameQueue(Generic[T]):
    """At most ``capacity`` pending items, oldest first; a put into a full queue drops (and
    counts) the oldest."""

    def __init__(self, capacity: int = 1) -> None:
        self.capacity = _checked(capacity)
        self._condition = threading.Condition()
        self._items: deque[T] = deque()
        self._closed = False
        self.skipped = 0

    def put(self, item: T) -> bool:
        """Append ``item``; returns True when the oldest pending item was dropped for it."""
        with self._condition:
            full = len(self._items) >= self.capacity
            if full:
                self._items.popleft()
                self.skipped += 1
            self._items.append(item)
            self._condition.notify()
            return full

    def take(self, timeout_s: float | None = None) -> T | None:
        """The oldest pending item, or None after the timeout or close()."""
        with self._condition:
            self._condition.wait_for(lambda: bool(self._items) or self._closed, timeout_s)
            return self._items.popleft() if self._items else None

    def __len__(self) -> int:
        with self._condition:
            return len(self._items)

    def close(self) -> None:
        """Wake and release any waiting taker; the queue stays usable after reopen()."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()

    def reopen(self, capacity: int | None = None) -> None:
        """Accept takers again after close(), empty (and with a new capacity if given)."""
        with self._condition:
            if capacity is not None:
                self.capacity = _checked(capacity)
            self._closed = False
            self._items.clear()


def _checked(capacity: int) -> int:
    if capacity < 1:
        raise ValueError(f"capacity must be >= 1, not {capacity}")
    return capacity
