"""Counters, rates and latency percentiles of a running pipeline (thread-safe, bounded).

Every read goes through the lock: ``snapshot()`` is the one way to see all counters (a worker
thread may add a key at any time, and iterating a dict that grows raises RuntimeError).
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StatsSnapshot:
    """A consistent copy of the counters, taken under the lock.

    counters: cumulative counts since start. recent: the same names counted over the last
    ``window_s`` seconds only (an old fault does not keep the node in WARN forever).
    ages_s: seconds since the last event of each name.
    """

    counters: dict[str, int]
    recent: dict[str, int]
    ages_s: dict[str, float]
    window_s: float

    def recent_with_prefix(self, prefix: str) -> int:
        """Sum of the recent counts whose name starts with ``prefix``."""
        return sum(v for k, v in self.recent.items() if k.startswith(prefix))


class RuntimeStats:
    """Rolling windows of stage latencies (s) and event times, plus monotonic counters."""

    def __init__(self, window: int = 300, clock=time.monotonic) -> None:
        self._lock = threading.Lock()
        self._latency: dict[str, deque[float]] = {}
        self._events: dict[str, deque[tuple[float, int]]] = {}
        self._last: dict[str, float] = {}
        self._window = window
        self._clock = clock
        self._counters: Counter[str] = Counter()

    @property
    def counters(self) -> dict[str, int]:
        """A copy of the cumulative counters (taken under the lock)."""
        with self._lock:
            return dict(self._counters)

    def count(self, name: str, amount: int = 1) -> None:
        """Add to counter ``name`` and record the event time for its rate."""
        now = self._clock()
        with self._lock:
            self._counters[name] += amount
            self._events.setdefault(name, deque(maxlen=self._window)).append((now, amount))
            self._last[name] = now

    def mark(self, name: str) -> None:
        """Record that ``name`` happened now, without a counter (see ``age_s``)."""
        now = self._clock()
        with self._lock:
            self._last[name] = now

    def age_s(self, name: str) -> float | None:
        """Seconds since the last event (``count`` or ``mark``) of ``name``; None if never."""
        now = self._clock()
        with self._lock:
            last = self._last.get(name)
        return None if last is None else now - last

    def record_latency(self, stage: str, seconds: float) -> None:
        """Record one duration (s) of ``stage``."""
        with self._lock:
            self._latency.setdefault(stage, deque(maxlen=self._window)).append(seconds)

    def rate_hz(self, name: str, horizon_s: float = 5.0) -> float:
        """Events of ``name`` per second over the last ``horizon_s`` seconds."""
        now = self._clock()
        with self._lock:
            times = [t for t, _ in self._events.get(name, ()) if now - t <= horizon_s]
        return len(times) / horizon_s

    def recent(self, name: str, window_s: float) -> int:
        """Amount counted under ``name`` in the last ``window_s`` seconds (of the last
        ``window`` events: a lower bound when more came in that time)."""
        now = self._clock()
        with self._lock:
            return sum(a for t, a in self._events.get(name, ()) if now - t <= window_s)

    def snapshot(self, window_s: float = 10.0) -> StatsSnapshot:
        """Counters, their counts over the last ``window_s`` seconds and the age of each
        name's last event, all taken in one go under the lock."""
        now = self._clock()
        with self._lock:
            counters = dict(self._counters)
            recent = {name: sum(a for t, a in events if now - t <= window_s)
                      for name, events in self._events.items()}
            ages = {name: now - t for name, t in self._last.items()}
        return StatsSnapshot(counters, recent, ages, window_s)

    def percentiles_ms(self, stage: str) -> tuple[float, float]:
        """(p50, p95) of ``stage`` in milliseconds; NaN when nothing was recorded."""
        with self._lock:
            values = list(self._latency.get(stage, ()))
        if not values:
            return float("nan"), float("nan")
        p50, p95 = np.percentile(np.asarray(values) * 1e3, [50, 95])
        return float(p50), float(p95)

    def stages(self) -> list[str]:
        """Names of the stages with recorded latencies."""
        with self._lock:
            return sorted(self._latency)
